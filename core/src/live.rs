//! Live-subscription bookkeeping: stable handles, live-query ids (and their remapping after
//! a reconnect), notifications buffered until their id is known, KILLED, and DIFF patches.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use crate::conn::ConnError;
use crate::rpc::{parse_query_results, Action, Method, Notification, Request};
use crate::value::{Uuid, Value};

/// The stable handle of a live subscription. It exists before the server has assigned the
/// live-query id and survives reconnects (where the server id changes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LiveHandle(pub u64);

/// Why a live subscription ended. Every handle ends with exactly one
/// [`Event::LiveEnded`](crate::conn::Event::LiveEnded).
#[derive(Debug, Clone, PartialEq)]
pub enum LiveEndReason {
    /// The server sent `KILLED` (a `KILL`, the table/database was removed, or the
    /// principal lost access).
    Killed,
    /// [`Connection::unsubscribe`](crate::conn::Connection::unsubscribe) was called.
    Unsubscribed,
    /// The `live`/`LIVE SELECT` request failed or did not return a live-query id.
    SubscribeFailed(ConnError),
    /// After a reconnect, re-issuing the live query failed.
    RestoreFailed(ConnError),
    /// The connection was closed for good.
    ConnectionClosed,
}

/// At most this many notifications wait for an unknown live id; beyond it the oldest is
/// dropped, so a server flooding unknown ids cannot grow memory without bound.
const MAX_BUFFERED: usize = 1024;
/// How many ended live ids are remembered so their stragglers are dropped silently.
const MAX_FORGOTTEN: usize = 1024;

#[derive(Debug, Clone)]
struct Subscription {
    request: Request,
    /// The server id: the current one, or the one from before a disconnect.
    live_id: Option<Uuid>,
    /// A request that will (re)assign the live id is in flight or queued.
    awaiting_id: bool,
    /// `live_id` is valid on the current socket.
    active: bool,
    /// Unsubscribed while its id was unknown: kill it as soon as the id arrives.
    cancelled: bool,
}

/// Where a notification goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// To the subscription `handle`.
    Deliver(LiveHandle, Notification),
    /// The live query ended on the server; the subscription has been forgotten.
    Ended(LiveHandle),
    /// Kept until a pending live request reveals its id.
    Buffered,
    /// Nobody wants it; `Some` explains why it is suspicious, `None` means it is an
    /// expected straggler (of an unsubscribed or already ended query).
    Dropped(Option<String>),
}

/// All live subscriptions of one connection.
#[derive(Debug, Default)]
pub struct LiveRegistry {
    subs: BTreeMap<LiveHandle, Subscription>,
    by_id: HashMap<Uuid, LiveHandle>,
    buffered: VecDeque<Notification>,
    forgotten: VecDeque<Uuid>,
    forgotten_set: HashSet<Uuid>,
    next: u64,
}

impl LiveRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a subscription for `request`, awaiting its id.
    pub fn register(&mut self, request: Request) -> LiveHandle {
        self.next += 1;
        let handle = LiveHandle(self.next);
        self.subs.insert(
            handle,
            Subscription {
                request,
                live_id: None,
                awaiting_id: true,
                active: false,
                cancelled: false,
            },
        );
        handle
    }

    /// Whether `handle` is a live subscription.
    pub fn contains(&self, handle: LiveHandle) -> bool {
        self.subs.contains_key(&handle)
    }

    /// The number of subscriptions.
    pub fn len(&self) -> usize {
        self.subs.len()
    }

    /// `true` when there is no subscription.
    pub fn is_empty(&self) -> bool {
        self.subs.is_empty()
    }

    /// The current (or last known) server id of `handle`.
    pub fn live_id(&self, handle: LiveHandle) -> Option<Uuid> {
        self.subs.get(&handle)?.live_id
    }

    /// The request that (re)creates the subscription.
    pub fn request(&self, handle: LiveHandle) -> Option<&Request> {
        self.subs.get(&handle).map(|s| &s.request)
    }

    /// Whether `handle` was unsubscribed while its id was still unknown.
    pub fn is_cancelled(&self, handle: LiveHandle) -> bool {
        self.subs.get(&handle).is_some_and(|s| s.cancelled)
    }

    /// Marks every id as stale: the socket is gone and the server dropped its live queries.
    pub fn mark_all_inactive(&mut self) {
        for s in self.subs.values_mut() {
            s.active = false;
        }
    }

    /// The subscriptions that existed on the lost socket and must be re-issued, in
    /// creation order; each is marked as awaiting its new id.
    pub fn plan_restore(&mut self) -> Vec<LiveHandle> {
        let mut plan = Vec::new();
        for (h, s) in self.subs.iter_mut() {
            if s.live_id.is_some() && !s.active && !s.cancelled {
                s.awaiting_id = true;
                plan.push(*h);
            }
        }
        plan
    }

    /// The server answered `handle`'s request with `live_id`. Returns the previous id (a
    /// remap after reconnect) and the buffered notifications that belong to it, in order.
    pub fn resolve(
        &mut self,
        handle: LiveHandle,
        live_id: Uuid,
    ) -> (Option<Uuid>, Vec<Notification>) {
        let Some(s) = self.subs.get_mut(&handle) else {
            return (None, Vec::new());
        };
        let old = s.live_id.replace(live_id);
        s.awaiting_id = false;
        s.active = true;
        if let Some(old) = old {
            self.by_id.remove(&old);
        }
        self.by_id.insert(live_id, handle);
        let mut mine = Vec::new();
        self.buffered.retain(|n| {
            if n.live_id == live_id {
                mine.push(n.clone());
                false
            } else {
                true
            }
        });
        (old, mine)
    }

    /// Marks `handle` unsubscribed. Returns the live id to `kill` when it is valid on the
    /// current socket. A subscription still awaiting its id stays registered (cancelled) so
    /// the id can be killed when it arrives; otherwise it is forgotten.
    pub fn unsubscribe(&mut self, handle: LiveHandle) -> Option<Uuid> {
        let s = self.subs.get_mut(&handle)?;
        if s.awaiting_id {
            s.cancelled = true;
            return None;
        }
        let active = s.active;
        let id = self.forget(handle)?;
        active.then_some(id)
    }

    /// Removes `handle`; returns its last id. Stragglers for that id are dropped silently.
    pub fn forget(&mut self, handle: LiveHandle) -> Option<Uuid> {
        let s = self.subs.remove(&handle)?;
        let id = s.live_id?;
        self.by_id.remove(&id);
        if self.forgotten_set.insert(id) {
            self.forgotten.push_back(id);
            if self.forgotten.len() > MAX_FORGOTTEN {
                if let Some(old) = self.forgotten.pop_front() {
                    self.forgotten_set.remove(&old);
                }
            }
        }
        Some(id)
    }

    /// Remembers an id nobody owns any more (e.g. the answer to a live request that
    /// already timed out), so its notifications are dropped silently.
    pub fn remember_dead(&mut self, id: Uuid) {
        if self.forgotten_set.insert(id) {
            self.forgotten.push_back(id);
            if self.forgotten.len() > MAX_FORGOTTEN {
                if let Some(old) = self.forgotten.pop_front() {
                    self.forgotten_set.remove(&old);
                }
            }
        }
    }

    /// All handles, in creation order.
    pub fn handles(&self) -> Vec<LiveHandle> {
        self.subs.keys().copied().collect()
    }

    fn any_awaiting(&self) -> bool {
        self.subs.values().any(|s| s.awaiting_id)
    }

    /// Once no request can reveal another id, buffered notifications belong to nobody:
    /// returns them so the caller can report them.
    pub fn drain_orphans(&mut self) -> Vec<Notification> {
        if self.any_awaiting() {
            return Vec::new();
        }
        let mut out: Vec<Notification> = self.buffered.drain(..).collect();
        out.retain(|n| !self.forgotten_set.contains(&n.live_id));
        out
    }

    /// Routes one notification.
    pub fn route(&mut self, n: Notification) -> Route {
        if let Some(&h) = self.by_id.get(&n.live_id) {
            if self.subs.get(&h).is_some_and(|s| s.cancelled) {
                return Route::Dropped(None);
            }
            if n.action == Action::Killed {
                self.forget(h);
                return Route::Ended(h);
            }
            return Route::Deliver(h, n);
        }
        if self.forgotten_set.contains(&n.live_id) {
            return Route::Dropped(None);
        }
        if self.any_awaiting() {
            self.buffered.push_back(n);
            if self.buffered.len() > MAX_BUFFERED {
                if let Some(old) = self.buffered.pop_front() {
                    return Route::Dropped(Some(format!(
                        "more than {MAX_BUFFERED} notifications for unknown live queries are waiting; dropped the oldest (live id {})",
                        old.live_id
                    )));
                }
            }
            return Route::Buffered;
        }
        Route::Dropped(Some(format!(
            "notification ({:?}) for unknown live query {}",
            n.action, n.live_id
        )))
    }
}

/// The live-query id in the answer to a `live` request (a UUID) or to a `query` whose
/// statement is `LIVE SELECT` (the row of type `live`).
pub fn live_id_from_result(method: Method, result: &Value) -> Result<Uuid, String> {
    match method {
        Method::Query => {
            let rows = parse_query_results(result.clone()).map_err(|e| e.message)?;
            let row = rows
                .into_iter()
                .find(|r| r.kind.as_deref() == Some("live") || r.result.is_err())
                .ok_or_else(|| {
                    "the query has no LIVE SELECT statement: no result row of type `live`"
                        .to_owned()
                })?;
            match row.result {
                Ok(v) => uuid_value(&v),
                Err(e) => Err(format!("the LIVE SELECT statement failed: {e}")),
            }
        }
        _ => uuid_value(result),
    }
}

fn uuid_value(v: &Value) -> Result<Uuid, String> {
    match v {
        Value::Uuid(u) => Ok(*u),
        Value::String(s) => {
            Uuid::parse(s).map_err(|_| format!("expected a live-query UUID, got the text {s:?}"))
        }
        other => Err(format!(
            "expected a live-query UUID, got a {}",
            other.kind()
        )),
    }
}

/// The top-level field names a DIFF-mode notification touches, in first-seen order.
///
/// A DIFF payload is an array of patch ops `{op, path, value?, from?}` with JSON-pointer
/// paths (`/a/0/b` touches `a`; `~1` and `~0` unescape to `/` and `~`). An op on the whole
/// document (path `""` or `/`) touches every field of its `value` (CREATE) or, with no
/// object value (DELETE), is reported as no field names. `move` also touches its `from`.
pub fn changed_fields(diff: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |name: String| {
        if !out.contains(&name) {
            out.push(name);
        }
    };
    let Some(ops) = diff.as_array() else {
        return Vec::new();
    };
    for op in ops {
        let Some(path) = op.get("path").and_then(Value::as_str) else {
            continue;
        };
        match top_level(path) {
            Some(field) => push(field),
            None => {
                if let Some(o) = op.get("value").and_then(Value::as_object) {
                    for k in o.keys() {
                        push(k.clone());
                    }
                }
            }
        }
        if op.get("op").and_then(Value::as_str) == Some("move") {
            if let Some(field) = op.get("from").and_then(Value::as_str).and_then(top_level) {
                push(field);
            }
        }
    }
    out
}

/// The first segment of a JSON pointer, unescaped; `None` for the whole document.
fn top_level(path: &str) -> Option<String> {
    let rest = path.strip_prefix('/').unwrap_or(path);
    let seg = rest.split('/').next().unwrap_or_default();
    if seg.is_empty() {
        return None;
    }
    Some(seg.replace("~1", "/").replace("~0", "~"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Object;

    fn op(op: &str, path: &str, value: Value) -> Value {
        let mut o = Object::new();
        o.insert("op".into(), op.into());
        o.insert("path".into(), path.into());
        o.insert("value".into(), value);
        Value::Object(o)
    }

    fn note(id: u8, action: Action) -> Notification {
        Notification {
            live_id: Uuid([id; 16]),
            action,
            record: Value::None,
            result: Value::None,
            session: None,
        }
    }

    #[test]
    fn diff_fields() {
        let mut doc = Object::new();
        doc.insert("name".into(), "x".into());
        doc.insert("age".into(), Value::Int(3));
        let diff = Value::Array(vec![
            op("replace", "/name", "y".into()),
            op("add", "/tags/0", "t".into()),
            op("change", "/name", "@@ -1 +1 @@".into()),
            op("remove", "/a~1b", Value::None),
            op("replace", "/t~0x", Value::None),
        ]);
        assert_eq!(changed_fields(&diff), vec!["name", "tags", "a/b", "t~x"]);
        let create = Value::Array(vec![op("replace", "", Value::Object(doc))]);
        assert_eq!(changed_fields(&create), vec!["age", "name"]);
        let delete = Value::Array(vec![op("replace", "", Value::None)]);
        assert!(changed_fields(&delete).is_empty());
        let mut mv = Object::new();
        mv.insert("op".into(), "move".into());
        mv.insert("path".into(), "/b".into());
        mv.insert("from".into(), "/a/x".into());
        assert_eq!(
            changed_fields(&Value::Array(vec![Value::Object(mv)])),
            vec!["b", "a"]
        );
        assert!(changed_fields(&Value::Int(1)).is_empty());
        assert!(changed_fields(&Value::Array(vec![Value::Int(1)])).is_empty());
    }

    #[test]
    fn buffered_until_the_id_is_known() {
        let mut reg = LiveRegistry::new();
        let h = reg.register(Request::ping());
        assert_eq!(reg.route(note(1, Action::Create)), Route::Buffered);
        assert_eq!(reg.route(note(2, Action::Create)), Route::Buffered);
        let (old, mine) = reg.resolve(h, Uuid([1; 16]));
        assert_eq!(old, None);
        assert_eq!(mine, vec![note(1, Action::Create)]);
        // Nobody else awaits an id: the other one is an orphan.
        assert_eq!(reg.drain_orphans(), vec![note(2, Action::Create)]);
        assert_eq!(
            reg.route(note(1, Action::Update)),
            Route::Deliver(h, note(1, Action::Update))
        );
        assert_eq!(reg.route(note(1, Action::Killed)), Route::Ended(h));
        assert!(reg.is_empty());
        // Stragglers of an ended query are expected and silent.
        assert_eq!(reg.route(note(1, Action::Update)), Route::Dropped(None));
        assert!(matches!(
            reg.route(note(9, Action::Update)),
            Route::Dropped(Some(_))
        ));
    }

    #[test]
    fn remap_after_restore() {
        let mut reg = LiveRegistry::new();
        let h = reg.register(Request::ping());
        reg.resolve(h, Uuid([1; 16]));
        reg.mark_all_inactive();
        assert_eq!(reg.plan_restore(), vec![h]);
        let (old, _) = reg.resolve(h, Uuid([2; 16]));
        assert_eq!(old, Some(Uuid([1; 16])));
        assert_eq!(
            reg.route(note(1, Action::Update)),
            Route::Dropped(Some(format!(
                "notification (Update) for unknown live query {}",
                Uuid([1; 16])
            )))
        );
        assert!(matches!(
            reg.route(note(2, Action::Update)),
            Route::Deliver(..)
        ));
    }

    #[test]
    fn unsubscribe_before_the_id_kills_later() {
        let mut reg = LiveRegistry::new();
        let h = reg.register(Request::ping());
        assert_eq!(reg.unsubscribe(h), None);
        assert!(reg.is_cancelled(h));
        reg.resolve(h, Uuid([1; 16]));
        assert_eq!(reg.route(note(1, Action::Create)), Route::Dropped(None));
        assert_eq!(reg.unsubscribe(h), Some(Uuid([1; 16])));
        assert!(reg.is_empty());
    }

    #[test]
    fn buffer_is_bounded() {
        let mut reg = LiveRegistry::new();
        reg.register(Request::ping());
        for _ in 0..MAX_BUFFERED {
            assert_eq!(reg.route(note(3, Action::Create)), Route::Buffered);
        }
        assert!(matches!(
            reg.route(note(3, Action::Create)),
            Route::Dropped(Some(_))
        ));
    }

    #[test]
    fn live_ids_from_answers() {
        let u = Uuid([7; 16]);
        assert_eq!(live_id_from_result(Method::Live, &Value::Uuid(u)), Ok(u));
        assert_eq!(
            live_id_from_result(Method::Live, &Value::Int(1)),
            Err("expected a live-query UUID, got a int".into())
        );
        let mut row = Object::new();
        row.insert("status".into(), "OK".into());
        row.insert("time".into(), "1ms".into());
        row.insert("type".into(), "live".into());
        row.insert("result".into(), Value::Uuid(u));
        assert_eq!(
            live_id_from_result(Method::Query, &Value::Array(vec![Value::Object(row)])),
            Ok(u)
        );
        let mut err = Object::new();
        err.insert("status".into(), "ERR".into());
        err.insert("kind".into(), "NotFound".into());
        err.insert("result".into(), "The table 'x' does not exist".into());
        let e = live_id_from_result(Method::Query, &Value::Array(vec![Value::Object(err)]))
            .unwrap_err();
        assert!(e.contains("The table 'x' does not exist"), "{e}");
        assert!(live_id_from_result(Method::Query, &Value::Array(vec![])).is_err());
    }
}
