//! A query cache: answers of compiled queries kept for a time, dropped when a model write
//! touches their table.
//!
//! Sans-IO like the rest of the core: the caller passes the current [`Instant`]. Keys are
//! the statement text plus the CBOR encoding of its bound variables, so two queries share
//! an entry only when the server would run exactly the same thing. Entries expire after
//! the TTL, the oldest is evicted first past the size bound, and [`QueryCache::connect`]
//! registers signal handlers that drop every entry reading a table when a model `save`,
//! `update`/`merge` or `delete` writes it through a client. (Writes the cache cannot see —
//! another process, a raw `query` — are only bounded by the TTL: keep it short, or call
//! [`QueryCache::invalidate_table`].)
//!
//! ```
//! use std::time::{Duration, Instant};
//! use surql::cache::QueryCache;
//! use surql::client::QueryResponse;
//! use surql::query::QuerySet;
//!
//! let cache = QueryCache::new(Duration::from_secs(60), 100);
//! let q = QuerySet::table("person").compile().unwrap();
//! let now = Instant::now();
//! assert!(cache.get(&q, now).is_none());
//! cache.put(&q, &["person"], QueryResponse::new(vec![]), now);
//! assert!(cache.get(&q, now).is_some());
//! cache.invalidate_table("person");
//! assert!(cache.get(&q, now).is_none());
//! assert_eq!((cache.stats().hits, cache.stats().misses), (1, 2));
//! ```

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::client::QueryResponse;
use crate::query::CompiledQuery;
use crate::signals::{Action, Signals};
use crate::value::{Object, Value};

/// Hit and miss counts, and the current number of entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    /// Answers served from the cache.
    pub hits: u64,
    /// Lookups that found nothing (or something expired).
    pub misses: u64,
    /// Entries held now.
    pub entries: usize,
}

struct Entry {
    at: Instant,
    tables: Vec<String>,
    answer: QueryResponse,
}

struct Inner {
    ttl: Duration,
    max: usize,
    map: HashMap<Vec<u8>, Entry>,
    order: VecDeque<Vec<u8>>,
    stats: CacheStats,
}

/// A bounded, expiring cache of query answers. Cheap to clone; clones share the entries.
#[derive(Clone)]
pub struct QueryCache {
    inner: Arc<Mutex<Inner>>,
}

impl std::fmt::Debug for QueryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let i = self.lock();
        f.debug_struct("QueryCache")
            .field("ttl", &i.ttl)
            .field("max", &i.max)
            .field("stats", &i.stats)
            .finish()
    }
}

impl Default for QueryCache {
    /// 60 s, 1000 entries.
    fn default() -> Self {
        QueryCache::new(Duration::from_secs(60), 1000)
    }
}

fn key_of(q: &CompiledQuery) -> Vec<u8> {
    let mut key = q.text.clone().into_bytes();
    key.push(0);
    let vars: Object = q.vars.clone().into_iter().collect();
    crate::cbor::encode_into(&Value::Object(vars), &mut key);
    for (name, raw) in &q.raw_vars {
        crate::cbor::Encoder::new(&mut key).text(name);
        key.extend_from_slice(raw.as_bytes());
    }
    key
}

impl QueryCache {
    /// Entries live `ttl`; at most `max` are kept (the oldest goes first; 0 caches nothing).
    pub fn new(ttl: Duration, max: usize) -> Self {
        QueryCache {
            inner: Arc::new(Mutex::new(Inner {
                ttl,
                max,
                map: HashMap::new(),
                order: VecDeque::new(),
                stats: CacheStats::default(),
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached answer of `q`, if one is fresh at `now`.
    pub fn get(&self, q: &CompiledQuery, now: Instant) -> Option<QueryResponse> {
        let key = key_of(q);
        let mut i = self.lock();
        let ttl = i.ttl;
        let fresh = match i.map.get(&key) {
            Some(e) if now.saturating_duration_since(e.at) < ttl => Some(e.answer.clone()),
            Some(_) => {
                i.map.remove(&key);
                i.order.retain(|k| k != &key);
                None
            }
            None => None,
        };
        match &fresh {
            Some(_) => i.stats.hits += 1,
            None => i.stats.misses += 1,
        }
        i.stats.entries = i.map.len();
        fresh
    }

    /// Keeps the answer of `q`, which reads `tables`.
    pub fn put(&self, q: &CompiledQuery, tables: &[&str], answer: QueryResponse, now: Instant) {
        let mut i = self.lock();
        if i.max == 0 {
            return;
        }
        let key = key_of(q);
        if i.map.contains_key(&key) {
            i.order.retain(|k| k != &key);
        }
        while i.map.len() >= i.max {
            match i.order.pop_front() {
                Some(old) => {
                    i.map.remove(&old);
                }
                None => break,
            }
        }
        i.order.push_back(key.clone());
        i.map.insert(
            key,
            Entry {
                at: now,
                tables: tables.iter().map(|t| (*t).to_owned()).collect(),
                answer,
            },
        );
        i.stats.entries = i.map.len();
    }

    /// The tables a compiled query reads that the compiler bound (`$t0`, `$t1`, …): what
    /// an entry is tagged with besides the model's own table. (Edge tables of graph paths
    /// are written in the text and are not seen.)
    pub fn tables_read(q: &CompiledQuery) -> Vec<String> {
        q.vars
            .values()
            .filter_map(|v| match v {
                Value::Table(t) => Some(t.as_str().to_owned()),
                _ => None,
            })
            .collect()
    }

    /// Drops every entry that reads `table`.
    pub fn invalidate_table(&self, table: &str) {
        let mut i = self.lock();
        let gone: Vec<Vec<u8>> = i
            .map
            .iter()
            .filter(|(_, e)| e.tables.iter().any(|t| t == table))
            .map(|(k, _)| k.clone())
            .collect();
        for k in &gone {
            i.map.remove(k);
        }
        i.order.retain(|k| !gone.contains(k));
        i.stats.entries = i.map.len();
    }

    /// Drops everything.
    pub fn clear(&self) {
        let mut i = self.lock();
        i.map.clear();
        i.order.clear();
        i.stats.entries = 0;
    }

    /// Hits, misses and entries.
    pub fn stats(&self) -> CacheStats {
        self.lock().stats
    }

    /// Registers post-save, post-update and post-delete handlers (for every model) on
    /// `signals` that drop the entries reading the written model's table.
    pub fn connect(&self, signals: &Signals) {
        for action in [Action::Save, Action::Update, Action::Delete] {
            let cache = self.clone();
            signals.on_post_any(action, move |m, _| cache.invalidate_table(m.meta().table));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::QuerySet;

    #[test]
    fn raw_variables_are_part_of_the_key() {
        let q = |n: i64| {
            let mut q = CompiledQuery::new("RETURN $p0;", Default::default());
            q.raw_vars
                .insert("p0".into(), crate::cbor::RawValue::from_serde(&n).unwrap());
            q
        };
        assert_eq!(key_of(&q(1)), key_of(&q(1)));
        assert_ne!(key_of(&q(1)), key_of(&q(2)));
        assert_ne!(
            key_of(&q(1)),
            key_of(&CompiledQuery::new("RETURN $p0;", Default::default()))
        );
    }

    #[test]
    fn entries_expire_are_bounded_and_keyed_by_values() {
        let c = QueryCache::new(Duration::from_secs(10), 2);
        let t0 = Instant::now();
        let q = |age: i64| {
            QuerySet::table("p")
                .filter(crate::query::F::new("age").gt(age))
                .compile()
                .unwrap()
        };
        c.put(&q(1), &["p"], QueryResponse::new(vec![]), t0);
        assert!(c.get(&q(1), t0).is_some());
        assert!(
            c.get(&q(2), t0).is_none(),
            "another bound value is another query"
        );
        assert!(
            c.get(&q(1), t0 + Duration::from_secs(11)).is_none(),
            "expired"
        );
        c.put(&q(1), &["p"], QueryResponse::new(vec![]), t0);
        c.put(&q(2), &["p"], QueryResponse::new(vec![]), t0);
        c.put(&q(3), &["p"], QueryResponse::new(vec![]), t0);
        assert_eq!(c.stats().entries, 2);
        assert!(c.get(&q(1), t0).is_none(), "the oldest went first");
        assert!(c.get(&q(3), t0).is_some());
        let none = QueryCache::new(Duration::from_secs(10), 0);
        none.put(&q(1), &["p"], QueryResponse::new(vec![]), t0);
        assert!(none.get(&q(1), t0).is_none());
    }
}
