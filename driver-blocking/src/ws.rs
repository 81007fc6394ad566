//! The WebSocket transport: the shared IO of `surql-ws` (the core's mux and the socket under
//! one lock, an IO thread on an OS poller, callers that read their own answers when the
//! connection is otherwise idle) with std channels as the callers' side. A blocking caller
//! that leads waits for its socket with one `poll(2)`; one that cannot lead waits on its
//! answer channel, bounded. While callers overlap, [`Lanes`] spreads plain calls over up to
//! `Options::ws_connections` connections.

use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::time::Instant;

use surql::conn::{LiveHandle, RequestId};
use surql::endpoint::Endpoint;
use surql::mux::{EndSlot, ItemSink, LiveItem, Offer, Outbox, Reply, ReplySink};
use surql::rpc::{Method, Payload, Request, StreamFrame};
use surql::Options;
use surql_ws::lanes::Lanes;
use surql_ws::{oneshot, Then, WsConn};

use crate::{ConnectionEvent, Error, ReconnectHook};

/// The answer of one request, handed to the caller waiting for it.
pub(crate) struct ReplyTx(oneshot::Sender<Result<Reply, Error>>);

impl ReplySink for ReplyTx {
    fn deliver(self, answer: Result<Reply, Error>) -> bool {
        self.0.send(answer)
    }
}

type ReplyRx = oneshot::Receiver<Result<Reply, Error>>;

fn reply_slot() -> (ReplyTx, ReplyRx) {
    let (tx, rx) = oneshot::channel();
    (ReplyTx(tx), rx)
}

/// A reader's bounded buffer (stream frames or live notifications).
pub(crate) struct Bounded<T> {
    tx: SyncSender<T>,
    end: EndSlot,
}

impl<T> ItemSink<T> for Bounded<T> {
    fn offer(&mut self, item: T) -> Offer {
        match self.tx.try_send(item) {
            Ok(()) => Offer::Taken,
            Err(TrySendError::Full(_)) => Offer::Full,
            Err(TrySendError::Disconnected(_)) => Offer::Gone,
        }
    }

    fn finish(self, error: Option<Error>) {
        // The outcome is stored before the channel closes (when `self.tx` drops here), so
        // a reader that finds it closed always finds the outcome.
        self.end.set(error);
    }
}

/// The reader's side of a [`Bounded`] buffer.
pub(crate) struct BoundedRx<T> {
    pub(crate) rx: Receiver<T>,
    pub(crate) end: EndSlot,
}

/// A bounded buffer of `capacity` items: the IO thread's side and the reader's side.
pub(crate) fn bounded<T>(capacity: usize) -> (Bounded<T>, BoundedRx<T>) {
    let (tx, rx) = mpsc::sync_channel(capacity);
    let end = EndSlot::default();
    (
        Bounded {
            tx,
            end: end.clone(),
        },
        BoundedRx { rx, end },
    )
}

pub(crate) struct Io;

impl Outbox for Io {
    type Reply = ReplyTx;
    type Stream = Bounded<StreamFrame>;
    type Live = Bounded<LiveItem>;
}

/// The callers' side of a WebSocket connection.
pub(crate) struct WsTransport {
    /// The primary connection and the lanes concurrent callers spread over
    /// ([`Options::ws_connections`]).
    lanes: Lanes<Io>,
    pub(crate) stream_buffer: usize,
    pub(crate) live_buffer: usize,
}

impl WsTransport {
    /// Opens the socket on the calling thread (so a connect error reaches the caller), then
    /// starts the IO thread.
    pub(crate) fn connect(endpoint: Endpoint, options: Options) -> Result<WsTransport, Error> {
        Ok(WsTransport {
            lanes: Lanes::connect(endpoint, &options, "surql-ws")?,
            stream_buffer: options.stream_buffer,
            live_buffer: options.live_buffer,
        })
    }

    /// The primary connection.
    fn conn(&self) -> &WsConn<Io> {
        self.lanes.primary()
    }

    /// How many lanes are open (the primary not counted).
    pub(crate) fn lane_count(&self) -> usize {
        self.lanes.lane_count()
    }

    /// Waits for the answer in `rx` on `conn`, reading the socket itself while it leads.
    fn answer(conn: &WsConn<Io>, method: Method, then: Then, rx: &ReplyRx) -> Result<Reply, Error> {
        let started = Instant::now();
        if let Then::Lead(on) = then {
            let mut answer = None;
            let answered = conn.lead_blocking(on, started, || {
                answer = rx.try_recv().unwrap_or(Some(Err(Error::Closed)));
                answer.is_some()
            })?;
            if let (true, Some(answer)) = (answered, answer) {
                return answer;
            }
            // Leadership ended before the answer (socket lost or replaced, the IO thread
            // must act): whoever reads now delivers it.
        }
        let limit = conn.wait_limit();
        match rx.recv_timeout(limit.saturating_sub(started.elapsed())) {
            Ok(Some(result)) => result,
            // The IO thread dropped the answer's sender: it has ended.
            Err(oneshot::Closed) => Err(Error::Closed),
            Ok(None) => Err(Error::timeout(
                format!("`{method}` answer (the connection did not respond)"),
                limit,
            )),
        }
    }

    /// Sends `request` and waits for its answer, on the connection [`Lanes::pick`] gives.
    pub(crate) fn call(&self, request: Request) -> Result<Payload, Error> {
        self.conn().refuse_on_io_thread()?;
        let method = request.method;
        let (reply, rx) = reply_slot();
        let conn = self.lanes.pick(&request);
        let (then, _waiting) =
            conn.submit_or_queue(true, move |mux, now| mux.call(request, reply, now))?;
        let answer = Self::answer(&conn, method, then, &rx);
        conn.settle(&answer);
        match answer? {
            Reply::Payload(p) => Ok(p),
            Reply::Live { .. } => Err(Error::Protocol(format!(
                "`{method}` was answered as a live subscription"
            ))),
        }
    }

    /// Starts a live query (`live`, or a `query` whose only statement is LIVE SELECT) and
    /// returns its handle, its server id and the buffer its notifications arrive in.
    pub(crate) fn live(
        &self,
        request: Request,
    ) -> Result<(LiveHandle, surql::Uuid, BoundedRx<LiveItem>), Error> {
        self.conn().refuse_on_io_thread()?;
        let method = request.method;
        let (reply, rx) = reply_slot();
        let (sink, items) = bounded(self.live_buffer);
        let ((), then) = self
            .conn()
            .submit(false, |mux, now| mux.live(request, reply, sink, now))?;
        match Self::answer(self.conn(), method, then, &rx)? {
            Reply::Live { handle, id } => Ok((handle, id, items)),
            Reply::Payload(_) => Err(Error::Protocol(format!(
                "`{method}` for a live query was answered without a live id"
            ))),
        }
    }

    /// Sends a `query_stream` request; returns its request id (for `query_cancel`) and the
    /// buffer its frames arrive in. A reader that falls `stream_buffer` frames behind
    /// ends its stream with `Error::ReaderTooSlow` (the core's rule); nobody else waits.
    pub(crate) fn stream(
        &self,
        request: Request,
    ) -> Result<(RequestId, BoundedRx<StreamFrame>), Error> {
        self.conn().refuse_on_io_thread()?;
        let (sink, frames) = bounded(self.stream_buffer);
        let (id, _) = self
            .conn()
            .submit(false, |mux, now| mux.stream(request, sink, now))?;
        Ok((id, frames))
    }

    /// Queues the end of a live subscription. Never waits for the server.
    pub(crate) fn unsubscribe(&self, handle: LiveHandle) {
        // Closed: the subscription died with the socket; nothing to kill.
        let _ = self
            .conn()
            .submit(false, |mux, now| mux.unsubscribe(handle, now));
    }

    /// Queues the cancellation of a `query_stream` whose reader is gone.
    pub(crate) fn cancel_stream(&self, id: RequestId) {
        // Closed: the stream died with the socket.
        let _ = self
            .conn()
            .submit(false, |mux, now| mux.cancel_stream(id, now));
    }

    /// A new receiver of connection events (disconnects, reconnects, protocol errors).
    pub(crate) fn listen(&self) -> Result<Receiver<ConnectionEvent>, Error> {
        let (sink, events) = mpsc::channel();
        // A listener whose receiver is gone is forgotten.
        self.conn()
            .add_listener(Box::new(move |event| sink.send(event.clone()).is_ok()))?;
        Ok(events)
    }

    /// Registers a hook run on the IO thread for every connection event.
    pub(crate) fn add_hook(&self, hook: ReconnectHook) -> Result<(), Error> {
        self.conn().add_listener(Box::new(move |event| {
            hook(event);
            true
        }))
    }

    /// A copy of `session`'s state (its token, namespace and database).
    pub(crate) fn session_state(
        &self,
        session: Option<surql::Uuid>,
    ) -> Result<surql::session::SessionState, Error> {
        self.conn().session_state(session)
    }

    /// Closes the connection now: everything waiting fails with `Error::Closed`.
    pub(crate) fn close(&self) {
        self.lanes.close();
    }
}

impl Drop for WsTransport {
    fn drop(&mut self) {
        // A blocking client waits until the close frame is written and the thread is gone.
        self.lanes.close_and_join();
    }
}
