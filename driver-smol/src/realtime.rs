//! Real time: typed live queries ([`TypedLiveStream`], from `qs.live(&db)` on a model's
//! query set or [`LiveStream::typed`]) and change feeds ([`ChangeStream`], from
//! `qs.changes(&db, since)` or [`Surreal::changes`]).
//!
//! Both are thin: a typed live stream is the untyped [`LiveStream`] plus the core's
//! [`LiveDecoder`]; a change stream repeats the core's change-feed poll operation with
//! [`Surreal::perform`]. `surql-blocking` has the same API.
//!
//! ```no_run
//! # use serde::{Deserialize, Serialize};
//! # use surql_smol::surql::model::Model;
//! # #[derive(Debug, Clone, Serialize, Deserialize, Model)]
//! # #[surql(table = "user", crate = "surql_smol::surql")]
//! # struct User { id: Option<surql_smol::RecordId>, name: String, age: i64 }
//! # async fn demo(db: &surql_smol::Surreal) -> surql_smol::Result<()> {
//! use std::time::Duration;
//! use surql_smol::prelude::*;
//! use surql_smol::realtime::LiveEvent;
//!
//! let f = User::fields();
//! let mut adults = User::objects().filter(f.age.gte(18)).live(db).await?;
//! while let Some(event) = adults.next().await {
//!     match event? {
//!         LiveEvent::Notification(n) => println!("{:?} {} {:?}", n.action, n.record_id, n.data),
//!         LiveEvent::Resubscribed { old, new } => println!("reconnected: {old} is now {new}"),
//!     }
//! }
//!
//! let mut feed = User::objects().changes(db, 0u64)?.poll_interval(Duration::from_millis(200));
//! if let Some(change) = feed.next_timeout(Duration::from_secs(5)).await? {
//!     println!("{:?} {} at {}", change.action, change.record_id, change.timestamp);
//! }
//! let resume_from = feed.cursor(); // store it; `changes(db, resume_from)` goes on from here
//! # let _ = resume_from; Ok(()) }
//! ```

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_lite::Stream;
use serde::de::DeserializeOwned;
use surql::changefeed::{ChangeFeed, ChangePage};
use surql::model::Model;
use surql::mux::LiveItem;
use surql::query::QuerySet;
use surql::realtime::LiveDecoder;

pub use surql::changefeed::{Change, ChangeAction, Since};
pub use surql::realtime::{LiveEvent, Notification};

use crate::ws::Next;
use crate::{Error, LiveStream, Result, Surreal, Uuid};

/// How long a change stream waits after an empty poll, unless told otherwise.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(500);
/// The shortest wait between empty polls (a zero interval would hammer the server).
pub const MIN_POLL_INTERVAL: Duration = Duration::from_millis(10);

impl LiveStream {
    /// The next item of the subscription: a notification, or a re-subscription marker.
    pub(crate) fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<LiveItem>>> {
        if self.done {
            return Poll::Ready(None);
        }
        match self.items.poll_item(cx) {
            Poll::Ready(Next::Item(item)) => {
                if let LiveItem::Resubscribed { new, .. } = &item {
                    self.id = *new;
                }
                Poll::Ready(Some(Ok(item)))
            }
            Poll::Ready(Next::End(outcome)) => {
                self.done = true;
                self.error = outcome.clone();
                Poll::Ready(outcome.map(Err))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    /// This subscription's notifications decoded as `T` (serde), with re-subscriptions
    /// reported. For a `LIVE SELECT DIFF` use [`typed_diff`](LiveStream::typed_diff).
    pub fn typed<T: DeserializeOwned>(self) -> TypedLiveStream<T> {
        TypedLiveStream {
            inner: self,
            decoder: LiveDecoder::serde(false),
        }
    }

    /// [`typed`](LiveStream::typed) for a DIFF subscription ([`Surreal::live_diff`], `LIVE
    /// SELECT DIFF`): changed fields and patches, and the record of a CREATE.
    pub fn typed_diff<T: DeserializeOwned>(self) -> TypedLiveStream<T> {
        TypedLiveStream {
            inner: self,
            decoder: LiveDecoder::serde(true),
        }
    }
}

/// A live query's events, typed: [`LiveEvent::Notification`]s decoded as `T` and
/// [`LiveEvent::Resubscribed`] after a reconnect (the stream goes on under the new id).
///
/// Everything else is the [`LiveStream`] it wraps: it ends (`None`) when the live query is
/// killed, yields one `Err` and ends when it cannot go on (connection closed for good,
/// re-subscribing failed, the reader fell more than `Options::live_buffer` events behind:
/// `Error::ReaderTooSlow`), and dropping it kills the live query on the server. A
/// notification whose record does not decode as `T` is one `Err(Error::Decode)`; the
/// stream goes on (check [`is_ended`](TypedLiveStream::is_ended)).
///
/// A model stream (`qs.live(&db)`) runs the client's `post_live_change` handlers
/// (`db.signals().on_live_change::<M>(…)`) for each notification before yielding it.
pub struct TypedLiveStream<T> {
    inner: LiveStream,
    decoder: LiveDecoder<T>,
}

impl<T> std::fmt::Debug for TypedLiveStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TypedLiveStream")
            .field("id", &self.inner.id())
            .field("decoder", &self.decoder)
            .finish()
    }
}

impl<T> TypedLiveStream<T> {
    /// The live query's current server id (it changes after a reconnect).
    pub fn id(&self) -> Uuid {
        self.inner.id()
    }

    /// Whether the stream has ended: nothing more will arrive.
    pub fn is_ended(&self) -> bool {
        self.inner.is_ended()
    }

    /// Why the stream ended, when it did not end normally (by `KILLED`).
    pub fn error(&self) -> Option<&Error> {
        self.inner.error()
    }

    /// Whether the live query runs in DIFF mode.
    pub fn is_diff(&self) -> bool {
        self.decoder.is_diff()
    }

    /// The untyped stream underneath.
    pub fn into_untyped(self) -> LiveStream {
        self.inner
    }

    /// The next event; `None` once the live query has ended normally.
    pub async fn next(&mut self) -> Option<Result<LiveEvent<T>>> {
        futures_lite::StreamExt::next(self).await
    }

    /// The next event, waiting at most `timeout`: `Ok(None)` means the stream ended, `Err`
    /// with `is_timeout()` that nothing arrived in time (the stream goes on).
    pub async fn next_timeout(&mut self, timeout: Duration) -> Result<Option<LiveEvent<T>>> {
        let next = async { self.next().await.transpose() };
        let timer = async {
            async_io::Timer::after(timeout).await;
            Err(Error::timeout("live event", timeout))
        };
        futures_lite::future::or(next, timer).await
    }
}

impl<T> Stream for TypedLiveStream<T> {
    type Item = Result<LiveEvent<T>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match this.inner.poll_item(cx) {
            Poll::Ready(Some(Ok(item))) => Poll::Ready(Some(this.decoder.decode(item))),
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

type PageFuture<T> = Pin<Box<dyn Future<Output = Result<ChangePage<T>>> + Send>>;

enum FeedState<T> {
    /// The next `next()` polls.
    Ready,
    Polling(PageFuture<T>),
    /// After an empty page (or a failed poll): wait before polling again.
    Waiting(async_io::Timer),
}

/// A table's change feed, polled: each change in feed order, with its versionstamp and
/// commit time (see [`surql::changefeed`] for what the server does and how it is handled).
///
/// Each poll is one core operation (one `query`, two when the table's page is empty);
/// after an empty page the stream waits [`poll_interval`](ChangeStream::poll_interval)
/// before asking again, so it never ends on its own: read it with
/// [`next_timeout`](ChangeStream::next_timeout) to bound a wait. It is plain request and
/// answer, so it works over HTTP as well as WebSocket.
///
/// A failed poll is one `Err` (the stream goes on from the same cursor after the poll
/// interval); so is a change whose record does not decode (the stream goes past it).
/// Store [`cursor`](ChangeStream::cursor) to resume later: it is at-least-once (changes of
/// a transaction read only in part are read again).
pub struct ChangeStream<T> {
    db: Surreal,
    feed: ChangeFeed<T>,
    /// Changes read and not yet yielded, each with the versionstamp to resume from.
    buffered: VecDeque<(u64, Result<Change<T>>)>,
    poll_interval: Duration,
    state: FeedState<T>,
}

// Nothing is pinned in place: the poll future is boxed, the timer is `Unpin`.
impl<T> Unpin for ChangeStream<T> {}

impl<T> std::fmt::Debug for ChangeStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeStream")
            .field("feed", &self.feed)
            .field("buffered", &self.buffered.len())
            .field("poll_interval", &self.poll_interval)
            .finish()
    }
}

impl<T: Send + 'static> ChangeStream<T> {
    fn new(db: &Surreal, feed: ChangeFeed<T>) -> Self {
        ChangeStream {
            db: db.clone(),
            feed,
            buffered: VecDeque::new(),
            poll_interval: DEFAULT_POLL_INTERVAL,
            state: FeedState::Ready,
        }
    }

    /// How long to wait after a poll that found nothing (default 500 ms, at least 10 ms).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(MIN_POLL_INTERVAL);
        self
    }

    /// How many feed entries one poll reads (1 to 1000, default 100).
    pub fn batch_size(mut self, n: u32) -> Result<Self> {
        self.feed = self.feed.limit(n)?;
        Ok(self)
    }

    /// Where to resume: the versionstamp of the next change not yet yielded (pass it as
    /// `since` to a new stream).
    pub fn cursor(&self) -> u64 {
        self.buffered
            .front()
            .map_or(self.feed.cursor(), |(vs, _)| *vs)
    }

    /// The next change, polling (and waiting between empty polls) until there is one.
    pub async fn next(&mut self) -> Option<Result<Change<T>>> {
        futures_lite::StreamExt::next(self).await
    }

    /// The next change, waiting at most `timeout`: `Err` with `is_timeout()` if none came
    /// (a poll in flight goes on and is used by the next call).
    pub async fn next_timeout(&mut self, timeout: Duration) -> Result<Option<Change<T>>> {
        let next = async { self.next().await.transpose() };
        let timer = async {
            async_io::Timer::after(timeout).await;
            Err(Error::timeout("change feed", timeout))
        };
        futures_lite::future::or(next, timer).await
    }

    fn take_page(&mut self, page: ChangePage<T>) -> bool {
        let mut resume = self.feed.cursor();
        self.feed.advance(&page);
        let found = !page.changes.is_empty();
        for c in page.changes {
            if let Ok(c) = &c {
                resume = c.versionstamp;
            }
            self.buffered.push_back((resume, c));
        }
        found
    }
}

impl<T: Send + 'static> Stream for ChangeStream<T> {
    type Item = Result<Change<T>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some((_, item)) = this.buffered.pop_front() {
                return Poll::Ready(Some(item));
            }
            match &mut this.state {
                FeedState::Ready => {
                    let op = this.feed.poll();
                    let db = this.db.clone();
                    this.state = FeedState::Polling(Box::pin(async move { db.perform(op).await }));
                }
                FeedState::Polling(fut) => match fut.as_mut().poll(cx) {
                    Poll::Ready(Ok(page)) => {
                        this.state = if this.take_page(page) {
                            FeedState::Ready
                        } else {
                            FeedState::Waiting(async_io::Timer::after(this.poll_interval))
                        };
                    }
                    Poll::Ready(Err(e)) => {
                        this.state = FeedState::Waiting(async_io::Timer::after(this.poll_interval));
                        return Poll::Ready(Some(Err(e)));
                    }
                    Poll::Pending => return Poll::Pending,
                },
                FeedState::Waiting(timer) => match Pin::new(timer).poll(cx) {
                    Poll::Ready(_) => this.state = FeedState::Ready,
                    Poll::Pending => return Poll::Pending,
                },
            }
        }
    }
}

/// Real time on a model's query set: `User::objects().filter(..).live(&db).await?`,
/// `User::objects().changes(&db, since)?`. In scope with the prelude.
pub trait LiveQuerySetExt<M: Model> {
    /// Subscribes to the changes of the matching records (`LIVE SELECT … WHERE …` with bound
    /// parameters; WebSocket only: over HTTP, `Error::NotSupported`). Each notification
    /// fires the client's `post_live_change` handlers for `M`.
    fn live(&self, db: &Surreal) -> impl Future<Output = Result<TypedLiveStream<M>>> + Send;

    /// [`live`](LiveQuerySetExt::live) in DIFF mode (`LIVE SELECT DIFF`): each notification
    /// says which fields changed (an UPDATE carries no record, only patches).
    fn live_diff(&self, db: &Surreal) -> impl Future<Output = Result<TypedLiveStream<M>>> + Send;

    /// The table's change feed from `since` (a versionstamp, e.g. a stored
    /// [`ChangeStream::cursor`], or a [`surql::Datetime`]). The set must be the whole table
    /// (`M::objects()`): `SHOW CHANGES` cannot filter.
    fn changes(&self, db: &Surreal, since: impl Into<Since>) -> Result<ChangeStream<M>>;
}

async fn live_model<M: Model>(
    db: &Surreal,
    req: Result<surql::rpc::Request>,
    diff: bool,
) -> Result<TypedLiveStream<M>> {
    let inner = db.live_request(req?).await?;
    Ok(TypedLiveStream {
        inner,
        decoder: LiveDecoder::model(diff, Some(db.signals().clone())),
    })
}

impl<M: Model> LiveQuerySetExt<M> for QuerySet<M> {
    fn live(&self, db: &Surreal) -> impl Future<Output = Result<TypedLiveStream<M>>> + Send {
        live_model(db, surql::realtime::live_request(self, false), false)
    }

    fn live_diff(&self, db: &Surreal) -> impl Future<Output = Result<TypedLiveStream<M>>> + Send {
        live_model(db, surql::realtime::live_request(self, true), true)
    }

    fn changes(&self, db: &Surreal, since: impl Into<Since>) -> Result<ChangeStream<M>> {
        Ok(ChangeStream::new(db, ChangeFeed::of(self, since)?))
    }
}

impl Surreal {
    /// The change feed of `table` from `since`, records decoded as `T` (see
    /// [`ChangeStream`]). Works over WebSocket and HTTP.
    pub fn changes<T: DeserializeOwned + Send + 'static>(
        &self,
        table: &str,
        since: impl Into<Since>,
    ) -> Result<ChangeStream<T>> {
        Ok(ChangeStream::new(self, ChangeFeed::table(table, since)?))
    }
}
