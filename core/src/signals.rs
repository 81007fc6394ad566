//! Model signals: code that runs before, around and after a model's `save`, `update`/`merge`
//! and `delete`, for one model type or for every model; and `post_live_change`
//! ([`Signals::on_live_change`]), run for every event a model's live stream yields.
//!
//! A [`Signals`] registry belongs to a client (every `Surreal` has one, shared by its clones
//! and by its transactions), so two clients — or two tests running in parallel — never see
//! each other's handlers. Handlers are plain synchronous functions run INSIDE the model
//! action's operation ([`signalled`]), so both drivers run them identically.
//!
//! Order for one action:
//! 1. `pre` handlers: those of the model type, then those for every model, each in
//!    registration order;
//! 2. every `around` handler's `before`, in registration order (type-specific first);
//! 3. the database call;
//! 4. every `around` handler's `after`, in REVERSE order (the innermost first), told how the
//!    call ended (the stored record, or the error);
//! 5. `post` handlers (same order as `pre`), only when the call succeeded, with the STORED
//!    record (server fields filled in); for `delete`, the record as it was.
//!
//! **Errors abort.** A `pre` handler or an `around` `before` that returns an error stops the
//! action before anything is sent, and the caller gets that error: a validation hook that
//! fails must not let the write through. (The Python project logged and swallowed handler
//! errors, so a failing `pre_save` still saved; a Rust caller reading `Result` expects the
//! opposite.) The `around` handlers whose `before` already ran get their `after` with the
//! error, so middleware can always unwind. `post` handlers and `after` cannot fail: the write
//! has happened and an error would wrongly tell the caller it had not.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use serde::{Deserialize, Serialize};
//! use surql::model::Model;
//! use surql::signals::{Action, Signals};
//!
//! #[derive(Debug, Clone, Serialize, Deserialize, Model)]
//! #[surql(table = "person")]
//! struct Person { id: Option<surql::RecordId>, name: String }
//!
//! let signals = Signals::default();
//! let seen = Arc::new(Mutex::new(Vec::new()));
//! let log = seen.clone();
//! signals.on_pre::<Person>(Action::Save, move |p, _ctx| {
//!     if p.name.is_empty() {
//!         return Err(surql::Error::invalid("name", "must not be empty"));
//!     }
//!     log.lock().unwrap().push(format!("pre {}", p.name));
//!     Ok(())
//! });
//! let op = surql::signals::signalled(&signals, Action::Save, &Person { id: None, name: String::new() }, None, surql::model::ops::save(&Person { id: None, name: String::new() }));
//! // the pre handler refused: the operation finishes with its error and sends nothing
//! let mut op = op;
//! use surql::op::{Operation, Step};
//! assert!(matches!(op.step(None), Step::Done(Err(e)) if e.to_string().contains("must not be empty")));
//! ```

// `Error` carries the server's error by value so callers can match on it; errors are the
// cold path, so the size of `Result` does not matter here.
#![allow(clippy::result_large_err)]

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::error::Error;
use crate::model::{decode_model, Changes, Model, ModelMeta};
use crate::op::{Operation, Step};
use crate::realtime::Notification;
use crate::rpc::Payload;
use crate::value::{RecordId, Value};

/// The model action a signal belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `save` and `save_with`.
    Save,
    /// `update` and `merge`.
    Update,
    /// `delete`.
    Delete,
}

/// What a handler is told about the action.
#[derive(Debug, Clone, Copy)]
pub struct SignalCtx<'a> {
    /// The action.
    pub action: Action,
    /// For `save`: the record had no id (the server creates it). Always `false` otherwise.
    pub created: bool,
    /// For `merge` and `save_with`: the changes given.
    pub changes: Option<&'a Changes>,
    /// The model's description (table, fields, …).
    pub meta: &'static ModelMeta,
}

/// Any model, for handlers registered for every model type.
pub trait AnyModel: Send + Sync {
    /// The model's description.
    fn meta(&self) -> &'static ModelMeta;
    /// The record id, if it has one.
    fn any_record_id(&self) -> Option<RecordId>;
    /// The record as a value (as it would be written, plus the id).
    fn to_value(&self) -> Value;
    /// For downcasting to the concrete model type.
    fn as_any(&self) -> &dyn Any;
}

impl<M: Model> AnyModel for M {
    fn meta(&self) -> &'static ModelMeta {
        M::META
    }
    fn any_record_id(&self) -> Option<RecordId> {
        self.record_id()
    }
    fn to_value(&self) -> Value {
        crate::value::to_value(self).unwrap_or(Value::None)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Middleware around the database call of a model action.
pub trait Around<M: ?Sized>: Send + Sync {
    /// Before the call (after the `pre` handlers). An error aborts the action.
    fn before(&self, instance: &M, ctx: &SignalCtx<'_>) -> Result<(), Error> {
        let _ = (instance, ctx);
        Ok(())
    }
    /// After the call, with the stored record or the error (also when a later `before`
    /// aborted the action).
    fn after(&self, instance: &M, ctx: &SignalCtx<'_>, outcome: Result<&M, &Error>) {
        let _ = (instance, ctx, outcome);
    }
}

type Pre<M> = Arc<dyn Fn(&M, &SignalCtx<'_>) -> Result<(), Error> + Send + Sync>;
type Post<M> = Arc<dyn Fn(&M, &SignalCtx<'_>) + Send + Sync>;
type Mid<M> = Arc<dyn Around<M>>;

struct Handlers<M: ?Sized> {
    pre: Vec<(u64, Pre<M>)>,
    post: Vec<(u64, Post<M>)>,
    around: Vec<(u64, Mid<M>)>,
}

impl<M: ?Sized> Default for Handlers<M> {
    fn default() -> Self {
        Handlers {
            pre: Vec::new(),
            post: Vec::new(),
            around: Vec::new(),
        }
    }
}

impl<M: ?Sized> Clone for Handlers<M> {
    fn clone(&self) -> Self {
        Handlers {
            pre: self.pre.clone(),
            post: self.post.clone(),
            around: self.around.clone(),
        }
    }
}

impl<M: ?Sized> Handlers<M> {
    fn is_empty(&self) -> bool {
        self.pre.is_empty() && self.post.is_empty() && self.around.is_empty()
    }
    fn remove(&mut self, id: u64) -> bool {
        let n = self.pre.len() + self.post.len() + self.around.len();
        self.pre.retain(|(i, _)| *i != id);
        self.post.retain(|(i, _)| *i != id);
        self.around.retain(|(i, _)| *i != id);
        n != self.pre.len() + self.post.len() + self.around.len()
    }
}

/// One model type's handlers for one action, type-erased, with the function that removes a
/// handler from them.
struct Typed {
    handlers: Box<dyn Any + Send + Sync>,
    remove: fn(&mut (dyn Any + Send + Sync), u64) -> bool,
}

fn remove_typed<M: Model>(b: &mut (dyn Any + Send + Sync), id: u64) -> bool {
    b.downcast_mut::<Handlers<M>>()
        .is_some_and(|h| h.remove(id))
}

type LiveHandler<M> = Arc<dyn Fn(&Notification<M>) + Send + Sync>;

fn remove_live<M: Model>(b: &mut (dyn Any + Send + Sync), id: u64) -> bool {
    b.downcast_mut::<Vec<(u64, LiveHandler<M>)>>()
        .is_some_and(|h| {
            let n = h.len();
            h.retain(|(i, _)| *i != id);
            n != h.len()
        })
}

#[derive(Default)]
struct Registry {
    next: u64,
    /// (model type, action) → that type's `Handlers<M>`.
    typed: HashMap<(TypeId, Action), Typed>,
    any: HashMap<Action, Handlers<dyn AnyModel>>,
    /// model type → its `post_live_change` handlers (`Vec<(u64, LiveHandler<M>)>`).
    live: HashMap<TypeId, Typed>,
}

/// A client's signal handlers. Cheap to clone; clones share the handlers.
#[derive(Clone, Default)]
pub struct Signals {
    inner: Arc<RwLock<Registry>>,
}

impl std::fmt::Debug for Signals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = self.read();
        f.debug_struct("Signals")
            .field("typed", &r.typed.len())
            .field("any", &r.any.len())
            .field("live", &r.live.len())
            .finish()
    }
}

/// Identifies a registered handler, for [`Signals::disconnect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HandlerId(u64);

impl Signals {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        // A handler never runs under the lock, so a poisoned lock only means a panic while
        // registering: the data is still consistent.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Registry> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    fn typed_mut<M: Model>(r: &mut Registry, action: Action) -> &mut Handlers<M> {
        r.typed
            .entry((TypeId::of::<M>(), action))
            .or_insert_with(|| Typed {
                handlers: Box::new(Handlers::<M>::default()),
                remove: remove_typed::<M>,
            })
            .handlers
            .downcast_mut::<Handlers<M>>()
            .expect("handlers are stored under their own model type")
    }

    fn next_id(r: &mut Registry) -> u64 {
        r.next += 1;
        r.next
    }

    /// Runs `f` before every `action` of model `M`; an error aborts the action.
    pub fn on_pre<M: Model>(
        &self,
        action: Action,
        f: impl Fn(&M, &SignalCtx<'_>) -> Result<(), Error> + Send + Sync + 'static,
    ) -> HandlerId {
        let mut r = self.write();
        let id = Self::next_id(&mut r);
        Self::typed_mut::<M>(&mut r, action)
            .pre
            .push((id, Arc::new(f)));
        HandlerId(id)
    }

    /// Runs `f` after every successful `action` of model `M`, with the stored record.
    pub fn on_post<M: Model>(
        &self,
        action: Action,
        f: impl Fn(&M, &SignalCtx<'_>) + Send + Sync + 'static,
    ) -> HandlerId {
        let mut r = self.write();
        let id = Self::next_id(&mut r);
        Self::typed_mut::<M>(&mut r, action)
            .post
            .push((id, Arc::new(f)));
        HandlerId(id)
    }

    /// Wraps the database call of every `action` of model `M`.
    pub fn on_around<M: Model>(&self, action: Action, a: impl Around<M> + 'static) -> HandlerId {
        let mut r = self.write();
        let id = Self::next_id(&mut r);
        Self::typed_mut::<M>(&mut r, action)
            .around
            .push((id, Arc::new(a)));
        HandlerId(id)
    }

    /// [`on_pre`](Signals::on_pre) for every model type.
    pub fn on_pre_any(
        &self,
        action: Action,
        f: impl Fn(&(dyn AnyModel + 'static), &SignalCtx<'_>) -> Result<(), Error>
            + Send
            + Sync
            + 'static,
    ) -> HandlerId {
        let mut r = self.write();
        let id = Self::next_id(&mut r);
        r.any.entry(action).or_default().pre.push((id, Arc::new(f)));
        HandlerId(id)
    }

    /// [`on_post`](Signals::on_post) for every model type.
    pub fn on_post_any(
        &self,
        action: Action,
        f: impl Fn(&(dyn AnyModel + 'static), &SignalCtx<'_>) + Send + Sync + 'static,
    ) -> HandlerId {
        let mut r = self.write();
        let id = Self::next_id(&mut r);
        r.any
            .entry(action)
            .or_default()
            .post
            .push((id, Arc::new(f)));
        HandlerId(id)
    }

    /// [`on_around`](Signals::on_around) for every model type.
    pub fn on_around_any(
        &self,
        action: Action,
        a: impl Around<dyn AnyModel> + 'static,
    ) -> HandlerId {
        let mut r = self.write();
        let id = Self::next_id(&mut r);
        r.any
            .entry(action)
            .or_default()
            .around
            .push((id, Arc::new(a)));
        HandlerId(id)
    }

    /// `post_live_change`: runs `f` for every notification a live stream of model `M`
    /// (`M::objects()…live(&db)` on a client with these signals) yields, after it was
    /// decoded and before the stream hands it to its reader. It runs on the reader's task or
    /// thread, in the order of the stream, and is not told about re-subscriptions. Keep it
    /// short: the stream waits for it (and a reader that falls behind ends with
    /// `Error::ReaderTooSlow`).
    pub fn on_live_change<M: Model>(
        &self,
        f: impl Fn(&Notification<M>) + Send + Sync + 'static,
    ) -> HandlerId {
        let mut r = self.write();
        let id = Self::next_id(&mut r);
        r.live
            .entry(TypeId::of::<M>())
            .or_insert_with(|| Typed {
                handlers: Box::new(Vec::<(u64, LiveHandler<M>)>::new()),
                remove: remove_live::<M>,
            })
            .handlers
            .downcast_mut::<Vec<(u64, LiveHandler<M>)>>()
            .expect("live handlers are stored under their own model type")
            .push((id, Arc::new(f)));
        HandlerId(id)
    }

    /// Runs the `post_live_change` handlers of `M` for `event`, in registration order (the
    /// typed live streams call it; handlers registered meanwhile see the next event).
    pub fn fire_live_change<M: Model>(&self, event: &Notification<M>) {
        let handlers: Vec<LiveHandler<M>> = {
            let r = self.read();
            match r
                .live
                .get(&TypeId::of::<M>())
                .and_then(|t| t.handlers.downcast_ref::<Vec<(u64, LiveHandler<M>)>>())
            {
                Some(h) => h.iter().map(|(_, f)| f.clone()).collect(),
                None => return,
            }
        };
        // Outside the lock: a handler may register or disconnect handlers.
        for f in handlers {
            f(event);
        }
    }

    /// Removes a handler; `false` if it was not registered (any more).
    pub fn disconnect(&self, id: HandlerId) -> bool {
        let mut r = self.write();
        let mut found = false;
        for h in r.any.values_mut() {
            found |= h.remove(id.0);
        }
        for t in r.typed.values_mut() {
            found |= (t.remove)(t.handlers.as_mut(), id.0);
        }
        for t in r.live.values_mut() {
            found |= (t.remove)(t.handlers.as_mut(), id.0);
        }
        found
    }

    /// Removes every handler.
    pub fn clear(&self) {
        let mut r = self.write();
        r.typed.clear();
        r.any.clear();
        r.live.clear();
    }

    fn snapshot<M: Model>(&self, action: Action) -> (Handlers<M>, Handlers<dyn AnyModel>) {
        let r = self.read();
        let typed = r
            .typed
            .get(&(TypeId::of::<M>(), action))
            .and_then(|t| t.handlers.downcast_ref::<Handlers<M>>())
            .cloned()
            .unwrap_or_default();
        let any = r.any.get(&action).cloned().unwrap_or_default();
        (typed, any)
    }
}

/// How the wrapped operation's output gives the stored record.
pub trait Stored<M> {
    /// The stored record, when the output has one.
    fn stored(&self) -> Option<&M>;
}

impl<M: Model> Stored<M> for M {
    fn stored(&self) -> Option<&M> {
        Some(self)
    }
}

impl<M: Model> Stored<M> for Option<M> {
    fn stored(&self) -> Option<&M> {
        self.as_ref()
    }
}

impl<M> Stored<M> for () {
    fn stored(&self) -> Option<&M> {
        None
    }
}

/// A model action with its signals: see the [module docs](self) for the order.
pub struct Signalled<M: Model, O> {
    op: O,
    action: Action,
    created: bool,
    changes: Option<Changes>,
    /// The instance as given (for `after`/`post` when the output holds no record).
    before: Option<M>,
    typed: Handlers<M>,
    any: Handlers<dyn AnyModel>,
    /// How many `around` handlers ran `before` (typed first, then any).
    entered: usize,
    failed: Option<Error>,
}

impl<M: Model, O> std::fmt::Debug for Signalled<M, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signalled")
            .field("action", &self.action)
            .field("entered", &self.entered)
            .finish_non_exhaustive()
    }
}

fn copy_of<M: Model>(m: &M) -> Option<M> {
    let v = crate::value::to_value(m).ok()?;
    decode_model::<M>(v).ok()
}

/// Wraps `op`, the database call of `action` on `instance`, with the client's signals: pre
/// and around-before handlers run now (an error makes the operation finish with it, sending
/// nothing), the rest when `op` finishes.
pub fn signalled<M: Model, O: Operation>(
    signals: &Signals,
    action: Action,
    instance: &M,
    changes: Option<&Changes>,
    op: O,
) -> Signalled<M, O>
where
    O::Output: Stored<M>,
{
    let (typed, any) = signals.snapshot::<M>(action);
    let mut s = Signalled {
        op,
        action,
        created: action == Action::Save && instance.record_id().is_none(),
        changes: changes.cloned(),
        before: None,
        entered: 0,
        failed: None,
        typed,
        any,
    };
    if s.typed.is_empty() && s.any.is_empty() {
        return s;
    }
    s.before = copy_of(instance);
    let ctx = SignalCtx {
        action,
        created: s.created,
        changes: s.changes.as_ref(),
        meta: M::META,
    };
    let pre = s
        .typed
        .pre
        .iter()
        .try_for_each(|(_, f)| f(instance, &ctx))
        .and_then(|_| s.any.pre.iter().try_for_each(|(_, f)| f(instance, &ctx)));
    if let Err(e) = pre {
        s.failed = Some(e);
        return s;
    }
    for (_, a) in &s.typed.around {
        if let Err(e) = a.before(instance, &ctx) {
            s.failed = Some(e);
            break;
        }
        s.entered += 1;
    }
    if s.failed.is_none() {
        for (_, a) in &s.any.around {
            if let Err(e) = a.before(instance, &ctx) {
                s.failed = Some(e);
                break;
            }
            s.entered += 1;
        }
    }
    if let Some(e) = s.failed.take() {
        s.unwind(instance, Err(&e));
        s.failed = Some(e);
    }
    s
}

impl<M: Model, O> Signalled<M, O> {
    /// Runs `after` of every entered around handler, innermost first.
    fn unwind(&self, instance: &M, outcome: Result<&M, &Error>) {
        let ctx = SignalCtx {
            action: self.action,
            created: self.created,
            changes: self.changes.as_ref(),
            meta: M::META,
        };
        let typed_n = self.typed.around.len();
        for k in (0..self.entered).rev() {
            if k >= typed_n {
                let any_outcome: Result<&dyn AnyModel, &Error> =
                    outcome.map(|m| m as &dyn AnyModel);
                self.any.around[k - typed_n]
                    .1
                    .after(instance, &ctx, any_outcome);
            } else {
                self.typed.around[k].1.after(instance, &ctx, outcome);
            }
        }
    }
}

impl<M: Model, O: Operation> Operation for Signalled<M, O>
where
    O::Output: Stored<M>,
{
    type Output = O::Output;

    fn step(&mut self, answer: Option<Result<Payload, Error>>) -> Step<O::Output> {
        if let Some(e) = self.failed.take() {
            return Step::Done(Err(e));
        }
        match self.op.step(answer) {
            Step::Send(r) => Step::Send(r),
            Step::Done(out) => {
                if self.typed.is_empty() && self.any.is_empty() {
                    return Step::Done(out);
                }
                let Some(before) = self.before.take() else {
                    return Step::Done(out);
                };
                match &out {
                    Ok(o) => {
                        let stored = o.stored().unwrap_or(&before);
                        self.unwind(&before, Ok(stored));
                        let ctx = SignalCtx {
                            action: self.action,
                            created: self.created,
                            changes: self.changes.as_ref(),
                            meta: M::META,
                        };
                        for (_, f) in &self.typed.post {
                            f(stored, &ctx);
                        }
                        for (_, f) in &self.any.post {
                            f(stored, &ctx);
                        }
                    }
                    Err(e) => self.unwind(&before, Err(e)),
                }
                Step::Done(out)
            }
        }
    }
}
