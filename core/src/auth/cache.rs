//! [`TokenCache`]: the answers of `validate_token`, kept for a while so a busy service does
//! not ask the server about the same token on every request.
//!
//! Time is an argument (`now: Instant`, from the driver); the core reads no clock. The
//! cache is bounded twice: an entry lives at most `ttl` (and never past the token's own
//! `exp`), and at most `max_entries` are kept (the oldest insertion is evicted first). Only
//! positive answers are kept: a token the server refused is asked about again next time.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use surql::auth::TokenCache;
//! use surql::RecordId;
//!
//! let cache = TokenCache::new(Duration::from_secs(60), 2);
//! let t0 = Instant::now();
//! cache.insert("user_auth", "tok-a", RecordId::new("user", "a"), t0, None);
//! assert_eq!(cache.get("user_auth", "tok-a", t0), Some(RecordId::new("user", "a")));
//! assert_eq!(cache.get("user_auth", "tok-a", t0 + Duration::from_secs(61)), None); // expired
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::value::RecordId;

/// A bounded, time-limited map from (access method, token) to the record the server said it
/// belongs to. Shared by reference between threads (it locks inside); see the
/// [module docs](self). `Debug` shows its size and bounds, never a token.
pub struct TokenCache {
    ttl: Duration,
    max_entries: usize,
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    map: HashMap<(String, String), (RecordId, Instant)>,
    /// Insertion order, for eviction; may hold keys already removed or re-inserted.
    order: VecDeque<(String, String)>,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("ttl", &self.ttl)
            .field("max_entries", &self.max_entries)
            .field("len", &self.len())
            .finish()
    }
}

impl Default for TokenCache {
    /// 5 minutes, 1000 tokens (the Python project's defaults).
    fn default() -> Self {
        TokenCache::new(Duration::from_secs(300), 1000)
    }
}

impl TokenCache {
    /// A cache keeping each answer at most `ttl`, and at most `max_entries` answers
    /// (0: nothing is kept).
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        TokenCache {
            ttl,
            max_entries,
            inner: Mutex::new(Entries::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A panic elsewhere cannot leave the map inconsistent (each call is one update).
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How long an answer is kept.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// How many answers are kept at most.
    pub fn max_entries(&self) -> usize {
        self.max_entries
    }

    /// The number of answers held (expired ones included until they are looked up or
    /// evicted).
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The record `token` of access method `access` belongs to, if a fresh answer is held.
    pub fn get(&self, access: &str, token: &str, now: Instant) -> Option<RecordId> {
        let mut e = self.lock();
        let key = (access.to_owned(), token.to_owned());
        match e.map.get(&key) {
            Some((rid, until)) if now < *until => Some(rid.clone()),
            Some(_) => {
                e.map.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Remembers that `token` belongs to `rid` from `now` for the cache's `ttl`, or for
    /// `token_left` if that is shorter (the token's own remaining lifetime).
    pub fn insert(
        &self,
        access: &str,
        token: &str,
        rid: RecordId,
        now: Instant,
        token_left: Option<Duration>,
    ) {
        if self.max_entries == 0 {
            return;
        }
        let life = token_left.map_or(self.ttl, |l| l.min(self.ttl));
        let Some(until) = now.checked_add(life) else {
            return;
        };
        let mut e = self.lock();
        let key = (access.to_owned(), token.to_owned());
        if e.map.insert(key.clone(), (rid, until)).is_none() {
            e.order.push_back(key);
        }
        while e.map.len() > self.max_entries {
            match e.order.pop_front() {
                Some(old) => {
                    e.map.remove(&old);
                }
                None => break,
            }
        }
        // Keys removed by `get`/`forget` linger in `order`; keep it from growing unbounded.
        if e.order.len() > self.max_entries.saturating_mul(2) {
            let Entries { map, order } = &mut *e;
            order.retain(|k| map.contains_key(k));
        }
    }

    /// Forgets `token` (for every access method).
    pub fn forget(&self, token: &str) {
        self.lock().map.retain(|(_, t), _| t != token);
    }

    /// Forgets everything.
    pub fn clear(&self) {
        let mut e = self.lock();
        e.map.clear();
        e.order.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rid(k: &str) -> RecordId {
        RecordId::new("user", k)
    }

    #[test]
    fn entries_expire_after_the_ttl_or_the_token() {
        let c = TokenCache::new(Duration::from_secs(10), 10);
        let t0 = Instant::now();
        c.insert("ac", "a", rid("a"), t0, None);
        c.insert("ac", "b", rid("b"), t0, Some(Duration::from_secs(3)));
        assert_eq!(
            c.get("ac", "a", t0 + Duration::from_secs(9)),
            Some(rid("a"))
        );
        assert_eq!(
            c.get("ac", "b", t0 + Duration::from_secs(2)),
            Some(rid("b"))
        );
        assert_eq!(c.get("ac", "b", t0 + Duration::from_secs(3)), None);
        assert_eq!(c.get("ac", "a", t0 + Duration::from_secs(10)), None);
        // expired entries are dropped when looked up
        assert!(c.is_empty());
        // a token longer-lived than the ttl is still capped by the ttl
        c.insert("ac", "c", rid("c"), t0, Some(Duration::from_secs(100)));
        assert_eq!(c.get("ac", "c", t0 + Duration::from_secs(11)), None);
    }

    #[test]
    fn the_size_is_bounded_and_the_oldest_go_first() {
        let c = TokenCache::new(Duration::from_secs(60), 3);
        let t0 = Instant::now();
        for i in 0..10 {
            c.insert("ac", &format!("t{i}"), rid(&i.to_string()), t0, None);
            assert!(c.len() <= 3);
        }
        assert_eq!(c.len(), 3);
        assert_eq!(c.get("ac", "t6", t0), None);
        for i in 7..10 {
            assert_eq!(c.get("ac", &format!("t{i}"), t0), Some(rid(&i.to_string())));
        }
        // re-inserting an entry does not duplicate it
        c.insert("ac", "t9", rid("9"), t0, None);
        assert_eq!(c.len(), 3);
        // the bookkeeping stays bounded under churn of removed keys
        for i in 0..1000 {
            let t = format!("x{i}");
            c.insert("ac", &t, rid("x"), t0, None);
            c.forget(&t);
        }
        assert!(c.lock().order.len() <= 6 + 1, "{}", c.lock().order.len());
    }

    #[test]
    fn access_methods_are_kept_apart_and_forget_works() {
        let c = TokenCache::default();
        let t0 = Instant::now();
        c.insert("user_auth", "tok", rid("a"), t0, None);
        assert_eq!(c.get("admin_auth", "tok", t0), None);
        assert_eq!(c.get("user_auth", "tok", t0), Some(rid("a")));
        c.forget("tok");
        assert_eq!(c.get("user_auth", "tok", t0), None);
        c.insert("user_auth", "tok", rid("a"), t0, None);
        c.clear();
        assert!(c.is_empty());
        // a zero-sized cache keeps nothing
        let none = TokenCache::new(Duration::from_secs(60), 0);
        none.insert("ac", "tok", rid("a"), t0, None);
        assert_eq!(none.get("ac", "tok", t0), None);
    }

    #[test]
    fn debug_never_shows_a_token() {
        let c = TokenCache::default();
        c.insert("ac", "secret-token-value", rid("a"), Instant::now(), None);
        let shown = format!("{c:?}");
        assert!(!shown.contains("secret-token-value"), "{shown}");
        assert!(shown.contains("len: 1"), "{shown}");
    }
}
