//! The WebSocket transport: one IO thread per connection owns the socket and the core's
//! [`Mux`] (the connection machine plus the routing of answers, stream frames and live
//! notifications to their callers); every caller talks to it through a channel.
//!
//! The IO thread runs the quinn-style driver loop: drain commands → read frames → fire due
//! timers → act on the mux's actions → write frames → sleep in the OS poller until the
//! socket is readable (or writable, when a write would have blocked), the core's next
//! deadline, or a caller's `poller.notify()`. A request therefore leaves the process as
//! soon as it is queued. Everything that is not socket IO (who gets which answer, what a
//! full or dropped stream means, when to close) is decided by the core's mux.

use std::io::ErrorKind as IoKind;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::mpsc::{
    self, Receiver, RecvTimeoutError, Sender, SyncSender, TryRecvError, TrySendError,
};
use std::sync::Arc;
use std::thread::{self, JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use polling::{Event as PollEvent, Events, PollMode, Poller};
use surql::conn::{LiveHandle, RequestId};
use surql::mux::{Action, EndSlot, ItemSink, LiveItem, Mux, Offer, Outbox, Reply, ReplySink};
use surql::rpc::{Method, Payload, Request, StreamFrame};
use surql::{Options, TlsOptions};
use tungstenite::client::IntoClientRequest;
use tungstenite::http::HeaderValue;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Connector, Message, WebSocket};

use crate::{ConnectionEvent, Error, ReconnectHook};
use surql::endpoint::Endpoint;

/// The poller key of the connection's one socket.
const SOCKET_KEY: usize = 1;
/// The server accepts messages up to 128 MiB (protocol.md §1.1); accept as much back.
const MAX_MESSAGE_BYTES: usize = 128 * 1024 * 1024;

type Ws = WebSocket<MaybeTlsStream<TcpStream>>;

/// The answer channel of one request.
pub(crate) struct ReplyTx(SyncSender<Result<Reply, Error>>);

impl ReplySink for ReplyTx {
    fn deliver(self, answer: Result<Reply, Error>) -> bool {
        // Capacity 1 and one answer: this never blocks.
        self.0.send(answer).is_ok()
    }
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

struct Io;

impl Outbox for Io {
    type Reply = ReplyTx;
    type Stream = Bounded<StreamFrame>;
    type Live = Bounded<LiveItem>;
}

/// What a caller asks the IO thread to do.
enum Command {
    Call {
        request: Request,
        reply: ReplyTx,
    },
    Live {
        request: Request,
        reply: ReplyTx,
        sink: Bounded<LiveItem>,
    },
    Stream {
        request: Request,
        id: SyncSender<RequestId>,
        sink: Bounded<StreamFrame>,
    },
    Unsubscribe(LiveHandle),
    CancelStream(RequestId),
    Listen(Listener),
    /// A copy of a session's state (token, ns, db) for an HTTP request to the same server.
    Session {
        session: Option<surql::Uuid>,
        reply: SyncSender<surql::session::SessionState>,
    },
    Close,
}

/// Who hears about connection events.
enum Listener {
    Channel(Sender<ConnectionEvent>),
    Hook(ReconnectHook),
}

/// The callers' side of a WebSocket connection.
pub(crate) struct WsTransport {
    commands: Sender<Command>,
    poller: Arc<Poller>,
    thread: Option<JoinHandle<()>>,
    io_thread: ThreadId,
    /// How long a caller waits for the IO thread at most: the core times requests out
    /// itself; this guards against an IO thread that can no longer answer.
    wait_limit: Duration,
    pub(crate) stream_buffer: usize,
    pub(crate) live_buffer: usize,
}

impl WsTransport {
    /// Opens the socket on the calling thread (so a connect error reaches the caller), then
    /// hands it to a new IO thread.
    pub(crate) fn connect(endpoint: Endpoint, options: Options) -> Result<WsTransport, Error> {
        let tls = if endpoint.scheme.is_tls() {
            Some(tls_config(&endpoint, &options.tls)?)
        } else {
            None
        };
        let ws = open_socket(&endpoint, tls.as_ref(), options.connect_timeout)?;
        let poller = Arc::new(
            Poller::new().map_err(|e| Error::Io(format!("cannot create an OS poller: {e}")))?,
        );
        let now = Instant::now();
        let mut mux = Mux::new(&options, now);
        let socket = Socket::register(ws, &poller).map_err(|e| Error::Connect {
            url: endpoint.rpc_url(),
            reason: e,
        })?;
        mux.handle_connected(now);
        let (commands, receiver) = mpsc::channel();
        let wait_limit = options
            .request_timeout
            .saturating_mul(2)
            .saturating_add(options.connect_timeout);
        let driver = Driver {
            endpoint,
            tls,
            connect_timeout: options.connect_timeout,
            request_timeout: options.request_timeout,
            poller: poller.clone(),
            commands: receiver,
            mux,
            socket: Some(socket),
            want_write: false,
            write_blocked_since: None,
            listeners: Vec::new(),
            finished: false,
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
            stream_buffer: options.stream_buffer,
            live_buffer: options.live_buffer,
        })
    }

    fn submit(&self, command: Command) -> Result<(), Error> {
        if thread::current().id() == self.io_thread {
            // Only a hook runs there; waiting would wait for itself.
            return Err(Error::invalid(
                "call from a connection hook",
                "an on_reconnect hook cannot call its own connection (it runs on the connection's IO thread); send the event to a channel and act on it elsewhere",
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
            Err(RecvTimeoutError::Timeout) => Err(Error::timeout(
                format!("`{method}` answer (the connection's IO thread did not respond)"),
                self.wait_limit,
            )),
        }
    }

    /// Sends `request` and waits for its answer.
    pub(crate) fn call(&self, request: Request) -> Result<Payload, Error> {
        let method = request.method;
        let (reply, rx) = mpsc::sync_channel(1);
        self.submit(Command::Call {
            request,
            reply: ReplyTx(reply),
        })?;
        match self.wait(method, &rx)? {
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
        let method = request.method;
        let (reply, rx) = mpsc::sync_channel(1);
        let (sink, items) = bounded(self.live_buffer);
        self.submit(Command::Live {
            request,
            reply: ReplyTx(reply),
            sink,
        })?;
        match self.wait(method, &rx)? {
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
        let method = request.method;
        let (id_tx, id_rx) = mpsc::sync_channel(1);
        let (sink, frames) = bounded(self.stream_buffer);
        self.submit(Command::Stream {
            request,
            id: id_tx,
            sink,
        })?;
        let id = match id_rx.recv_timeout(self.wait_limit) {
            Ok(id) => id,
            Err(RecvTimeoutError::Disconnected) => return Err(Error::Closed),
            Err(RecvTimeoutError::Timeout) => {
                return Err(Error::timeout(
                    format!("`{method}` start (the connection's IO thread did not respond)"),
                    self.wait_limit,
                ))
            }
        };
        Ok((id, frames))
    }

    /// Queues the end of a live subscription. Never blocks and spawns nothing.
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
    pub(crate) fn add_hook(&self, hook: ReconnectHook) -> Result<(), Error> {
        self.submit(Command::Listen(Listener::Hook(hook)))
    }

    /// A copy of `session`'s state (its token, namespace and database).
    pub(crate) fn session_state(
        &self,
        session: Option<surql::Uuid>,
    ) -> Result<surql::session::SessionState, Error> {
        let (reply, rx) = mpsc::sync_channel(1);
        self.submit(Command::Session { session, reply })?;
        match rx.recv_timeout(self.wait_limit) {
            Ok(state) => Ok(state),
            Err(RecvTimeoutError::Disconnected) => Err(Error::Closed),
            Err(RecvTimeoutError::Timeout) => Err(Error::timeout(
                "session state (the connection's IO thread did not respond)",
                self.wait_limit,
            )),
        }
    }

    /// Closes the connection now: everything waiting fails with `Error::Closed`.
    pub(crate) fn close(&self) {
        // Fails only when the IO thread has already ended, which is what we want.
        let _ = self.submit(Command::Close);
    }
}

impl Drop for WsTransport {
    fn drop(&mut self) {
        // Both fail only when the IO thread has already ended, which is what we want.
        if self.commands.send(Command::Close).is_ok() {
            let _ = self.poller.notify();
        }
        if let Some(thread) = self.thread.take() {
            if thread.thread().id() != thread::current().id() {
                // A panic on the IO thread already failed every caller (their reply
                // channels closed); there is no one left to report it to here.
                let _ = thread.join();
            }
        }
    }
}

/// The rustls client config for `wss://`: ring as the crypto provider (named explicitly so
/// the result never depends on which provider features other crates enable) and the
/// webpki root certificates.
pub(crate) fn tls_config(
    endpoint: &Endpoint,
    tls: &TlsOptions,
) -> Result<Arc<rustls::ClientConfig>, Error> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let fail = |reason: String| Error::Connect {
        url: endpoint.rpc_url(),
        reason: format!("TLS setup failed: {reason}"),
    };
    let mut roots = rustls::RootCertStore::empty();
    if !tls.no_public_roots {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    for (i, pem) in tls.extra_roots_pem.iter().enumerate() {
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| fail(format!("extra root certificate #{i}: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| fail(format!("extra root certificate #{i}: {e}")))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(e.to_string()))?
        .with_root_certificates(roots);
    let config = match &tls.client_cert {
        None => builder.with_no_client_auth(),
        Some(cert) => {
            let chain = CertificateDer::pem_slice_iter(&cert.chain_pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| fail(format!("client certificate chain: {e}")))?;
            // The key's bytes never appear in the message.
            let key = PrivateKeyDer::from_pem_slice(&cert.key_pem)
                .map_err(|_| fail("the client private key is not a PEM private key".into()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| fail(format!("client certificate: {e}")))?
        }
    };
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
    let started = Instant::now();
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
    // Each read and write is bounded by the timeouts above; the cutoff bounds the whole
    // upgrade, which a peer dribbling bytes could otherwise stretch without end.
    let cutoff = Cutoff::arm(&tcp, timeout.saturating_sub(started.elapsed()))
        .map_err(|e| io("cannot bound the WebSocket upgrade", e))?;
    let upgrade = tungstenite::client_tls_with_config(request, tcp, Some(config), Some(connector));
    if cutoff.disarm() {
        return Err(fail(format!(
            "no WebSocket upgrade within the connect timeout of {timeout:?}"
        )));
    }
    let (ws, response) = upgrade.map_err(|e| fail(handshake_failure(e, timeout)))?;
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
    mux: Mux<Io>,
    socket: Option<Socket>,
    /// A write hit `WouldBlock`: tungstenite holds the rest; flush when writable.
    want_write: bool,
    /// Since when the writes are blocked: a peer that reads nothing for a request timeout
    /// is dead (as in the smol driver), or every later request would wait behind it.
    write_blocked_since: Option<Instant>,
    request_timeout: Duration,
    listeners: Vec<Listener>,
    finished: bool,
}

impl Driver {
    fn run(mut self) {
        let mut events = Events::new();
        loop {
            self.drain_commands();
            self.read_socket();
            self.mux.handle_timeout(Instant::now());
            // Acting can produce output (a reconnect opens a socket and queues the session
            // replay) and writing can produce actions (a failed write loses the socket):
            // repeat until both are quiet.
            loop {
                let acted = self.act();
                let wrote = self.transmit();
                if !acted && !wrote {
                    break;
                }
            }
            if self.finished {
                break;
            }
            self.wait(&mut events);
        }
        if let Some(mut socket) = self.socket.take() {
            // Best effort: a close frame that cannot be written now only costs the server a
            // log line, and nobody is left to tell.
            if socket.ws.close(None).is_ok() {
                let _ = socket.ws.flush();
            }
        }
    }

    fn drain_commands(&mut self) {
        loop {
            match self.commands.try_recv() {
                Ok(command) => self.command(command),
                Err(TryRecvError::Empty) => return,
                // Every handle is gone (normally `Close` arrives first).
                Err(TryRecvError::Disconnected) => {
                    self.mux.handles_gone(Instant::now());
                    return;
                }
            }
        }
    }

    fn command(&mut self, command: Command) {
        let now = Instant::now();
        match command {
            Command::Call { request, reply } => self.mux.call(request, reply, now),
            Command::Live {
                request,
                reply,
                sink,
            } => self.mux.live(request, reply, sink, now),
            Command::Stream { request, id, sink } => {
                let request_id = self.mux.stream(request, sink, now);
                // The caller waits for the id (bounded); if it gave up, the dropped frames
                // buffer makes the mux cancel the stream at its first frame.
                let _ = id.send(request_id);
            }
            Command::Unsubscribe(handle) => self.mux.unsubscribe(handle, now),
            Command::CancelStream(id) => self.mux.cancel_stream(id, now),
            Command::Listen(sink) => self.listeners.push(sink),
            Command::Session { session, reply } => {
                let state = self.mux.connection().session_state(session).cloned();
                // The caller may have given up waiting.
                let _ = reply.send(state.unwrap_or_default());
            }
            Command::Close => self.mux.close(now),
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
                Ok(Message::Binary(bytes)) => self.mux.handle_frame(&bytes, now),
                // A CBOR connection never gets text; the core reports it as a protocol error.
                Ok(Message::Text(text)) => self.mux.handle_frame(text.as_bytes(), now),
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
        self.write_blocked_since = None;
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
                Ok(()) => {
                    self.want_write = false;
                    self.write_blocked_since = None;
                }
                Err(tungstenite::Error::Io(e)) if e.kind() == IoKind::WouldBlock => {
                    self.want_write = true;
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

    fn wait(&mut self, events: &mut Events) {
        if let Some(socket) = &mut self.socket {
            if let Err(e) = socket.arm(self.want_write) {
                self.lose_socket(format!("cannot watch the socket: {e}"));
                return;
            }
        }
        let write_deadline = self
            .write_blocked_since
            .and_then(|since| since.checked_add(self.request_timeout));
        let deadline = match (self.mux.poll_timeout(), write_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let timeout = deadline.map(|at| at.saturating_duration_since(Instant::now()));
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
                self.mux.close(Instant::now());
            }
        }
    }

    /// Does what the mux asks; returns whether there was anything.
    fn act(&mut self) -> bool {
        let mut any = false;
        while let Some(action) = self.mux.poll_action() {
            any = true;
            match action {
                Action::OpenSocket => self.reconnect(),
                Action::DropSocket => {
                    self.socket = None;
                    self.want_write = false;
                    self.write_blocked_since = None;
                }
                Action::Notify(event) => self.broadcast(event),
                Action::Finished => self.finished = true,
            }
        }
        any
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
                self.write_blocked_since = None;
                self.mux.handle_connected(Instant::now());
            }
            // The core reports it as `Disconnected("could not connect: …")`.
            Err(e) => self
                .mux
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
}
