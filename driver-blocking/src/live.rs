//! Streams fed by the IO thread: live-query notifications and `query_stream` frames.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use proto::conn::{LiveHandle, RequestId};
use proto::rpc::{parse_query_results, Method, Notification, StreamFrame};
use proto::{Uuid, Value};

use crate::ws::{LiveItem, StreamItem, WsTransport};
use crate::Error;

/// The notifications of one live query, as a blocking iterator.
///
/// - It survives reconnects: the core re-subscribes and routes the new server id here.
/// - It ends (`next()` returns `None`) when the server kills the live query (`KILLED`: a
///   `KILL`, the table or database removed, the user's access revoked). When it cannot go
///   on (the connection closed for good, re-subscribing after a reconnect failed) it yields
///   one `Err` saying why, then ends; [`error`](Self::error) keeps the reason.
/// - Dropping it kills the live query on the server. Drop only queues that for the
///   connection's IO thread: it never blocks and spawns nothing.
///
/// It keeps the connection open while it lives, even if every `Surreal` is dropped.
/// Notifications are read off the socket as they arrive (so the server never stalls on a
/// slow reader) and queue here until `next` takes them: read the stream, or drop it.
pub struct LiveStream {
    transport: Arc<WsTransport>,
    handle: LiveHandle,
    id: Uuid,
    items: Receiver<LiveItem>,
    ended: bool,
    error: Option<Error>,
}

impl std::fmt::Debug for LiveStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveStream")
            .field("id", &self.id)
            .field("ended", &self.ended)
            .field("error", &self.error)
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
            id: Uuid([0; 16]),
            items,
            ended: false,
            error: None,
        }
    }

    pub(crate) fn set_id(&mut self, id: Uuid) {
        self.id = id;
    }

    /// The server's live-query id when the subscription was made (it changes after a
    /// reconnect; see `ConnectionEvent::LiveRemapped`).
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// Whether the stream has ended: nothing more will arrive.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// Why the stream ended, when it did not end normally (by `KILLED`).
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    fn end(&mut self, error: Option<Error>) {
        self.ended = true;
        self.error = error;
    }

    /// The next notification, waiting at most `timeout`: `Ok(None)` means the stream
    /// ended normally, `Err` with `is_timeout()` that nothing arrived in time, any other
    /// `Err` why the stream ended abnormally (reported once; then `Ok(None)`).
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Option<Notification>, Error> {
        if self.ended {
            return Ok(None);
        }
        match self.items.recv_timeout(timeout) {
            Ok(LiveItem::Notification(n)) => Ok(Some(n)),
            Ok(LiveItem::Ended(None)) => {
                self.end(None);
                Ok(None)
            }
            Ok(LiveItem::Ended(Some(e))) => {
                self.end(Some(e.clone()));
                Err(e)
            }
            Err(RecvTimeoutError::Timeout) => Err(Error::NothingWithin {
                what: "live notification".into(),
                after: timeout,
            }),
            Err(RecvTimeoutError::Disconnected) => {
                self.end(Some(Error::Closed));
                Err(Error::Closed)
            }
        }
    }
}

impl Iterator for LiveStream {
    type Item = Result<Notification, Error>;

    /// Blocks until the next notification; `None` once the live query has ended normally
    /// (killed or unsubscribed), `Some(Err(..))` once if it ended because of a failure.
    fn next(&mut self) -> Option<Self::Item> {
        if self.ended {
            return None;
        }
        match self.items.recv() {
            Ok(LiveItem::Notification(n)) => Some(Ok(n)),
            Ok(LiveItem::Ended(None)) => {
                self.end(None);
                None
            }
            Ok(LiveItem::Ended(Some(e))) => {
                self.end(Some(e.clone()));
                Some(Err(e))
            }
            Err(_) => {
                // The IO thread is gone: the connection is closed.
                self.end(Some(Error::Closed));
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
/// `End` frame. It keeps the connection open while it lives; dropping it before the end
/// cancels the query on the server (`query_cancel`, queued without blocking).
pub struct QueryStream {
    transport: Arc<WsTransport>,
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
            transport,
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

    /// The next frame, waiting at most `timeout`: `Ok(None)` once the stream has ended,
    /// `Err` with `is_timeout()` if nothing arrived in time.
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Option<StreamFrame>, Error> {
        if self.ended {
            return Ok(None);
        }
        match self.frames.recv_timeout(timeout) {
            Ok(item) => self.item(item).map(Some),
            Err(RecvTimeoutError::Timeout) => Err(Error::NothingWithin {
                what: "query_stream frame".into(),
                after: timeout,
            }),
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

impl Drop for QueryStream {
    fn drop(&mut self) {
        if !self.ended {
            self.transport.cancel_stream(RequestId(self.request_id));
        }
    }
}
