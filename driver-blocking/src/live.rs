//! Streams fed by the IO thread: live-query notifications and `query_stream` frames.
//!
//! Both read a bounded buffer the core's mux fills without ever waiting: a reader that
//! falls more than `Options::live_buffer` / `Options::stream_buffer` items behind gets
//! the buffered items, then one `Error::ReaderTooSlow`, and its query is killed or
//! cancelled on the server. Other callers of the connection are never held up.

use std::sync::mpsc::RecvTimeoutError;
use std::sync::Arc;
use std::time::Duration;

use surql::conn::{LiveHandle, RequestId};
use surql::mux::LiveItem;
use surql::rpc::{Notification, StreamFrame};
use surql::Uuid;

use crate::ws::{BoundedRx, WsTransport};
use crate::Error;

/// What a buffer read gave.
enum Next<T> {
    Item(T),
    /// Ended: `None` normally, else why (reported once).
    End(Option<Error>),
    Timeout,
}

fn recv<T>(buf: &BoundedRx<T>, timeout: Option<Duration>) -> Next<T> {
    let got = match timeout {
        None => buf.rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        Some(t) => buf.rx.recv_timeout(t),
    };
    match got {
        Ok(item) => Next::Item(item),
        Err(RecvTimeoutError::Timeout) => Next::Timeout,
        Err(RecvTimeoutError::Disconnected) => Next::End(buf.end.outcome()),
    }
}

/// The notifications of one live query, as a blocking iterator.
///
/// - It survives reconnects: the core re-subscribes and routes the new server id here.
/// - It ends (`next()` returns `None`) when the server kills the live query (`KILLED`: a
///   `KILL`, the table or database removed, the user's access revoked). When it cannot go
///   on (the connection closed for good, re-subscribing failed, the reader fell more than
///   `Options::live_buffer` notifications behind) it yields one `Err` saying why, then
///   ends; [`error`](Self::error) keeps the reason.
/// - Dropping it kills the live query on the server. Drop only queues that for the
///   connection's IO thread: it never blocks and spawns nothing.
///
/// It keeps the connection open while it lives, even if every `Surreal` is dropped.
pub struct LiveStream {
    transport: Arc<WsTransport>,
    handle: LiveHandle,
    id: Uuid,
    items: BoundedRx<LiveItem>,
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
        id: Uuid,
        items: BoundedRx<LiveItem>,
    ) -> Self {
        LiveStream {
            transport,
            handle,
            id,
            items,
            ended: false,
            error: None,
        }
    }

    /// The server's live-query id: the one the subscription got, or the one a reconnect
    /// gave it since (see `ConnectionEvent::LiveRemapped`; a `TypedLiveStream` reports the
    /// change as an event).
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

    fn read(&mut self, timeout: Option<Duration>) -> Result<Option<Notification>, Error> {
        // A re-subscription only moves `id()` here; the typed adapter reports it. Each
        // item read restarts the wait (a re-subscription is rare).
        loop {
            match self.read_item(timeout)? {
                Some(LiveItem::Notification(n)) => return Ok(Some(n)),
                Some(LiveItem::Resubscribed { .. }) => continue,
                None => return Ok(None),
            }
        }
    }

    /// The next item: a notification or a re-subscription marker.
    pub(crate) fn read_item(
        &mut self,
        timeout: Option<Duration>,
    ) -> Result<Option<LiveItem>, Error> {
        if self.ended {
            return Ok(None);
        }
        match recv(&self.items, timeout) {
            Next::Item(item) => {
                if let LiveItem::Resubscribed { new, .. } = &item {
                    self.id = *new;
                }
                Ok(Some(item))
            }
            Next::Timeout => Err(Error::timeout(
                "live notification",
                timeout.unwrap_or_default(),
            )),
            Next::End(outcome) => {
                self.ended = true;
                self.error = outcome.clone();
                match outcome {
                    None => Ok(None),
                    Some(e) => Err(e),
                }
            }
        }
    }

    /// The next notification, waiting at most `timeout`: `Ok(None)` means the stream
    /// ended normally, `Err` with `is_timeout()` that nothing arrived in time (the stream
    /// goes on), any other `Err` why the stream ended abnormally (reported once; then
    /// `Ok(None)`).
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Option<Notification>, Error> {
        self.read(Some(timeout))
    }
}

impl Iterator for LiveStream {
    type Item = Result<Notification, Error>;

    /// Blocks until the next notification; `None` once the live query has ended normally
    /// (killed or unsubscribed), `Some(Err(..))` once if it ended because of a failure.
    fn next(&mut self) -> Option<Self::Item> {
        self.read(None).transpose()
    }
}

impl Drop for LiveStream {
    fn drop(&mut self) {
        if !self.ended {
            self.transport.unsubscribe(self.handle);
        }
    }
}

/// The frames of one `query_stream` answer, as a blocking iterator that ends after the
/// `End` frame. It keeps the connection open while it lives; dropping it before the end
/// cancels the query on the server (`query_cancel`, queued without blocking). A reader
/// more than `Options::stream_buffer` frames behind gets one `Error::ReaderTooSlow` after
/// the buffered frames, and the query is cancelled on the server.
pub struct QueryStream {
    transport: Arc<WsTransport>,
    request_id: RequestId,
    frames: BoundedRx<StreamFrame>,
    ended: bool,
}

impl std::fmt::Debug for QueryStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryStream")
            .field("request_id", &self.request_id.0)
            .field("ended", &self.ended)
            .finish()
    }
}

impl QueryStream {
    pub(crate) fn new(
        transport: Arc<WsTransport>,
        request_id: RequestId,
        frames: BoundedRx<StreamFrame>,
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
        self.request_id.0
    }

    fn read(&mut self, timeout: Option<Duration>) -> Result<Option<StreamFrame>, Error> {
        if self.ended {
            return Ok(None);
        }
        match recv(&self.frames, timeout) {
            Next::Item(frame) => {
                if frame.is_end() {
                    self.ended = true;
                }
                Ok(Some(frame))
            }
            Next::Timeout => Err(Error::timeout(
                "query_stream frame",
                timeout.unwrap_or_default(),
            )),
            Next::End(outcome) => {
                self.ended = true;
                match outcome {
                    None => Ok(None),
                    Some(e) => Err(e.version_gated("query_stream")),
                }
            }
        }
    }

    /// The next frame, waiting at most `timeout`: `Ok(None)` once the stream has ended,
    /// `Err` with `is_timeout()` if nothing arrived in time.
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Option<StreamFrame>, Error> {
        self.read(Some(timeout))
    }
}

impl Iterator for QueryStream {
    type Item = Result<StreamFrame, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.read(None).transpose()
    }
}

impl Drop for QueryStream {
    fn drop(&mut self) {
        if !self.ended {
            self.transport.cancel_stream(self.request_id);
        }
    }
}
