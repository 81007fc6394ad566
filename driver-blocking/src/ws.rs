//! The WebSocket transport: one IO thread per connection owns the socket and the core
//! `Connection` state machine, and every caller talks to it through a channel.
//!
//! The IO thread runs the quinn-style driver loop: drain commands → read frames → fire due
//! timers → deliver events → write frames → sleep in the OS poller until the socket is
//! readable (or writable, when a write would have blocked), the core's next deadline, or a
//! caller's `poller.notify()`. A request therefore leaves the process as soon as it is queued.

use std::collections::HashMap;
use std::io::ErrorKind as IoKind;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender, TryRecvError};
use std::sync::Arc;
use std::thread::{self, JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use polling::{Event as PollEvent, Events, PollMode, Poller};
use proto::conn::{ConnError, Connection, Event, LiveEndReason, LiveHandle, RequestId};
use proto::rpc::{Method, Notification, Payload, Request, StreamFrame};

/// How many `query_stream` frames may wait for their reader before the IO thread pauses.
const STREAM_BUFFER: usize = 16;
use proto::Value;
use tungstenite::client::IntoClientRequest;
use tungstenite::http::HeaderValue;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Connector, Message, WebSocket};

use crate::endpoint::Endpoint;
use crate::{ConnectionEvent, Error, Options, ReconnectHook};

/// The poller key of the connection's one socket.
const SOCKET_KEY: usize = 1;
/// The server accepts messages up to 128 MiB (protocol.md §1.1); accept as much back.
const MAX_MESSAGE_BYTES: usize = 128 * 1024 * 1024;

type Ws = WebSocket<MaybeTlsStream<TcpStream>>;

/// What a live subscription's channel carries.
#[derive(Debug)]
pub(crate) enum LiveItem {
    /// A notification for the subscription.
    Notification(Notification),
    /// The subscription ended: `None` after KILLED (a normal end), else why.
    Ended(Option<Error>),
}

/// What a `query_stream` channel carries.
pub(crate) type StreamItem = Result<StreamFrame, Error>;

/// What a caller asks the IO thread to do.
enum Command {
    Call {
        request: Request,
        reply: SyncSender<Result<Payload, Error>>,
    },
    Live {
        request: Request,
        reply: SyncSender<Result<(LiveHandle, Value), Error>>,
        sink: Sender<LiveItem>,
    },
    Stream {
        request: Request,
        reply: SyncSender<Result<RequestId, Error>>,
        sink: SyncSender<StreamItem>,
    },
    Unsubscribe(LiveHandle),
    /// A `query_stream` nobody reads any more: cancel it on the server.
    CancelStream(RequestId),
    Listen(Listener),
    Close,
}

/// Who hears about connection events.
enum Listener {
    Channel(Sender<ConnectionEvent>),
    Hook(ReconnectHook),
}

/// A caller waiting for the answer to one request.
enum Pending {
    Call {
        reply: SyncSender<Result<Payload, Error>>,
    },
    Live {
        handle: LiveHandle,
        reply: SyncSender<Result<(LiveHandle, Value), Error>>,
    },
    Stream {
        method: Method,
        sink: SyncSender<StreamItem>,
    },
    /// A request the driver sent on its own (`query_cancel` for a dropped stream); its
    /// answer, success or failure, changes nothing for anyone.
    Discard,
}

/// The callers' side of a WebSocket connection.
pub(crate) struct WsTransport {
    commands: Sender<Command>,
    poller: Arc<Poller>,
    thread: Option<JoinHandle<()>>,
    io_thread: ThreadId,
    /// How long a caller waits for the IO thread at most. The core times requests out
    /// itself; this only guards against an IO thread that can no longer answer.
    wait_limit: Duration,
}

impl WsTransport {
    /// Opens the socket on the calling thread (so a connect error reaches the caller), then
    /// hands it to a new IO thread.
    pub(crate) fn connect(endpoint: Endpoint, options: Options) -> Result<WsTransport, Error> {
        let tls = if endpoint.scheme.is_tls() {
            Some(tls_config(&endpoint)?)
        } else {
            None
        };
        let ws = open_socket(&endpoint, tls.as_ref(), options.connect_timeout)?;
        let poller = Arc::new(
            Poller::new().map_err(|e| Error::Io(format!("cannot create an OS poller: {e}")))?,
        );
        let now = Instant::now();
        let mut conn = Connection::new(options.config.clone(), now);
        let socket = Socket::register(ws, &poller).map_err(|e| Error::Connect {
            url: endpoint.rpc_url(),
            reason: e,
        })?;
        conn.handle_connected(now);
        let (commands, receiver) = mpsc::channel();
        let wait_limit = options
            .config
            .request_timeout
            .saturating_mul(2)
            .saturating_add(options.connect_timeout);
        let driver = Driver {
            endpoint,
            tls,
            connect_timeout: options.connect_timeout,
            poller: poller.clone(),
            commands: receiver,
            conn,
            socket: Some(socket),
            want_write: false,
            pending: HashMap::new(),
            subscribers: HashMap::new(),
            listeners: Vec::new(),
            last_loss: None,
            closed: false,
        };
        let thread = thread::Builder::new()
            .name("surql-ws".into())
            .spawn(move || driver.run())
            .map_err(|e| Error::Io(format!("cannot start the connection's IO thread: {e}")))?;
        Ok(WsTransport {
            commands,
            poller,
            io_thread: thread.thread().id(),
            thread: Some(thread),
            wait_limit,
        })
    }

    fn submit(&self, command: Command) -> Result<(), Error> {
        if thread::current().id() == self.io_thread {
            // Only an `on_reconnect` hook runs there; waiting would wait for itself.
            return Err(Error::Invalid(
                "an on_reconnect hook cannot call its own connection (it runs on the connection's IO thread)".into(),
            ));
        }
        self.commands.send(command).map_err(|_| Error::Closed)?;
        self.poller
            .notify()
            .map_err(|e| Error::Io(format!("cannot wake the connection's IO thread: {e}")))
    }

    fn wait<T>(&self, method: Method, rx: &Receiver<Result<T, Error>>) -> Result<T, Error> {
        match rx.recv_timeout(self.wait_limit) {
            Ok(result) => result,
            // The IO thread dropped the reply channel: it has ended.
            Err(RecvTimeoutError::Disconnected) => Err(Error::Closed),
            Err(RecvTimeoutError::Timeout) => Err(Error::Timeout {
                method: method.as_str().to_owned(),
                after: self.wait_limit,
            }),
        }
    }

    /// Sends `request` and waits for its answer.
    pub(crate) fn call(&self, request: Request) -> Result<Payload, Error> {
        let method = request.method;
        let (reply, rx) = mpsc::sync_channel(1);
        self.submit(Command::Call { request, reply })?;
        self.wait(method, &rx)
    }

    /// Starts a live query (`live`, or a `query` whose only statement is LIVE SELECT) and
    /// returns its handle, the server's answer and the channel its notifications arrive on.
    pub(crate) fn live(
        &self,
        request: Request,
    ) -> Result<(LiveHandle, Value, Receiver<LiveItem>), Error> {
        let method = request.method;
        let (reply, rx) = mpsc::sync_channel(1);
        let (sink, items) = mpsc::channel();
        self.submit(Command::Live {
            request,
            reply,
            sink,
        })?;
        let (handle, value) = self.wait(method, &rx)?;
        Ok((handle, value, items))
    }

    /// Sends a `query_stream` request; returns its request id (for `query_cancel`) and the
    /// channel its frames arrive on.
    pub(crate) fn stream(
        &self,
        request: Request,
    ) -> Result<(RequestId, Receiver<StreamItem>), Error> {
        let method = request.method;
        let (reply, rx) = mpsc::sync_channel(1);
        // Bounded: an unread stream makes the IO thread wait here, so it stops reading the
        // socket and TCP pushes back on the server; client memory stays bounded. A dropped
        // reader makes the wait end at once.
        let (sink, frames) = mpsc::sync_channel(STREAM_BUFFER);
        self.submit(Command::Stream {
            request,
            reply,
            sink,
        })?;
        let id = self.wait(method, &rx)?;
        Ok((id, frames))
    }

    /// Queues the end of a live subscription. Never blocks and spawns nothing: the IO thread
    /// sends the `kill` and consumes its answer.
    pub(crate) fn unsubscribe(&self, handle: LiveHandle) {
        // If the IO thread has ended, the subscription died with the socket: nothing to kill.
        let _ = self.submit(Command::Unsubscribe(handle));
    }

    /// Queues the cancellation of a `query_stream` whose reader is gone.
    pub(crate) fn cancel_stream(&self, id: RequestId) {
        // If the IO thread has ended, the stream died with the socket.
        let _ = self.submit(Command::CancelStream(id));
    }

    /// A new receiver of connection events (disconnects, reconnects, protocol errors).
    pub(crate) fn listen(&self) -> Result<Receiver<ConnectionEvent>, Error> {
        let (sink, events) = mpsc::channel();
        self.submit(Command::Listen(Listener::Channel(sink)))?;
        Ok(events)
    }

    /// Registers a hook run on the IO thread for every connection event.
    pub(crate) fn add_hook(&self, hook: ReconnectHook) {
        // A closed connection has no more events to report.
        let _ = self.submit(Command::Listen(Listener::Hook(hook)));
    }
}

impl Drop for WsTransport {
    fn drop(&mut self) {
        // Both fail only when the IO thread has already ended, which is what we want.
        if self.commands.send(Command::Close).is_ok() {
            let _ = self.poller.notify();
        }
        if let Some(thread) = self.thread.take() {
            // A panic on the IO thread already failed every caller (their reply channels
            // closed); there is no one left to report it to here.
            let _ = thread.join();
        }
    }
}

/// The rustls client config for `wss://`: ring as the crypto provider (named explicitly so
/// the result never depends on which provider features other crates enable) and the
/// webpki root certificates.
fn tls_config(endpoint: &Endpoint) -> Result<Arc<rustls::ClientConfig>, Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Connect {
            url: endpoint.rpc_url(),
            reason: format!("TLS setup failed: {e}"),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The TCP stream under a WebSocket (`None` only for TLS backends this crate never builds).
fn tcp_of(ws: &Ws) -> Option<&TcpStream> {
    match ws.get_ref() {
        MaybeTlsStream::Plain(s) => Some(s),
        MaybeTlsStream::Rustls(s) => Some(s.get_ref()),
        _ => None,
    }
}

/// Opens TCP (+TLS), performs the WebSocket upgrade offering only the `cbor` subprotocol,
/// checks the server accepted it, and leaves the socket nonblocking for the poller.
fn open_socket(
    endpoint: &Endpoint,
    tls: Option<&Arc<rustls::ClientConfig>>,
    timeout: Duration,
) -> Result<Ws, Error> {
    let url = endpoint.rpc_url();
    let fail = |reason: String| Error::Connect {
        url: url.clone(),
        reason,
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
    let connector = match tls {
        Some(config) => Connector::Rustls(config.clone()),
        None => Connector::Plain,
    };
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES));
    let (ws, response) =
        tungstenite::client_tls_with_config(request, tcp, Some(config), Some(connector))
            .map_err(|e| fail(handshake_failure(e)))?;
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
    let tcp = tcp_of(&ws).ok_or_else(|| fail("unexpected TLS stream type".into()))?;
    tcp.set_read_timeout(None)
        .map_err(|e| io("cannot clear the read timeout", e))?;
    tcp.set_write_timeout(None)
        .map_err(|e| io("cannot clear the write timeout", e))?;
    tcp.set_nonblocking(true)
        .map_err(|e| io("cannot make the socket nonblocking", e))?;
    Ok(ws)
}

/// Explains a failed WebSocket upgrade; a subprotocol mismatch means the peer does not
/// speak SurrealDB's CBOR RPC.
fn handshake_failure<S>(e: tungstenite::HandshakeError<S>) -> String
where
    S: tungstenite::handshake::HandshakeRole,
{
    use tungstenite::error::ProtocolError;
    match e {
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

/// A WebSocket registered with the poller; dropping it unregisters it first.
struct Socket {
    ws: Ws,
    poller: Arc<Poller>,
    /// Level-triggered: interest stays armed, so it is changed only when `writable` does.
    /// (Oneshot, the fallback, must be re-armed before every wait.)
    mode: PollMode,
    /// The interest in writability currently armed.
    armed_writable: bool,
    /// Bytes may be waiting: the poller said so, or the socket is new (the handshake may
    /// have read past its end, into bytes the poller will never report again).
    readable: bool,
}

impl Socket {
    fn register(ws: Ws, poller: &Arc<Poller>) -> Result<Socket, String> {
        let tcp = tcp_of(&ws).ok_or("unexpected TLS stream type")?;
        let mode = if poller.supports_level() {
            PollMode::Level
        } else {
            PollMode::Oneshot
        };
        // SAFETY: the socket is removed from the poller in `Drop for Socket`, which runs
        // before its `ws` field (and with it the file descriptor) is dropped.
        unsafe { poller.add_with_mode(tcp, PollEvent::readable(SOCKET_KEY), mode) }
            .map_err(|e| format!("cannot watch the socket: {e}"))?;
        Ok(Socket {
            ws,
            poller: poller.clone(),
            mode,
            armed_writable: false,
            readable: true,
        })
    }

    /// Arms the poller interest for the next wait (a syscall only when it must change).
    fn arm(&mut self, writable: bool) -> std::io::Result<()> {
        if self.mode == PollMode::Level && self.armed_writable == writable {
            return Ok(());
        }
        if let Some(tcp) = tcp_of(&self.ws) {
            self.poller.modify_with_mode(
                tcp,
                PollEvent::new(SOCKET_KEY, true, writable),
                self.mode,
            )?;
        }
        self.armed_writable = writable;
        Ok(())
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        if let Some(tcp) = tcp_of(&self.ws) {
            // Fails only if the descriptor is not registered, which is the goal anyway.
            let _ = self.poller.delete(tcp);
        }
    }
}

/// The IO thread's state: everything here is touched by that thread only.
struct Driver {
    endpoint: Endpoint,
    tls: Option<Arc<rustls::ClientConfig>>,
    connect_timeout: Duration,
    poller: Arc<Poller>,
    commands: Receiver<Command>,
    conn: Connection,
    socket: Option<Socket>,
    /// A write hit `WouldBlock`: tungstenite holds the rest; flush when writable.
    want_write: bool,
    pending: HashMap<RequestId, Pending>,
    subscribers: HashMap<LiveHandle, Sender<LiveItem>>,
    listeners: Vec<Listener>,
    /// Why the socket was lost last, reported with the core's `Disconnected` event.
    last_loss: Option<String>,
    closed: bool,
}

impl Driver {
    fn run(mut self) {
        let mut events = Events::new();
        loop {
            self.drain_commands();
            self.read_socket();
            let now = Instant::now();
            if self.conn.poll_timeout().is_some_and(|at| at <= now) {
                self.conn.handle_timeout(now);
            }
            // Delivering events can produce output (a reconnect opens a socket and queues
            // the session replay) and writing can produce events (a failed write loses the
            // socket): repeat until both are quiet.
            loop {
                let delivered = self.deliver_events();
                let wrote = self.transmit();
                if !delivered && !wrote {
                    break;
                }
            }
            if self.closed {
                break;
            }
            self.wait(&mut events);
        }
        self.shutdown();
    }

    fn drain_commands(&mut self) {
        loop {
            match self.commands.try_recv() {
                Ok(command) => self.command(command),
                Err(TryRecvError::Empty) => return,
                // Every handle is gone (normally `Close` arrives first).
                Err(TryRecvError::Disconnected) => {
                    self.conn.close();
                    return;
                }
            }
        }
    }

    fn command(&mut self, command: Command) {
        let now = Instant::now();
        match command {
            Command::Call { request, reply } => {
                let id = self.conn.send(request, now);
                self.pending.insert(id, Pending::Call { reply });
            }
            Command::Live {
                request,
                reply,
                sink,
            } => {
                let (id, handle) = self.conn.send_live(request, now);
                self.subscribers.insert(handle, sink);
                self.pending.insert(id, Pending::Live { handle, reply });
            }
            Command::Stream {
                request,
                reply,
                sink,
            } => {
                let method = request.method;
                let id = self.conn.send(request, now);
                self.pending.insert(id, Pending::Stream { method, sink });
                // The caller only waits for the id; it cannot have gone away meanwhile.
                let _ = reply.send(Ok(id));
            }
            Command::Unsubscribe(handle) => {
                // A subscription that already ended (KILLED) has nothing left to kill.
                if self.subscribers.remove(&handle).is_some() {
                    self.conn.unsubscribe(handle, now);
                }
            }
            Command::CancelStream(id) => {
                // Frames still on their way for it are dropped quietly until its end.
                if let Some(p) = self.pending.get_mut(&id) {
                    *p = Pending::Discard;
                    let cancel = proto::client::query_cancel(id.0).into_parts().0;
                    let cancel_id = self.conn.send(cancel, now);
                    self.pending.insert(cancel_id, Pending::Discard);
                }
            }
            Command::Listen(sink) => self.listeners.push(sink),
            Command::Close => self.conn.close(),
        }
    }

    fn read_socket(&mut self) {
        let Some(socket) = self.socket.as_mut() else {
            return;
        };
        // Woken for a command, not for the socket: skip the read that would only say
        // WouldBlock. (Level-triggered polling reports unread bytes again anyway.)
        if !socket.readable {
            return;
        }
        socket.readable = false;
        let now = Instant::now();
        // Read until WouldBlock: rustls may hold decrypted bytes the poller cannot see.
        let lost = loop {
            match socket.ws.read() {
                Ok(Message::Binary(bytes)) => self.conn.handle_frame(&bytes, now),
                // A CBOR connection never gets text; the core reports it as a protocol error.
                Ok(Message::Text(text)) => self.conn.handle_frame(text.as_bytes(), now),
                Ok(Message::Close(frame)) => {
                    break Some(match frame {
                        Some(f) => format!(
                            "the server closed the connection (code {}: {})",
                            f.code, f.reason
                        ),
                        None => "the server closed the connection".to_owned(),
                    })
                }
                // Pings are answered by tungstenite on the next write or flush.
                Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == IoKind::WouldBlock => break None,
                Err(tungstenite::Error::Io(e)) if e.kind() == IoKind::Interrupted => {}
                Err(e) => break Some(format!("reading from the socket failed: {e}")),
            }
        };
        if let Some(reason) = lost {
            self.lose_socket(reason);
        }
    }

    fn lose_socket(&mut self, reason: String) {
        self.socket = None;
        self.want_write = false;
        self.last_loss = Some(reason);
        self.conn.handle_disconnect(Instant::now());
    }

    /// Writes every queued frame and flushes; returns whether anything was queued.
    fn transmit(&mut self) -> bool {
        let Some(socket) = self.socket.as_mut() else {
            // Without a socket the core holds its output until `handle_connected`.
            return false;
        };
        let mut wrote = false;
        let mut failure = None;
        while let Some(frame) = self.conn.poll_transmit() {
            wrote = true;
            match socket.ws.write(Message::Binary(frame.into())) {
                Ok(()) => {}
                // tungstenite keeps the frame in its buffer; the flush below retries.
                Err(tungstenite::Error::Io(e)) if e.kind() == IoKind::WouldBlock => {}
                Err(e) => {
                    failure = Some(format!("writing to the socket failed: {e}"));
                    break;
                }
            }
        }
        if failure.is_none() {
            match socket.ws.flush() {
                Ok(()) => self.want_write = false,
                Err(tungstenite::Error::Io(e)) if e.kind() == IoKind::WouldBlock => {
                    self.want_write = true
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

    fn wait(&mut self, events: &mut Events) {
        if let Some(socket) = &mut self.socket {
            if let Err(e) = socket.arm(self.want_write) {
                self.lose_socket(format!("cannot watch the socket: {e}"));
                return;
            }
        }
        let timeout = self
            .conn
            .poll_timeout()
            .map(|at| at.saturating_duration_since(Instant::now()));
        events.clear();
        match self.poller.wait(events, timeout) {
            Ok(_) => {
                if let Some(socket) = &mut self.socket {
                    // An error or hang-up is reported as readable; the read then finds it.
                    if events.iter().any(|e| e.key == SOCKET_KEY && e.readable) {
                        socket.readable = true;
                    }
                    // In oneshot mode a delivered interest is disarmed.
                    if socket.mode == PollMode::Oneshot {
                        socket.armed_writable = false;
                    }
                }
            }
            Err(e) if e.kind() == IoKind::Interrupted => {}
            Err(e) => {
                // Without a poller the thread can neither read nor sleep: give up cleanly.
                self.broadcast(ConnectionEvent::Error(format!("the OS poller failed: {e}")));
                self.conn.close();
            }
        }
    }

    /// Hands every core event to whoever waits for it; returns whether there was any.
    fn deliver_events(&mut self) -> bool {
        let mut any = false;
        while let Some(event) = self.conn.poll_event() {
            any = true;
            match event {
                Event::Response { id, result } => self.respond(id, result),
                Event::Stream { id, frame } => self.stream_frame(id, frame),
                Event::Notification {
                    handle,
                    notification,
                } => {
                    if let Some(sink) = self.subscribers.get(&handle) {
                        // A dropped stream's unsubscribe is already queued behind us.
                        let _ = sink.send(LiveItem::Notification(notification));
                    }
                }
                Event::LiveEnded { handle, reason } => {
                    if let Some(sink) = self.subscribers.remove(&handle) {
                        let _ = sink.send(LiveItem::Ended(live_end_error(reason)));
                    }
                }
                Event::LiveRemapped { old, new, .. } => {
                    self.broadcast(ConnectionEvent::LiveRemapped { old, new })
                }
                Event::Reconnect => self.reconnect(),
                Event::ReplayFailed { method, error } => {
                    self.broadcast(ConnectionEvent::ReplayFailed {
                        method: method.as_str().to_owned(),
                        error: conn_error(error),
                    })
                }
                Event::Reconnected => self.broadcast(ConnectionEvent::Reconnected),
                Event::Disconnected { reason } => {
                    // The core may decide the socket is dead (no pong in time) on its own.
                    self.socket = None;
                    self.want_write = false;
                    let reason = match self.last_loss.take() {
                        Some(cause) => format!("{cause} ({reason})"),
                        None => reason,
                    };
                    self.broadcast(ConnectionEvent::Disconnected(reason));
                }
                Event::Closed => {
                    self.closed = true;
                    self.broadcast(ConnectionEvent::Closed);
                }
                Event::ProtocolError(message) => self.broadcast(ConnectionEvent::Error(message)),
            }
        }
        any
    }

    fn respond(&mut self, id: RequestId, result: Result<Payload, ConnError>) {
        let Some(pending) = self.pending.remove(&id) else {
            self.broadcast(ConnectionEvent::Error(format!(
                "answer for request {} that nobody waits for",
                id.0
            )));
            return;
        };
        match pending {
            Pending::Call { reply } => {
                let result = result.map_err(conn_error);
                // The caller gave up waiting (its own safety timeout): nobody to tell.
                let _ = reply.send(result);
            }
            Pending::Live { handle, reply } => match result {
                Ok(payload) => {
                    // The connection decoded the live answer to read its id: no copy here.
                    let answer = payload
                        .into_value()
                        .map(|value| (handle, value))
                        .map_err(|e| Error::Protocol(format!("live query answer: {e}")));
                    if reply.send(answer).is_err() {
                        // Nobody will read this subscription: end it on the server too.
                        self.subscribers.remove(&handle);
                        self.conn.unsubscribe(handle, Instant::now());
                    }
                }
                Err(e) => {
                    self.subscribers.remove(&handle);
                    let e = conn_error(e);
                    let _ = reply.send(Err(e));
                }
            },
            Pending::Discard => {}
            Pending::Stream { method, sink } => {
                // A stream normally ends with an `End` frame; a plain answer is either
                // its failure or an answer without frames.
                let item = match result {
                    Ok(value) => Err(Error::Protocol(format!(
                        "`{method}` answered with a plain result instead of stream frames: {value:?}"
                    ))),
                    Err(e) => Err(conn_error(e)),
                };
                let _ = sink.send(item);
            }
        }
    }

    fn stream_frame(&mut self, id: RequestId, frame: StreamFrame) {
        let end = frame.is_end();
        match self.pending.get(&id) {
            // Waits while the reader's buffer is full (backpressure); fails at once when the
            // reader was dropped, whose cancel is queued behind us.
            Some(Pending::Stream { sink, .. }) => {
                let _ = sink.send(Ok(frame));
            }
            Some(Pending::Discard) => {}
            _ => {
                self.broadcast(ConnectionEvent::Error(format!(
                    "query_stream frame for request {} that is not a stream",
                    id.0
                )));
                return;
            }
        }
        if end {
            self.pending.remove(&id);
        }
    }

    fn reconnect(&mut self) {
        match open_socket(&self.endpoint, self.tls.as_ref(), self.connect_timeout).and_then(|ws| {
            Socket::register(ws, &self.poller).map_err(|reason| Error::Connect {
                url: self.endpoint.rpc_url(),
                reason,
            })
        }) {
            Ok(socket) => {
                self.socket = Some(socket);
                self.want_write = false;
                self.conn.handle_connected(Instant::now());
            }
            // The core reports it as `Disconnected("could not connect: …")`.
            Err(e) => self
                .conn
                .handle_connect_failed(Instant::now(), e.to_string()),
        }
    }

    fn broadcast(&mut self, event: ConnectionEvent) {
        // A listener whose receiver is gone is forgotten.
        self.listeners.retain(|l| match l {
            Listener::Channel(sink) => sink.send(event.clone()).is_ok(),
            // A hook that panics is dropped; the IO thread, which every caller needs,
            // must not die with it.
            Listener::Hook(hook) => {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook(&event))).is_ok()
            }
        });
    }

    fn shutdown(&mut self) {
        for (_, pending) in self.pending.drain() {
            match pending {
                // Callers that stopped waiting need no answer.
                Pending::Call { reply, .. } => {
                    let _ = reply.send(Err(Error::Closed));
                }
                Pending::Live { reply, .. } => {
                    let _ = reply.send(Err(Error::Closed));
                }
                // Never wait on a full stream buffer while shutting down: when the reader
                // gets past the buffered frames, the dropped sender reads as `Closed` anyway.
                Pending::Stream { sink, .. } => {
                    let _ = sink.try_send(Err(Error::Closed));
                }
                Pending::Discard => {}
            }
        }
        for (_, sink) in self.subscribers.drain() {
            let _ = sink.send(LiveItem::Ended(Some(Error::Closed)));
        }
        if let Some(mut socket) = self.socket.take() {
            // Best effort: a close frame that cannot be written now only costs the server a
            // log line, and nobody is left to tell.
            if socket.ws.close(None).is_ok() {
                let _ = socket.ws.flush();
            }
        }
    }
}

/// Maps the core's error for one request to the driver's error.
pub(crate) fn conn_error(e: ConnError) -> Error {
    match e {
        ConnError::Server(e) => Error::Server(e),
        ConnError::Timeout { method, after } => Error::Timeout {
            method: method.as_str().to_owned(),
            after,
        },
        ConnError::Disconnected { method, reason } => Error::Disconnected {
            method: method.as_str().to_owned(),
            reason,
        },
        ConnError::Closed => Error::Closed,
        ConnError::Protocol(message) => Error::Protocol(message),
        ConnError::TransactionLost { txn } => Error::TransactionLost { txn },
        other => Error::Protocol(other.to_string()),
    }
}

/// Why a subscription ended, as the error its stream reports (`None`: a normal end).
fn live_end_error(reason: LiveEndReason) -> Option<Error> {
    match reason {
        LiveEndReason::Killed | LiveEndReason::Unsubscribed => None,
        LiveEndReason::SubscribeFailed(e) => Some(conn_error(e)),
        LiveEndReason::RestoreFailed(e) => Some(match conn_error(e) {
            Error::Server(e) => Error::Server(e),
            other => Error::Protocol(format!(
                "the live query could not be restored after a reconnect: {other}"
            )),
        }),
        LiveEndReason::ConnectionClosed => Some(Error::Closed),
    }
}
