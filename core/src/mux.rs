//! `Mux`: the bookkeeping between the connection machine and the callers waiting on it.
//!
//! A driver owns sockets, timers and wake-ups; everything else about a WebSocket connection
//! is decided here, once, for both drivers: which answer goes to which caller, how a live
//! subscription's answer becomes its id, what happens when a stream's reader is too slow or
//! gone, how a stream ends, which connection events callers hear about, and when an idle
//! connection whose handles are all gone closes.
//!
//! The callers' buffers belong to the driver (channels of its runtime); the mux only sees
//! them through three small traits, [`ReplySink`] and [`ItemSink`] grouped by [`Outbox`], so
//! it never blocks on a reader: a full buffer is reported as [`Offer::Full`] and handled
//! by the documented overflow rule.
//!
//! **Overflow rule.** A stream or live subscription whose reader lets more items wait than
//! its buffer holds (`Options::stream_buffer` / `Options::live_buffer`) ends with
//! [`Error::ReaderTooSlow`] after the items already buffered, and its query is cancelled
//! (`query_cancel`) or killed (`kill`) on the server. Other callers are never held up.
//!
//! **Gone readers.** A reader that went away (dropped stream, dropped `live()` future after
//! its request left) has its query cancelled or killed on the server as soon as the mux
//! notices, so nothing leaks there or is re-subscribed on a reconnect.
//!
//! The driver loop: feed inputs (`handle_*`, commands), then write every
//! [`Mux::poll_transmit`] frame, act on every [`Mux::poll_action`], and sleep until
//! [`Mux::poll_timeout`], a socket event or a command.

// `Error` carries the server's error by value so callers can match on it; errors are the
// cold path, so the size of `Result` does not matter here.
#![allow(clippy::result_large_err)]

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::conn::{ConnError, Connection, Event, IdHasher, LiveEndReason, LiveHandle, RequestId};

/// The mux's maps keyed by request ids (ids this client assigns; see [`IdHasher`]).
type IdHash = BuildHasherDefault<IdHasher>;
use crate::error::Error;
use crate::options::Options;
use crate::rpc::{parse_query_results, Method, Notification, Payload, Request, StreamFrame};
use crate::session::SessionState;
use crate::value::{Uuid, Value};

/// What happened when an item was offered to a reader's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// The item is buffered for the reader.
    Taken,
    /// The buffer is full: the reader is too slow.
    Full,
    /// The reader is gone.
    Gone,
}

/// Where the answer to one request goes (a oneshot channel, typically).
pub trait ReplySink {
    /// Delivers the answer; `false` if the caller stopped waiting.
    fn deliver(self, answer: Result<Reply, Error>) -> bool;
}

/// A reader's bounded buffer of stream frames or live notifications.
pub trait ItemSink<T> {
    /// Offers one item without waiting.
    fn offer(&mut self, item: T) -> Offer;
    /// Ends the stream after the items already buffered: normally (`None`) or with `error`,
    /// which the reader sees once, after the buffered items.
    fn finish(self, error: Option<Error>);
}

/// How a reader learns why its stream ended. The driver's sink stores the outcome here
/// when the mux finishes it and then closes its channel; the reader, finding the channel
/// closed, asks [`EndSlot::outcome`]. A channel that closed without an outcome (the driver
/// thread is gone) reads as [`Error::Closed`].
#[derive(Debug, Clone, Default)]
pub struct EndSlot(Arc<Mutex<Option<Option<Error>>>>);

impl EndSlot {
    /// Records how the stream ended (`None`: normally).
    pub fn set(&self, outcome: Option<Error>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
    }

    /// How the stream ended: `None` normally, else the error to report (once).
    pub fn outcome(&self) -> Option<Error> {
        match self.0.lock().unwrap_or_else(|p| p.into_inner()).take() {
            Some(outcome) => outcome,
            None => Some(Error::Closed),
        }
    }
}

/// The driver's sink types.
pub trait Outbox {
    /// Answers to single requests.
    type Reply: ReplySink;
    /// `query_stream` frames.
    type Stream: ItemSink<StreamFrame>;
    /// Live notifications (and re-subscription markers).
    type Live: ItemSink<LiveItem>;
}

/// What a live subscription's reader receives.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveItem {
    /// A notification (never `KILLED`: that ends the subscription instead).
    Notification(Notification),
    /// After a reconnect the live query was re-issued and got a new server id; later
    /// notifications come from `new`. Changes made while the connection was down were not
    /// notified (read them from a change feed if they matter).
    Resubscribed {
        /// The id before the reconnect.
        old: Uuid,
        /// The id now.
        new: Uuid,
    },
}

/// A successful answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// The `result` of an ordinary request, as it came off the wire.
    Payload(Payload),
    /// A live subscription is running with this server id.
    Live {
        /// The subscription, for [`Mux::unsubscribe`].
        handle: LiveHandle,
        /// The server's live-query id.
        id: Uuid,
    },
}

/// A connection life-cycle event for the application (WebSocket only).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ConnectionEvent {
    /// The socket was lost (or could not be re-opened); a reconnect follows unless
    /// reconnecting is off. Requests in flight failed with [`Error::Disconnected`].
    Disconnected(String),
    /// A new socket is open and the session (auth, ns/db, variables, live queries) restored.
    Reconnected,
    /// A live query got a new server id after a reconnect.
    LiveRemapped {
        /// The id before.
        old: Uuid,
        /// The id now.
        new: Uuid,
    },
    /// One step of the session replay failed (e.g. an expired token). Requests queued
    /// during the outage for that session fail with [`Error::ReplayFailed`].
    ReplayFailed {
        /// The replayed method.
        method: String,
        /// Why it failed.
        error: Error,
    },
    /// The server sent something that belongs to no request (an undecodable frame, an
    /// answer to an unknown id), or the driver hit an error of its own.
    Error(String),
    /// The connection is closed for good.
    Closed,
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Open a new socket, then call [`Mux::handle_connected`] or
    /// [`Mux::handle_connect_failed`].
    OpenSocket,
    /// Drop the current socket (it is lost or declared dead).
    DropSocket,
    /// Tell the application (hooks, event listeners).
    Notify(ConnectionEvent),
    /// The connection is closed for good: end the driver loop.
    Finished,
}

enum Waiter<R> {
    Call(R),
    Live {
        handle: LiveHandle,
        reply: R,
    },
    /// A request the mux sent on its own (`query_cancel`); its answer changes nothing.
    Discard,
}

enum StreamSlot<S> {
    Open(S),
    /// Cancelled or failed: frames still on their way are dropped until its end.
    Discarding,
}

/// The routing layer around a [`Connection`]. See the module docs.
pub struct Mux<O: Outbox> {
    conn: Connection,
    pending: HashMap<RequestId, Waiter<O::Reply>, IdHash>,
    streams: HashMap<RequestId, StreamSlot<O::Stream>, IdHash>,
    lives: HashMap<LiveHandle, O::Live>,
    actions: VecDeque<Action>,
    stream_buffer: usize,
    live_buffer: usize,
    /// Why the socket was lost last, merged into the next `Disconnected` event.
    last_loss: Option<String>,
    handles_gone: bool,
    finished: bool,
}

impl<O: Outbox> std::fmt::Debug for Mux<O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mux")
            .field("state", &self.conn.state())
            .field("pending", &self.pending.len())
            .field("streams", &self.streams.len())
            .field("lives", &self.lives.len())
            .field("finished", &self.finished)
            .finish()
    }
}

impl<O: Outbox> Mux<O> {
    /// A mux whose connection is opening its first socket (call
    /// [`Mux::handle_connected`] once it is open).
    pub fn new(options: &Options, now: Instant) -> Self {
        Mux {
            conn: Connection::new(options.conn_config(), now),
            pending: HashMap::default(),
            streams: HashMap::default(),
            lives: HashMap::new(),
            actions: VecDeque::new(),
            stream_buffer: options.stream_buffer,
            live_buffer: options.live_buffer,
            last_loss: None,
            handles_gone: false,
            finished: false,
        }
    }

    // ---- getters -------------------------------------------------------------------

    /// The connection machine (read-only).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// [`Connection::seed_session`]: before the first socket, start from a copy of another
    /// connection's default session.
    pub fn seed_session(&mut self, state: SessionState) {
        self.conn.seed_session(state);
    }

    /// [`Connection::tidy`]: frees what answered requests left behind, when that delays
    /// nobody (after writing, before waiting).
    pub fn tidy(&mut self) {
        self.conn.tidy();
    }

    /// Whether the connection is closed for good and every caller was answered.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// How many callers wait for something (answers, stream frames, notifications).
    pub fn waiting(&self) -> usize {
        self.pending
            .values()
            .filter(|w| !matches!(w, Waiter::Discard))
            .count()
            + self.streams.len()
            + self.lives.len()
    }

    /// Whether any frame from the server is awaited (answers, stream frames, live
    /// notifications, the connection's own requests): while nothing is, an idle socket
    /// need not be read. Every request, stream and subscription routed here is one of the
    /// connection's, so it answers (see [`Connection::awaits_frames`]).
    pub fn awaits_frames(&self) -> bool {
        self.conn.awaits_frames()
    }

    // ---- commands ------------------------------------------------------------------

    /// Sends `req`; its answer goes to `reply`.
    pub fn call(&mut self, req: Request, reply: O::Reply, now: Instant) {
        if self.finished {
            reply.deliver(Err(Error::Closed));
            return;
        }
        let id = self.conn.send(req, now);
        self.pending.insert(id, Waiter::Call(reply));
        self.route(now);
    }

    /// Subscribes: `req` is a `live` request or a `query` whose only statement is
    /// `LIVE SELECT`. `reply` gets [`Reply::Live`] (or the error); notifications go to
    /// `sink`, which is finished exactly once.
    pub fn live(&mut self, req: Request, reply: O::Reply, sink: O::Live, now: Instant) {
        if self.finished {
            reply.deliver(Err(Error::Closed));
            sink.finish(Some(Error::Closed));
            return;
        }
        let (id, handle) = self.conn.send_live(req, now);
        self.pending.insert(id, Waiter::Live { handle, reply });
        self.lives.insert(handle, sink);
        self.route(now);
    }

    /// Sends a `query_stream` request; its frames go to `sink`, which is finished exactly
    /// once. Returns the request id (for `query_cancel`).
    pub fn stream(&mut self, req: Request, sink: O::Stream, now: Instant) -> RequestId {
        if self.finished {
            sink.finish(Some(Error::Closed));
            return RequestId(u64::MAX);
        }
        let id = self.conn.send(req, now);
        self.streams.insert(id, StreamSlot::Open(sink));
        self.route(now);
        id
    }

    /// The reader of stream `id` is gone: cancel the query on the server.
    pub fn cancel_stream(&mut self, id: RequestId, now: Instant) {
        if let Some(StreamSlot::Open(_)) = self.streams.get(&id) {
            self.streams.insert(id, StreamSlot::Discarding);
            self.cancel_on_server(id, now);
            self.route(now);
        }
    }

    /// The reader of a live subscription is gone: kill it on the server.
    pub fn unsubscribe(&mut self, handle: LiveHandle, now: Instant) {
        if self.lives.remove(&handle).is_some() {
            self.conn.unsubscribe(handle, now);
            self.route(now);
        }
    }

    /// Every handle that could send more commands is gone: close once nothing is waiting.
    pub fn handles_gone(&mut self, now: Instant) {
        self.handles_gone = true;
        self.route(now);
    }

    /// Closes now: everything waiting fails with [`Error::Closed`].
    pub fn close(&mut self, now: Instant) {
        self.conn.close();
        self.route(now);
    }

    // ---- inputs --------------------------------------------------------------------

    /// A (new) socket is open.
    pub fn handle_connected(&mut self, now: Instant) {
        self.conn.handle_connected(now);
        self.route(now);
    }

    /// Opening a socket failed.
    pub fn handle_connect_failed(&mut self, now: Instant, reason: String) {
        self.conn.handle_connect_failed(now, reason);
        self.route(now);
    }

    /// One frame from the server.
    pub fn handle_frame(&mut self, bytes: &[u8], now: Instant) {
        self.conn.handle_frame(bytes, now);
        self.route(now);
    }

    /// The timer at [`Mux::poll_timeout`] fired (calling it early is harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.conn.poll_timeout().is_some_and(|at| at <= now) {
            self.conn.handle_timeout(now);
        }
        self.route(now);
    }

    /// The socket is lost; `reason` says how (reported with the `Disconnected` event).
    pub fn handle_disconnect(&mut self, reason: String, now: Instant) {
        self.last_loss = Some(reason);
        self.conn.handle_disconnect(now);
        self.route(now);
    }

    // ---- outputs -------------------------------------------------------------------

    /// The next frame to write.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.conn.poll_transmit()
    }

    /// The next thing the driver must do.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Whether [`Mux::poll_action`] has something (without taking it): a caller that fed
    /// the mux on its own thread uses it to decide whether the driver's loop must wake.
    #[must_use]
    pub fn has_actions(&self) -> bool {
        !self.actions.is_empty()
    }

    /// When to call [`Mux::handle_timeout`] next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.conn.poll_timeout()
    }

    // ---- routing -------------------------------------------------------------------

    /// Ends a subscription whose reader is gone (without routing: the caller routes).
    fn drop_live(&mut self, handle: LiveHandle, now: Instant) {
        self.lives.remove(&handle);
        self.conn.unsubscribe(handle, now);
    }

    fn cancel_on_server(&mut self, id: RequestId, now: Instant) {
        let cancel = Request::new(Method::QueryCancel, vec![Value::Int(id.0 as i64)]);
        let cancel_id = self.conn.send(cancel, now);
        self.pending.insert(cancel_id, Waiter::Discard);
    }

    fn notify(&mut self, event: ConnectionEvent) {
        self.actions.push_back(Action::Notify(event));
    }

    fn route(&mut self, now: Instant) {
        loop {
            while let Some(event) = self.conn.poll_event() {
                self.on_event(event, now);
            }
            if self.handles_gone && !self.finished && self.waiting() == 0 {
                self.conn.close();
                continue;
            }
            break;
        }
    }

    fn on_event(&mut self, event: Event, now: Instant) {
        match event {
            Event::Response { id, result } => self.on_response(id, result, now),
            Event::Stream { id, frame } => self.on_stream_frame(id, frame, now),
            Event::Notification {
                handle,
                notification,
            } => self.offer_live(handle, LiveItem::Notification(notification), now),
            Event::LiveEnded { handle, reason } => {
                if let Some(sink) = self.lives.remove(&handle) {
                    sink.finish(live_end_error(reason));
                }
            }
            Event::LiveRemapped { handle, old, new } => {
                self.notify(ConnectionEvent::LiveRemapped { old, new });
                // The reader hears it in order: before the notifications of the new id.
                self.offer_live(handle, LiveItem::Resubscribed { old, new }, now);
            }
            Event::ReplayFailed { method, error } => self.notify(ConnectionEvent::ReplayFailed {
                method: method.as_str().to_owned(),
                error: error.into(),
            }),
            Event::Reconnect => self.actions.push_back(Action::OpenSocket),
            Event::Reconnected => self.notify(ConnectionEvent::Reconnected),
            Event::Disconnected { reason } => {
                self.actions.push_back(Action::DropSocket);
                let reason = match self.last_loss.take() {
                    Some(cause) => format!("{cause} ({reason})"),
                    None => reason,
                };
                self.notify(ConnectionEvent::Disconnected(reason));
            }
            Event::Closed => {
                self.finished = true;
                // Nothing can answer them any more (the machine failed its own first).
                for (_, w) in self.pending.drain() {
                    match w {
                        Waiter::Call(reply) | Waiter::Live { reply, .. } => {
                            reply.deliver(Err(Error::Closed));
                        }
                        Waiter::Discard => {}
                    }
                }
                for (_, slot) in self.streams.drain() {
                    if let StreamSlot::Open(sink) = slot {
                        sink.finish(Some(Error::Closed));
                    }
                }
                for (_, sink) in self.lives.drain() {
                    sink.finish(Some(Error::Closed));
                }
                self.actions.push_back(Action::DropSocket);
                self.notify(ConnectionEvent::Closed);
                self.actions.push_back(Action::Finished);
            }
            Event::ProtocolError(message) => self.notify(ConnectionEvent::Error(message)),
        }
    }

    fn on_response(&mut self, id: RequestId, result: Result<Payload, ConnError>, now: Instant) {
        match self.pending.remove(&id) {
            Some(Waiter::Call(reply)) => {
                // A caller that stopped waiting needs no answer.
                reply.deliver(result.map(Reply::Payload).map_err(Error::from));
            }
            Some(Waiter::Live { handle, reply }) => match result.map_err(Error::from) {
                Ok(payload) => match live_id_of(&payload) {
                    Ok(live_id) => {
                        if !reply.deliver(Ok(Reply::Live {
                            handle,
                            id: live_id,
                        })) {
                            // The caller's future was dropped after its request left:
                            // nobody will read this subscription, so end it on the server.
                            self.drop_live(handle, now);
                        }
                    }
                    Err(e) => {
                        reply.deliver(Err(e));
                        self.drop_live(handle, now);
                    }
                },
                Err(e) => {
                    // The machine ends the handle itself (SubscribeFailed); the caller
                    // hears the error from the reply, the sink needs no second copy.
                    if let Some(sink) = self.lives.remove(&handle) {
                        sink.finish(None);
                    }
                    reply.deliver(Err(e));
                }
            },
            Some(Waiter::Discard) => {}
            None => match self.streams.remove(&id) {
                Some(StreamSlot::Open(sink)) => sink.finish(Some(match result {
                    Err(e) => Error::from(e),
                    Ok(_) => Error::Protocol(
                        "`query_stream` answered with a plain result instead of stream frames"
                            .into(),
                    ),
                })),
                Some(StreamSlot::Discarding) => {}
                None => self.notify(ConnectionEvent::Error(format!(
                    "an answer to request {} that nobody waits for",
                    id.0
                ))),
            },
        }
    }

    fn on_stream_frame(&mut self, id: RequestId, frame: StreamFrame, now: Instant) {
        let end = frame.is_end();
        let Some(slot) = self.streams.get_mut(&id) else {
            self.notify(ConnectionEvent::Error(format!(
                "a query_stream frame for request {} that is not a stream",
                id.0
            )));
            return;
        };
        let StreamSlot::Open(sink) = slot else {
            if end {
                self.streams.remove(&id);
            }
            return;
        };
        match sink.offer(frame) {
            Offer::Taken if !end => {}
            Offer::Taken | Offer::Full if end => {
                // Complete: a reader that is behind still gets everything buffered, and the
                // end of the stream stands for the `End` frame it could not take.
                if let Some(StreamSlot::Open(sink)) = self.streams.remove(&id) {
                    sink.finish(None);
                }
            }
            Offer::Full => {
                let limit = self.stream_buffer;
                if let Some(StreamSlot::Open(sink)) =
                    self.streams.insert(id, StreamSlot::Discarding)
                {
                    sink.finish(Some(Error::ReaderTooSlow {
                        what: "query_stream".into(),
                        limit,
                    }));
                }
                self.cancel_on_server(id, now);
            }
            _ => {
                // Gone.
                if end {
                    self.streams.remove(&id);
                } else {
                    self.streams.insert(id, StreamSlot::Discarding);
                    self.cancel_on_server(id, now);
                }
            }
        }
    }

    fn offer_live(&mut self, handle: LiveHandle, item: LiveItem, now: Instant) {
        let Some(sink) = self.lives.get_mut(&handle) else {
            return; // its unsubscribe is already under way
        };
        match sink.offer(item) {
            Offer::Taken => {}
            Offer::Full => {
                let limit = self.live_buffer;
                if let Some(sink) = self.lives.remove(&handle) {
                    sink.finish(Some(Error::ReaderTooSlow {
                        what: "live query".into(),
                        limit,
                    }));
                }
                self.conn.unsubscribe(handle, now);
            }
            Offer::Gone => self.drop_live(handle, now),
        }
    }
}

/// The live id in the answer to `live` (a UUID) or to a `LIVE SELECT` query.
fn live_id_of(payload: &Payload) -> Result<Uuid, Error> {
    let value = payload
        .clone()
        .into_value()
        .map_err(|e| Error::Protocol(format!("the live query's answer: {e}")))?;
    let found = |v: &Value| {
        Error::Protocol(format!(
            "a live query answered {} instead of its uuid",
            v.kind()
        ))
    };
    match value {
        Value::Uuid(id) => Ok(id),
        rows @ Value::Array(_) => {
            let rows = parse_query_results(rows).map_err(|e| Error::Protocol(e.to_string()))?;
            let mut rows = rows.into_iter();
            let (Some(row), None) = (rows.next(), rows.next()) else {
                return Err(Error::invalid(
                    "live query",
                    "a live query must be exactly one LIVE SELECT statement",
                ));
            };
            match row.result {
                Ok(Value::Uuid(id)) => Ok(id),
                Ok(other) => Err(found(&other)),
                Err(e) => Err(Error::Server(e)),
            }
        }
        other => Err(found(&other)),
    }
}

/// Why a subscription ended, as the error its stream reports (`None`: a normal end).
pub fn live_end_error(reason: LiveEndReason) -> Option<Error> {
    match reason {
        LiveEndReason::Killed | LiveEndReason::Unsubscribed => None,
        LiveEndReason::SubscribeFailed(e) => Some(e.into()),
        LiveEndReason::RestoreFailed(e) => Some(match Error::from(e) {
            Error::Server(e) => Error::Server(e),
            other => Error::Protocol(format!(
                "the live query could not be restored after a reconnect: {other}"
            )),
        }),
        LiveEndReason::ConnectionClosed => Some(Error::Closed),
    }
}
