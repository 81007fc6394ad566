//! Real time: typed live queries ([`TypedLiveStream`], from `qs.live(&db)` on a model's
//! query set or [`LiveStream::typed`]) and change feeds ([`ChangeStream`], from
//! `qs.changes(&db, since)` or [`Surreal::changes`]), as blocking iterators.
//!
//! Both are thin: a typed live stream is the untyped [`LiveStream`] plus the core's
//! [`LiveDecoder`]; a change stream repeats the core's change-feed poll operation with
//! [`Surreal::perform`]. `surql-smol` has the same API.
//!
//! ```no_run
//! # use serde::{Deserialize, Serialize};
//! # use surql_blocking::surql::model::Model;
//! # #[derive(Debug, Clone, Serialize, Deserialize, Model)]
//! # #[surql(table = "user", crate = "surql_blocking::surql")]
//! # struct User { id: Option<surql_blocking::RecordId>, name: String, age: i64 }
//! # fn demo(db: &surql_blocking::Surreal) -> surql_blocking::Result<()> {
//! use std::time::Duration;
//! use surql_blocking::prelude::*;
//! use surql_blocking::realtime::LiveEvent;
//!
//! let f = User::fields();
//! for event in User::objects().filter(f.age.gte(18)).live(db)? {
//!     match event? {
//!         LiveEvent::Notification(n) => println!("{:?} {} {:?}", n.action, n.record_id, n.data),
//!         LiveEvent::Resubscribed { old, new } => println!("reconnected: {old} is now {new}"),
//!     }
//! }
//!
//! let mut feed = User::objects().changes(db, 0u64)?.poll_interval(Duration::from_millis(200));
//! if let Some(change) = feed.next_timeout(Duration::from_secs(5))? {
//!     println!("{:?} {} at {}", change.action, change.record_id, change.timestamp);
//! }
//! let resume_from = feed.cursor(); // store it; `changes(db, resume_from)` goes on from here
//! # let _ = resume_from; Ok(()) }
//! ```

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use surql::changefeed::{ChangeFeed, ChangePage};
use surql::model::Model;
use surql::query::QuerySet;
use surql::realtime::LiveDecoder;

pub use surql::changefeed::{Change, ChangeAction, Since};
pub use surql::realtime::{LiveEvent, Notification};

use crate::{Error, LiveStream, Result, Surreal, Uuid};

/// How long a change stream waits after an empty poll, unless told otherwise.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(500);
/// The shortest wait between empty polls (a zero interval would hammer the server).
pub const MIN_POLL_INTERVAL: Duration = Duration::from_millis(10);

impl LiveStream {
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

    fn read(&mut self, timeout: Option<Duration>) -> Result<Option<LiveEvent<T>>> {
        match self.inner.read_item(timeout)? {
            Some(item) => self.decoder.decode(item).map(Some),
            None => Ok(None),
        }
    }

    /// The next event, waiting at most `timeout`: `Ok(None)` means the stream ended, `Err`
    /// with `is_timeout()` that nothing arrived in time (the stream goes on).
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Option<LiveEvent<T>>> {
        self.read(Some(timeout))
    }
}

impl<T> Iterator for TypedLiveStream<T> {
    type Item = Result<LiveEvent<T>>;

    /// Blocks until the next event; `None` once the live query has ended normally.
    fn next(&mut self) -> Option<Self::Item> {
        self.read(None).transpose()
    }
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
    /// No poll before this (after an empty or failed poll).
    next_poll: Option<Instant>,
}

impl<T> std::fmt::Debug for ChangeStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeStream")
            .field("feed", &self.feed)
            .field("buffered", &self.buffered.len())
            .field("poll_interval", &self.poll_interval)
            .finish()
    }
}

impl<T> ChangeStream<T> {
    fn new(db: &Surreal, feed: ChangeFeed<T>) -> Self {
        ChangeStream {
            db: db.clone(),
            feed,
            buffered: VecDeque::new(),
            poll_interval: DEFAULT_POLL_INTERVAL,
            next_poll: None,
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

    /// The next change, waiting at most `timeout` (at least one poll is made): `Err` with
    /// `is_timeout()` if none came. The stream never ends, so `Ok(None)` does not happen;
    /// the `Option` keeps the signature of the other streams'.
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Option<Change<T>>> {
        let deadline = Instant::now().checked_add(timeout);
        self.read(deadline, timeout).map(Some)
    }

    fn read(&mut self, deadline: Option<Instant>, timeout: Duration) -> Result<Change<T>> {
        let timed_out = || Error::timeout("change feed", timeout);
        loop {
            if let Some((_, item)) = self.buffered.pop_front() {
                return item;
            }
            let now = Instant::now();
            if let Some(at) = self.next_poll.filter(|at| *at > now) {
                match deadline {
                    Some(d) if d <= at => {
                        std::thread::sleep(d.saturating_duration_since(now));
                        return Err(timed_out());
                    }
                    _ => std::thread::sleep(at - now),
                }
            }
            self.next_poll = None;
            let interval = self.poll_interval;
            match self.db.perform(self.feed.poll()) {
                Ok(page) => {
                    if !self.take_page(page) {
                        self.next_poll = Instant::now().checked_add(interval);
                    }
                }
                Err(e) => {
                    self.next_poll = Instant::now().checked_add(interval);
                    return Err(e);
                }
            }
            if self.buffered.is_empty() && deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(timed_out());
            }
        }
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

impl<T> Iterator for ChangeStream<T> {
    type Item = Result<Change<T>>;

    /// Blocks (polling, and waiting between empty polls) until the next change.
    fn next(&mut self) -> Option<Self::Item> {
        Some(self.read(None, Duration::MAX))
    }
}

/// Real time on a model's query set: `User::objects().filter(..).live(&db)?`,
/// `User::objects().changes(&db, since)?`. In scope with the prelude.
pub trait LiveQuerySetExt<M: Model> {
    /// Subscribes to the changes of the matching records (`LIVE SELECT … WHERE …` with bound
    /// parameters; WebSocket only: over HTTP, `Error::NotSupported`). Each notification
    /// fires the client's `post_live_change` handlers for `M`.
    fn live(&self, db: &Surreal) -> Result<TypedLiveStream<M>>;

    /// [`live`](LiveQuerySetExt::live) in DIFF mode (`LIVE SELECT DIFF`): each notification
    /// says which fields changed (an UPDATE carries no record, only patches).
    fn live_diff(&self, db: &Surreal) -> Result<TypedLiveStream<M>>;

    /// The table's change feed from `since` (a versionstamp, e.g. a stored
    /// [`ChangeStream::cursor`], or a [`surql::Datetime`]). The set must be the whole table
    /// (`M::objects()`): `SHOW CHANGES` cannot filter.
    fn changes(&self, db: &Surreal, since: impl Into<Since>) -> Result<ChangeStream<M>>;
}

fn live_model<M: Model>(db: &Surreal, qs: &QuerySet<M>, diff: bool) -> Result<TypedLiveStream<M>> {
    let inner = db.live_request(surql::realtime::live_request(qs, diff)?)?;
    Ok(TypedLiveStream {
        inner,
        decoder: LiveDecoder::model(diff, Some(db.signals().clone())),
    })
}

impl<M: Model> LiveQuerySetExt<M> for QuerySet<M> {
    fn live(&self, db: &Surreal) -> Result<TypedLiveStream<M>> {
        live_model(db, self, false)
    }

    fn live_diff(&self, db: &Surreal) -> Result<TypedLiveStream<M>> {
        live_model(db, self, true)
    }

    fn changes(&self, db: &Surreal, since: impl Into<Since>) -> Result<ChangeStream<M>> {
        Ok(ChangeStream::new(db, ChangeFeed::of(self, since)?))
    }
}

impl Surreal {
    /// The change feed of `table` from `since`, records decoded as `T` (see
    /// [`ChangeStream`]). Works over WebSocket and HTTP.
    pub fn changes<T: DeserializeOwned>(
        &self,
        table: &str,
        since: impl Into<Since>,
    ) -> Result<ChangeStream<T>> {
        Ok(ChangeStream::new(self, ChangeFeed::table(table, since)?))
    }
}
