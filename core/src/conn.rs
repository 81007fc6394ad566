//! The WebSocket `Connection` state machine: request ids, the pending map, timeouts,
//! keep-alive pings, reconnect with backoff, session replay and live-query remapping.
//!
//! No IO and no clock: the driver passes `now`, feeds socket events through `handle_*`
//! and drains outputs through `poll_*`. After any `handle_*` or command call, drain
//! [`Connection::poll_transmit`] (frames to send), then [`Connection::poll_event`], then
//! arm a timer at [`Connection::poll_timeout`] and call [`Connection::handle_timeout`]
//! when it fires.
//!
//! Decisions worth knowing:
//! - **Ordering.** The server runs requests of one socket concurrently. A request that
//!   changes session state (`use`, `signin`, `let`, ...) is therefore a barrier: requests
//!   sent after it are held until it is answered, so they see its effect.
//! - **Session state.** Each session's token pair, ns/db and variables are tracked in
//!   one [`SessionState`] (the same type the HTTP transport sends as headers), updated
//!   from successful `signin`, `signup`, `authenticate`, `refresh`, `revoke`, `use`,
//!   `let`, `unset`, `invalidate` and `reset` calls; see [`Connection::session_state`].
//! - **Replay.** After a reconnect the session is restored one request at a time, each
//!   answered before the next: per session (default first, then attached ones in UUID
//!   order) `attach`, `authenticate(token)`, `use(ns, db)`, each `let`; then every live
//!   query is re-issued (emitting [`Event::LiveRemapped`]). Only then are held user
//!   requests released and [`Event::Reconnected`] emitted. A failing step is reported as
//!   [`Event::ReplayFailed`] and the replay goes on; a failed `authenticate` also forgets
//!   the token pair (it will not work on the next reconnect either), a failed `attach`
//!   skips that session's other steps.
//! - **A failed replay never downgrades a request.** Once a step of a session's replay
//!   failed, the requests held for that session (queued during the outage, or sent while
//!   the replay still runs) fail with [`ConnError::ReplayFailed`] naming the step, and
//!   its live queries end with [`LiveEndReason::RestoreFailed`] instead of being
//!   re-issued: run now, they would run with less authority (or in another namespace)
//!   than their caller had. Other sessions are unaffected. Requests sent after
//!   [`Event::Reconnected`] run on the session as it now is; the caller was told by
//!   [`Event::ReplayFailed`].
//! - **Reconnect delay.** Drawn at random from `[b/2, b]` for the current backoff `b`
//!   (seeded by [`Config::jitter_seed`]), so clients that lost the same server do not
//!   come back in lockstep; `b` doubles per attempt up to `backoff_max` and goes back to
//!   `backoff_initial` only after a replay in which every step succeeded (a server that
//!   accepts sockets and then fails or drops them is not hammered).
//! - **Durations saturate.** Any [`Config`] duration may be `Duration::MAX` ("no limit"):
//!   a deadline that cannot be represented is no deadline (no timeout, no ping, no
//!   automatic reconnect), never a panic; [`Connection::poll_timeout`] never returns an
//!   instant that `handle_timeout` leaves unresolved.
//! - **Id-less errors.** The server answers without an id only when it could not decode
//!   a frame's envelope, so only in-flight user requests whose params carry caller values
//!   can be the culprit; they fail with [`ConnError::Protocol`], nothing else does (the
//!   reasoning is on `on_uncorrelated_error`).
//! - **Late replies.** A reply to a request whose caller was already answered (a
//!   [`ConnError::Timeout`], or a failure by an id-less error) is reconciled silently:
//!   a live query it started is killed, a transaction it began is cancelled, a
//!   `query_stream` still sending frames is stopped with `query_cancel`, a session change
//!   it made (`signin`, `use`, `let`, ...) is recorded so a replay restores what the
//!   server has; any other answer is dropped.
//! - **Secrets.** `Debug` of [`Connection`], [`SessionState`] and [`Request`] never shows
//!   tokens or credentials.
//! - **Keep-alive.** After `ping_interval` without any incoming frame an RPC `ping` is
//!   sent; no answer within `request_timeout` means the connection is dead:
//!   [`Event::Disconnected`] is emitted (the driver drops the socket) and the connection
//!   behaves as after [`Connection::handle_disconnect`]. `ping_interval` zero disables it.

mod in_flight;

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::live::{live_id_from_result, LiveRegistry, Route};
pub use crate::live::{LiveEndReason, LiveHandle};
use crate::rpc::{
    decode_incoming_with, split_reply, Incoming, Method, Notification, Payload, Request,
    ServerError, StreamFrame,
};
use crate::session::SessionState;
use crate::value::{Uuid, Value};
pub(crate) use in_flight::IdHasher;
use in_flight::InFlightSet;

/// Connection settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// How long a request may wait for its answer (queued time included).
    pub request_timeout: Duration,
    /// Idle time after which a keep-alive `ping` is sent (zero disables keep-alive).
    pub ping_interval: Duration,
    /// Reconnect after the socket is lost.
    pub reconnect: bool,
    /// First reconnect delay.
    pub backoff_initial: Duration,
    /// The reconnect delay doubles after each failure up to this cap.
    pub backoff_max: Duration,
    /// Seed of the reconnect jitter (each delay is drawn from `[d/2, d]` for the current
    /// backoff `d`). `None` seeds from the process's random hasher keys, so processes
    /// (and connections) that lost the same server do not reconnect in lockstep; tests
    /// fix it to get repeatable delays.
    pub jitter_seed: Option<u64>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            request_timeout: Duration::from_secs(30),
            ping_interval: Duration::from_secs(30),
            reconnect: true,
            backoff_initial: Duration::from_millis(200),
            backoff_max: Duration::from_secs(30),
            jitter_seed: None,
        }
    }
}

/// The id of one request on a connection (also its wire `id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// Where the connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// The driver is opening a socket (first connect, or after [`Event::Reconnect`]).
    Connecting,
    /// A new socket is open; the session and live queries are being restored.
    Replaying,
    /// Ready: requests go straight out.
    Connected,
    /// The socket was lost; a reconnect is scheduled (see [`Connection::poll_timeout`]).
    WaitingToReconnect,
    /// Closed for good.
    Closed,
}

/// Why a request failed on this side of the wire.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnError {
    /// The server answered with an error.
    #[error("{0}")]
    Server(ServerError),
    /// No answer in time.
    #[error("`{method}` got no answer within {after:?}")]
    Timeout {
        /// The request's method.
        method: Method,
        /// The configured request timeout.
        after: Duration,
    },
    /// The socket was lost while the request was in flight.
    #[error("the connection was lost before `{method}` was answered ({reason}); it may or may not have executed on the server")]
    Disconnected {
        /// The request's method.
        method: Method,
        /// What happened to the socket.
        reason: String,
    },
    /// The connection is closed.
    #[error("the connection is closed")]
    Closed,
    /// The server sent something this client cannot match to the request.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The request targets an RPC transaction that died with a previous socket.
    #[error("RPC transaction {txn} was lost when the connection dropped; begin a new transaction and retry")]
    TransactionLost {
        /// The lost transaction.
        txn: Uuid,
    },
    /// The session could not be restored after a reconnect, so the request was not sent
    /// (it would have run with less authority than its caller had).
    #[error("the session could not be restored after a reconnect (`{method}` failed): {error}")]
    ReplayFailed {
        /// The replay step that failed.
        method: Method,
        /// Why.
        error: Box<ConnError>,
    },
}

/// Something the driver must act on or deliver.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The answer to a request (for `query`, the raw result array).
    Response {
        /// The request.
        id: RequestId,
        /// Its result: for ordinary requests the `result` item's bytes, read into the
        /// caller's type only when asked.
        result: Result<Payload, ConnError>,
    },
    /// One frame of a `query_stream` answer; the stream is over after an
    /// [`StreamFrame::End`] frame (or a [`Event::Response`] error for the same id).
    Stream {
        /// The `query_stream` request.
        id: RequestId,
        /// The frame.
        frame: StreamFrame,
    },
    /// A live notification (never `KILLED`: that ends the subscription instead).
    Notification {
        /// The subscription.
        handle: LiveHandle,
        /// The notification.
        notification: Notification,
    },
    /// The subscription ended; nothing more arrives for `handle`.
    LiveEnded {
        /// The subscription.
        handle: LiveHandle,
        /// Why.
        reason: LiveEndReason,
    },
    /// After a reconnect the live query got a new server id.
    LiveRemapped {
        /// The subscription.
        handle: LiveHandle,
        /// The id before the reconnect.
        old: Uuid,
        /// The new id.
        new: Uuid,
    },
    /// One step of the session replay failed; the replay went on without it.
    ReplayFailed {
        /// The replayed method (`attach`, `authenticate`, `use`, `let`).
        method: Method,
        /// Why.
        error: ConnError,
    },
    /// The driver must open a new socket now, then call `handle_connected` or
    /// `handle_connect_failed`.
    Reconnect,
    /// The session was restored and held requests were released.
    Reconnected,
    /// The socket is lost (or declared dead); the driver drops it.
    Disconnected {
        /// What happened.
        reason: String,
    },
    /// The connection is closed for good; the driver loop ends.
    Closed,
    /// The server sent something unexpected; nothing was changed because of it.
    ProtocolError(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Purpose {
    User,
    Live(LiveHandle),
    Stream,
    Ping,
    /// The machine's own clean-up (`kill`, `cancel`, `query_cancel`): answer consumed.
    Internal,
    ReplaySession,
    ReplayLive(LiveHandle),
}

#[derive(Debug)]
struct InFlight {
    request: Request,
    purpose: Purpose,
}

#[derive(Debug)]
struct Queued {
    id: u64,
    request: Request,
    purpose: Purpose,
    deadline: Option<Instant>,
}

/// A request whose caller was already answered (timeout, id-less error) while the server
/// may still answer it; remembered so that answer is reconciled instead of reported.
#[derive(Debug, Clone)]
struct Abandoned {
    id: u64,
    purpose: Purpose,
    method: Method,
    session: Option<Uuid>,
    /// Kept for requests whose late success changes the tracked session or transactions.
    request: Option<Request>,
    /// A late `query_stream` frame already triggered a `query_cancel`.
    cancelled: bool,
}

/// How many abandoned ids are remembered so their late replies are reconciled.
const MAX_ABANDONED: usize = 1024;
/// At most this many answered requests wait for [`Connection::tidy`]; more are freed at
/// once.
const MAX_SPENT: usize = 64;

/// `now + d`, or `None` ("never") when that instant cannot be represented: a
/// `Duration::MAX` in [`Config`] means "no limit" and must not panic.
fn deadline(now: Instant, d: Duration) -> Option<Instant> {
    now.checked_add(d)
}

/// `d * r / 2^64`, exact and without overflow for any `d`.
fn scale(d: Duration, r: u64) -> Duration {
    let n = d.as_nanos();
    let r = u128::from(r);
    // n < 2^94: split it so no product exceeds 128 bits.
    let nanos = (n >> 64) * r + (((n & u128::from(u64::MAX)) * r) >> 64);
    let secs = u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX);
    // The remainder is below 10^9, so it fits.
    let sub = u32::try_from(nanos % 1_000_000_000).unwrap_or(0);
    Duration::new(secs, sub)
}

/// A random seed per call: `RandomState` keys are random per process and differ per
/// instance, which is all the jitter needs (no dependency on a RNG crate).
pub(crate) fn random_seed() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(0x5eed);
    h.finish()
}

/// splitmix64: small, fast, and good enough to spread reconnect delays.
fn next_random(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The connection state machine. See the module docs for the contract.
///
/// `Debug` shows counts and state only: requests and session state carry credentials
/// and tokens.
pub struct Connection {
    config: Config,
    state: State,
    next_id: u64,
    /// With each one's deadline (`None`: the timeout is too long to be represented, i.e.
    /// never).
    in_flight: InFlightSet<InFlight>,
    queue: VecDeque<Queued>,
    barrier: Option<u64>,
    replay: VecDeque<(Request, Purpose)>,
    replay_current: Option<u64>,
    ever_connected: bool,
    transmits: VecDeque<Vec<u8>>,
    events: VecDeque<Event>,
    /// `None` = the default session, `Some` = attached sessions.
    sessions: BTreeMap<Option<Uuid>, SessionState>,
    live: LiveRegistry,
    last_rx: Instant,
    ping: Option<u64>,
    reconnect_at: Option<Instant>,
    backoff: Duration,
    jitter: u64,
    /// Requests answered since the driver last called [`Connection::tidy`]: kept rather
    /// than freed, so that freeing them does not stand between an answer and its caller.
    spent: Vec<Request>,
    abandoned: VecDeque<Abandoned>,
    open_txns: HashSet<Uuid>,
    lost_txns: HashSet<Uuid>,
    /// During a replay: the sessions whose restoration failed, with the first failure.
    replay_failed: BTreeMap<Option<Uuid>, (Method, ConnError)>,
    /// Bumped whenever the default session's state may have changed: see
    /// [`Connection::session_version`].
    session_version: Arc<AtomicU64>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("state", &self.state)
            .field("config", &self.config)
            .field("in_flight", &self.in_flight.len())
            .field("queued", &self.queue.len())
            .field("sessions", &self.sessions.len())
            .field("live", &self.live.len())
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A connection in state [`State::Connecting`]: the driver is opening the socket.
    pub fn new(config: Config, now: Instant) -> Self {
        let backoff = config.backoff_initial;
        let jitter = config.jitter_seed.unwrap_or_else(random_seed);
        Connection {
            config,
            state: State::Connecting,
            next_id: 0,
            in_flight: InFlightSet::default(),
            queue: VecDeque::new(),
            barrier: None,
            replay: VecDeque::new(),
            replay_current: None,
            ever_connected: false,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            sessions: BTreeMap::new(),
            live: LiveRegistry::new(),
            last_rx: now,
            ping: None,
            reconnect_at: None,
            backoff,
            jitter,
            abandoned: VecDeque::new(),
            spent: Vec::new(),
            open_txns: HashSet::new(),
            lost_txns: HashSet::new(),
            replay_failed: BTreeMap::new(),
            session_version: Arc::default(),
        }
    }

    // ---- getters -------------------------------------------------------------------

    /// Whether requests currently go straight out (socket open, session restored).
    pub fn is_connected(&self) -> bool {
        self.state == State::Connected
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The live-query id currently assigned to `handle`, if known.
    pub fn live_id(&self, handle: LiveHandle) -> Option<Uuid> {
        self.live.live_id(handle)
    }

    /// What this client knows of a session (`None` = the default session): the state a
    /// reconnect replays. `None` when nothing was ever set on it.
    pub fn session_state(&self, session: Option<Uuid>) -> Option<&SessionState> {
        self.sessions.get(&session)
    }

    /// Starts this connection with a copy of another's default session (its token, ns/db
    /// and variables): the first [`Connection::handle_connected`] then replays it before any
    /// request goes out, exactly as a reconnect would. For a second connection of the same
    /// client (see [`crate::lanes`]). Ignored once a socket was ever connected: a live
    /// connection learns its session from its own calls.
    pub fn seed_session(&mut self, state: SessionState) {
        if self.ever_connected || self.state != State::Connecting {
            return;
        }
        if state == SessionState::default() {
            self.sessions.remove(&None);
        } else {
            self.sessions.insert(None, state);
        }
        self.session_changed(None);
    }

    /// A number bumped whenever the default session's state may have changed: a session
    /// change applied (its answer, late ones included), a token forgotten after a failed
    /// re-authentication, a seed. Another connection started from a copy of this session
    /// (see [`crate::lanes`]) is current while the number is the one it copied. Bumped before
    /// the answer that changed it is delivered.
    pub fn session_version(&self) -> u64 {
        self.session_version.load(Ordering::SeqCst)
    }

    /// [`Connection::session_version`], readable from another thread without whatever lock
    /// guards this connection (it is only ever bumped).
    pub fn session_version_handle(&self) -> Arc<AtomicU64> {
        self.session_version.clone()
    }

    fn session_changed(&self, session: Option<Uuid>) {
        if session.is_none() {
            self.session_version.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// How many requests wait for an answer (in flight or held).
    pub fn pending_requests(&self) -> usize {
        self.in_flight
            .iter()
            .filter(|(_, f)| {
                matches!(
                    f.purpose,
                    Purpose::User | Purpose::Live(_) | Purpose::Stream
                )
            })
            .count()
            + self.queue.len()
    }

    /// Whether a frame from the server is awaited: an answer to a request on the socket
    /// (a caller's, a replay's, a keep-alive ping's), a late answer to an abandoned one, or
    /// a live notification. A driver with nothing to await need not read an idle socket
    /// until it is used again (it still watches for the peer closing it).
    pub fn awaits_frames(&self) -> bool {
        !self.in_flight.is_empty() || !self.abandoned.is_empty() || !self.live.is_empty()
    }

    fn socket_open(&self) -> bool {
        matches!(self.state, State::Replaying | State::Connected)
    }

    // ---- commands ------------------------------------------------------------------

    /// Queues `req`; its answer arrives as [`Event::Response`] (or [`Event::Stream`]
    /// frames for `query_stream`).
    pub fn send(&mut self, req: Request, now: Instant) -> RequestId {
        let purpose = if req.method == Method::QueryStream {
            Purpose::Stream
        } else {
            Purpose::User
        };
        self.submit(req, purpose, now)
    }

    /// Queues a live subscription: `req` is a `live` request or a `query` whose only
    /// statement is `LIVE SELECT`. The answer arrives as [`Event::Response`]; notifications
    /// as [`Event::Notification`] for the returned handle, which ends with exactly one
    /// [`Event::LiveEnded`].
    pub fn send_live(&mut self, req: Request, now: Instant) -> (RequestId, LiveHandle) {
        let handle = self.live.register(req.clone());
        let id = self.submit(req, Purpose::Live(handle), now);
        (id, handle)
    }

    /// Ends a subscription: sends `kill` (its answer is consumed here) and forgets the
    /// handle. Emits [`Event::LiveEnded`] with [`LiveEndReason::Unsubscribed`].
    pub fn unsubscribe(&mut self, handle: LiveHandle, now: Instant) {
        if !self.live.contains(handle) || self.live.is_cancelled(handle) {
            return;
        }
        let session = self.live.request(handle).and_then(|r| r.session);
        if let Some(id) = self.live.unsubscribe(handle) {
            self.send_kill(id, session, now);
        }
        self.events.push_back(Event::LiveEnded {
            handle,
            reason: LiveEndReason::Unsubscribed,
        });
    }

    /// Closes for good: everything pending fails with [`ConnError::Closed`], every
    /// subscription ends, no reconnect. Emits [`Event::Closed`].
    pub fn close(&mut self) {
        if self.state == State::Closed {
            return;
        }
        self.shut_down(|_| ConnError::Closed);
    }

    // ---- inputs --------------------------------------------------------------------

    /// A (new) socket is open.
    pub fn handle_connected(&mut self, now: Instant) {
        if matches!(
            self.state,
            State::Closed | State::Replaying | State::Connected
        ) {
            return;
        }
        let reconnected = self.ever_connected;
        self.ever_connected = true;
        self.state = State::Replaying;
        self.last_rx = now;
        self.ping = None;
        self.reconnect_at = None;
        self.replay_failed.clear();
        // The backoff is reset only once the replay succeeded (`advance_replay`): a
        // server that accepts sockets and then fails them must not be hammered.
        self.replay = self.plan_replay();
        if !reconnected && self.replay.is_empty() {
            self.state = State::Connected;
            self.backoff = self.config.backoff_initial;
            self.flush_queue(now);
            return;
        }
        self.advance_replay(now);
    }

    /// Opening a socket failed: schedule the next attempt (or close if reconnecting is off).
    pub fn handle_connect_failed(&mut self, now: Instant, reason: String) {
        if self.state != State::Connecting {
            return;
        }
        let reason = format!("could not connect: {reason}");
        self.events.push_back(Event::Disconnected {
            reason: reason.clone(),
        });
        if self.config.reconnect {
            self.schedule_reconnect(now);
        } else {
            self.shut_down(|m| ConnError::Disconnected {
                method: m,
                reason: reason.clone(),
            });
        }
    }

    /// One frame from the server.
    pub fn handle_frame(&mut self, bytes: &[u8], now: Instant) {
        if !self.socket_open() {
            return;
        }
        self.last_rx = now;
        // Replies to ordinary requests keep their `result` as bytes: the machine needs
        // nothing from them (but a token or transaction id, decoded below), and the caller
        // reads them straight into its own type, off this thread.
        if let Some((id, payload)) = split_reply(bytes) {
            if self
                .in_flight
                .get(id)
                .is_some_and(|f| f.purpose == Purpose::User)
            {
                self.on_response(id, Ok(payload), now);
                return;
            }
        }
        let in_flight = &self.in_flight;
        let abandoned = &self.abandoned;
        let decoded = decode_incoming_with(bytes, |id| {
            in_flight
                .get(id)
                .is_some_and(|f| f.purpose == Purpose::Stream)
                || abandoned
                    .iter()
                    .any(|a| a.id == id && a.purpose == Purpose::Stream)
        });
        match decoded {
            Err(e) => self
                .events
                .push_back(Event::ProtocolError(format!("{e}; frame ignored"))),
            Ok(Incoming::Notification(n)) => self.route_notification(n),
            Ok(Incoming::Stream { id, frame, .. }) => self.on_stream_frame(id, frame, now),
            Ok(Incoming::Response {
                id: None,
                result: Err(e),
                ..
            }) => self.on_uncorrelated_error(e, now),
            Ok(Incoming::Response {
                id: None,
                result: Ok(v),
                ..
            }) => self.events.push_back(Event::ProtocolError(format!(
                "reply without an id ({}) ignored: this client never sends id-less requests",
                v.kind()
            ))),
            Ok(Incoming::Response {
                id: Some(id),
                result,
                ..
            }) => self.on_response(id, result.map(Payload::from), now),
        }
    }

    /// The timer from [`Connection::poll_timeout`] fired.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == State::WaitingToReconnect && self.reconnect_at.is_some_and(|t| t <= now) {
            self.reconnect_at = None;
            self.state = State::Connecting;
            self.events.push_back(Event::Reconnect);
        }
        for id in self.in_flight.due(now) {
            let Some(f) = self.in_flight.remove(id) else {
                continue;
            };
            if f.purpose == Purpose::Ping {
                self.ping = None;
                let reason = format!(
                    "no answer to a keep-alive ping within {:?}",
                    self.config.request_timeout
                );
                self.events.push_back(Event::Disconnected {
                    reason: reason.clone(),
                });
                self.lose_socket(now, &reason);
                return;
            }
            self.remember_abandoned(id, &f);
            let err = ConnError::Timeout {
                method: f.request.method,
                after: self.config.request_timeout,
            };
            self.fail_in(id, f.request.method, f.request.session, f.purpose, err, now);
        }
        while let Some(pos) = self
            .queue
            .iter()
            .position(|q| q.deadline.is_some_and(|d| d <= now))
        {
            let Some(q) = self.queue.remove(pos) else {
                break;
            };
            let err = ConnError::Timeout {
                method: q.request.method,
                after: self.config.request_timeout,
            };
            self.fail(q.id, q.request.method, q.purpose, err, now);
        }
        if self.socket_open()
            && self.ping.is_none()
            && !self.config.ping_interval.is_zero()
            && deadline(self.last_rx, self.config.ping_interval).is_some_and(|t| now >= t)
        {
            let id = self.alloc_id();
            self.transmit(id, Request::ping(), Purpose::Ping, now);
            self.ping = Some(id);
        }
    }

    /// The socket was lost.
    pub fn handle_disconnect(&mut self, now: Instant) {
        if !self.socket_open() {
            return;
        }
        let reason = "the connection was lost".to_owned();
        self.events.push_back(Event::Disconnected {
            reason: reason.clone(),
        });
        self.lose_socket(now, &reason);
    }

    // ---- outputs -------------------------------------------------------------------

    /// The next frame to send (binary).
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmits.pop_front()
    }

    /// When [`Connection::handle_timeout`] must be called next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state == State::Closed {
            return None;
        }
        let mut t = self.reconnect_at;
        let mut consider = |x: Option<Instant>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
        };
        consider(self.in_flight.next_deadline());
        for q in &self.queue {
            consider(q.deadline);
        }
        if self.socket_open() && self.ping.is_none() && !self.config.ping_interval.is_zero() {
            consider(deadline(self.last_rx, self.config.ping_interval));
        }
        t
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Frees what answered requests left behind. An answer is handed on without freeing
    /// its request (its text and bound values): a driver calls this when freeing delays
    /// nobody, e.g. after writing a request and before waiting for its answer. Without
    /// it at most a few dozen are kept.
    pub fn tidy(&mut self) {
        self.spent.clear();
    }

    fn retire(&mut self, request: Request) {
        if self.spent.len() < MAX_SPENT {
            self.spent.push(request);
        }
    }

    // ---- internals -----------------------------------------------------------------

    fn alloc_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn submit(&mut self, req: Request, purpose: Purpose, now: Instant) -> RequestId {
        let id = self.alloc_id();
        if self.state == State::Closed {
            self.fail(id, req.method, purpose, ConnError::Closed, now);
            return RequestId(id);
        }
        if let Some(err) = self.replay_error(req.session) {
            self.fail(id, req.method, purpose, err, now);
            return RequestId(id);
        }
        self.queue.push_back(Queued {
            id,
            request: req,
            purpose,
            deadline: deadline(now, self.config.request_timeout),
        });
        self.flush_queue(now);
        RequestId(id)
    }

    fn transmit(&mut self, id: u64, request: Request, purpose: Purpose, now: Instant) {
        self.transmits.push_back(request.encode(Some(id)));
        let deadline = deadline(now, self.config.request_timeout);
        self.in_flight
            .insert(id, InFlight { request, purpose }, deadline);
    }

    /// Releases held requests in order, stopping after a session-changing one.
    fn flush_queue(&mut self, now: Instant) {
        while self.state == State::Connected && self.barrier.is_none() {
            let Some(q) = self.queue.pop_front() else {
                break;
            };
            if let Some(txn) = q.request.txn.filter(|t| self.lost_txns.contains(t)) {
                self.fail(
                    q.id,
                    q.request.method,
                    q.purpose,
                    ConnError::TransactionLost { txn },
                    now,
                );
                continue;
            }
            let barrier = q.request.method.changes_session();
            self.transmit(q.id, q.request, q.purpose, now);
            if barrier {
                self.barrier = Some(q.id);
            }
        }
    }

    fn send_kill(&mut self, live_id: Uuid, session: Option<Uuid>, now: Instant) {
        self.send_internal(Request::kill(live_id), session, now);
    }

    /// Sends a clean-up request whose answer is consumed here. Nothing to do without a
    /// socket: the server dropped live queries, transactions and streams with it.
    fn send_internal(&mut self, mut req: Request, session: Option<Uuid>, now: Instant) {
        if !self.socket_open() {
            return;
        }
        req.session = session;
        let id = self.alloc_id();
        self.transmit(id, req, Purpose::Internal, now);
    }

    /// While a replay is under way: the error for a request on a session whose
    /// restoration failed (it must not run with less authority than its caller had).
    fn replay_error(&self, session: Option<Uuid>) -> Option<ConnError> {
        if self.state != State::Replaying {
            return None;
        }
        let (method, error) = self.replay_failed.get(&session)?;
        Some(ConnError::ReplayFailed {
            method: *method,
            error: Box::new(error.clone()),
        })
    }

    /// A replay step of `session` failed: report it, remember it for the rest of this
    /// replay, and fail the requests held for that session (see the module docs).
    fn on_replay_step_failed(
        &mut self,
        method: Method,
        session: Option<Uuid>,
        error: ConnError,
        now: Instant,
    ) {
        self.events.push_back(Event::ReplayFailed {
            method,
            error: error.clone(),
        });
        if method == Method::Authenticate {
            // It will not work on the next reconnect either.
            if let Some(s) = self.sessions.get_mut(&session) {
                s.token = None;
                s.refresh = None;
            }
            self.session_changed(session);
        }
        if method == Method::Attach {
            // Every later step of this session would fail with "session not found".
            self.replay
                .retain(|(r, p)| !(*p == Purpose::ReplaySession && r.session == session));
        }
        self.replay_failed.entry(session).or_insert((method, error));
        let (held, kept): (Vec<Queued>, Vec<Queued>) = std::mem::take(&mut self.queue)
            .into_iter()
            .partition(|q| q.request.session == session);
        self.queue = kept.into();
        for q in held {
            if let Some(err) = self.replay_error(session) {
                self.fail(q.id, q.request.method, q.purpose, err, now);
            }
        }
    }

    /// Reports a failed request to whoever waits for it.
    fn fail(&mut self, id: u64, method: Method, purpose: Purpose, err: ConnError, now: Instant) {
        self.fail_in(id, method, None, purpose, err, now);
    }

    /// [`Connection::fail`] knowing the request's session (needed for replay steps).
    fn fail_in(
        &mut self,
        id: u64,
        method: Method,
        session: Option<Uuid>,
        purpose: Purpose,
        err: ConnError,
        now: Instant,
    ) {
        if self.barrier == Some(id) {
            self.barrier = None;
        }
        match purpose {
            Purpose::User | Purpose::Stream => self.events.push_back(Event::Response {
                id: RequestId(id),
                result: Err(err),
            }),
            Purpose::Live(handle) => {
                self.events.push_back(Event::Response {
                    id: RequestId(id),
                    result: Err(err.clone()),
                });
                self.end_live(handle, LiveEndReason::SubscribeFailed(err));
            }
            Purpose::Ping | Purpose::Internal => {}
            Purpose::ReplaySession => {
                // Only the current replay step is in flight, so this is it.
                self.on_replay_step_failed(method, session, err, now);
            }
            Purpose::ReplayLive(handle) => {
                self.end_live(handle, LiveEndReason::RestoreFailed(err));
            }
        }
        if matches!(purpose, Purpose::ReplaySession | Purpose::ReplayLive(_))
            && self.replay_current == Some(id)
        {
            self.replay_current = None;
            self.advance_replay(now);
        } else {
            self.flush_queue(now);
        }
    }

    fn end_live(&mut self, handle: LiveHandle, reason: LiveEndReason) {
        if !self.live.contains(handle) {
            return;
        }
        let cancelled = self.live.is_cancelled(handle);
        self.live.forget(handle);
        // A cancelled handle was already told `Unsubscribed`.
        if !cancelled {
            self.events.push_back(Event::LiveEnded { handle, reason });
        }
        self.report_orphans();
    }

    fn report_orphans(&mut self) {
        for n in self.live.drain_orphans() {
            self.events.push_back(Event::ProtocolError(format!(
                "notification ({:?}) for unknown live query {} dropped",
                n.action, n.live_id
            )));
        }
    }

    fn remember_abandoned(&mut self, id: u64, f: &InFlight) {
        self.abandoned.push_back(Abandoned {
            id,
            purpose: f.purpose,
            method: f.request.method,
            session: f.request.session,
            request: (f.request.method.changes_session()
                || matches!(
                    f.request.method,
                    Method::Revoke | Method::Commit | Method::Cancel
                ))
            .then(|| f.request.clone()),
            cancelled: false,
        });
        if self.abandoned.len() > MAX_ABANDONED {
            self.abandoned.pop_front();
        }
    }

    fn on_response(&mut self, id: u64, result: Result<Payload, ServerError>, now: Instant) {
        let Some(f) = self.in_flight.remove(id) else {
            let result = result.map(|p| p.into_value().unwrap_or(Value::None));
            if let Some(pos) = self.abandoned.iter().position(|a| a.id == id) {
                if let Some(a) = self.abandoned.remove(pos) {
                    self.on_late_reply(a, result, now);
                }
            } else {
                self.events.push_back(Event::ProtocolError(format!(
                    "response for unknown request id {id} ignored"
                )));
            }
            return;
        };
        let method = f.request.method;
        if let Purpose::User | Purpose::Stream = f.purpose {
            if let Ok(p) = &result {
                // `apply_session` reads the result only for these (a token, a transaction
                // id); every other answer goes to the caller undecoded.
                let v = if method == Method::Begin || SessionState::reads_result(method) {
                    p.to_value().unwrap_or(Value::None)
                } else {
                    Value::None
                };
                self.apply_session(&f.request, &v);
            }
            self.retire(f.request);
            if self.barrier == Some(id) {
                self.barrier = None;
            }
            self.events.push_back(Event::Response {
                id: RequestId(id),
                result: result.map_err(ConnError::Server),
            });
            self.flush_queue(now);
            return;
        }
        // The machine's own replies were decoded by `handle_frame` (only user replies
        // are split raw), so this conversion copies nothing.
        let result = result.map(|p| p.into_value().unwrap_or(Value::None));
        match f.purpose {
            Purpose::User | Purpose::Stream => {}
            Purpose::Live(handle) => {
                self.events.push_back(Event::Response {
                    id: RequestId(id),
                    result: result.clone().map(Payload::from).map_err(ConnError::Server),
                });
                self.on_live_answer(handle, method, result, false, now);
                self.flush_queue(now);
            }
            Purpose::Ping => self.ping = None,
            Purpose::Internal => {}
            Purpose::ReplaySession => {
                if let Err(e) = result {
                    self.on_replay_step_failed(
                        method,
                        f.request.session,
                        ConnError::Server(e),
                        now,
                    );
                }
                self.replay_current = None;
                self.advance_replay(now);
            }
            Purpose::ReplayLive(handle) => {
                self.on_live_answer(handle, method, result, true, now);
                self.replay_current = None;
                self.advance_replay(now);
            }
        }
    }

    /// The caller was already told (timeout, id-less error): what the server started
    /// for nobody is stopped so it does not leak there — a live query is killed, a
    /// transaction cancelled; a session change is tracked; anything else is dropped.
    fn on_late_reply(&mut self, a: Abandoned, result: Result<Value, ServerError>, now: Instant) {
        let Ok(v) = result else {
            return;
        };
        match a.purpose {
            Purpose::Live(_) | Purpose::ReplayLive(_) => {
                let id = live_id_from_result(a.method, &v)
                    .or_else(|_| live_id_from_result(Method::Live, &v))
                    .or_else(|_| live_id_from_result(Method::Query, &v));
                if let Ok(live_id) = id {
                    self.live.remember_dead(live_id);
                    self.send_kill(live_id, a.session, now);
                }
            }
            Purpose::User if a.method == Method::Begin => {
                if let Value::Uuid(txn) = v {
                    self.send_internal(
                        Request::new(Method::Cancel, vec![Value::Uuid(txn)]),
                        a.session,
                        now,
                    );
                }
            }
            Purpose::User => {
                // The server did change the session (or ended a transaction) even though
                // the caller gave up: track it, so a replay restores what the server had.
                if let Some(req) = &a.request {
                    self.apply_session(req, &v);
                }
            }
            _ => {}
        }
    }

    /// A frame of a `query_stream` whose caller was already answered: the first one
    /// cancels the query on the server; all are dropped silently, up to the end frame.
    fn on_late_stream_frame(&mut self, id: u64, end: bool, now: Instant) -> bool {
        let Some(pos) = self.abandoned.iter().position(|a| a.id == id) else {
            return false;
        };
        let Some(a) = self.abandoned.get_mut(pos) else {
            return false;
        };
        let session = a.session;
        let cancel = !a.cancelled && !end;
        a.cancelled = true;
        if end {
            self.abandoned.remove(pos);
        }
        if cancel {
            let param = Value::Int(i64::try_from(id).unwrap_or(i64::MAX));
            self.send_internal(Request::new(Method::QueryCancel, vec![param]), session, now);
        }
        true
    }

    fn on_live_answer(
        &mut self,
        handle: LiveHandle,
        method: Method,
        result: Result<Value, ServerError>,
        restoring: bool,
        now: Instant,
    ) {
        let wrap = |e: ConnError| {
            if restoring {
                LiveEndReason::RestoreFailed(e)
            } else {
                LiveEndReason::SubscribeFailed(e)
            }
        };
        let v = match result {
            Ok(v) => v,
            Err(e) => {
                self.end_live(handle, wrap(ConnError::Server(e)));
                return;
            }
        };
        let new = match live_id_from_result(method, &v) {
            Ok(u) => u,
            Err(msg) => {
                self.end_live(handle, wrap(ConnError::Protocol(msg)));
                return;
            }
        };
        if !self.live.contains(handle) {
            // Unsubscribed meanwhile and already forgotten: do not leak it on the server.
            self.live.remember_dead(new);
            self.send_kill(new, None, now);
            return;
        }
        let (old, buffered) = self.live.resolve(handle, new);
        if self.live.is_cancelled(handle) {
            let session = self.live.request(handle).and_then(|r| r.session);
            self.live.forget(handle);
            self.send_kill(new, session, now);
            self.report_orphans();
            return;
        }
        if let Some(old) = old.filter(|o| *o != new) {
            self.events
                .push_back(Event::LiveRemapped { handle, old, new });
        }
        for n in buffered {
            self.route_notification(n);
        }
        self.report_orphans();
    }

    fn route_notification(&mut self, n: Notification) {
        match self.live.route(n) {
            Route::Deliver(handle, notification) => self.events.push_back(Event::Notification {
                handle,
                notification,
            }),
            Route::Ended(handle) => self.events.push_back(Event::LiveEnded {
                handle,
                reason: LiveEndReason::Killed,
            }),
            Route::Buffered | Route::Dropped(None) => {}
            Route::Dropped(Some(why)) => self.events.push_back(Event::ProtocolError(why)),
        }
    }

    fn on_stream_frame(&mut self, id: u64, frame: StreamFrame, now: Instant) {
        let end = frame.is_end();
        if !self.in_flight.contains(id) && self.on_late_stream_frame(id, end, now) {
            return;
        }
        if end {
            self.in_flight.remove(id);
        } else {
            // A stream is alive as long as frames keep coming.
            self.in_flight
                .set_deadline(id, deadline(now, self.config.request_timeout));
        }
        self.events.push_back(Event::Stream {
            id: RequestId(id),
            frame,
        });
    }

    /// An error without id. The server (3.x) answers without id only when it could
    /// not decode a frame's envelope (`req_ws` failed), so the culprit is one of OUR
    /// frames that is still unanswered, i.e. in flight on this socket now. Of those, a
    /// request can be the culprit only if its params carry caller values that the
    /// server may fail to decode (an unsupported tag, nesting deeper than its limit):
    /// - the machine's own frames (`ping`, `kill`, `cancel`, `query_cancel`) hold only
    ///   ids and UUIDs it encoded itself;
    /// - replay steps re-send values the server already accepted on an earlier socket;
    /// - a request without params is `{id, method, params: []}` plus UUIDs.
    ///
    /// So exactly the in-flight user requests (plain, stream, live) with params fail,
    /// with [`ConnError::Protocol`]; requests of other callers that were merely queued,
    /// or already answered, are untouched. Those failed innocently may still be answered:
    /// such late answers are reconciled like answers after a timeout (see the module
    /// docs). With no candidate the error is only reported.
    fn on_uncorrelated_error(&mut self, e: ServerError, now: Instant) {
        let msg = format!(
            "the server rejected a request it could not decode, and did not say which one: {e}"
        );
        self.events.push_back(Event::ProtocolError(msg.clone()));
        let mut ids: Vec<u64> = self
            .in_flight
            .iter()
            .filter(|(_, f)| {
                matches!(
                    f.purpose,
                    Purpose::User | Purpose::Stream | Purpose::Live(_)
                ) && !f.request.params.is_empty()
            })
            .map(|(id, _)| id)
            .collect();
        ids.sort_unstable();
        for id in ids {
            let Some(f) = self.in_flight.remove(id) else {
                continue;
            };
            self.remember_abandoned(id, &f);
            self.fail(
                id,
                f.request.method,
                f.purpose,
                ConnError::Protocol(msg.clone()),
                now,
            );
        }
    }

    fn apply_session(&mut self, req: &Request, result: &Value) {
        let key = req.session;
        match req.method {
            Method::Attach => {
                self.sessions.insert(key, SessionState::default());
                return;
            }
            Method::Detach => {
                if key.is_some() {
                    self.sessions.remove(&key);
                }
                return;
            }
            Method::Begin => {
                if let Value::Uuid(t) = result {
                    self.open_txns.insert(*t);
                }
                return;
            }
            Method::Commit | Method::Cancel => {
                if let Some(Value::Uuid(t)) = req.params.last() {
                    self.open_txns.remove(t);
                }
                return;
            }
            _ => {}
        }
        if !req.method.changes_session() && req.method != Method::Revoke {
            return;
        }
        self.sessions.entry(key).or_default().apply(req, result);
        self.session_changed(key);
    }

    fn plan_replay(&mut self) -> VecDeque<(Request, Purpose)> {
        let mut plan = VecDeque::new();
        for (key, s) in &self.sessions {
            let on = |mut r: Request| {
                r.session = *key;
                (r, Purpose::ReplaySession)
            };
            if key.is_some() {
                plan.push_back(on(Request::new(Method::Attach, Vec::new())));
            }
            plan.extend(s.replay_requests().into_iter().map(on));
        }
        for handle in self.live.plan_restore() {
            if let Some(r) = self.live.request(handle) {
                plan.push_back((r.clone(), Purpose::ReplayLive(handle)));
            }
        }
        plan
    }

    fn advance_replay(&mut self, now: Instant) {
        if self.state != State::Replaying || self.replay_current.is_some() {
            return;
        }
        while let Some((req, purpose)) = self.replay.pop_front() {
            if let Purpose::ReplayLive(h) = purpose {
                if !self.live.contains(h) {
                    continue; // unsubscribed while waiting for its turn
                }
                if let Some(err) = self.replay_error(req.session) {
                    // Re-issued with less authority it could see less, or nothing.
                    self.end_live(h, LiveEndReason::RestoreFailed(err));
                    continue;
                }
            }
            let id = self.alloc_id();
            self.transmit(id, req, purpose, now);
            self.replay_current = Some(id);
            return;
        }
        self.state = State::Connected;
        if self.replay_failed.is_empty() {
            self.backoff = self.config.backoff_initial;
        }
        self.replay_failed.clear();
        self.events.push_back(Event::Reconnected);
        self.flush_queue(now);
    }

    fn lose_socket(&mut self, now: Instant, reason: &str) {
        self.transmits.clear();
        self.ping = None;
        self.barrier = None;
        self.replay.clear();
        self.replay_current = None;
        self.replay_failed.clear();
        self.live.mark_all_inactive();
        self.lost_txns.extend(self.open_txns.drain());
        let ids = self.in_flight.ids();
        // Failing these must not release held requests onto the dead socket.
        self.state = State::WaitingToReconnect;
        for id in ids {
            let Some(f) = self.in_flight.remove(id) else {
                continue;
            };
            match f.purpose {
                // Restored again on the next socket.
                Purpose::ReplayLive(_)
                | Purpose::ReplaySession
                | Purpose::Ping
                | Purpose::Internal => {}
                p => {
                    let err = ConnError::Disconnected {
                        method: f.request.method,
                        reason: reason.to_owned(),
                    };
                    self.fail(id, f.request.method, p, err, now);
                }
            }
        }
        if self.config.reconnect {
            self.schedule_reconnect(now);
        } else {
            let reason = reason.to_owned();
            self.shut_down(|m| ConnError::Disconnected {
                method: m,
                reason: reason.clone(),
            });
        }
    }

    /// Waits a random delay in `[backoff/2, backoff]`, then doubles the backoff (up to
    /// `backoff_max`). A delay too long to represent means no automatic reconnect.
    fn schedule_reconnect(&mut self, now: Instant) {
        self.state = State::WaitingToReconnect;
        let half = self.backoff / 2;
        let delay = half.saturating_add(scale(
            self.backoff.saturating_sub(half),
            next_random(&mut self.jitter),
        ));
        self.reconnect_at = deadline(now, delay);
        self.backoff = self.backoff.saturating_mul(2).min(self.config.backoff_max);
    }

    fn shut_down(&mut self, err: impl Fn(Method) -> ConnError) {
        self.state = State::Closed;
        self.transmits.clear();
        self.reconnect_at = None;
        self.replay.clear();
        self.replay_current = None;
        self.replay_failed.clear();
        self.barrier = None;
        self.ping = None;
        let ids = self.in_flight.ids();
        let mut failed: Vec<(u64, Method, Purpose)> = Vec::new();
        for id in ids {
            if let Some(f) = self.in_flight.remove(id) {
                failed.push((id, f.request.method, f.purpose));
            }
        }
        for q in self.queue.drain(..) {
            failed.push((q.id, q.request.method, q.purpose));
        }
        for (id, method, purpose) in failed {
            let e = err(method);
            match purpose {
                Purpose::User | Purpose::Stream | Purpose::Live(_) => {
                    self.events.push_back(Event::Response {
                        id: RequestId(id),
                        result: Err(e),
                    })
                }
                _ => {}
            }
        }
        for handle in self.live.handles() {
            let cancelled = self.live.is_cancelled(handle);
            self.live.forget(handle);
            if !cancelled {
                self.events.push_back(Event::LiveEnded {
                    handle,
                    reason: LiveEndReason::ConnectionClosed,
                });
            }
        }
        self.events.push_back(Event::Closed);
    }
}

/// Fuzz entry: any sequence of commands, frames, timeouts and disconnects must never panic
/// and must leave the connection usable.
#[doc(hidden)]
pub fn fuzz_connection_ops(data: &[u8], start: Instant) {
    // The caller supplies the base instant (the core never reads a clock); everything
    // after it is simulated.
    let mut now = start;
    // Some scripts run with "no limit" everywhere: `Duration::MAX` must never panic.
    let unlimited = data.first().is_some_and(|b| b % 5 == 1);
    let pick = |d: Duration| if unlimited { Duration::MAX } else { d };
    let mut conn = Connection::new(
        Config {
            request_timeout: pick(Duration::from_secs(5)),
            ping_interval: pick(Duration::from_secs(3)),
            reconnect: data.first().is_none_or(|b| b % 7 != 0),
            backoff_initial: Duration::from_millis(100),
            backoff_max: pick(Duration::from_secs(2)),
            jitter_seed: Some(u64::from(data.get(1).copied().unwrap_or(0))),
        },
        now,
    );
    let mut handles: Vec<LiveHandle> = Vec::new();
    let mut sent: Vec<u64> = Vec::new();
    let mut bytes = data.iter().copied();
    while let Some(op) = bytes.next() {
        let arg = bytes.next().unwrap_or(0);
        match op % 12 {
            0 => sent.push(conn.send(Request::ping(), now).0),
            1 => {
                let (id, h) =
                    conn.send_live(Request::live(crate::value::Table::new("t"), false), now);
                sent.push(id.0);
                handles.push(h);
            }
            2 => {
                if let Some(h) = handles.get(arg as usize % handles.len().max(1)) {
                    conn.unsubscribe(*h, now);
                }
            }
            3 => {
                let n = arg as usize % 48;
                let frame: Vec<u8> = bytes.by_ref().take(n).collect();
                conn.handle_frame(&frame, now);
            }
            4 => {
                // A well-formed answer to a recent id: a live UUID, NONE, or an error.
                let id = sent
                    .get(arg as usize % sent.len().max(1))
                    .copied()
                    .unwrap_or(u64::from(arg));
                let mut o = crate::value::Object::new();
                o.insert("id".into(), Value::Int(i64::try_from(id).unwrap_or(0)));
                match arg % 3 {
                    0 => o.insert("result".into(), Value::Uuid(Uuid([arg; 16]))),
                    1 => o.insert("result".into(), Value::None),
                    _ => o.insert(
                        "error".into(),
                        ServerError::new(crate::rpc::ErrorKind::Query, "boom").to_value(),
                    ),
                };
                conn.handle_frame(&crate::cbor::encode(&Value::Object(o)), now);
            }
            5 => {
                now += Duration::from_millis(u64::from(arg) * 50);
                conn.handle_timeout(now);
            }
            6 => conn.handle_disconnect(now),
            7 => conn.handle_connected(now),
            8 => conn.handle_connect_failed(now, "refused".into()),
            9 => {
                // A notification for a live id the fuzzer may have handed out.
                let mut r = crate::value::Object::new();
                r.insert(
                    "action".into(),
                    Value::String(["CREATE", "KILLED", "X"][arg as usize % 3].into()),
                );
                r.insert("id".into(), Value::Uuid(Uuid([arg / 3; 16])));
                let mut o = crate::value::Object::new();
                o.insert("result".into(), Value::Object(r));
                conn.handle_frame(&crate::cbor::encode(&Value::Object(o)), now);
            }
            10 => {
                let mut o = crate::value::Object::new();
                o.insert(
                    "error".into(),
                    ServerError::new(crate::rpc::ErrorKind::Validation, "Parse error").to_value(),
                );
                conn.handle_frame(&crate::cbor::encode(&Value::Object(o)), now);
            }
            _ => {
                if arg == 0 {
                    conn.close();
                } else {
                    sent.push(conn.send(Request::use_ns_db("a", "b"), now).0);
                }
            }
        }
        while conn.poll_transmit().is_some() {}
        while let Some(ev) = conn.poll_event() {
            if ev == Event::Reconnect && arg % 2 == 0 {
                conn.handle_connected(now);
            }
        }
        if let Some(t) = conn.poll_timeout() {
            // A deadline in the past would make a driver spin.
            assert!(
                now.checked_sub(Duration::from_secs(3600))
                    .is_none_or(|floor| t > floor),
                "poll_timeout far in the past"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_scaling_is_exact_and_never_overflows() {
        let d = Duration::from_secs(8);
        assert_eq!(scale(d, 0), Duration::ZERO);
        assert_eq!(scale(d, 1 << 63), Duration::from_secs(4));
        assert!(scale(d, u64::MAX) < d);
        assert!(scale(Duration::MAX, u64::MAX) < Duration::MAX);
        assert!(scale(Duration::MAX, 1 << 63) >= Duration::MAX / 2 - Duration::from_secs(1));
        let mut seed = 3;
        let a = next_random(&mut seed);
        assert_ne!(a, next_random(&mut seed));
        assert_eq!(deadline(Instant::now(), Duration::MAX), None);
    }
}
