//! The WebSocket transport: the shared IO of `surql-ws` (the core's mux and the socket under
//! one lock, an IO thread on an OS poller, callers that read their own answers when the
//! connection is otherwise idle) with async channels as the callers' side.
//!
//! An async caller that leads waits for its socket through its own reactor (`async-io`'s
//! `Async` on a duplicate of the descriptor) together with its answer channel: when the
//! caller's thread runs the reactor (`block_on`), an answer costs no thread hand-off. One
//! that cannot lead awaits its answer channel. Nothing here blocks a caller's executor: the
//! connect (blocking TCP, TLS and upgrade, bounded by the connect timeout) runs on the
//! `blocking` thread pool, and the IO thread is a plain thread, so the client works the same
//! from smol, from tokio, or from any other runtime. While callers overlap, [`Lanes`] spreads
//! plain calls over up to `Options::ws_connections` connections (a lane is opened on a plain
//! thread too); a caller on a lane waits for that lane's IO thread.

use std::net::TcpStream;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use async_channel::{Receiver, Sender, TrySendError};
use async_io::Async;
use futures_lite::{future, Stream};
use surql::conn::{LiveHandle, RequestId};
use surql::endpoint::Endpoint;
use surql::mux::{ConnectionEvent, EndSlot, ItemSink, LiveItem, Offer, Outbox, Reply, ReplySink};
use surql::rpc::{Payload, Request, StreamFrame};
use surql::{Error, Options, Result};
use surql_ws::lanes::Lanes;
use surql_ws::{oneshot, Lead, LeadOn, Then, WsConn};

/// A hook for connection events.
pub type ReconnectHook = Arc<dyn Fn(&ConnectionEvent) + Send + Sync>;

/// The answer of one request, handed to the caller waiting for it.
pub(crate) struct ReplyTx(oneshot::Sender<Result<Reply>>);

impl ReplySink for ReplyTx {
    fn deliver(self, answer: Result<Reply>) -> bool {
        // Fails only if the caller left.
        self.0.send(answer)
    }
}

type ReplyRx = oneshot::Receiver<Result<Reply>>;

fn reply_slot() -> (ReplyTx, ReplyRx) {
    let (tx, rx) = oneshot::channel();
    (ReplyTx(tx), rx)
}

/// A reader's bounded buffer (stream frames or live notifications).
pub(crate) struct Bounded<T> {
    tx: Sender<T>,
    end: EndSlot,
}

impl<T> ItemSink<T> for Bounded<T> {
    fn offer(&mut self, item: T) -> Offer {
        match self.tx.try_send(item) {
            Ok(()) => Offer::Taken,
            Err(TrySendError::Full(_)) => Offer::Full,
            Err(TrySendError::Closed(_)) => Offer::Gone,
        }
    }

    fn finish(self, error: Option<Error>) {
        // The outcome is stored before the channel closes, so a reader that finds it
        // closed always finds the outcome.
        self.end.set(error);
        self.tx.close();
    }
}

/// The reader's side of a [`Bounded`] buffer: a stream of items, then its outcome.
pub(crate) struct BoundedRx<T> {
    rx: Pin<Box<Receiver<T>>>,
    end: EndSlot,
}

/// What a buffer read gave.
pub(crate) enum Next<T> {
    Item(T),
    /// Ended: `None` normally, else why.
    End(Option<Error>),
}

impl<T> BoundedRx<T> {
    pub(crate) fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Next<T>> {
        match self.rx.as_mut().poll_next(cx) {
            Poll::Ready(Some(item)) => Poll::Ready(Next::Item(item)),
            Poll::Ready(None) => Poll::Ready(Next::End(self.end.outcome())),
            Poll::Pending => Poll::Pending,
        }
    }
}

fn bounded<T>(capacity: usize) -> (Bounded<T>, BoundedRx<T>) {
    let (tx, rx) = async_channel::bounded(capacity);
    let end = EndSlot::default();
    (
        Bounded {
            tx,
            end: end.clone(),
        },
        BoundedRx {
            rx: Box::pin(rx),
            end,
        },
    )
}

struct Sinks;

impl Outbox for Sinks {
    type Reply = ReplyTx;
    type Stream = Bounded<StreamFrame>;
    type Live = Bounded<LiveItem>;
}

/// Who hears about connection events.
pub(crate) enum Listener {
    Channel(Sender<ConnectionEvent>),
    Hook(ReconnectHook),
}

/// A handle on the connection for streams and guards that must end a subscription or a
/// stream without waiting (from a `Drop`). The connection closes when the last handle goes.
#[derive(Clone)]
pub(crate) struct Handle(Arc<WsConn<Sinks>>);

impl Handle {
    /// Queues the end of a live subscription; never waits.
    pub(crate) fn unsubscribe(&self, handle: LiveHandle) {
        // Closed: the subscription died with the socket; nothing to kill.
        let _ = self
            .0
            .submit(false, |mux, now| mux.unsubscribe(handle, now));
    }

    /// Queues the cancellation of a `query_stream` whose reader is gone; never waits.
    pub(crate) fn cancel_stream(&self, id: RequestId) {
        // Closed: the stream died with the socket.
        let _ = self.0.submit(false, |mux, now| mux.cancel_stream(id, now));
    }
}

/// The callers' side of a WebSocket connection.
pub(crate) struct WsClient {
    /// The RPC URL (for an HTTP request to the same server: export / import).
    pub(crate) url: String,
    /// The primary connection and the lanes concurrent callers spread over
    /// ([`Options::ws_connections`]).
    lanes: Lanes<Sinks>,
    /// The primary, for streams and guards.
    conn: Handle,
    /// The reactor's view of the current socket, for leaders (made once per socket).
    lead_io: Mutex<Option<(u64, Arc<Async<TcpStream>>)>>,
    stream_buffer: usize,
    live_buffer: usize,
}

impl WsClient {
    pub(crate) async fn connect(endpoint: Endpoint, options: Options) -> Result<WsClient> {
        let url = endpoint.rpc_url();
        let (stream_buffer, live_buffer) = (options.stream_buffer, options.live_buffer);
        let lanes =
            blocking::unblock(move || Lanes::connect(endpoint, &options, "surql-smol-ws")).await?;
        Ok(WsClient {
            url,
            conn: Handle(lanes.primary_shared().clone()),
            lanes,
            lead_io: Mutex::new(None),
            stream_buffer,
            live_buffer,
        })
    }

    /// A handle for a stream or guard that outlives a borrow of the client.
    pub(crate) fn handle(&self) -> Handle {
        self.conn.clone()
    }

    fn conn(&self) -> &WsConn<Sinks> {
        &self.conn.0
    }

    /// The reactor's source for the socket led on (made once per socket).
    fn lead_io(&self, on: &LeadOn) -> Result<Arc<Async<TcpStream>>> {
        let mut cache = self.lead_io.lock().map_err(|_| Error::Closed)?;
        if let Some((g, io)) = cache.as_ref() {
            if *g == on.gen {
                return Ok(io.clone());
            }
        }
        let dup = on
            .socket
            .try_clone()
            .and_then(Async::new)
            .map_err(|e| Error::Io(format!("cannot watch the socket: {e}")))?;
        let io = Arc::new(dup);
        // The previous socket's source (if any) goes now: the duplicate kept it open.
        *cache = Some((on.gen, io.clone()));
        Ok(io)
    }

    /// Waits for the answer in `rx`, reading the socket itself while it leads.
    ///
    /// Bounded without a timer of its own: the core's mux answers every request it was given
    /// (its answer, `Timeout` after `Options::request_timeout`, `Disconnected`, `Closed`),
    /// the IO thread fires those timers while a caller leads, and if the connection ends the
    /// dropped sender reads as `Closed`. (A timer per call costs a reactor wake-up per
    /// request: 15 % of a round trip on loopback.)
    async fn answer(&self, then: Then, rx: &ReplyRx) -> Result<Reply> {
        if let Then::Lead(on) = then {
            let mut leading = self.conn().leading(on.gen);
            let io = self.lead_io(&on)?;
            loop {
                match rx.try_recv() {
                    Ok(Some(answer)) => return answer,
                    Err(oneshot::Closed) => return Err(Error::Closed),
                    Ok(None) => {}
                }
                let answered = future::or(async { Some(rx.recv().await) }, async {
                    // An error (a closed descriptor) is found by the read in `step`.
                    let _ = io.readable().await;
                    None
                })
                .await;
                if let Some(answer) = answered {
                    return answer.unwrap_or(Err(Error::Closed));
                }
                if leading.step()? == Lead::Over {
                    break;
                }
            }
            // Leadership has ended (the answer is in, or the socket was lost or replaced, or
            // the IO thread must act): whoever read or reads now delivers the answer.
            drop(leading);
        }
        rx.recv().await.unwrap_or(Err(Error::Closed))
    }

    /// Sends `req` without waiting for (or keeping) its answer: for a cancel from a `Drop`.
    pub(crate) fn fire(&self, req: Request) {
        let (reply, _rx) = reply_slot();
        // Closed: there is nothing left to cancel.
        let _ = self
            .conn()
            .submit(false, |mux, now| mux.call(req, reply, now));
    }

    /// How many lanes are open (the primary not counted).
    pub(crate) fn lane_count(&self) -> usize {
        self.lanes.lane_count()
    }

    /// Sends `req` and waits for its answer, on the connection [`Lanes::pick`] gives. Only
    /// a caller on the primary may lead (the reactor's source is made for its socket); one
    /// on a lane waits for the lane's IO thread.
    pub(crate) async fn call(&self, req: Request) -> Result<Payload> {
        self.conn().refuse_on_io_thread()?;
        let method = req.method;
        let (reply, rx) = reply_slot();
        let conn = self.lanes.pick(&req);
        let on_primary = std::ptr::eq::<WsConn<Sinks>>(&*conn, self.conn());
        let (then, _waiting) =
            conn.submit_or_queue(on_primary, move |mux, now| mux.call(req, reply, now))?;
        let answer = self.answer(then, &rx).await;
        conn.settle(&answer);
        match answer? {
            Reply::Payload(p) => Ok(p),
            Reply::Live { .. } => Err(Error::Protocol(format!(
                "`{method}` was answered as a live subscription"
            ))),
        }
    }

    pub(crate) async fn live(
        &self,
        req: Request,
    ) -> Result<(LiveHandle, surql::Uuid, BoundedRx<LiveItem>)> {
        self.conn().refuse_on_io_thread()?;
        let method = req.method;
        let (reply, rx) = reply_slot();
        let (sink, items) = bounded(self.live_buffer);
        let ((), then) = self
            .conn()
            .submit(false, |mux, now| mux.live(req, reply, sink, now))?;
        // If this future is dropped while waiting, the guard closes the reply channel: an
        // answer still on its way finds it closed and the mux kills the subscription; an
        // answer already delivered is read back and unsubscribed. Nothing leaks either way.
        let mut guard = LiveReplyGuard {
            rx: Some(rx),
            conn: &self.conn,
        };
        let answer = match guard.rx.as_ref() {
            Some(rx) => self.answer(then, rx).await,
            None => Err(Error::Closed),
        };
        guard.rx = None; // answered: from here on the caller owns the subscription
        match answer? {
            Reply::Live { handle, id } => Ok((handle, id, items)),
            Reply::Payload(_) => Err(Error::Protocol(format!(
                "`{method}` for a live query was answered without a live id"
            ))),
        }
    }

    pub(crate) async fn stream(&self, req: Request) -> Result<(RequestId, BoundedRx<StreamFrame>)> {
        self.conn().refuse_on_io_thread()?;
        let (sink, frames) = bounded(self.stream_buffer);
        let (id, _) = self
            .conn()
            .submit(false, |mux, now| mux.stream(req, sink, now))?;
        Ok((id, frames))
    }

    pub(crate) fn listen(&self, listener: Listener) -> Result<()> {
        self.conn().add_listener(match listener {
            // A listener whose receiver is gone is forgotten.
            Listener::Channel(tx) => Box::new(move |event| tx.try_send(event.clone()).is_ok()),
            Listener::Hook(hook) => Box::new(move |event| {
                hook(event);
                true
            }),
        })
    }

    /// A copy of `session`'s state (its token, namespace and database).
    pub(crate) async fn session_state(
        &self,
        session: Option<surql::Uuid>,
    ) -> Result<surql::session::SessionState> {
        self.conn().session_state(session)
    }

    pub(crate) fn close(&self) {
        self.lanes.close();
        // The reactor's duplicate of the socket would keep the TCP connection open after
        // the IO thread let go of it.
        if let Ok(mut cache) = self.lead_io.lock() {
            *cache = None;
        }
    }
}

/// Ends the subscription of a `live()` future dropped before it took its answer.
struct LiveReplyGuard<'a> {
    rx: Option<ReplyRx>,
    conn: &'a Handle,
}

impl Drop for LiveReplyGuard<'_> {
    fn drop(&mut self) {
        if let Some(rx) = self.rx.take() {
            // Closing first makes the two orders exclusive: either the mux's delivery fails
            // (and it kills the live query), or the answer is already here to be undone.
            if let Some(Ok(Reply::Live { handle, .. })) = rx.close() {
                self.conn.unsubscribe(handle);
            }
        }
    }
}
