//! The WebSocket IO of both surql drivers: one connection = the core's [`Mux`] (the
//! connection machine plus the routing of answers, stream frames and live notifications)
//! and its socket in one shared state under a lock, used by the callers and by one IO
//! thread. Only socket IO lives here; every decision is the core's. Internal to
//! `surql-smol` and `surql-blocking`: no stable API.
//!
//! Callers do their own socket IO (leader/follower): a caller queues its request in the mux
//! under the lock; when nothing else is waited for on the connection it writes its frame
//! itself and then *leads*: it waits for the socket (a blocking caller with one `poll(2)`,
//! an async caller through its reactor) and reads the frames itself until its answer is
//! there, so a round trip costs no thread hand-off, as in a client that owns its socket.
//! The IO thread watches the socket for data only while no caller leads and a frame is
//! awaited (an answer, a stream frame, a live notification); otherwise (where the OS can:
//! Linux's `POLLRDHUP`) only for the peer hanging up, so an idle connection still notices
//! a server going away and reconnects before it is used again, and a connection used by
//! one caller at a time never changes its interest. A leader stops reading once nothing is
//! awaited; a frame nobody awaited is read (and reported) when the socket is read next.
//! A caller that cannot lead (others wait on the connection too) leaves its frame to the
//! IO thread, which writes everything queued with one flush, and waits for its answer.
//!
//! The IO thread (std, an OS poller: no async runtime) keeps everything else going: it
//! reads what no caller reads (answers to concurrent callers, live notifications, stream
//! frames, a hang-up), fires the core's timers (never sleeping past a request timeout, so a
//! caller's new deadline needs no wake-up), flushes writes that would have blocked,
//! reconnects (with the lock released), and runs listeners (also without the lock).

// `surql::Error` is the one error of both drivers; its size is the core's decision.
#![allow(clippy::result_large_err)]

#[cfg(any(target_os = "linux", target_os = "android"))]
mod bell;
mod frame;
pub mod http;
pub mod lanes;
pub mod oneshot;
mod wait;

use std::io::ErrorKind as IoKind;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{fence, AtomicBool, AtomicIsize, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle, ThreadId};
use std::time::{Duration, Instant};

pub use frame::Transport;
use frame::{Framed, Got};
use surql::endpoint::Endpoint;
use surql::mux::{Action, ConnectionEvent, Mux, Outbox};
use surql::session::SessionState;
use surql::{Error, Options, TlsOptions};
use tungstenite::client::IntoClientRequest;
use tungstenite::http::HeaderValue;

use wait::Waiter;

/// The server accepts messages up to 128 MiB (protocol.md §1.1); accept as much back.
const MAX_MESSAGE_BYTES: usize = 128 * 1024 * 1024;

/// An upgraded WebSocket: our framing over TCP or TLS.
type Ws = Framed<Transport>;

/// The WebSocket framing's reader over `bytes` as if a server had sent them: for the fuzz
/// target `ws_frames` (reached through `surql_smol::internal`); it panics only on a bug.
#[doc(hidden)]
pub fn fuzz_ws_frames(bytes: &[u8]) {
    frame::fuzz_frames(bytes)
}

/// A driver's sinks (answers, stream frames, live notifications), sendable to the IO thread.
pub trait Sinks: Outbox<Reply: Send, Stream: Send, Live: Send> + Send + 'static {}

impl<O> Sinks for O where O: Outbox<Reply: Send, Stream: Send, Live: Send> + Send + 'static {}

/// A caller's request for the mux, queued while the lock was taken.
type Feed<O> = Box<dyn FnOnce(&mut Mux<O>, Instant) + Send>;

/// Hears every connection event on the IO thread; returns `false` to be forgotten. A
/// listener that panics is forgotten too.
pub type Listener = Box<dyn FnMut(&ConnectionEvent) -> bool + Send>;

/// What the callers' threads and the IO thread share.
struct Shared<O: Outbox> {
    state: Mutex<State<O>>,
    /// The IO thread's sleep (on the socket, plus `notify` wake-ups).
    io_poller: Arc<Waiter>,
    /// The leading caller's wait (`None`: callers never lead on this platform).
    lead: Option<Arc<Waiter>>,
    /// Taken out while the IO thread runs them, so a hook may add a listener.
    listeners: Mutex<Vec<Listener>>,
    /// Feeds of callers that found others waiting (see [`WsConn::submit_or_queue`]).
    queue: mpsc::Sender<Feed<O>>,
    /// How many feeds were queued and not run yet: who takes the lock looks at the
    /// channel only when there are any. A feed is counted after it is sent, so a feed run
    /// before it is counted makes this -1 for a moment.
    queued_feeds: AtomicIsize,
    /// Callers between [`WsConn::submit_or_queue`] and taking their answer.
    in_flight: AtomicUsize,
    /// Whether callers may lead (needs level-triggered polling; else the IO thread reads).
    can_lead: bool,
    /// The default session's version (`Connection::session_version`), readable without the
    /// lock.
    session_version: Arc<AtomicU64>,
    /// The IO thread has ended: nobody runs queued feeds any more, so a caller that queues
    /// one runs the queue itself (see [`WsConn::submit_or_queue`]).
    io_done: AtomicBool,
}

/// The connection: the mux and the socket, touched only under [`Shared::state`].
struct State<O: Outbox> {
    mux: Mux<O>,
    socket: Option<Socket>,
    /// Bumped whenever the socket is dropped or replaced: a leader of an older one stops.
    socket_gen: u64,
    /// A write hit `WouldBlock`: the framing holds the rest; the IO thread flushes when
    /// the socket is writable.
    want_write: bool,
    /// Since when the writes are blocked: a peer that reads nothing for a request timeout
    /// is dead, or every later request would wait behind it.
    write_blocked_since: Option<Instant>,
    request_timeout: Duration,
    /// A caller is reading the socket itself.
    leader: bool,
    /// The leader's wait (woken when its socket goes).
    lead: Option<Arc<Waiter>>,
    /// When the sleeping IO thread wakes on its own; `None` while it is awake (it looks at
    /// the mux's deadlines again before it sleeps).
    io_wakes_at: Option<Instant>,
    /// Queued feeds, run in order by whoever takes the lock next, before its own.
    queued: mpsc::Receiver<Feed<O>>,
}

impl<O: Outbox> State<O> {
    /// The leader's duplicate of socket `gen`'s descriptor, if it is still the socket.
    fn lead_socket(&self, gen: u64) -> Option<Arc<TcpStream>> {
        match &self.socket {
            Some(s) if self.socket_gen == gen => Some(s.lead_fd.clone()),
            _ => None,
        }
    }

    /// Runs the feeds queued while others held the lock (in their order), if `pending`
    /// says there are any. The clock is read only when there is one.
    fn drain_queue(&mut self, pending: &AtomicIsize) {
        if pending.load(Ordering::Acquire) <= 0 {
            return;
        }
        let mut now = None;
        while let Ok(feed) = self.queued.try_recv() {
            pending.fetch_sub(1, Ordering::AcqRel);
            feed(&mut self.mux, *now.get_or_insert_with(Instant::now));
        }
    }

    /// Reads every frame available into the mux (`force`: even without a readiness hint).
    /// A leader (`leading`) stops as soon as no frame is awaited any more (its answer is
    /// in): proving the buffers empty would cost one more read that finds nothing, and what
    /// they may hold then is unsolicited and read by whoever reads next.
    fn read_socket(&mut self, force: bool, leading: bool, now: Instant) {
        let Some(socket) = self.socket.as_mut() else {
            return;
        };
        // Woken for something else: skip the read that would only say WouldBlock.
        // (Level-triggered polling reports unread bytes again anyway.)
        if !force && !socket.readable {
            return;
        }
        socket.readable = false;
        // Read until WouldBlock (rustls may hold decrypted bytes the poller cannot see), or
        // for a leader until nothing is awaited.
        let lost = loop {
            match socket.ws.read() {
                // A CBOR connection never gets text: a text message is handed on as bytes,
                // and the core reports it as a protocol error.
                Ok(Got::Message(bytes)) => self.mux.handle_frame(bytes, now),
                Ok(Got::Closed(why)) => break Some(why),
                Ok(Got::WouldBlock) => break None,
                Err(why) => break Some(why),
            }
            if leading && !self.mux.awaits_frames() {
                // Bytes may be left in the framing's or rustls's buffers: whoever reads
                // next must not wait for the poller to report them.
                socket.readable = true;
                break None;
            }
        };
        if socket.ws.has_output() {
            // A ping's pong, or the answer to a close frame (rare): written now, or by the
            // IO thread once writable; a close's answer is best effort, the socket goes.
            match socket.ws.flush() {
                Err(e) if lost.is_none() && e.kind() == IoKind::WouldBlock => {
                    self.want_write = true
                }
                Err(e) if lost.is_none() => {
                    return self.lose_socket(format!("writing to the socket failed: {e}"))
                }
                _ => {}
            }
        }
        if let Some(reason) = lost {
            self.lose_socket(reason);
        }
    }

    fn drop_socket(&mut self) {
        if self.socket.take().is_some() {
            self.socket_gen += 1;
        }
        if self.leader {
            // The leader polls a socket that is gone: wake it to wait for its answer instead.
            // Fails only if the poller is broken; the leader's wait is bounded anyway.
            if let Some(lead) = &self.lead {
                let _ = lead.notify();
            }
        }
        self.leader = false;
        self.want_write = false;
        self.write_blocked_since = None;
    }

    fn lose_socket(&mut self, reason: String) {
        self.drop_socket();
        self.mux.handle_disconnect(reason, Instant::now());
    }

    /// Writes every queued frame and flushes; returns whether anything was queued.
    fn transmit(&mut self) -> bool {
        let Some(socket) = self.socket.as_mut() else {
            // Without a socket the core holds its output until `handle_connected`.
            return false;
        };
        let mut wrote = false;
        let mut failure = None;
        while let Some(frame) = self.mux.poll_transmit() {
            wrote = true;
            // Queued in the framing's buffer; the flush below writes it (or keeps the rest).
            socket.ws.send(&frame);
        }
        if wrote || self.want_write {
            match socket.ws.flush() {
                Ok(()) => {
                    self.want_write = false;
                    self.write_blocked_since = None;
                }
                Err(e) if e.kind() == IoKind::WouldBlock => {
                    self.want_write = true;
                    if socket.ws.moved() {
                        // Still reading, however slowly: blocked from now, not from before.
                        self.write_blocked_since = None;
                    }
                    let since = *self.write_blocked_since.get_or_insert_with(Instant::now);
                    let limit = self.request_timeout;
                    if since.elapsed() >= limit {
                        failure = Some(format!(
                            "writing to the socket took longer than the request timeout ({limit:?}): the server is not reading"
                        ));
                    }
                }
                Err(e) => failure = Some(format!("writing to the socket failed: {e}")),
            }
        }
        if let Some(reason) = failure {
            self.lose_socket(reason);
            return true;
        }
        wrote
    }

    /// Whether a caller that fed the mux must wake the sleeping IO thread: the mux has an
    /// action for it, a write waits for writability, a deadline comes before its wake-up, or
    /// its sleep misses interest armed since (see [`Socket::interest_added`]).
    fn io_must_wake(&self) -> bool {
        let Some(wakes_at) = self.io_wakes_at else {
            return false; // awake: it looks at all of this before it sleeps
        };
        self.mux.has_actions()
            || self.want_write
            || self.mux.poll_timeout().is_some_and(|t| t < wakes_at)
            || self.socket.as_ref().is_some_and(Socket::interest_added)
    }

    /// Ends a caller's leadership (if a caller leads): the IO thread watches the socket
    /// again as [`State::arm_io`] says. Returns whether the sleeping IO thread must be woken.
    fn end_lead(&mut self) -> bool {
        if !self.leader {
            return false;
        }
        self.leader = false;
        if self.arm_io().is_err() {
            self.lose_socket("cannot watch the socket".into());
        }
        self.io_must_wake()
    }

    /// Sets the IO thread's socket interest: data when no caller leads and a frame is
    /// awaited (where the peer's hang-up can be watched alone; else whenever no caller
    /// leads), and writability while a write is blocked. A connection used by one caller
    /// at a time (lead, answer, idle, lead) so never changes it.
    fn arm_io(&mut self) -> std::io::Result<()> {
        let Some(socket) = self.socket.as_mut() else {
            return Ok(());
        };
        let read = !self.leader && (!socket.watches_hangup() || self.mux.awaits_frames());
        socket.arm(read, self.want_write)
    }
}

/// What a caller does after queueing its request.
#[derive(Debug, Clone)]
pub enum Then {
    /// Read the socket itself until its answer is there (the connection was idle): see
    /// [`WsConn::lead_blocking`], or [`WsConn::leading`] for an async caller.
    Lead(LeadOn),
    /// Wait for whoever reads to deliver the answer.
    Wait,
}

/// The socket a caller leads on, as it was when its request was written (so leading
/// starts without taking the lock again).
#[derive(Debug, Clone)]
pub struct LeadOn {
    /// The socket's generation (a leader of an older one stops).
    pub gen: u64,
    /// A duplicate of the socket's TCP descriptor, to wait on (kept open while the leader
    /// waits, even if the connection drops the socket meanwhile).
    pub socket: Arc<TcpStream>,
    /// When the mux's next deadline is due (a blocking leader looks again by then).
    pub next_timer: Option<Instant>,
}

/// The callers' side of a WebSocket connection. Dropping it closes the connection
/// (everything waiting fails with `Error::Closed`); the IO thread then ends by itself.
pub struct WsConn<O: Sinks> {
    shared: Arc<Shared<O>>,
    thread: Option<JoinHandle<()>>,
    io_thread: ThreadId,
    /// How long a caller waits at most: the core times requests out itself; this guards
    /// against a connection that can no longer answer.
    wait_limit: Duration,
}

impl<O: Sinks> WsConn<O> {
    /// Opens the socket on the calling thread (TCP, TLS and the WebSocket upgrade, bounded
    /// by `options.connect_timeout`; blocking), then starts the IO thread (`thread_name`).
    pub fn connect(
        endpoint: Endpoint,
        options: &Options,
        thread_name: &str,
    ) -> Result<WsConn<O>, Error> {
        Self::connect_seeded(endpoint, options, thread_name, None, None)
    }

    /// [`WsConn::connect`] for a connection that starts from a copy of another's default
    /// session (`seed`): it is replayed before any request goes out (a lane, see
    /// [`lanes`]). `listener` hears every event from the first (it is registered before
    /// the IO thread starts).
    pub fn connect_seeded(
        endpoint: Endpoint,
        options: &Options,
        thread_name: &str,
        seed: Option<SessionState>,
        listener: Option<Listener>,
    ) -> Result<WsConn<O>, Error> {
        let tls = if endpoint.scheme.is_tls() {
            Some(tls_config(&options.tls)?)
        } else {
            None
        };
        let ws = open_socket(&endpoint, tls.as_ref(), options.connect_timeout)?;
        let io_poller = Waiter::new()
            .map(Arc::new)
            .map_err(|e| Error::Io(format!("cannot create an OS poller: {e}")))?;
        let lead = Waiter::for_leader().map(Arc::new);
        let now = Instant::now();
        let mut mux = Mux::new(options, now);
        let socket = Socket::register(ws, &io_poller).map_err(|e| Error::Connect {
            url: endpoint.rpc_url(),
            reason: e,
        })?;
        if let Some(seed) = seed {
            mux.seed_session(seed);
        }
        mux.handle_connected(now);
        let wait_limit = options
            .request_timeout
            .saturating_mul(2)
            .saturating_add(options.connect_timeout);
        let (queue, queued) = mpsc::channel();
        let session_version = mux.connection().session_version_handle();
        let shared = Arc::new(Shared {
            queue,
            queued_feeds: AtomicIsize::new(0),
            in_flight: AtomicUsize::new(0),
            state: Mutex::new(State {
                queued,
                mux,
                socket: Some(socket),
                socket_gen: 0,
                want_write: false,
                write_blocked_since: None,
                request_timeout: options.request_timeout,
                leader: false,
                lead: lead.clone(),
                io_wakes_at: None,
            }),
            can_lead: io_poller.level() && lead.is_some(),
            session_version,
            io_done: AtomicBool::new(false),
            io_poller,
            lead,
            listeners: Mutex::new(listener.into_iter().collect()),
        });
        let driver = Driver {
            shared: shared.clone(),
            endpoint,
            tls,
            connect_timeout: options.connect_timeout,
        };
        let thread = thread::Builder::new()
            .name(thread_name.into())
            .spawn(move || driver.run())
            .map_err(|e| Error::Io(format!("cannot start the connection's IO thread: {e}")))?;
        Ok(WsConn {
            shared,
            io_thread: thread.thread().id(),
            thread: Some(thread),
            wait_limit,
        })
    }

    /// How long a caller waits for an answer at most (twice the request timeout plus the
    /// connect timeout: the core answers every request by its own deadline before that).
    pub fn wait_limit(&self) -> Duration {
        self.wait_limit
    }

    /// Whether the IO thread has ended (the connection is closed for good, or its thread
    /// panicked): nothing sent here will be answered except by `Error::Closed`.
    pub fn is_done(&self) -> bool {
        self.shared.io_done.load(Ordering::SeqCst)
    }

    /// The default session's version (`Connection::session_version`), without the lock.
    pub fn session_version(&self) -> u64 {
        self.shared.session_version.load(Ordering::SeqCst)
    }

    /// A copy of `session`'s state and the default session's version, read together.
    pub fn session_state_versioned(
        &self,
        session: Option<surql::Uuid>,
    ) -> Result<(SessionState, u64), Error> {
        let st = self.lock()?;
        // A session the connection never saw has the default (empty) state.
        let state = st
            .mux
            .connection()
            .session_state(session)
            .cloned()
            .unwrap_or_default();
        Ok((state, st.mux.connection().session_version()))
    }

    /// How many callers are between [`WsConn::submit_or_queue`] and taking their answer.
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight.load(Ordering::Relaxed)
    }

    /// Refuses a call that would wait from the IO thread (only a listener runs there;
    /// waiting would wait for itself).
    pub fn refuse_on_io_thread(&self) -> Result<(), Error> {
        if thread::current().id() == self.io_thread {
            return Err(Error::invalid(
                "call from a connection hook",
                "an on_reconnect hook cannot call its own connection (it runs on the connection's IO thread); send the event to a channel and act on it elsewhere",
            ));
        }
        Ok(())
    }

    fn lock(&self) -> Result<MutexGuard<'_, State<O>>, Error> {
        // Poisoned: a thread panicked inside the mux, which may be inconsistent now.
        let mut st = self.shared.state.lock().map_err(|_| Error::Closed)?;
        st.drain_queue(&self.shared.queued_feeds);
        Ok(st)
    }

    /// As [`WsConn::submit`] for a caller that will wait for an answer. The first caller
    /// on an idle connection takes the lock (and may lead); a caller that finds others
    /// waiting queues its feed for whoever holds the lock next and wakes the IO thread,
    /// without touching the lock: under concurrency the callers then never contend with
    /// the IO thread, which writes everything queued with one flush. Feeds run in the order
    /// they were given. The returned [`InFlight`] must live until the answer is taken.
    pub fn submit_or_queue(
        &self,
        may_lead: bool,
        feed: impl FnOnce(&mut Mux<O>, Instant) + Send + 'static,
    ) -> Result<(Then, InFlight<'_>), Error> {
        let others = self.shared.in_flight.fetch_add(1, Ordering::AcqRel);
        let ticket = InFlight(&self.shared.in_flight);
        if others == 0 {
            let ((), then) = self.submit(may_lead, feed)?;
            return Ok((then, ticket));
        }
        // Counted after it is sent: whoever sees the count finds the feed in the channel.
        // SeqCst, then the wake-up's flag (also SeqCst): either the IO thread, about to
        // sleep, sees the count, or this sees its flag clear and wakes it.
        self.shared
            .queue
            .send(Box::new(feed))
            .map_err(|_| Error::Closed)?;
        self.shared.queued_feeds.fetch_add(1, Ordering::SeqCst);
        // The IO thread has ended (the connection is closed): nobody else may ever run the
        // queue, so run it here (the closed mux answers at once). The fences pair with the
        // IO thread's at its end: either it drains this feed, or this sees it gone.
        fence(Ordering::SeqCst);
        if self.shared.io_done.load(Ordering::SeqCst) {
            drop(self.lock()?);
            return Ok((Then::Wait, ticket));
        }
        // Whoever holds the lock now may be a caller: the IO thread makes sure it runs soon
        // (a write only if it sleeps: awake, it looks at the count before it sleeps).
        self.wake_io()?;
        Ok((Then::Wait, ticket))
    }

    /// Feeds the mux on the calling thread (`feed`) and wakes the IO thread only if it must
    /// act. With `may_lead`, the caller leads if its request is all the connection waits
    /// for; a leader writes its own frame.
    pub fn submit<R>(
        &self,
        may_lead: bool,
        feed: impl FnOnce(&mut Mux<O>, Instant) -> R,
    ) -> Result<(R, Then), Error> {
        let st = self.lock()?;
        self.submit_locked(st, may_lead, feed)
    }

    fn submit_locked<R>(
        &self,
        mut st: MutexGuard<'_, State<O>>,
        may_lead: bool,
        feed: impl FnOnce(&mut Mux<O>, Instant) -> R,
    ) -> Result<(R, Then), Error> {
        let now = Instant::now();
        let out = feed(&mut st.mux, now);
        // Lead only when this request is all that is waited for (concurrent callers are
        // served by the IO thread, which reads for all of them), and decide before writing,
        // so the answer never wakes the IO thread.
        let lead = may_lead
            && self.shared.can_lead
            && !st.leader
            && st.socket.is_some()
            && !st.want_write
            && st.mux.waiting() == 1
            && {
                st.leader = true;
                // Failed: the IO thread keeps reading; nothing is lost.
                let armed = st.arm_io().is_ok();
                st.leader = armed;
                armed
            };
        // A leader writes its own frame (no hand-off). Anyone else leaves the frames to the
        // IO thread, which writes all that are queued with one flush: under concurrency that
        // is fewer system calls than every caller writing its own.
        let (then, wake) = if lead {
            st.transmit();
            // The request is out: what earlier answers left behind is freed while the
            // server works, not between an answer and its caller.
            st.mux.tidy();
            // A failed write dropped the socket (and the leadership): the IO thread acts.
            let then = match st.lead_socket(st.socket_gen) {
                Some(socket) if st.leader => Then::Lead(LeadOn {
                    gen: st.socket_gen,
                    socket,
                    next_timer: st.mux.poll_timeout(),
                }),
                _ => Then::Wait,
            };
            (then, st.io_must_wake())
        } else {
            (Then::Wait, st.io_wakes_at.is_some())
        };
        drop(st);
        if wake {
            self.wake_io()?;
        }
        Ok((out, then))
    }

    fn wake_io(&self) -> Result<(), Error> {
        self.shared
            .io_poller
            .notify()
            .map_err(|e| Error::Io(format!("cannot wake the connection's IO thread: {e}")))
    }

    /// Registers a listener of connection events (run on the IO thread, without the lock).
    pub fn add_listener(&self, listener: Listener) -> Result<(), Error> {
        self.shared
            .listeners
            .lock()
            .map_err(|_| Error::Closed)?
            .push(listener);
        Ok(())
    }

    /// A copy of `session`'s state (its token, namespace and database).
    pub fn session_state(
        &self,
        session: Option<surql::Uuid>,
    ) -> Result<surql::session::SessionState, Error> {
        self.session_state_versioned(session)
            .map(|(state, _)| state)
    }

    /// Closes the connection now: everything waiting fails with `Error::Closed`.
    pub fn close(&self) {
        // Closed already: that is what we want.
        // The close leaves the mux an action, so `submit` wakes a sleeping IO thread.
        let _ = self.submit(false, |mux, now| mux.close(now));
    }

    /// Closes the connection and waits for the IO thread to end (for a blocking caller:
    /// the close frame has then been written, as far as the socket took it).
    pub fn close_and_join(&mut self) {
        self.close();
        if let Some(thread) = self.thread.take() {
            if thread.thread().id() != thread::current().id() {
                // A panic on the IO thread already failed every caller (their answer
                // channels closed); there is no one left to report it to here.
                let _ = thread.join();
            }
        }
    }

    /// A blocking leader: reads the socket it leads on (`on`) until `answered()` says the
    /// answer is there (`Ok(true)`), or leadership ends first (`Ok(false)`: the socket was
    /// lost or replaced, the IO thread must act, or `wait_limit` passed since `started`;
    /// whoever reads delivers the answer then). Leadership always ends when this returns.
    pub fn lead_blocking(
        &self,
        on: LeadOn,
        started: Instant,
        mut answered: impl FnMut() -> bool,
    ) -> Result<bool, Error> {
        let mut leading = self.leading(on.gen);
        let limit = started.checked_add(self.wait_limit);
        let Some(lead) = &self.shared.lead else {
            return Ok(false);
        };
        let socket = on.socket;
        let mut deadline = earliest(on.next_timer, limit);
        loop {
            if answered() {
                return Ok(true);
            }
            let now = Instant::now();
            if limit.is_some_and(|l| now >= l) {
                return Ok(false); // the fallback wait reports the timeout
            }
            if lead
                .wait(
                    Some((&socket, true, false)),
                    deadline.map(|d| d.saturating_duration_since(now)),
                )
                .is_err()
            {
                return Ok(false);
            }
            match leading.step()? {
                Lead::On { next_timer } => deadline = earliest(next_timer, limit),
                Lead::Over => return Ok(answered()),
            }
        }
    }

    /// The caller leads on socket `gen` from now until [`Leading::step`] says it is over or
    /// the returned guard drops (after `submit` answered [`Then::Lead`]).
    pub fn leading(&self, gen: u64) -> Leading<'_, O> {
        Leading {
            conn: self,
            gen,
            ended: false,
        }
    }
}

/// A caller counted as waiting for an answer (see [`WsConn::submit_or_queue`]).
#[must_use = "the caller counts as waiting until this is dropped"]
pub struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What a leader does after [`Leading::step`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lead {
    /// Lead on; the mux's next timer (a blocking leader looks again by then at the latest).
    On {
        /// When the mux's next deadline is due.
        next_timer: Option<Instant>,
    },
    /// Leadership has ended (nothing is awaited any more: the answer is in; or the socket
    /// was lost or replaced, or the IO thread must act): take the answer, or wait for it
    /// from whoever reads now.
    Over,
}

/// The earlier of two optional instants (`None` = never).
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A caller reading the socket itself; leadership ends when [`Leading::step`] says so (in
/// the same turn of the lock) or when this drops, and reading goes back to the IO thread.
pub struct Leading<'a, O: Sinks> {
    conn: &'a WsConn<O>,
    /// The socket led on.
    gen: u64,
    /// Leadership has ended already (`step` said `Over`): dropping takes no lock.
    ended: bool,
}

impl<O: Sinks> Leading<'_, O> {
    /// Reads what the socket has (after a readiness wake-up) and fires due timers. Ends the
    /// leadership once nothing is awaited any more (the answer is in), or when the IO
    /// thread must act.
    pub fn step(&mut self) -> Result<Lead, Error> {
        let conn = self.conn;
        // Other callers this step answers are woken together, after the lock is released.
        let _answered = oneshot::batch();
        let mut st = conn.lock()?;
        if !st.leader || st.socket_gen != self.gen {
            // Ended by the connection (socket lost or replaced); not ours to end again.
            self.ended = true;
            return Ok(Lead::Over);
        }
        let now = Instant::now();
        st.read_socket(true, true, now);
        st.mux.handle_timeout(now);
        st.transmit();
        // The IO thread must act (reconnect, notify, flush): hand reading back.
        let must_act = st.socket.is_none() || st.want_write || st.mux.has_actions();
        if must_act || !st.mux.awaits_frames() {
            self.ended = true;
            let wake = st.end_lead() || must_act;
            drop(st);
            if wake {
                conn.wake_io()?;
            }
            return Ok(Lead::Over);
        }
        Ok(Lead::On {
            next_timer: st.mux.poll_timeout(),
        })
    }
}

impl<O: Sinks> Drop for Leading<'_, O> {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        let Ok(mut st) = self.conn.shared.state.lock() else {
            return; // poisoned: the connection is unusable anyway
        };
        // A leader of an older socket must not end the leadership of a newer one.
        if st.socket_gen != self.gen {
            return;
        }
        let wake = st.end_lead();
        drop(st);
        if wake {
            // Fails only if the IO thread has ended.
            let _ = self.conn.wake_io();
        }
    }
}

impl<O: Sinks> Drop for WsConn<O> {
    fn drop(&mut self) {
        // Not joined: an async caller must not block its executor; the IO thread ends by
        // itself once it has closed the socket.
        self.close();
    }
}

/// The rustls client config for `wss://` and `https://` (both drivers), from [`TlsOptions`]:
/// the bundled public (webpki) roots unless turned off, extra CA certificates, an optional
/// client certificate. ring is named explicitly as the crypto provider, so the result never
/// depends on which provider features other crates enable. Bad PEM input is
/// `Error::InvalidInput` naming which input (never quoting a private key).
pub fn tls_config(tls: &TlsOptions) -> Result<Arc<rustls::ClientConfig>, Error> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let mut roots = rustls::RootCertStore::empty();
    if !tls.no_public_roots {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    for pem in &tls.extra_roots_pem {
        let mut found = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert =
                cert.map_err(|e| Error::invalid("TLS root certificate (PEM)", e.to_string()))?;
            roots
                .add(cert)
                .map_err(|e| Error::invalid("TLS root certificate", e.to_string()))?;
            found += 1;
        }
        if found == 0 {
            return Err(Error::invalid(
                "TLS root certificate (PEM)",
                "no `CERTIFICATE` block found",
            ));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::invalid("TLS options", e.to_string()))?
        .with_root_certificates(roots);
    let config = match &tls.client_cert {
        None => builder.with_no_client_auth(),
        Some(cert) => {
            let chain = CertificateDer::pem_slice_iter(&cert.chain_pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| Error::invalid("TLS client certificate chain (PEM)", e.to_string()))?;
            if chain.is_empty() {
                return Err(Error::invalid(
                    "TLS client certificate chain (PEM)",
                    "no `CERTIFICATE` block found",
                ));
            }
            // The key's PEM error is described without quoting the key.
            let key = PrivateKeyDer::from_pem_slice(&cert.key_pem).map_err(|_| {
                Error::invalid(
                    "TLS client private key (PEM)",
                    "no readable PKCS#8, PKCS#1 or SEC1 private key block",
                )
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| Error::invalid("TLS client certificate", e.to_string()))?
        }
    };
    Ok(Arc::new(config))
}

/// The TCP stream under a WebSocket.
fn tcp_of(ws: &Ws) -> &TcpStream {
    ws.get_ref().tcp()
}

/// Opens TCP (+TLS), performs the WebSocket upgrade offering only the `cbor` subprotocol,
/// checks the server accepted it, and leaves the socket nonblocking for the poller.
fn open_socket(
    endpoint: &Endpoint,
    tls: Option<&Arc<rustls::ClientConfig>>,
    timeout: Duration,
) -> Result<Ws, Error> {
    let started = Instant::now();
    let url = endpoint.rpc_url();
    let fail = |reason: String| Error::Connect {
        url: url.clone(),
        reason,
    };
    // The TLS session first: a name rustls refuses fails before anything is connected.
    let tls_session = match tls {
        Some(config) => {
            // rustls takes an IPv6 address without the URL's brackets.
            let host = endpoint.host.trim_start_matches('[').trim_end_matches(']');
            let name = rustls::pki_types::ServerName::try_from(host.to_owned()).map_err(|e| {
                Error::InvalidUrl {
                    url: url.clone(),
                    reason: format!("`{host}` is not a valid TLS server name: {e}"),
                }
            })?;
            let session = rustls::ClientConnection::new(config.clone(), name)
                .map_err(|e| fail(format!("cannot start TLS: {e}")))?;
            Some(session)
        }
        None => None,
    };
    let addrs = (endpoint.host.as_str(), endpoint.port)
        .to_socket_addrs()
        .map_err(|e| fail(format!("cannot resolve `{}`: {e}", endpoint.host)))?;
    let mut last_error = format!("`{}` resolved to no address", endpoint.host);
    let mut tcp = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last_error = format!("{addr}: {e}"),
        }
    }
    let tcp = tcp.ok_or_else(|| fail(last_error))?;
    let io = |what: &str, e: std::io::Error| fail(format!("{what}: {e}"));
    // Requests are small and latency-bound: never wait for Nagle's algorithm.
    tcp.set_nodelay(true)
        .map_err(|e| io("cannot set TCP_NODELAY", e))?;
    // The handshake runs blocking, bounded by the connect timeout.
    tcp.set_read_timeout(Some(timeout))
        .map_err(|e| io("cannot set a read timeout", e))?;
    tcp.set_write_timeout(Some(timeout))
        .map_err(|e| io("cannot set a write timeout", e))?;

    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| fail(e.to_string()))?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("cbor"));
    // Each read and write is bounded by the timeouts above; the cutoff bounds the whole
    // upgrade, which a peer dribbling bytes could otherwise stretch without end.
    let cutoff = Cutoff::arm(&tcp, timeout.saturating_sub(started.elapsed()))
        .map_err(|e| io("cannot bound the WebSocket upgrade", e))?;
    let transport = match tls_session {
        Some(session) => Transport::Tls(Box::new(rustls::StreamOwned::new(session, tcp))),
        None => Transport::Plain(tcp),
    };
    // tungstenite performs the upgrade (TLS first, through the transport); the framing
    // after it is ours (`frame.rs`), and so are any bytes the server sent after the head.
    let upgrade =
        tungstenite::client::client_with_config(request, Framed::upgrading(transport), None);
    if cutoff.disarm() {
        return Err(fail(format!(
            "no WebSocket upgrade within the connect timeout of {timeout:?}"
        )));
    }
    let (upgraded, response) = upgrade.map_err(|e| fail(handshake_failure(e, timeout)))?;
    let protocol = response
        .headers()
        .get("Sec-WebSocket-Protocol")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    if protocol.as_deref() != Some("cbor") {
        return Err(fail(format!(
            "the server did not accept the `cbor` subprotocol (it answered {}); is this a SurrealDB server?",
            protocol.map_or("none".to_owned(), |p| format!("`{p}`"))
        )));
    }
    let mut ws = upgraded.into_inner();
    ws.upgraded(MAX_MESSAGE_BYTES);
    let tcp = tcp_of(&ws);
    tcp.set_read_timeout(None)
        .map_err(|e| io("cannot clear the read timeout", e))?;
    tcp.set_write_timeout(None)
        .map_err(|e| io("cannot clear the write timeout", e))?;
    tcp.set_nonblocking(true)
        .map_err(|e| io("cannot make the socket nonblocking", e))?;
    Ok(ws)
}

/// Shuts a socket down when a deadline passes (a blocking handshake has no other bound on
/// its total time).
struct Cutoff {
    disarm: mpsc::Sender<()>,
    thread: JoinHandle<bool>,
}

impl Cutoff {
    fn arm(tcp: &TcpStream, within: Duration) -> std::io::Result<Cutoff> {
        let socket = tcp.try_clone()?;
        let (disarm, disarmed) = mpsc::channel::<()>();
        let thread = thread::Builder::new()
            .name("surql-ws-connect".into())
            .spawn(move || match disarmed.recv_timeout(within) {
                Err(RecvTimeoutError::Timeout) => {
                    // The handshake fails at its next read or write; reported as the timeout.
                    let _ = socket.shutdown(std::net::Shutdown::Both);
                    true
                }
                _ => false,
            })?;
        Ok(Cutoff { disarm, thread })
    }

    /// Stops the cutoff; `true` if it fired (the socket is shut down).
    fn disarm(self) -> bool {
        drop(self.disarm);
        // A panic there is impossible (no code that can panic); treat it as not fired.
        self.thread.join().unwrap_or(false)
    }
}

/// Explains a failed WebSocket upgrade; a subprotocol mismatch means the peer does not
/// speak SurrealDB's CBOR RPC.
fn handshake_failure<S>(e: tungstenite::HandshakeError<S>, timeout: Duration) -> String
where
    S: tungstenite::handshake::HandshakeRole,
{
    use tungstenite::error::ProtocolError;
    let expired =
        || format!("no WebSocket upgrade answer within the connect timeout of {timeout:?}");
    match e {
        // The socket's read/write timeout (the connect timeout) expired mid-handshake:
        // tungstenite reports a blocking socket's timeout as an interrupted handshake.
        tungstenite::HandshakeError::Interrupted(_) => expired(),
        tungstenite::HandshakeError::Failure(tungstenite::Error::Io(e))
            if matches!(e.kind(), IoKind::WouldBlock | IoKind::TimedOut) =>
        {
            expired()
        }
        tungstenite::HandshakeError::Failure(tungstenite::Error::Protocol(
            ProtocolError::SecWebSocketSubProtocolError(p),
        )) => format!(
            "the server did not accept the `cbor` subprotocol ({p}); is this a SurrealDB server?"
        ),
        tungstenite::HandshakeError::Failure(tungstenite::Error::Http(response)) => format!(
            "WebSocket handshake failed: the server answered HTTP {}",
            response.status()
        ),
        other => format!("WebSocket handshake failed: {other}"),
    }
}

/// A WebSocket registered with the IO thread's poller; dropping it unregisters it first.
struct Socket {
    ws: Ws,
    /// A duplicate of the TCP descriptor: for a leader to wait on without the lock, and for
    /// the IO thread's sleep.
    lead_fd: Arc<TcpStream>,
    io_poller: Arc<Waiter>,
    /// The IO thread's interest (data, writability), as last set.
    armed: (bool, bool),
    /// The interest the IO thread's sleep under way watches: where interest is given per
    /// sleep, one that differs from `armed` takes a wake-up to apply.
    watched: (bool, bool),
    /// Bytes may be waiting: the poller said so, or the socket is new (the handshake may
    /// have read past its end, into bytes the poller will never report again).
    readable: bool,
}

impl Socket {
    fn register(ws: Ws, io_poller: &Arc<Waiter>) -> Result<Socket, String> {
        let tcp = tcp_of(&ws);
        let lead_fd = Arc::new(
            tcp.try_clone()
                .map_err(|e| format!("cannot duplicate the socket: {e}"))?,
        );
        // SAFETY: the socket is removed from the poller in `Drop for Socket`, which runs
        // before its `ws` field (and with it the file descriptor) is dropped.
        unsafe { io_poller.add(tcp) }.map_err(|e| format!("cannot watch the socket: {e}"))?;
        Ok(Socket {
            ws,
            lead_fd,
            io_poller: io_poller.clone(),
            armed: (true, false),
            watched: (true, false),
            readable: true,
        })
    }

    /// Whether the IO thread watches for the peer's hang-up even without data interest, so
    /// an idle socket need not be watched for data (Linux's `POLLRDHUP`).
    fn watches_hangup(&self) -> bool {
        self.io_poller.watches_hangup()
    }

    /// Whether the IO thread's sleep under way misses interest armed since it began (it
    /// must be woken to watch it). Interest taken away needs no wake-up: a sleep that still
    /// watches it at worst wakes once for nothing, and watches what is armed next time.
    fn interest_added(&self) -> bool {
        (self.armed.0 && !self.watched.0) || (self.armed.1 && !self.watched.1)
    }

    /// Arms the IO thread's interest (a syscall only where interest is registered, and only
    /// when it must change).
    fn arm(&mut self, readable: bool, writable: bool) -> std::io::Result<()> {
        // Level-triggered interest stays armed, so it is changed only when it must. (Oneshot,
        // the `polling` fallback's where level is not supported, is re-armed before every
        // wait; callers never lead then.)
        if self.io_poller.level() && self.armed == (readable, writable) {
            return Ok(());
        }
        self.io_poller.set(tcp_of(&self.ws), readable, writable)?;
        self.armed = (readable, writable);
        if !self.io_poller.interest_per_wait() {
            // Registered interest reaches a sleep under way.
            self.watched = self.armed;
        }
        Ok(())
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.io_poller.delete(tcp_of(&self.ws));
    }
}

/// The IO thread.
struct Driver<O: Sinks> {
    shared: Arc<Shared<O>>,
    endpoint: Endpoint,
    tls: Option<Arc<rustls::ClientConfig>>,
    connect_timeout: Duration,
}

/// What one turn of the IO thread left to do with the lock released.
#[derive(Default)]
struct Turn {
    events: Vec<ConnectionEvent>,
    open_socket: bool,
    finished: bool,
}

/// Sets [`Shared::io_done`] when the IO thread ends, however it ends.
struct IoDone<O: Outbox>(Arc<Shared<O>>);

impl<O: Outbox> Drop for IoDone<O> {
    fn drop(&mut self) {
        self.0.io_done.store(true, Ordering::SeqCst);
    }
}

impl<O: Sinks> Driver<O> {
    fn run(self) {
        // However this thread ends (a panic included), callers learn that nobody runs the
        // queue any more.
        let _done = IoDone(self.shared.clone());
        let mut readable = true;
        loop {
            // The callers this turn answers are woken together when it ends (before the
            // sleep below): one wake-up call, and this thread is preempted once, not once
            // per answer.
            let answered = oneshot::batch();
            let Ok(mut st) = self.shared.state.lock() else {
                return; // poisoned: a caller panicked inside the mux
            };
            st.io_wakes_at = None;
            st.drain_queue(&self.shared.queued_feeds);
            if readable {
                if let Some(socket) = st.socket.as_mut() {
                    socket.readable = true;
                }
            }
            // Also while a caller leads: then only the peer's hang-up wakes this thread (or
            // bytes a leader left unread), and a leader on a stalled executor must not leave
            // the level-triggered hang-up to wake this thread again and again.
            let now = Instant::now();
            st.read_socket(false, false, now);
            st.mux.handle_timeout(now);
            // Acting can produce output (a closed connection sends nothing more, a lost
            // socket fails requests) and writing can produce actions (a failed write loses
            // the socket): repeat until both are quiet.
            let mut turn = Turn::default();
            loop {
                let acted = act(&mut st, &mut turn);
                let wrote = st.transmit();
                if !acted && !wrote {
                    break;
                }
            }
            if st.leader {
                // The leader re-checks its socket and answer (its socket may be gone).
                if let Some(lead) = &self.shared.lead {
                    // Fails only if the eventfd is broken; the leader's wait is bounded.
                    let _ = lead.notify();
                }
            }
            if turn.open_socket {
                drop(st);
                drop(answered);
                self.broadcast(turn.events);
                self.reconnect();
                continue;
            }
            if turn.finished {
                if let Some(mut socket) = st.socket.take() {
                    // Best effort: a close frame that cannot be written now only costs
                    // the server a log line, and nobody is left to tell.
                    socket.ws.close();
                    let _ = socket.ws.flush();
                }
                // From here on a caller that queues a feed runs the queue itself; feeds
                // queued before are run now (the closed mux answers them at once).
                self.shared.io_done.store(true, Ordering::SeqCst);
                fence(Ordering::SeqCst);
                st.drain_queue(&self.shared.queued_feeds);
                drop(st);
                drop(answered);
                self.broadcast(turn.events);
                return;
            }
            if let Err(e) = st.arm_io() {
                st.lose_socket(format!("cannot watch the socket: {e}"));
                drop(st);
                drop(answered);
                self.broadcast(turn.events);
                continue;
            }
            // About to sleep: free what answered requests left behind.
            st.mux.tidy();
            let now = Instant::now();
            let write_deadline = st
                .write_blocked_since
                .and_then(|since| since.checked_add(st.request_timeout));
            // Never sleep past a request timeout from now: a caller's new request then
            // always times out after this wake-up, and needs no wake-up of its own.
            let cap = now.checked_add(st.request_timeout);
            let deadline = [st.mux.poll_timeout(), write_deadline, cap]
                .into_iter()
                .flatten()
                .min();
            // From here on a `notify` writes: callers that see `io_wakes_at` (under the lock)
            // wake it.
            self.shared.io_poller.will_sleep();
            // Without any bound (`Duration::MAX` timeouts) it counts as waking now, so callers
            // wake it for anything.
            st.io_wakes_at = Some(deadline.unwrap_or(now));
            // The socket as it is watched in this sleep (a duplicate descriptor, so a caller
            // that drops the socket meanwhile, and wakes this thread, closes nothing under it).
            let watch = st.socket.as_mut().map(|s| {
                s.watched = s.armed;
                (s.lead_fd.clone(), s.armed)
            });
            drop(st);
            drop(answered);
            self.broadcast(turn.events);
            let timeout = deadline.map(|at| at.saturating_duration_since(Instant::now()));
            readable = false;
            let socket = watch
                .as_ref()
                .map(|(fd, (read, write))| (&**fd, *read, *write));
            // A feed queued while this thread was awake (its caller's `notify` wrote nothing):
            // run it instead of sleeping.
            let slept = if self.shared.queued_feeds.load(Ordering::SeqCst) > 0 {
                self.shared.io_poller.stay_awake();
                Ok(false)
            } else {
                self.shared.io_poller.sleep(socket, timeout)
            };
            match slept {
                Ok(reported) => {
                    // Data, a hang-up or an error: the read finds out which. (A peer's hang-up
                    // watched without data interest is neither readable nor writable here.)
                    readable = reported;
                    if !self.shared.io_poller.level() {
                        // A delivered oneshot interest is disarmed.
                        if let Ok(mut st) = self.shared.state.lock() {
                            if let Some(socket) = st.socket.as_mut() {
                                socket.armed = (false, false);
                            }
                        }
                    }
                }
                Err(e) if e.kind() == IoKind::Interrupted => {}
                Err(e) => {
                    // Without a poller the thread can neither read nor sleep: give up cleanly.
                    self.broadcast(vec![ConnectionEvent::Error(format!(
                        "the OS poller failed: {e}"
                    ))]);
                    if let Ok(mut st) = self.shared.state.lock() {
                        st.mux.close(Instant::now());
                    }
                }
            }
        }
    }

    /// Opens a new socket with the lock released (callers queue meanwhile), then hands it
    /// to the mux.
    fn reconnect(&self) {
        let opened =
            open_socket(&self.endpoint, self.tls.as_ref(), self.connect_timeout).and_then(|ws| {
                Socket::register(ws, &self.shared.io_poller).map_err(|reason| Error::Connect {
                    url: self.endpoint.rpc_url(),
                    reason,
                })
            });
        let Ok(mut st) = self.shared.state.lock() else {
            return;
        };
        match opened {
            Ok(socket) => {
                st.drop_socket();
                st.socket = Some(socket);
                st.socket_gen += 1;
                st.mux.handle_connected(Instant::now());
            }
            // The core reports it as `Disconnected("could not connect: …")`.
            Err(e) => st.mux.handle_connect_failed(Instant::now(), e.to_string()),
        }
    }

    fn broadcast(&self, events: Vec<ConnectionEvent>) {
        if events.is_empty() {
            return;
        }
        // Taken out while hooks run, so a hook that adds a listener does not deadlock.
        let Ok(mut guard) = self.shared.listeners.lock() else {
            return;
        };
        let mut listeners = std::mem::take(&mut *guard);
        drop(guard);
        for event in events {
            // A listener whose receiver is gone is forgotten.
            // A listener that panics is dropped; the IO thread, which every caller needs,
            // must not die with it.
            listeners.retain_mut(|listen| {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| listen(&event)))
                    .unwrap_or(false)
            });
        }
        if let Ok(mut guard) = self.shared.listeners.lock() {
            // Listeners added meanwhile come after the earlier ones.
            listeners.append(&mut guard);
            *guard = listeners;
        }
    }
}

/// Takes the mux's actions into `turn`; returns whether there were any.
fn act<O: Outbox>(st: &mut State<O>, turn: &mut Turn) -> bool {
    let mut any = false;
    while let Some(action) = st.mux.poll_action() {
        any = true;
        match action {
            Action::OpenSocket => turn.open_socket = true,
            Action::DropSocket => st.drop_socket(),
            Action::Notify(event) => turn.events.push(event),
            Action::Finished => turn.finished = true,
        }
    }
    any
}
