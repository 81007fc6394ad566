//! Transactions and the [`Executor`] trait every model action runs on.
//!
//! `db.transaction(async |tx| { … })` runs the closure in a transaction: it commits when the
//! closure returns `Ok`, cancels when it returns `Err`, panics, or its future is dropped.
//! `db.retry_on_conflict(&policy, async |tx| { … })` runs it again (after a jittered,
//! bounded backoff) when the transaction hit a conflict whose commit did not happen.
//!
//! Over **WebSocket** this is the server's interactive RPC transaction: every action inside
//! sees the answers of the ones before it (read, then write). SurrealDB 3.3.5 runs the
//! `update`, `patch`, `relate` and `run` methods outside the transaction even when asked
//! to run inside, so inside one they are sent as the equivalent `query`
//! ([`surql::tx::in_transaction`]); model actions are queries already.
//!
//! Over **HTTP** there are no interactive transactions: the transaction is ONE request sent
//! at commit (`BEGIN; …; COMMIT;`). Actions are queued with [`Transaction::defer`] and their
//! answers are read after the commit ([`Deferred::take`]); [`Executor::perform`] on an HTTP
//! transaction (so every model action given `&tx`) is refused with `Error::NotSupported`,
//! because the closure would wait for an answer that only the commit can bring. What this
//! allows: writes that do not depend on each other's answers, applied all or nothing (and
//! their answers afterwards); what it does not: read-then-write logic, which needs a
//! WebSocket connection.

use std::future::Future;
use std::sync::Mutex;

use futures_lite::FutureExt as _;
use surql::op::{IntoOperation, Operation, Step};
use surql::signals::Signals;
pub use surql::tx::Deferred;
use surql::tx::Queue;
use surql::txn::RetryPolicy;

use crate::{client, Error, Query, Result, Surreal, Transport, Uuid};

/// What model actions and typed calls run on: a client ([`Surreal`]) or a [`Transaction`].
pub trait Executor: Send + Sync {
    /// Runs an operation of the core (see [`Surreal::perform`]).
    fn perform<O>(
        &self,
        op: O,
    ) -> impl Future<Output = Result<<O::Op as Operation>::Output>> + Send
    where
        O: IntoOperation + Send,
        O::Op: Send,
        <O::Op as Operation>::Output: Send;

    /// Runs an operation of model `model`: where an executor routes by model (the named
    /// [`Connections`](crate::Connections) registry), the model's own connection.
    fn perform_for<O>(
        &self,
        model: &'static surql::model::ModelMeta,
        op: O,
    ) -> impl Future<Output = Result<<O::Op as Operation>::Output>> + Send
    where
        O: IntoOperation + Send,
        O::Op: Send,
        <O::Op as Operation>::Output: Send,
    {
        let _ = model;
        self.perform(op)
    }

    /// The signal handlers model actions run (the client's).
    fn signals(&self) -> &Signals;
}

impl Executor for Surreal {
    fn perform<O>(&self, op: O) -> impl Future<Output = Result<<O::Op as Operation>::Output>> + Send
    where
        O: IntoOperation + Send,
        O::Op: Send,
        <O::Op as Operation>::Output: Send,
    {
        Surreal::perform(self, op)
    }

    fn signals(&self) -> &Signals {
        &self.inner.signals
    }
}

enum Kind {
    /// The RPC transaction's id.
    Ws(Uuid),
    /// The queued queries and how to hand each its answer.
    Http(Mutex<Queue>),
}

/// A transaction: see the [module docs](self). Prefer [`Surreal::transaction`], which always
/// ends it; one from [`Surreal::begin`] must be committed or cancelled (dropping it cancels
/// it, without waiting).
pub struct Transaction<'a> {
    db: &'a Surreal,
    kind: Kind,
    done: bool,
}

impl std::fmt::Debug for Transaction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Transaction");
        match &self.kind {
            Kind::Ws(id) => d.field("id", id),
            Kind::Http(q) => d.field("queued", &q.lock().map(|q| q.len()).unwrap_or(0)),
        };
        d.finish()
    }
}

fn http_refusal() -> Error {
    Error::NotSupported {
        method: "perform".into(),
        message: "not supported over HTTP: an HTTP transaction is one request sent at commit, so an action inside it cannot wait for its answer: queue it with `tx.defer(op)` and read the answer after the commit, or use a WebSocket connection for read-then-write transactions".into(),
    }
}

impl<'a> Transaction<'a> {
    pub(crate) async fn begin(db: &'a Surreal) -> Result<Transaction<'a>> {
        let kind = match &db.inner.transport {
            Transport::Ws(_) => Kind::Ws(db.perform(client::begin()).await?),
            Transport::Http(_) => Kind::Http(Mutex::new(Queue::default())),
        };
        Ok(Transaction {
            db,
            kind,
            done: false,
        })
    }

    /// The RPC transaction id (WebSocket); `None` for an HTTP transaction.
    pub fn id(&self) -> Option<Uuid> {
        match &self.kind {
            Kind::Ws(id) => Some(*id),
            Kind::Http(_) => None,
        }
    }

    /// A query inside this transaction (WebSocket; over HTTP use
    /// `tx.defer(surql::client::query(text, vars))`).
    pub fn query(&self, text: impl Into<String>) -> Query<'a> {
        let mut q = self.db.query(text);
        match &self.kind {
            Kind::Ws(id) => q.txn = Some(*id),
            Kind::Http(_) => q.error = Some(http_refusal()),
        }
        q
    }

    /// Runs `op` inside the transaction and yields its answer (WebSocket). Over HTTP this is
    /// `Error::NotSupported`: use [`defer`](Transaction::defer).
    pub async fn perform<O>(&self, op: O) -> Result<<O::Op as Operation>::Output>
    where
        O: IntoOperation,
        O::Op: Send,
    {
        let Kind::Ws(txn) = &self.kind else {
            return Err(http_refusal());
        };
        let mut op = op.into_operation();
        let mut answer = None;
        loop {
            match op.step(answer.take()) {
                Step::Send(request) => {
                    let (request, remap) = surql::tx::in_transaction(request, *txn)?;
                    answer = Some(remap.apply(self.db.rpc(request).await));
                }
                Step::Done(output) => return output,
            }
        }
    }

    /// Queues `op` in the transaction; its answer is read with [`Deferred::take`] after the
    /// commit. Over WebSocket it runs now (inside the transaction) and the answer is kept.
    /// Over HTTP only single-request query actions can be queued (every model action is
    /// one); anything else is an error naming it.
    pub async fn defer<O>(&self, op: O) -> Result<Deferred<<O::Op as Operation>::Output>>
    where
        O: IntoOperation,
        O::Op: Send + 'static,
        <O::Op as Operation>::Output: Send + 'static,
    {
        match &self.kind {
            Kind::Ws(_) => Ok(Deferred::ready(self.perform(op).await)),
            Kind::Http(queue) => queue
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .defer(op.into_operation()),
        }
    }

    /// Commits. A conflict is a server error with `is_conflict() == true`; the transaction
    /// did not happen and can be run again.
    pub async fn commit(mut self) -> Result<()> {
        self.done = true;
        match &self.kind {
            Kind::Ws(id) => self.db.perform(client::commit(*id)).await,
            Kind::Http(queue) => {
                let queue = std::mem::take(&mut *queue.lock().unwrap_or_else(|e| e.into_inner()));
                match queue.request() {
                    None => Ok(()),
                    Some(request) => queue.complete(self.db.rpc(request).await),
                }
            }
        }
    }

    /// Cancels (rolls back); over HTTP the queue is discarded and nothing is sent.
    pub async fn cancel(mut self) -> Result<()> {
        self.done = true;
        match &self.kind {
            Kind::Ws(id) => self.db.perform(client::cancel(*id)).await,
            Kind::Http(_) => Ok(()),
        }
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if let (Kind::Ws(id), Transport::Ws(w)) = (&self.kind, &self.db.inner.transport) {
            // Not committed: cancel on the server without waiting (a drop cannot await).
            let (mut request, _) = client::cancel(*id).into_parts();
            request.session = self.db.session;
            w.fire(request);
        }
    }
}

impl Executor for Transaction<'_> {
    fn perform<O>(&self, op: O) -> impl Future<Output = Result<<O::Op as Operation>::Output>> + Send
    where
        O: IntoOperation + Send,
        O::Op: Send,
        <O::Op as Operation>::Output: Send,
    {
        Transaction::perform(self, op)
    }

    fn signals(&self) -> &Signals {
        &self.db.inner.signals
    }
}

impl Surreal {
    /// Opens a transaction (WebSocket: an interactive RPC transaction; HTTP: a batch sent at
    /// commit). Prefer [`Surreal::transaction`], which always ends it.
    pub async fn begin(&self) -> Result<Transaction<'_>> {
        Transaction::begin(self).await
    }

    /// Runs `f` in a transaction: commits when it returns `Ok`, cancels when it returns
    /// `Err`, panics (the panic then continues) or is dropped.
    pub async fn transaction<T, F>(&self, f: F) -> Result<T>
    where
        F: AsyncFnMut(&Transaction<'_>) -> Result<T>,
    {
        self.run_transaction(None, f).await
    }

    /// [`transaction`](Surreal::transaction), run again under `policy` when it fails with a
    /// transaction conflict (from a statement inside it or from the commit: in both cases
    /// nothing was applied). Any other error, and an error whose outcome is unknown (a
    /// timeout or a lost connection during the commit), is returned at once.
    pub async fn retry_on_conflict<T, F>(&self, policy: &RetryPolicy, f: F) -> Result<T>
    where
        F: AsyncFnMut(&Transaction<'_>) -> Result<T>,
    {
        self.run_transaction(Some(policy), f).await
    }

    async fn run_transaction<T, F>(&self, policy: Option<&RetryPolicy>, mut f: F) -> Result<T>
    where
        F: AsyncFnMut(&Transaction<'_>) -> Result<T>,
    {
        let mut retry = policy.map(RetryPolicy::start);
        loop {
            let tx = self.begin().await?;
            let outcome = std::panic::AssertUnwindSafe(f(&tx)).catch_unwind().await;
            let error = match outcome {
                Err(panic) => {
                    let _ = tx.cancel().await;
                    std::panic::resume_unwind(panic);
                }
                Ok(Ok(value)) => match tx.commit().await {
                    Ok(()) => return Ok(value),
                    Err(e) => e,
                },
                Ok(Err(e)) => {
                    let _ = tx.cancel().await;
                    e
                }
            };
            let Some(r) = retry.as_mut() else {
                return Err(error);
            };
            if !error.is_conflict() {
                return Err(error);
            }
            match r.on_conflict() {
                Ok(delay) => {
                    async_io::Timer::after(delay).await;
                }
                Err(exhausted) => {
                    return Err(Error::RetriesExhausted {
                        tries: exhausted.tries,
                        last: Box::new(error),
                    })
                }
            }
        }
    }
}
