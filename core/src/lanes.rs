//! Lanes: the extra WebSocket connections one client may open so that concurrent callers
//! do not all queue on one socket ([`Options::ws_connections`](crate::Options)).
//!
//! The first connection (the *primary*) is the client's connection as ever: it owns the
//! session, the live queries, the streams, the RPC transactions and the attached sessions,
//! and its events are the ones applications hear. A *lane* is a further connection that
//! starts from a copy of the primary's default session (replayed before it carries
//! anything, see [`Connection::seed_session`](crate::conn::Connection::seed_session)) and
//! takes only requests that need nothing else of their connection. This module holds the
//! rules; a driver only opens sockets and counts callers:
//!
//! - [`route`]: where a request may go. A request that changes the session
//!   ([`Route::Session`]: `signin`, `use`, `let`, …) runs on the primary, and every lane is
//!   retired before it is sent (lanes carry the session as it was): lanes opened later copy
//!   the new one. A request that needs the primary's state ([`Route::Primary`]: a
//!   transaction, an attached session, a live query, a stream, a `query` whose text has a
//!   `LIVE` or `KILL` statement) runs there. Everything else ([`Route::Any`]) may take any
//!   connection.
//! - [`least_loaded`]: which connection a [`Route::Any`] request takes (the one with the
//!   fewest callers waiting, the primary on a tie); [`LanePolicy`]: when to open another (when every
//!   connection has a caller waiting, up to the limit, one at a time, with a growing
//!   pause after a lane failed to open).
//!
//! Over WebSocket on SurrealDB 3, `USE` and `LET` statements inside a `query` text last
//! only for that query (checked against a 3.3.5 server: the next query sees the session
//! as before), and so does a `BEGIN` without its `COMMIT`; such a query may take any lane.

use std::time::{Duration, Instant};

use crate::rpc::{Method, Request};
use crate::value::Value;

/// Where a request may run. See the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Any connection of the client.
    Any,
    /// The primary connection only: the request needs its live queries, streams,
    /// transactions or attached sessions.
    Primary,
    /// The primary connection only, and the session changes: retire the lanes before it
    /// is sent, use none until it is answered (lanes opened later copy the new session).
    Session,
}

/// Whether `method` changes the session ([`Route::Session`]): decided from the method alone,
/// so a driver can tell before looking at anything else.
pub fn changes_session(method: Method) -> bool {
    by_method(method) == Route::Session
}

/// Where a request may run. See the module docs.
pub fn route(req: &Request) -> Route {
    match by_method(req.method) {
        Route::Session => Route::Session,
        _ if req.session.is_some() || req.txn.is_some() => Route::Primary,
        Route::Any if req.method == Method::Query => match req.params.first() {
            Some(Value::String(sql)) if !mentions_live_or_kill(sql) => Route::Any,
            _ => Route::Primary,
        },
        r => r,
    }
}

/// The route of a method on its own (a `query` is [`Route::Any`] here; [`route`] reads
/// its text). Exhaustive: a new method must be placed.
fn by_method(method: Method) -> Route {
    use Method::*;
    match method {
        Use | Signup | Signin | Authenticate | Refresh | Revoke | Invalidate | Reset | Let
        | Unset => Route::Session,
        Ping | Version | Info | Select | Create | Insert | InsertRelation | Upsert | Update
        | Merge | Patch | Relate | Delete | Run | Graphql | Gql | Query => Route::Any,
        Live | Kill | Begin | Commit | Cancel | Attach | Detach | Sessions | QueryStream
        | QueryCancel => Route::Primary,
    }
}

/// Whether SurrealQL text has the word `LIVE` or `KILL` (any case) outside strings,
/// comments and escaped identifiers. Conservative: a field or table named `live` counts
/// too, and so does text this scan cannot be sure of (an unterminated string, comment or
/// identifier, or a `/` that opens no comment: a regex literal such as `/it's/` would hide
/// what follows from the scan); such a query only stays on the primary.
pub fn mentions_live_or_kill(sql: &str) -> bool {
    let b = sql.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let next = match b[i] {
            q @ (b'\'' | b'"' | b'`') => skip_quoted(b, i + 1, q),
            b'#' => Some(skip_line(b, i)),
            b'-' if b.get(i + 1) == Some(&b'-') => Some(skip_line(b, i)),
            b'/' if b.get(i + 1) == Some(&b'/') => Some(skip_line(b, i)),
            b'/' if b.get(i + 1) == Some(&b'*') => {
                sql[i + 2..].find("*/").map(|end| i + 2 + end + 2)
            }
            // A division or a regex literal: not worth telling apart.
            b'/' => None,
            // `⟨…⟩` (an escaped identifier): its opening bracket is U+27E8.
            0xE2 if sql[i..].starts_with('⟨') => {
                sql[i..].find('⟩').map(|end| i + end + '⟩'.len_utf8())
            }
            c if c.is_ascii_alphanumeric() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                let word = &b[start..i];
                if word.eq_ignore_ascii_case(b"live") || word.eq_ignore_ascii_case(b"kill") {
                    return true;
                }
                continue;
            }
            _ => Some(i + 1),
        };
        match next {
            Some(n) => i = n,
            None => return true,
        }
    }
    false
}

/// The index after the closing `quote` of a quoted text starting at `i` (backslash
/// escapes honoured); `None` if it is not closed.
fn skip_quoted(b: &[u8], mut i: usize, quote: u8) -> Option<usize> {
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            c if c == quote => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

fn skip_line(b: &[u8], i: usize) -> usize {
    b[i..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(b.len(), |n| i + n + 1)
}

/// The first pause after a lane failed to open; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_secs(1);
/// The longest pause between attempts to open a lane.
const MAX_PAUSE: Duration = Duration::from_secs(60);

/// When a lane is opened (see the module docs); [`least_loaded`] picks the connection.
#[derive(Debug, Clone)]
pub struct LanePolicy {
    max: usize,
    opening: bool,
    failures: u32,
    retry_at: Option<Instant>,
}

/// The least loaded of connections with `loads` callers waiting (the first is the primary):
/// its index and load, the earliest on a tie; `(0, 0)` for no connection.
pub fn least_loaded(loads: impl IntoIterator<Item = usize>) -> (usize, usize) {
    least_loaded_by(loads, |&l| l).map_or((0, 0), |(i, _, l)| (i, l))
}

/// [`least_loaded`] over any connections, `load` telling each one's callers waiting: its
/// index, itself and its load (`None` for no connection). One pass.
pub fn least_loaded_by<T>(
    items: impl IntoIterator<Item = T>,
    load: impl Fn(&T) -> usize,
) -> Option<(usize, T, usize)> {
    let mut best: Option<(usize, T, usize)> = None;
    for (i, item) in items.into_iter().enumerate() {
        let l = load(&item);
        if best.as_ref().is_none_or(|(_, _, b)| l < *b) {
            best = Some((i, item, l));
        }
    }
    best
}

impl LanePolicy {
    /// A policy for at most `max` connections in all (the primary included; 0 counts as 1).
    pub fn new(max: usize) -> Self {
        LanePolicy {
            max: max.max(1),
            opening: false,
            failures: 0,
            retry_at: None,
        }
    }

    /// The most connections in all.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Whether a lane is being opened.
    pub fn is_opening(&self) -> bool {
        self.opening
    }

    /// Whether one more lane should be opened now: with `open` connections in all, the
    /// least loaded of them has `least_load` callers waiting, fewer than the limit are
    /// open, none is being opened and no pause after a failure is running.
    pub fn wants_lane(&self, open: usize, least_load: usize, now: Instant) -> bool {
        least_load > 0 && open < self.max && !self.opening && self.retry_at.is_none_or(|t| now >= t)
    }

    /// [`LanePolicy::wants_lane`], and if so the lane counts as being opened (one at a time)
    /// until [`LanePolicy::opened`], which must follow whatever the outcome.
    pub fn begin_open(&mut self, open: usize, least_load: usize, now: Instant) -> bool {
        let go = self.wants_lane(open, least_load, now);
        self.opening |= go;
        go
    }

    /// A lane begun by [`LanePolicy::begin_open`] was not tried after all (the session was
    /// changing): no pause follows.
    pub fn abandon(&mut self) {
        self.opening = false;
    }

    /// A lane begun by [`LanePolicy::begin_open`] opened (`ok`) or failed to; a failure
    /// pauses further attempts (1 s, doubling up to a minute), a success ends the pause.
    pub fn opened(&mut self, ok: bool, now: Instant) {
        self.opening = false;
        if ok {
            self.failures = 0;
            self.retry_at = None;
        } else {
            self.pause(now);
        }
    }

    /// An open lane died (its socket lost, a replay refused): counted as a failure, so a
    /// server or proxy that drops extra connections is not redialled in a loop.
    pub fn died(&mut self, now: Instant) {
        self.pause(now);
    }

    fn pause(&mut self, now: Instant) {
        let pause = FIRST_PAUSE
            .saturating_mul(1u32 << self.failures.min(6))
            .min(MAX_PAUSE);
        self.failures = self.failures.saturating_add(1);
        self.retry_at = now.checked_add(pause);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{Object, Uuid};

    fn query(sql: &str) -> Request {
        Request::query(sql, Object::default())
    }

    #[test]
    fn session_changes_stay_on_the_primary_and_retire_lanes() {
        for m in [
            Method::Use,
            Method::Signin,
            Method::Signup,
            Method::Authenticate,
            Method::Refresh,
            Method::Revoke,
            Method::Invalidate,
            Method::Reset,
            Method::Let,
            Method::Unset,
        ] {
            assert_eq!(route(&Request::new(m, vec![])), Route::Session, "{m}");
        }
    }

    #[test]
    fn connection_state_stays_on_the_primary() {
        for m in [
            Method::Live,
            Method::Kill,
            Method::Begin,
            Method::Commit,
            Method::Cancel,
            Method::Attach,
            Method::Detach,
            Method::Sessions,
            Method::QueryStream,
            Method::QueryCancel,
        ] {
            assert_eq!(route(&Request::new(m, vec![])), Route::Primary, "{m}");
        }
        let mut in_txn = Request::new(Method::Select, vec![Value::from("person")]);
        in_txn.txn = Some(Uuid::from_bytes([7; 16]));
        assert_eq!(route(&in_txn), Route::Primary);
        let mut attached = query("RETURN 1");
        attached.session = Some(Uuid::from_bytes([7; 16]));
        assert_eq!(route(&attached), Route::Primary);
        assert_eq!(route(&query("LIVE SELECT * FROM person")), Route::Primary);
        assert_eq!(route(&query("kill $id")), Route::Primary);
        // A query without its text is left where it cannot go wrong.
        assert_eq!(route(&Request::new(Method::Query, vec![])), Route::Primary);
    }

    #[test]
    fn plain_requests_take_any_connection() {
        assert_eq!(route(&query("SELECT * FROM person")), Route::Any);
        // Scoped to the query on SurrealDB 3 (see the module docs).
        assert_eq!(
            route(&query("USE NS a DB b; LET $x = 1; RETURN $x")),
            Route::Any
        );
        for m in [Method::Select, Method::Create, Method::Insert, Method::Run] {
            assert_eq!(route(&Request::new(m, vec![])), Route::Any, "{m}");
        }
    }

    #[test]
    fn live_and_kill_are_words_outside_strings_comments_and_identifiers() {
        for yes in [
            "LIVE SELECT * FROM t",
            "  live select * from t",
            "SELECT 1;\nKILL u'0190d2a4-0000-7000-8000-000000000000'",
            "RETURN 1; /* x */ LiVe SELECT * FROM t",
            "SELECT live FROM t",
            // What the scan cannot be sure of counts.
            "SELECT * FROM t WHERE n = /it's/; LIVE SELECT * FROM t",
            "SELECT a / b FROM t",
            "SELECT * FROM t WHERE x = 'unterminated",
            "SELECT ⟨unterminated",
            "SELECT /* unterminated",
        ] {
            assert!(mentions_live_or_kill(yes), "{yes}");
        }
        for no in [
            "SELECT * FROM t WHERE name = 'live'",
            "SELECT * FROM t WHERE name = \"kill \\\" live\"",
            "SELECT `live` FROM t",
            "SELECT ⟨kill⟩ FROM t",
            "SELECT * FROM t -- live\n",
            "SELECT * FROM t # kill",
            "SELECT * FROM t // kill",
            "SELECT /* live */ * FROM t",
            "SELECT alive, killed, live_at FROM t",
            "SELECT * FROM t WHERE a = 'it''s' -- live",
        ] {
            assert!(!mentions_live_or_kill(no), "{no}");
        }
    }

    #[test]
    fn the_least_loaded_connection_is_chosen_and_a_lane_opened_when_all_are_busy() {
        let now = Instant::now();
        assert_eq!(least_loaded([0]), (0, 0));
        assert_eq!(least_loaded([2, 0]), (1, 0));
        assert_eq!(least_loaded([3, 2, 2]), (1, 2), "the earliest on a tie");
        assert_eq!(least_loaded([]), (0, 0));
        let mut p = LanePolicy::new(3);
        // An idle connection: no lane.
        assert!(!p.begin_open(1, 0, now));
        // All busy: one lane, one at a time.
        assert!(p.begin_open(1, 1, now));
        assert!(!p.wants_lane(1, 2, now));
        assert!(!p.begin_open(1, 2, now));
        p.opened(true, now);
        assert!(p.begin_open(2, 1, now));
        p.opened(true, now);
        // At the limit: nothing more.
        assert!(!p.wants_lane(3, 9, now));
        assert_eq!(p.max(), 3);
        assert!(!LanePolicy::new(0).wants_lane(1, 5, now), "0 counts as 1");
    }

    #[test]
    fn a_failed_lane_pauses_attempts_doubling_up_to_a_minute() {
        let t0 = Instant::now();
        let mut p = LanePolicy::new(4);
        assert!(p.begin_open(1, 1, t0));
        p.opened(false, t0);
        assert!(!p.wants_lane(1, 1, t0 + Duration::from_millis(999)));
        let t1 = t0 + Duration::from_secs(1);
        assert!(p.begin_open(1, 1, t1));
        p.opened(false, t1);
        assert!(!p.wants_lane(1, 1, t1 + Duration::from_millis(1999)));
        let mut t = t1 + Duration::from_secs(2);
        assert!(p.begin_open(1, 1, t));
        for _ in 0..10 {
            p.opened(false, t);
            t += MAX_PAUSE;
            assert!(p.begin_open(1, 1, t), "never paused longer than a minute");
        }
        p.opened(true, t);
        assert!(p.wants_lane(2, 1, t), "a success ends the pause");
        assert!(p.begin_open(2, 1, t));
        p.abandon();
        assert!(p.begin_open(2, 1, t), "an abandoned attempt is no failure");
        p.opened(true, t);
        p.died(t);
        assert!(!p.wants_lane(2, 1, t), "a lane that died pauses the next");
        assert!(p.wants_lane(2, 1, t + FIRST_PAUSE));
    }
}
