//! Model actions for the async driver: [`ModelExt`] on model instances and types,
//! [`ModelQuerySetExt`] on `Model::objects()` query sets. Every method runs one operation of
//! the core (`surql::model::ops`) with [`Surreal::perform`], exactly as `surql-blocking` does.

use std::collections::BTreeMap;
use std::future::Future;

use serde::de::DeserializeOwned;
use surql::model::ops::{self, BulkOptions};
use surql::model::{Changes, IntoModelId, Model};
use surql::query::QuerySet;
use surql::{Object, RecordId, Value};

use surql::signals::{signalled, Action};

use crate::{Executor, Result, Surreal};

/// Model actions: `Person::get(&db, "ada").await?`, `p.save(&db).await?`,
/// `p.merge(&db, &changes).await?`, `p.delete(&db).await?`. In scope with the prelude.
pub trait ModelExt: Model + Sized {
    /// Loads the record with this id (a key, a `RecordId`, `(table, key)`, `"abc"`,
    /// `"person:abc"`, ``"person:`7abc`"``); a missing one is `Error::DoesNotExist`.
    fn get(
        db: &impl Executor,
        id: impl IntoModelId<Self>,
    ) -> impl Future<Output = Result<Self>> + Send {
        let op = ops::get::<Self>(id);
        async move { db.perform_for(Self::META, op).await }
    }

    /// Creates the record (no id: the server assigns one) or writes it (with an id), then
    /// puts the stored record, id and server fields included, back into `self`.
    fn save<'a>(
        &'a mut self,
        db: &'a impl Executor,
    ) -> impl Future<Output = Result<()>> + Send + 'a {
        let op = signalled(db.signals(), Action::Save, &*self, None, ops::save(&*self));
        async move {
            *self = db.perform_for(Self::META, op).await?;
            Ok(())
        }
    }

    /// [`save`](ModelExt::save) with server-side values applied in the same statement
    /// (`Changes::new().set_expr(f.pw, Expr::func("crypto::argon2::generate", [Expr::var("pw")])).bind("pw", secret)`).
    fn save_with<'a>(
        &'a mut self,
        db: &'a impl Executor,
        changes: &Changes,
    ) -> impl Future<Output = Result<()>> + Send + 'a {
        let op = signalled(
            db.signals(),
            Action::Save,
            &*self,
            Some(changes),
            ops::save_with(&*self, changes),
        );
        async move {
            *self = db.perform_for(Self::META, op).await?;
            Ok(())
        }
    }

    /// Writes every written field of an existing record and reloads it into `self`.
    fn update<'a>(
        &'a mut self,
        db: &'a impl Executor,
    ) -> impl Future<Output = Result<()>> + Send + 'a {
        let op = signalled(
            db.signals(),
            Action::Update,
            &*self,
            None,
            ops::update(&*self),
        );
        async move {
            *self = db.perform_for(Self::META, op).await?;
            Ok(())
        }
    }

    /// Applies `changes` on the server and reloads the stored record into `self`.
    fn merge<'a>(
        &'a mut self,
        db: &'a impl Executor,
        changes: &Changes,
    ) -> impl Future<Output = Result<()>> + Send + 'a {
        let op = signalled(
            db.signals(),
            Action::Update,
            &*self,
            Some(changes),
            ops::merge(&*self, changes, true),
        );
        async move {
            if let Some(m) = db.perform_for(Self::META, op).await? {
                *self = m;
            }
            Ok(())
        }
    }

    /// Applies `changes` on the server without reloading (`self` is left as it was).
    fn merge_no_refresh(
        &self,
        db: &impl Executor,
        changes: &Changes,
    ) -> impl Future<Output = Result<()>> + Send {
        let op = signalled(
            db.signals(),
            Action::Update,
            self,
            Some(changes),
            ops::merge(self, changes, false),
        );
        async move { db.perform_for(Self::META, op).await.map(|_| ()) }
    }

    /// Reloads the stored record into `self`.
    fn refresh<'a>(
        &'a mut self,
        db: &'a impl Executor,
    ) -> impl Future<Output = Result<()>> + Send + 'a {
        let op = ops::refresh(&*self);
        async move {
            *self = db.perform_for(Self::META, op).await?;
            Ok(())
        }
    }

    /// Deletes the record.
    fn delete(&self, db: &impl Executor) -> impl Future<Output = Result<()>> + Send {
        let op = signalled(db.signals(), Action::Delete, self, None, ops::delete(self));
        async move { db.perform_for(Self::META, op).await }
    }

    /// Inserts many rows, `opts.batch_size` per statement; yields the stored rows.
    fn bulk_create(
        db: &impl Executor,
        rows: &[Self],
        opts: BulkOptions,
    ) -> impl Future<Output = Result<Vec<Self>>> + Send {
        let op = ops::bulk_create(rows, opts);
        async move { db.perform_for(Self::META, op).await }
    }

    /// Inserts `row`, or applies `on_conflict` to the record it collides with (by id or a
    /// unique index); without `on_conflict` every written field is replaced.
    fn upsert(
        db: &impl Executor,
        row: &Self,
        on_conflict: Option<&Changes>,
    ) -> impl Future<Output = Result<Self>> + Send {
        let op = ops::upsert(row, on_conflict);
        async move { db.perform_for(Self::META, op).await }
    }

    /// [`upsert`](ModelExt::upsert) of many rows in one statement.
    fn bulk_upsert(
        db: &impl Executor,
        rows: &[Self],
        on_conflict: Option<&Changes>,
    ) -> impl Future<Output = Result<Vec<Self>>> + Send {
        let op = ops::bulk_upsert(rows, on_conflict);
        async move { db.perform_for(Self::META, op).await }
    }
}

impl<M: Model> ModelExt for M {}

/// Runs a model's typed [`QuerySet`]: `Person::objects().filter(..).all(&db).await?`.
pub trait ModelQuerySetExt<M: Model> {
    /// Every matching row.
    fn all(&self, db: &impl Executor) -> impl Future<Output = Result<Vec<M>>> + Send;
    /// Every matching row, answered from `cache` while fresh (the answer is kept on a miss;
    /// see [`QueryCache`](surql::cache::QueryCache) for what invalidates it).
    fn all_cached(
        &self,
        db: &impl Executor,
        cache: &surql::cache::QueryCache,
    ) -> impl Future<Output = Result<Vec<M>>> + Send;
    /// The first matching row, if any.
    fn first(&self, db: &impl Executor) -> impl Future<Output = Result<Option<M>>> + Send;
    /// The last matching row (order reversed; by id when unordered), if any.
    fn last(&self, db: &impl Executor) -> impl Future<Output = Result<Option<M>>> + Send;
    /// The one matching row: `DoesNotExist` when none, `MultipleObjectsReturned` when several.
    fn get(&self, db: &impl Executor) -> impl Future<Output = Result<M>> + Send;
    /// Whether any row matches.
    fn exists(&self, db: &impl Executor) -> impl Future<Output = Result<bool>> + Send;
    /// The number of matching rows (computed by the server).
    fn count_rows(&self, db: &impl Executor) -> impl Future<Output = Result<u64>> + Send;
    /// Page `page` (from 0) of `size` rows: `LIMIT size START page*size`.
    fn page(
        &self,
        db: &impl Executor,
        page: u64,
        size: u64,
    ) -> impl Future<Output = Result<Vec<M>>> + Send;
    /// Keyset page: up to `size` rows with an id after `after`, ordered by id.
    fn page_after(
        &self,
        db: &impl Executor,
        after: Option<&RecordId>,
        size: u64,
    ) -> impl Future<Output = Result<Vec<M>>> + Send;
    /// Applies `changes` to every matching row; yields how many were updated.
    fn update_all(
        &self,
        db: &impl Executor,
        changes: &Changes,
    ) -> impl Future<Output = Result<u64>> + Send;
    /// Deletes every matching row; yields how many were deleted.
    fn delete_all(&self, db: &impl Executor) -> impl Future<Output = Result<u64>> + Send;
    /// `(row, false)` for the one matching row, else `(defaults saved, true)`.
    fn get_or_create(
        &self,
        db: &impl Executor,
        defaults: M,
    ) -> impl Future<Output = Result<(M, bool)>> + Send
    where
        M: Clone;
    /// `(row with changes applied, false)`, else `(defaults saved, true)`.
    fn update_or_create(
        &self,
        db: &impl Executor,
        changes: Changes,
        defaults: M,
    ) -> impl Future<Output = Result<(M, bool)>> + Send
    where
        M: Clone;
    /// The matching rows reduced to `fields`, as objects.
    fn fetch_values(
        &self,
        db: &impl Executor,
        fields: &[&str],
    ) -> impl Future<Output = Result<Vec<Object>>> + Send;
    /// One field of every matching row (`SELECT VALUE field`).
    fn fetch_values_list<T: DeserializeOwned + Send + 'static>(
        &self,
        db: &impl Executor,
        field: &str,
    ) -> impl Future<Output = Result<Vec<T>>> + Send;
}

impl<M: Model> ModelQuerySetExt<M> for QuerySet<M> {
    fn all(&self, db: &impl Executor) -> impl Future<Output = Result<Vec<M>>> + Send {
        let op = ops::all(self);
        async move { db.perform_for(M::META, op).await }
    }
    fn all_cached(
        &self,
        db: &impl Executor,
        cache: &surql::cache::QueryCache,
    ) -> impl Future<Output = Result<Vec<M>>> + Send {
        let compiled = self.compile();
        let cache = cache.clone();
        async move {
            let q = compiled.map_err(|e| crate::Error::invalid("query", e.to_string()))?;
            let index = q.result_index;
            let resp = match cache.get(&q, std::time::Instant::now()) {
                Some(r) => r,
                None => {
                    let op = ops::QueryOp::new(Ok(q.clone()), Ok);
                    let r = db.perform_for(M::META, op).await?;
                    let mut tables = surql::cache::QueryCache::tables_read(&q);
                    tables.push(M::META.table.to_owned());
                    let tables: Vec<&str> = tables.iter().map(String::as_str).collect();
                    cache.put(&q, &tables, r.clone(), std::time::Instant::now());
                    r
                }
            };
            ops::rows::<M>(&resp, index)
        }
    }
    fn first(&self, db: &impl Executor) -> impl Future<Output = Result<Option<M>>> + Send {
        let op = ops::first(self);
        async move { db.perform_for(M::META, op).await }
    }
    fn last(&self, db: &impl Executor) -> impl Future<Output = Result<Option<M>>> + Send {
        let op = ops::last(self);
        async move { db.perform_for(M::META, op).await }
    }
    fn get(&self, db: &impl Executor) -> impl Future<Output = Result<M>> + Send {
        let op = ops::find(self);
        async move { db.perform_for(M::META, op).await }
    }
    fn exists(&self, db: &impl Executor) -> impl Future<Output = Result<bool>> + Send {
        let op = ops::exists(self);
        async move { db.perform_for(M::META, op).await }
    }
    fn count_rows(&self, db: &impl Executor) -> impl Future<Output = Result<u64>> + Send {
        let call = surql::client::count(self);
        async move { db.perform_for(M::META, call?).await }
    }
    fn page(
        &self,
        db: &impl Executor,
        page: u64,
        size: u64,
    ) -> impl Future<Output = Result<Vec<M>>> + Send {
        let op = ops::all(&self.clone().limit(size).start(page.saturating_mul(size)));
        async move { db.perform_for(M::META, op).await }
    }
    fn page_after(
        &self,
        db: &impl Executor,
        after: Option<&RecordId>,
        size: u64,
    ) -> impl Future<Output = Result<Vec<M>>> + Send {
        let op = ops::page_after(self, after, size);
        async move { db.perform_for(M::META, op).await }
    }
    fn update_all(
        &self,
        db: &impl Executor,
        changes: &Changes,
    ) -> impl Future<Output = Result<u64>> + Send {
        let op = ops::update_all(self, changes);
        async move { db.perform_for(M::META, op).await }
    }
    fn delete_all(&self, db: &impl Executor) -> impl Future<Output = Result<u64>> + Send {
        let op = ops::delete_all(self);
        async move { db.perform_for(M::META, op).await }
    }
    fn get_or_create(
        &self,
        db: &impl Executor,
        defaults: M,
    ) -> impl Future<Output = Result<(M, bool)>> + Send
    where
        M: Clone,
    {
        let op = ops::get_or_create(self, defaults);
        async move { db.perform_for(M::META, op).await }
    }
    fn update_or_create(
        &self,
        db: &impl Executor,
        changes: Changes,
        defaults: M,
    ) -> impl Future<Output = Result<(M, bool)>> + Send
    where
        M: Clone,
    {
        let op = ops::update_or_create(self, changes, defaults);
        async move { db.perform_for(M::META, op).await }
    }
    fn fetch_values(
        &self,
        db: &impl Executor,
        fields: &[&str],
    ) -> impl Future<Output = Result<Vec<Object>>> + Send {
        let call = surql::client::fetch_all::<Object>(&self.clone().select(fields.iter().copied()));
        async move { db.perform_for(M::META, call?).await }
    }
    fn fetch_values_list<T: DeserializeOwned + Send + 'static>(
        &self,
        db: &impl Executor,
        field: &str,
    ) -> impl Future<Output = Result<Vec<T>>> + Send {
        let call = surql::client::fetch_all::<T>(&self.clone().select_value(field));
        async move { db.perform_for(M::META, call?).await }
    }
}

impl Surreal {
    /// Calls a function (`fn::name`, or a builtin such as `string::lowercase`) with
    /// positional arguments and decodes its result as `T`.
    pub async fn call_function<T: DeserializeOwned + Send + 'static>(
        &self,
        name: &str,
        args: Vec<Value>,
    ) -> Result<T> {
        self.perform(ops::call_function::<T>(name, args)).await
    }

    /// Calls a defined function with named arguments (its definition gives their order;
    /// a missing or unknown name is an error naming it). Two round trips.
    pub async fn call_function_named<T: DeserializeOwned + Send + 'static>(
        &self,
        name: &str,
        args: BTreeMap<String, Value>,
    ) -> Result<T> {
        self.perform(ops::call_function_named::<T>(name, args))
            .await
    }
}
