//! The WebSocket transport: one driver task per connection running the core's [`Mux`]
//! (the connection machine plus the routing of answers, stream frames and live
//! notifications), quinn-style: inputs → transmits → actions → wait.
//!
//! The task runs on its own thread under `async_io::block_on`, so it needs no executor from
//! the caller: the client works the same from smol, from tokio, or from any other runtime.
//! Callers talk to it over channels; nothing here blocks a caller's executor.
//!
//! Nothing in the loop waits on one thing alone: a frame being written, a reconnect under
//! way, a command, a frame arriving and the core's timer are raced together, so timeouts
//! keep firing while a send or a reconnect is stuck, and both are bounded (a write by the
//! request timeout, a reconnect by the connect timeout).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use async_channel::{Receiver, Sender, TrySendError};
use async_tungstenite::tungstenite::client::IntoClientRequest;
use async_tungstenite::tungstenite::http::HeaderValue;
use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use async_tungstenite::tungstenite::Message;
use async_tungstenite::{WebSocketReceiver, WebSocketSender, WebSocketStream};
use futures_lite::{future, Stream, StreamExt};
use surql::conn::{LiveHandle, RequestId};
use surql::mux::{
    Action, ConnectionEvent, EndSlot, ItemSink, LiveItem, Mux, Offer, Outbox, Reply, ReplySink,
};
use surql::rpc::{Payload, Request, StreamFrame};
use surql::{Error, Options, Result};

type Io = async_tungstenite::smol::ConnectStream;
type Ws = WebSocketStream<Io>;
type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
/// A send in progress: it owns the writer and gives it back with the outcome.
type Sending = BoxFuture<(WebSocketSender<Io>, std::result::Result<(), String>)>;

/// The server accepts messages up to 128 MiB (protocol.md §1.1); accept as much back.
const MAX_MESSAGE_BYTES: usize = 128 * 1024 * 1024;

/// A hook for connection events.
pub type ReconnectHook = Arc<dyn Fn(&ConnectionEvent) + Send + Sync>;

/// The answer channel of one request.
pub(crate) struct ReplyTx(Sender<Result<Reply>>);

impl ReplySink for ReplyTx {
    fn deliver(self, answer: Result<Reply>) -> bool {
        // Capacity 1 and one answer: never full; fails only if the caller left.
        self.0.try_send(answer).is_ok()
    }
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

pub(crate) enum Command {
    Call {
        req: Request,
        reply: ReplyTx,
    },
    Live {
        req: Request,
        reply: ReplyTx,
        sink: Bounded<LiveItem>,
    },
    Stream {
        req: Request,
        id: Sender<RequestId>,
        sink: Bounded<StreamFrame>,
    },
    Unsubscribe(LiveHandle),
    CancelStream(RequestId),
    Listen(Listener),
    /// A copy of a session's state (token, ns, db) for an HTTP request to the same server.
    Session {
        session: Option<surql::Uuid>,
        reply: Sender<surql::session::SessionState>,
    },
    Close,
}

/// The callers' side of a WebSocket connection.
pub(crate) struct WsClient {
    /// The RPC URL (for an HTTP request to the same server: export / import).
    pub(crate) url: String,
    pub(crate) commands: Sender<Command>,
    io_thread: ThreadId,
    stream_buffer: usize,
    live_buffer: usize,
}

impl WsClient {
    pub(crate) async fn connect(url: String, options: Options) -> Result<WsClient> {
        let ws = open(&url, &options).await?;
        let rpc_url = url.clone();
        let (tx, rx) = async_channel::unbounded();
        let (stream_buffer, live_buffer) = (options.stream_buffer, options.live_buffer);
        let thread = std::thread::Builder::new()
            .name("surql-smol-ws".into())
            .spawn(move || async_io::block_on(Driver::new(url, options, ws, rx).run()))
            .map_err(|e| Error::Io(format!("cannot start the connection thread: {e}")))?;
        Ok(WsClient {
            url: rpc_url,
            commands: tx,
            io_thread: thread.thread().id(),
            stream_buffer,
            live_buffer,
        })
    }

    fn submit(&self, command: Command) -> Result<()> {
        if std::thread::current().id() == self.io_thread {
            // Only a hook runs there; waiting would wait for itself.
            return Err(Error::invalid(
                "call from a connection hook",
                "an on_reconnect hook cannot call its own connection (it runs on the connection's driver thread); send the event to a channel and act on it elsewhere",
            ));
        }
        // Unbounded: never waits.
        self.commands.try_send(command).map_err(|_| Error::Closed)
    }

    /// Sends `req` without waiting for (or keeping) its answer: for a cancel from a `Drop`.
    pub(crate) fn fire(&self, req: Request) {
        let (reply, _rx) = async_channel::bounded(1);
        let _ = self.submit(Command::Call {
            req,
            reply: ReplyTx(reply),
        });
    }

    /// Waits for the answer in `rx`.
    ///
    /// Bounded without a timer of its own: the core's mux answers every request it was given
    /// (its answer, `Timeout` after `Options::request_timeout`, `Disconnected`, `Closed`),
    /// and if the driver thread ends, the dropped sender reads as `Closed`. (A timer per call
    /// costs a reactor wake-up per request: 15 % of a round trip on loopback.)
    async fn wait<T>(&self, rx: Receiver<Result<T>>) -> Result<T> {
        rx.recv().await.unwrap_or(Err(Error::Closed))
    }

    pub(crate) async fn call(&self, req: Request) -> Result<Payload> {
        let method = req.method;
        let (reply, rx) = async_channel::bounded(1);
        self.submit(Command::Call {
            req,
            reply: ReplyTx(reply),
        })?;
        match self.wait(rx).await? {
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
        let method = req.method;
        let (reply, rx) = async_channel::bounded(1);
        let (sink, items) = bounded(self.live_buffer);
        self.submit(Command::Live {
            req,
            reply: ReplyTx(reply),
            sink,
        })?;
        // If this future is dropped while waiting, the guard closes the reply channel: an
        // answer still on its way finds it closed and the mux kills the subscription; an
        // answer already delivered is read back and unsubscribed. Nothing leaks either way.
        let mut guard = LiveReplyGuard {
            rx: Some(rx),
            commands: &self.commands,
        };
        let answer = match guard.rx.as_ref() {
            Some(rx) => rx.recv().await.unwrap_or(Err(Error::Closed)),
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
        let (id_tx, id_rx) = async_channel::bounded(1);
        let (sink, frames) = bounded(self.stream_buffer);
        self.submit(Command::Stream {
            req,
            id: id_tx,
            sink,
        })?;
        // The driver sends the id as soon as it takes the command (or drops the sender).
        let id = id_rx.recv().await.map_err(|_| Error::Closed)?;
        Ok((id, frames))
    }

    pub(crate) fn listen(&self, listener: Listener) -> Result<()> {
        self.submit(Command::Listen(listener))
    }

    /// A copy of `session`'s state (its token, namespace and database).
    pub(crate) async fn session_state(
        &self,
        session: Option<surql::Uuid>,
    ) -> Result<surql::session::SessionState> {
        let (reply, rx) = async_channel::bounded(1);
        self.submit(Command::Session { session, reply })?;
        rx.recv().await.map_err(|_| Error::Closed)
    }

    pub(crate) fn close(&self) {
        // If the driver has ended, it is closed already.
        let _ = self.submit(Command::Close);
    }
}

/// Ends the subscription of a `live()` future dropped before it took its answer.
struct LiveReplyGuard<'a> {
    rx: Option<Receiver<Result<Reply>>>,
    commands: &'a Sender<Command>,
}

impl Drop for LiveReplyGuard<'_> {
    fn drop(&mut self) {
        if let Some(rx) = self.rx.take() {
            // Closing first makes the two orders exclusive: either the mux's delivery fails
            // (and it kills the live query), or the answer is already here to be undone.
            rx.close();
            if let Ok(Ok(Reply::Live { handle, .. })) = rx.try_recv() {
                // If the driver is gone, the live query died with the socket.
                let _ = self.commands.try_send(Command::Unsubscribe(handle));
            }
        }
    }
}

/// Opens TCP (+TLS) and performs the WebSocket upgrade offering only the `cbor`
/// subprotocol, all within the connect timeout.
async fn open(url: &str, options: &Options) -> Result<Ws> {
    let limit = options.connect_timeout;
    let attempt = open_unbounded(url, options);
    let timer = async {
        async_io::Timer::after(limit).await;
        Err(Error::Connect {
            url: url.to_owned(),
            reason: format!(
                "no connection (TCP, TLS and WebSocket upgrade) within the connect timeout of {limit:?}"
            ),
        })
    };
    future::or(attempt, timer).await
}

async fn open_unbounded(url: &str, options: &Options) -> Result<Ws> {
    let fail = |reason: String| Error::Connect {
        url: url.to_owned(),
        reason,
    };
    let mut request = url.into_client_request().map_err(|e| Error::InvalidUrl {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("cbor"));
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES));
    let tls = if url.starts_with("wss://") {
        Some(crate::tls::connector(url, &options.tls)?)
    } else {
        None
    };
    let (ws, response) = async_tungstenite::smol::connect_async_with_tls_connector_and_config(
        request,
        tls,
        Some(config),
    )
    .await
    .map_err(|e| fail(connect_failure(e)))?;
    let proto = response
        .headers()
        .get("Sec-WebSocket-Protocol")
        .and_then(|v| v.to_str().ok());
    if proto != Some("cbor") {
        return Err(fail(format!(
            "the server did not accept the `cbor` WebSocket subprotocol (got {proto:?}); is this a SurrealDB server?"
        )));
    }
    Ok(ws)
}

/// Explains a failed connection attempt the way the blocking driver does: a subprotocol
/// mismatch means the peer does not speak SurrealDB's CBOR RPC, and anything after TCP
/// connected is a failed handshake.
fn connect_failure(e: async_tungstenite::tungstenite::Error) -> String {
    use async_tungstenite::tungstenite::error::ProtocolError;
    use async_tungstenite::tungstenite::Error as WsError;
    match e {
        WsError::Protocol(ProtocolError::SecWebSocketSubProtocolError(p)) => format!(
            "the server did not accept the `cbor` subprotocol ({p}); is this a SurrealDB server?"
        ),
        WsError::Http(response) => format!(
            "WebSocket handshake failed: the server answered HTTP {}",
            response.status()
        ),
        WsError::Io(e) => format!("WebSocket connection failed: {e}"),
        WsError::Tls(e) => format!("TLS failed: {e}"),
        other => format!("WebSocket handshake failed: {other}"),
    }
}

enum Wake {
    Command(Option<Command>),
    Frame(Option<std::result::Result<Message, async_tungstenite::tungstenite::Error>>),
    Sent(WebSocketSender<Io>, std::result::Result<(), String>),
    Connected(Result<Box<Ws>>),
    Timer,
}

struct Driver {
    url: String,
    options: Options,
    mux: Mux<Sinks>,
    commands: Receiver<Command>,
    commands_open: bool,
    /// The writing half while idle (`None` while a send holds it, or without a socket).
    sender: Option<WebSocketSender<Io>>,
    receiver: Option<WebSocketReceiver<Io>>,
    /// Frames taken from the mux, not yet handed to a send.
    outbox: VecDeque<Vec<u8>>,
    sending: Option<Sending>,
    connecting: Option<BoxFuture<Result<Box<Ws>>>>,
    listeners: Vec<Listener>,
    finished: bool,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // A command queued after the loop's last look would otherwise wait forever: an
        // async channel keeps its queue while any sender (every `WsClient`) lives.
        // Dropping it drops its reply channel, so its caller gets `Error::Closed` now. This
        // also runs if the loop panicked.
        self.commands.close();
        while let Ok(command) = self.commands.try_recv() {
            drop(command);
        }
    }
}

impl Driver {
    fn new(url: String, options: Options, ws: Ws, commands: Receiver<Command>) -> Driver {
        let mut mux = Mux::new(&options, Instant::now());
        mux.handle_connected(Instant::now());
        let (sender, receiver) = ws.split();
        Driver {
            url,
            options,
            mux,
            commands,
            commands_open: true,
            sender: Some(sender),
            receiver: Some(receiver),
            outbox: VecDeque::new(),
            sending: None,
            connecting: None,
            listeners: Vec::new(),
            finished: false,
        }
    }

    async fn run(mut self) {
        // One timer for the connection's life, re-armed only when the core's deadline
        // moves: a new timer per loop turn costs a reactor wake-up per request.
        let mut timer = async_io::Timer::never();
        let mut armed: Option<Instant> = None;
        loop {
            self.act();
            if self.finished {
                break;
            }
            self.start_send();
            // A send that failed at once lost the socket: act on that before sleeping.
            self.act();
            if self.finished {
                break;
            }
            let deadline = self.mux.poll_timeout();
            if deadline != armed {
                match deadline {
                    Some(t) => timer.set_at(t),
                    None => timer = async_io::Timer::never(),
                }
                armed = deadline;
            }
            let wake = self.wait(&mut timer).await;
            let now = Instant::now();
            match wake {
                Wake::Command(Some(c)) => self.command(c, now),
                Wake::Command(None) => {
                    self.commands_open = false;
                    self.mux.handles_gone(now);
                }
                Wake::Frame(Some(Ok(msg))) => match msg {
                    Message::Binary(b) => self.mux.handle_frame(&b, now),
                    Message::Text(t) => self.mux.handle_frame(t.as_bytes(), now),
                    Message::Close(frame) => self.lose_socket(match frame {
                        Some(f) => format!(
                            "the server closed the connection (code {}: {})",
                            f.code, f.reason
                        ),
                        None => "the server closed the connection".to_owned(),
                    }),
                    _ => {} // ping/pong are answered by tungstenite
                },
                Wake::Frame(Some(Err(e))) => {
                    self.lose_socket(format!("reading from the socket failed: {e}"))
                }
                Wake::Frame(None) => self.lose_socket("the socket was closed".into()),
                Wake::Sent(sender, Ok(())) => {
                    self.sending = None;
                    // The socket may have been dropped while the send ran.
                    if self.receiver.is_some() {
                        self.sender = Some(sender);
                    }
                }
                Wake::Sent(_, Err(reason)) => {
                    self.sending = None;
                    if self.receiver.is_some() {
                        self.lose_socket(reason);
                    }
                }
                Wake::Connected(result) => {
                    self.connecting = None;
                    match result {
                        Ok(ws) => {
                            let (sender, receiver) = (*ws).split();
                            self.sender = Some(sender);
                            self.receiver = Some(receiver);
                            self.mux.handle_connected(now);
                        }
                        Err(e) => self.mux.handle_connect_failed(now, e.to_string()),
                    }
                }
                Wake::Timer => {
                    armed = None; // a fired timer must be re-armed even for the same deadline
                    self.mux.handle_timeout(now);
                }
            }
        }
        if let Some(mut sender) = self.sender.take() {
            // Best effort, bounded: we are leaving either way.
            let close = async {
                let _ = sender.close(None).await;
            };
            future::or(close, async {
                async_io::Timer::after(Duration::from_secs(1)).await;
            })
            .await;
        }
    }

    fn command(&mut self, command: Command, now: Instant) {
        match command {
            Command::Call { req, reply } => self.mux.call(req, reply, now),
            Command::Live { req, reply, sink } => self.mux.live(req, reply, sink, now),
            Command::Stream { req, id, sink } => {
                let request_id = self.mux.stream(req, sink, now);
                // The caller waits for it (bounded); if it left, its dropped frame buffer
                // makes the mux cancel the stream at the first frame.
                let _ = id.try_send(request_id);
            }
            Command::Unsubscribe(handle) => self.mux.unsubscribe(handle, now),
            Command::CancelStream(id) => self.mux.cancel_stream(id, now),
            Command::Listen(listener) => self.listeners.push(listener),
            Command::Session { session, reply } => {
                let state = self.mux.connection().session_state(session).cloned();
                // Capacity 1 and one answer; the caller may have given up.
                let _ = reply.try_send(state.unwrap_or_default());
            }
            Command::Close => self.mux.close(now),
        }
    }

    fn lose_socket(&mut self, reason: String) {
        self.drop_socket();
        self.mux.handle_disconnect(reason, Instant::now());
    }

    fn drop_socket(&mut self) {
        self.sender = None;
        self.receiver = None;
        self.sending = None;
        // Frames for the old socket: the machine fails their requests as disconnected.
        self.outbox.clear();
    }

    fn act(&mut self) {
        while let Some(action) = self.mux.poll_action() {
            match action {
                Action::OpenSocket => {
                    let (url, options) = (self.url.clone(), self.options.clone());
                    self.connecting =
                        Some(Box::pin(
                            async move { open(&url, &options).await.map(Box::new) },
                        ));
                }
                Action::DropSocket => self.drop_socket(),
                Action::Notify(event) => self.broadcast(event),
                Action::Finished => self.finished = true,
            }
        }
    }

    /// Hands every queued frame to one bounded send, if the writer is free.
    fn start_send(&mut self) {
        if self.receiver.is_none() {
            return; // no socket: the machine holds its output until the next one
        }
        while let Some(frame) = self.mux.poll_transmit() {
            self.outbox.push_back(frame);
        }
        if self.outbox.is_empty() || self.sending.is_some() {
            return;
        }
        let Some(mut sender) = self.sender.take() else {
            return;
        };
        let frames: Vec<Vec<u8>> = self.outbox.drain(..).collect();
        let limit = self.options.request_timeout;
        self.sending = Some(Box::pin(async move {
            let write = async {
                for frame in frames {
                    sender
                        .send(Message::Binary(frame.into()))
                        .await
                        .map_err(|e| format!("writing to the socket failed: {e}"))?;
                }
                Ok(())
            };
            let timeout = async {
                async_io::Timer::after(limit).await;
                Err(format!(
                    "writing to the socket took longer than the request timeout ({limit:?}): the server is not reading"
                ))
            };
            let result = future::or(write, timeout).await;
            (sender, result)
        }));
        // Most sends complete at once (the socket is writable): finish them here rather
        // than one loop turn later. A pending one keeps its place and is polled (with the
        // loop's real waker) in `wait`.
        if let Some(sending) = self.sending.as_mut() {
            let mut cx = Context::from_waker(std::task::Waker::noop());
            if let Poll::Ready((sender, result)) = sending.as_mut().poll(&mut cx) {
                self.sending = None;
                match result {
                    Ok(()) => self.sender = Some(sender),
                    Err(reason) => self.lose_socket(reason),
                }
            }
        }
    }

    async fn wait(&mut self, timer: &mut async_io::Timer) -> Wake {
        let commands_open = self.commands_open;
        let commands = &self.commands;
        let cmd = async {
            if commands_open {
                Wake::Command(commands.recv().await.ok())
            } else {
                future::pending().await
            }
        };
        let receiver = &mut self.receiver;
        let frame = async {
            match receiver.as_mut() {
                Some(r) => Wake::Frame(r.next().await),
                None => future::pending().await,
            }
        };
        let sending = &mut self.sending;
        let sent = async {
            match sending.as_mut() {
                Some(f) => {
                    let (sender, result) = f.await;
                    Wake::Sent(sender, result)
                }
                None => future::pending().await,
            }
        };
        let connecting = &mut self.connecting;
        let connected = async {
            match connecting.as_mut() {
                Some(f) => Wake::Connected(f.await),
                None => future::pending().await,
            }
        };
        let fired = async {
            timer.await;
            Wake::Timer
        };
        // Frames and sends first: draining the socket is what frees the server.
        future::or(
            future::or(frame, sent),
            future::or(cmd, future::or(connected, fired)),
        )
        .await
    }

    fn broadcast(&mut self, event: ConnectionEvent) {
        // A listener whose receiver is gone is forgotten; a hook that panics is dropped,
        // and the driver, which every caller needs, does not die with it.
        self.listeners.retain(|l| match l {
            Listener::Channel(tx) => tx.try_send(event.clone()).is_ok(),
            Listener::Hook(hook) => {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook(&event))).is_ok()
            }
        });
    }
}
