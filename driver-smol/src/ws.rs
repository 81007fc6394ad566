//! The WebSocket transport: one driver task per connection running the core's `Connection`
//! (quinn-style loop: inputs → transmits → timer → events).
//!
//! The task runs on its own thread under `async_io::block_on`, so it needs no executor from
//! the caller: the client works the same from smol, from tokio, or from any other runtime.
//! Callers talk to it over channels; nothing here blocks a caller's executor.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_channel::{Receiver, Sender};
use async_tungstenite::tungstenite::client::IntoClientRequest;
use async_tungstenite::tungstenite::http::HeaderValue;
use async_tungstenite::tungstenite::Message;
use async_tungstenite::WebSocketStream;
use futures_lite::{future, StreamExt};
use surql::conn::{Config, ConnError, Connection, Event, LiveHandle, RequestId};
use surql::live::LiveEndReason;
use surql::rpc::{Method, Notification, Payload, Request, StreamFrame};
use surql::Value;

use crate::error::{Error, Result};

type Ws = WebSocketStream<async_tungstenite::smol::ConnectStream>;

/// What a live subscriber receives.
#[derive(Debug)]
pub(crate) enum LiveMsg {
    Notification(Notification),
    Ended(LiveEndReason),
}

pub(crate) enum Command {
    Request {
        req: Request,
        reply: Sender<Result<Payload, ConnError>>,
    },
    Live {
        req: Request,
        reply: Sender<Result<Payload, ConnError>>,
        handle_out: Sender<LiveHandle>,
        notifications: Sender<LiveMsg>,
    },
    Unsubscribe(LiveHandle),
    Stream {
        req: Request,
        id_out: Sender<RequestId>,
        frames: Sender<std::result::Result<StreamFrame, ConnError>>,
    },
    CancelStream(RequestId),
}

/// How many `query_stream` frames may wait for the reader; when they are not read, the driver
/// stops reading the socket, so client memory stays bounded (TCP pushes back on the server).
pub(crate) const STREAM_BUFFER: usize = 16;

/// Observer of connection life-cycle events (reconnects).
pub type ReconnectHook = Arc<dyn Fn(&ConnectionEvent) + Send + Sync>;

/// A connection life-cycle event reported to [`crate::Surreal::on_reconnect`] hooks.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ConnectionEvent {
    /// The socket was lost; a reconnect is planned.
    Disconnected(String),
    /// A new socket is open and the session (auth, ns/db, variables, live queries) is restored.
    Reconnected,
    /// A live query got a new server id after the reconnect.
    LiveRemapped {
        /// The id before the reconnect.
        old: surql::Uuid,
        /// The id now.
        new: surql::Uuid,
    },
}

pub(crate) struct WsClient {
    pub(crate) commands: Sender<Command>,
    pub(crate) hooks: Arc<Mutex<Vec<ReconnectHook>>>,
}

impl WsClient {
    pub(crate) async fn stream(
        &self,
        req: Request,
    ) -> Result<(
        RequestId,
        Receiver<std::result::Result<StreamFrame, ConnError>>,
    )> {
        let (id_out, id_in) = async_channel::bounded(1);
        let (frames, rx) = async_channel::bounded(STREAM_BUFFER);
        self.commands
            .send(Command::Stream {
                req,
                id_out,
                frames,
            })
            .await
            .map_err(|_| Error::Closed)?;
        let id = id_in.recv().await.map_err(|_| Error::Closed)?;
        Ok((id, rx))
    }

    pub(crate) async fn connect(url: String, config: Config) -> Result<WsClient> {
        let ws = open(&url).await?;
        let (tx, rx) = async_channel::unbounded();
        let hooks: Arc<Mutex<Vec<ReconnectHook>>> = Arc::default();
        let task_hooks = hooks.clone();
        std::thread::Builder::new()
            .name("surql-smol-ws".into())
            .spawn(move || async_io::block_on(drive(url, config, ws, rx, task_hooks)))
            .map_err(|e| Error::Io(format!("cannot start the connection thread: {e}")))?;
        Ok(WsClient {
            commands: tx,
            hooks,
        })
    }

    pub(crate) async fn call(&self, req: Request) -> Result<Payload> {
        let (reply, answer) = async_channel::bounded(1);
        self.commands
            .send(Command::Request { req, reply })
            .await
            .map_err(|_| Error::Closed)?;
        match answer.recv().await {
            Ok(r) => r.map_err(Error::from),
            Err(_) => Err(Error::Closed),
        }
    }

    pub(crate) async fn live(
        &self,
        req: Request,
    ) -> Result<(Value, LiveHandle, Receiver<LiveMsg>)> {
        let (reply, answer) = async_channel::bounded(1);
        let (handle_out, handle_in) = async_channel::bounded(1);
        let (ntx, nrx) = async_channel::unbounded();
        self.commands
            .send(Command::Live {
                req,
                reply,
                handle_out,
                notifications: ntx,
            })
            .await
            .map_err(|_| Error::Closed)?;
        let handle = handle_in.recv().await.map_err(|_| Error::Closed)?;
        let value = match answer.recv().await {
            Ok(r) => r.map_err(Error::from)?,
            Err(_) => return Err(Error::Closed),
        };
        // The connection decoded the live answer to read its id, so this copies nothing.
        let value = value.into_value().map_err(|e| {
            Error::Connection(ConnError::Protocol(format!("live query answer: {e}")))
        })?;
        Ok((value, handle, nrx))
    }
}

async fn open(url: &str) -> Result<Ws> {
    let mut request = url.into_client_request().map_err(|e| Error::Url {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("cbor"));
    let (ws, response) = async_tungstenite::smol::connect_async(request)
        .await
        .map_err(|e| Error::Io(format!("WebSocket connection to {url} failed: {e}")))?;
    let proto = response
        .headers()
        .get("Sec-WebSocket-Protocol")
        .and_then(|v| v.to_str().ok());
    if proto != Some("cbor") {
        return Err(Error::Io(format!(
            "the server at {url} did not accept the `cbor` WebSocket subprotocol (got {proto:?})"
        )));
    }
    Ok(ws)
}

enum Wake {
    Command(Option<Command>),
    Frame(Option<std::result::Result<Message, async_tungstenite::tungstenite::Error>>),
    Timer,
}

struct Live {
    notifications: Sender<LiveMsg>,
}

async fn drive(
    url: String,
    config: Config,
    ws: Ws,
    commands: Receiver<Command>,
    hooks: Arc<Mutex<Vec<ReconnectHook>>>,
) {
    let mut conn = Connection::new(config, Instant::now());
    conn.handle_connected(Instant::now());
    let mut ws = Some(ws);
    let mut pending: HashMap<RequestId, Sender<Result<Payload, ConnError>>> = HashMap::new();
    let mut lives: HashMap<LiveHandle, Live> = HashMap::new();
    let mut streams: HashMap<RequestId, Sender<std::result::Result<StreamFrame, ConnError>>> =
        HashMap::new();
    let mut commands_open = true;
    // One timer for the connection's life, re-armed only when the core's deadline moves:
    // creating a timer per loop turn costs a reactor wake-up (a syscall) per request.
    let mut timer = async_io::Timer::never();
    let mut armed: Option<Instant> = None;
    let notify = |ev: &ConnectionEvent| {
        let hooks = hooks.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for h in hooks {
            h(ev);
        }
    };
    loop {
        // 1. transmit everything the core queued
        if let Some(sock) = ws.as_mut() {
            let mut failed = false;
            while let Some(frame) = conn.poll_transmit() {
                if sock.send(Message::Binary(frame.into())).await.is_err() {
                    failed = true;
                    break;
                }
            }
            if failed {
                ws = None;
                conn.handle_disconnect(Instant::now());
            }
        }
        // 2. deliver events
        let mut reconnect = false;
        let mut closed = false;
        while let Some(ev) = conn.poll_event() {
            match ev {
                Event::Response { id, result } => {
                    if let Some(tx) = pending.remove(&id) {
                        let _ = tx.try_send(result); // the caller may have stopped waiting
                    } else if let Some(tx) = streams.remove(&id) {
                        if let Err(e) = result {
                            let _ = tx.send(Err(e)).await; // fails only if the reader left
                        }
                    }
                }
                Event::Stream { id, frame } => {
                    let end = frame.is_end();
                    if let Some(tx) = streams.get(&id) {
                        // Waiting here is the backpressure: an unread stream stops the
                        // socket reads. A dropped reader makes the send fail at once.
                        if tx.send(Ok(frame)).await.is_err() {
                            streams.remove(&id);
                        }
                    }
                    if end {
                        streams.remove(&id);
                    }
                }
                Event::Notification {
                    handle,
                    notification,
                } => {
                    if let Some(l) = lives.get(&handle) {
                        if l.notifications
                            .try_send(LiveMsg::Notification(notification))
                            .is_err()
                        {
                            // the stream was dropped; its Drop already queued the unsubscribe
                        }
                    }
                }
                Event::LiveEnded { handle, reason } => {
                    if let Some(l) = lives.remove(&handle) {
                        let _ = l.notifications.try_send(LiveMsg::Ended(reason));
                    }
                }
                Event::LiveRemapped { old, new, .. } => {
                    notify(&ConnectionEvent::LiveRemapped { old, new })
                }
                Event::Reconnect => reconnect = true,
                Event::Reconnected => notify(&ConnectionEvent::Reconnected),
                Event::Disconnected { reason } => {
                    ws = None;
                    notify(&ConnectionEvent::Disconnected(reason));
                }
                Event::Closed => closed = true,
                _ => {}
            }
        }
        if closed {
            if let Some(mut sock) = ws.take() {
                let _ = sock.close(None).await; // best effort: we are leaving either way
            }
            return;
        }
        if reconnect {
            match open(&url).await {
                Ok(sock) => {
                    ws = Some(sock);
                    conn.handle_connected(Instant::now());
                }
                Err(e) => conn.handle_connect_failed(Instant::now(), e.to_string()),
            }
            continue;
        }
        if !commands_open && pending.is_empty() && lives.is_empty() && streams.is_empty() {
            conn.close();
            continue;
        }
        // 3. wait for the next input
        let deadline = conn.poll_timeout();
        if deadline != armed {
            match deadline {
                Some(t) => timer.set_at(t),
                None => timer = async_io::Timer::never(),
            }
            armed = deadline;
        }
        let timer = async {
            (&mut timer).await;
            Wake::Timer
        };
        let cmd = async {
            if commands_open {
                Wake::Command(commands.recv().await.ok())
            } else {
                future::pending().await
            }
        };
        let wake = match ws.as_mut() {
            Some(sock) => {
                let frame = async { Wake::Frame(sock.next().await) };
                future::or(frame, future::or(cmd, timer)).await
            }
            None => future::or(cmd, timer).await,
        };
        let now = Instant::now();
        match wake {
            Wake::Command(Some(c)) => match c {
                Command::Request { req, reply } => {
                    let id = conn.send(req, now);
                    pending.insert(id, reply);
                }
                Command::Live {
                    req,
                    reply,
                    handle_out,
                    notifications,
                } => {
                    let (id, handle) = conn.send_live(req, now);
                    pending.insert(id, reply);
                    lives.insert(handle, Live { notifications });
                    let _ = handle_out.try_send(handle); // the caller waits on it
                }
                Command::Stream {
                    req,
                    id_out,
                    frames,
                } => {
                    let id = conn.send(req, now);
                    streams.insert(id, frames);
                    let _ = id_out.try_send(id); // the caller waits on it
                }
                Command::CancelStream(id) => {
                    if streams.remove(&id).is_some() {
                        // The answer (NONE, or "no such stream" if it just ended) is dropped
                        // by the loop: there is no waiter for it.
                        conn.send(
                            Request::new(Method::QueryCancel, vec![Value::Int(id.0 as i64)]),
                            now,
                        );
                    }
                }
                Command::Unsubscribe(handle) => {
                    if lives.remove(&handle).is_some() {
                        conn.unsubscribe(handle, now);
                    }
                }
            },
            Wake::Command(None) => commands_open = false,
            Wake::Frame(Some(Ok(msg))) => match msg {
                Message::Binary(b) => conn.handle_frame(&b, now),
                Message::Text(t) => conn.handle_frame(t.as_bytes(), now),
                Message::Close(_) => {
                    ws = None;
                    conn.handle_disconnect(now);
                }
                _ => {} // ping/pong are answered by tungstenite
            },
            Wake::Frame(Some(Err(_)) | None) => {
                ws = None;
                conn.handle_disconnect(now);
            }
            Wake::Timer => {
                armed = None; // a fired timer must be re-armed even for the same deadline
                conn.handle_timeout(now);
            }
        }
    }
}
