//! Streams fed by the IO thread: live-query notifications and `query_stream` frames.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use proto::conn::LiveHandle;
use proto::rpc::{parse_query_results, Method, Notification, StreamFrame};
use proto::{Uuid, Value};

use crate::ws::{LiveItem, StreamItem, WsTransport};
use crate::Error;

/// The notifications of one live query, as a blocking iterator.
///
/// - It survives reconnects: the core re-subscribes and routes the new server id here.
/// - It ends (`next()` returns `None`) when the server kills the live query (`KILLED`: a
///   `KILL`, the table or database removed, the user's access revoked).
/// - If the connection closes for good, it yields one `Err(Error::Closed)`, then ends.
/// - Dropping it kills the live query on the server. Drop only queues that for the
///   connection's IO thread: it never blocks and spawns nothing.
///
/// It keeps the connection open while it lives, even if every `Surreal` is dropped.
pub struct LiveStream {
    transport: Arc<WsTransport>,
    handle: LiveHandle,
    live_id: Option<Uuid>,
    items: Receiver<LiveItem>,
    ended: bool,
}

impl std::fmt::Debug for LiveStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveStream")
            .field("live_id", &self.live_id)
            .field("ended", &self.ended)
            .finish()
    }
}

impl LiveStream {
    pub(crate) fn new(
        transport: Arc<WsTransport>,
        handle: LiveHandle,
        items: Receiver<LiveItem>,
    ) -> Self {
        LiveStream {
            transport,
            handle,
            live_id: None,
            items,
            ended: false,
        }
    }

    pub(crate) fn set_live_id(&mut self, id: Uuid) {
        self.live_id = Some(id);
    }

    /// The server's id of the live query when it was started. After a reconnect the
    /// server knows it under a new id (see `ConnectionEvent::LiveRemapped`).
    pub fn live_id(&self) -> Option<Uuid> {
        self.live_id
    }

    /// Whether the stream has ended: nothing more will arrive.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    fn item(&mut self, item: LiveItem) -> Option<Result<Notification, Error>> {
        match item {
            LiveItem::Notification(n) => Some(Ok(n)),
            LiveItem::Ended(reason) => {
                self.ended = true;
                reason.map(Err)
            }
        }
    }

    /// Waits at most `timeout` for the next notification. `Ok(None)` means none arrived in
    /// time, or the stream ended ([`is_ended`](Self::is_ended) tells which).
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Option<Notification>, Error> {
        if self.ended {
            return Ok(None);
        }
        match self.items.recv_timeout(timeout) {
            Ok(item) => self.item(item).transpose(),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => {
                self.ended = true;
                Err(Error::Closed)
            }
        }
    }
}

impl Iterator for LiveStream {
    type Item = Result<Notification, Error>;

    /// Blocks until the next notification; `None` once the live query has ended.
    fn next(&mut self) -> Option<Self::Item> {
        if self.ended {
            return None;
        }
        match self.items.recv() {
            Ok(item) => self.item(item),
            Err(_) => {
                // The IO thread is gone without saying why: the connection is closed.
                self.ended = true;
                Some(Err(Error::Closed))
            }
        }
    }
}

impl Drop for LiveStream {
    fn drop(&mut self) {
        if !self.ended {
            self.transport.unsubscribe(self.handle);
        }
    }
}

/// The live query's id from the answer to `live` (a UUID) or to a `query` whose one
/// statement is `LIVE SELECT` (a result row holding the UUID, or an error row).
pub(crate) fn live_id_of(method: Method, value: Value) -> Result<Uuid, Error> {
    let found = |v: &Value| {
        Error::Protocol(format!(
            "`{method}` for a live query answered {} instead of its uuid",
            v.kind()
        ))
    };
    match method {
        Method::Query => {
            let rows = parse_query_results(value).map_err(|e| Error::Protocol(e.to_string()))?;
            let mut rows = rows.into_iter();
            let (Some(row), None) = (rows.next(), rows.next()) else {
                return Err(Error::Invalid(
                    "a live query must be exactly one LIVE SELECT statement".into(),
                ));
            };
            match row.result {
                Ok(Value::Uuid(id)) => Ok(id),
                Ok(other) => Err(found(&other)),
                Err(e) => Err(Error::Server(e)),
            }
        }
        _ => match value {
            Value::Uuid(id) => Ok(id),
            other => Err(found(&other)),
        },
    }
}

/// The frames of one `query_stream` answer, as a blocking iterator that ends after the
/// `End` frame. It keeps the connection open while it lives.
pub struct QueryStream {
    _transport: Arc<WsTransport>,
    request_id: u64,
    frames: Receiver<StreamItem>,
    ended: bool,
}

impl std::fmt::Debug for QueryStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryStream")
            .field("request_id", &self.request_id)
            .field("ended", &self.ended)
            .finish()
    }
}

impl QueryStream {
    pub(crate) fn new(
        transport: Arc<WsTransport>,
        request_id: u64,
        frames: Receiver<StreamItem>,
    ) -> Self {
        QueryStream {
            _transport: transport,
            request_id,
            frames,
            ended: false,
        }
    }

    /// The request id, for `Surreal::query_cancel`.
    pub fn request_id(&self) -> u64 {
        self.request_id
    }

    fn item(&mut self, item: StreamItem) -> Result<StreamFrame, Error> {
        match &item {
            Ok(frame) if frame.is_end() => self.ended = true,
            Ok(_) => {}
            Err(_) => self.ended = true,
        }
        item
    }

    /// Waits at most `timeout` for the next frame; `Ok(None)` if none arrived in time or
    /// the stream has ended.
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Option<StreamFrame>, Error> {
        if self.ended {
            return Ok(None);
        }
        match self.frames.recv_timeout(timeout) {
            Ok(item) => self.item(item).map(Some),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => {
                self.ended = true;
                Err(Error::Closed)
            }
        }
    }
}

impl Iterator for QueryStream {
    type Item = Result<StreamFrame, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ended {
            return None;
        }
        match self.frames.recv() {
            Ok(item) => Some(self.item(item)),
            Err(_) => {
                self.ended = true;
                Some(Err(Error::Closed))
            }
        }
    }
}
