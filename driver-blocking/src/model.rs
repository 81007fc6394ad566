//! Model actions for the blocking driver: [`ModelExt`] on model instances and types,
//! [`ModelQuerySetExt`] on `Model::objects()` query sets. Every method runs one operation of
//! the core (`surql::model::ops`) with [`Surreal::perform`], exactly as `surql-smol` does.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use surql::model::ops::{self, BulkOptions};
use surql::model::{Changes, IntoModelId, Model};
use surql::query::QuerySet;
use surql::{Object, RecordId, Value};

use surql::signals::{signalled, Action};

use crate::{Executor, Result, Surreal};

/// Model actions: `Person::get(&db, "ada")?`, `p.save(&db)?`,
/// `p.merge(&db, &changes)?`, `p.delete(&db)?`. In scope with the prelude.
pub trait ModelExt: Model + Sized {
    /// Loads the record with this id (a key, a `RecordId`, `(table, key)`, `"abc"`,
    /// `"person:abc"`, ``"person:`7abc`"``); a missing one is `Error::DoesNotExist`.
    fn get(db: &impl Executor, id: impl IntoModelId<Self>) -> Result<Self> {
        db.perform_for(Self::META, ops::get::<Self>(id))
    }

    /// Creates the record (no id: the server assigns one) or writes it (with an id), then
    /// puts the stored record, id and server fields included, back into `self`.
    fn save(&mut self, db: &impl Executor) -> Result<()> {
        *self = db.perform_for(
            Self::META,
            signalled(db.signals(), Action::Save, &*self, None, ops::save(&*self)),
        )?;
        Ok(())
    }

    /// [`save`](ModelExt::save) with server-side values applied in the same statement
    /// (`Changes::new().set_expr(f.pw, Expr::func("crypto::argon2::generate", [Expr::var("pw")])).bind("pw", secret)`).
    fn save_with(&mut self, db: &impl Executor, changes: &Changes) -> Result<()> {
        *self = db.perform_for(
            Self::META,
            signalled(
                db.signals(),
                Action::Save,
                &*self,
                Some(changes),
                ops::save_with(&*self, changes),
            ),
        )?;
        Ok(())
    }

    /// Writes every written field of an existing record and reloads it into `self`.
    fn update(&mut self, db: &impl Executor) -> Result<()> {
        *self = db.perform_for(
            Self::META,
            signalled(
                db.signals(),
                Action::Update,
                &*self,
                None,
                ops::update(&*self),
            ),
        )?;
        Ok(())
    }

    /// Applies `changes` on the server and reloads the stored record into `self`.
    fn merge(&mut self, db: &impl Executor, changes: &Changes) -> Result<()> {
        if let Some(m) = db.perform_for(
            Self::META,
            signalled(
                db.signals(),
                Action::Update,
                &*self,
                Some(changes),
                ops::merge(&*self, changes, true),
            ),
        )? {
            *self = m;
        }
        Ok(())
    }

    /// Applies `changes` on the server without reloading (`self` is left as it was).
    fn merge_no_refresh(&self, db: &impl Executor, changes: &Changes) -> Result<()> {
        db.perform_for(
            Self::META,
            signalled(
                db.signals(),
                Action::Update,
                self,
                Some(changes),
                ops::merge(self, changes, false),
            ),
        )
        .map(|_| ())
    }

    /// Reloads the stored record into `self`.
    fn refresh(&mut self, db: &impl Executor) -> Result<()> {
        *self = db.perform_for(Self::META, ops::refresh(&*self))?;
        Ok(())
    }

    /// Deletes the record.
    fn delete(&self, db: &impl Executor) -> Result<()> {
        db.perform_for(
            Self::META,
            signalled(db.signals(), Action::Delete, self, None, ops::delete(self)),
        )
    }

    /// Inserts many rows, `opts.batch_size` per statement; yields the stored rows.
    fn bulk_create(db: &impl Executor, rows: &[Self], opts: BulkOptions) -> Result<Vec<Self>> {
        db.perform_for(Self::META, ops::bulk_create(rows, opts))
    }

    /// Inserts `row`, or applies `on_conflict` to the record it collides with (by id or a
    /// unique index); without `on_conflict` every written field is replaced.
    fn upsert(db: &impl Executor, row: &Self, on_conflict: Option<&Changes>) -> Result<Self> {
        db.perform_for(Self::META, ops::upsert(row, on_conflict))
    }

    /// [`upsert`](ModelExt::upsert) of many rows in one statement.
    fn bulk_upsert(
        db: &impl Executor,
        rows: &[Self],
        on_conflict: Option<&Changes>,
    ) -> Result<Vec<Self>> {
        db.perform_for(Self::META, ops::bulk_upsert(rows, on_conflict))
    }
}

impl<M: Model> ModelExt for M {}

/// Runs a model's typed [`QuerySet`]: `Person::objects().filter(..).all(&db)?`.
pub trait ModelQuerySetExt<M: Model> {
    /// Every matching row.
    fn all(&self, db: &impl Executor) -> Result<Vec<M>>;
    /// Every matching row, answered from `cache` while fresh (the answer is kept on a miss;
    /// see [`QueryCache`](surql::cache::QueryCache) for what invalidates it).
    fn all_cached(&self, db: &impl Executor, cache: &surql::cache::QueryCache) -> Result<Vec<M>>;
    /// The first matching row, if any.
    fn first(&self, db: &impl Executor) -> Result<Option<M>>;
    /// The last matching row (order reversed; by id when unordered), if any.
    fn last(&self, db: &impl Executor) -> Result<Option<M>>;
    /// The one matching row: `DoesNotExist` when none, `MultipleObjectsReturned` when several.
    fn get(&self, db: &impl Executor) -> Result<M>;
    /// Whether any row matches.
    fn exists(&self, db: &impl Executor) -> Result<bool>;
    /// The number of matching rows (computed by the server).
    fn count_rows(&self, db: &impl Executor) -> Result<u64>;
    /// Page `page` (from 0) of `size` rows: `LIMIT size START page*size`.
    fn page(&self, db: &impl Executor, page: u64, size: u64) -> Result<Vec<M>>;
    /// Keyset page: up to `size` rows with an id after `after`, ordered by id.
    fn page_after(&self, db: &impl Executor, after: Option<&RecordId>, size: u64)
        -> Result<Vec<M>>;
    /// Applies `changes` to every matching row; yields how many were updated.
    fn update_all(&self, db: &impl Executor, changes: &Changes) -> Result<u64>;
    /// Deletes every matching row; yields how many were deleted.
    fn delete_all(&self, db: &impl Executor) -> Result<u64>;
    /// `(row, false)` for the one matching row, else `(defaults saved, true)`.
    fn get_or_create(&self, db: &impl Executor, defaults: M) -> Result<(M, bool)>
    where
        M: Clone;
    /// `(row with changes applied, false)`, else `(defaults saved, true)`.
    fn update_or_create(
        &self,
        db: &impl Executor,
        changes: Changes,
        defaults: M,
    ) -> Result<(M, bool)>
    where
        M: Clone;
    /// The matching rows reduced to `fields`, as objects.
    fn fetch_values(&self, db: &impl Executor, fields: &[&str]) -> Result<Vec<Object>>;
    /// One field of every matching row (`SELECT VALUE field`).
    fn fetch_values_list<T: DeserializeOwned + Send + 'static>(
        &self,
        db: &impl Executor,
        field: &str,
    ) -> Result<Vec<T>>;
}

impl<M: Model> ModelQuerySetExt<M> for QuerySet<M> {
    fn all(&self, db: &impl Executor) -> Result<Vec<M>> {
        db.perform_for(M::META, ops::all(self))
    }
    fn all_cached(&self, db: &impl Executor, cache: &surql::cache::QueryCache) -> Result<Vec<M>> {
        let q = self
            .compile()
            .map_err(|e| crate::Error::invalid("query", e.to_string()))?;
        let index = q.result_index;
        let resp = match cache.get(&q, std::time::Instant::now()) {
            Some(r) => r,
            None => {
                let r = db.perform_for(M::META, ops::QueryOp::new(Ok(q.clone()), Ok))?;
                let mut tables = surql::cache::QueryCache::tables_read(&q);
                tables.push(M::META.table.to_owned());
                let tables: Vec<&str> = tables.iter().map(String::as_str).collect();
                cache.put(&q, &tables, r.clone(), std::time::Instant::now());
                r
            }
        };
        ops::rows::<M>(&resp, index)
    }
    fn first(&self, db: &impl Executor) -> Result<Option<M>> {
        db.perform_for(M::META, ops::first(self))
    }
    fn last(&self, db: &impl Executor) -> Result<Option<M>> {
        db.perform_for(M::META, ops::last(self))
    }
    fn get(&self, db: &impl Executor) -> Result<M> {
        db.perform_for(M::META, ops::find(self))
    }
    fn exists(&self, db: &impl Executor) -> Result<bool> {
        db.perform_for(M::META, ops::exists(self))
    }
    fn count_rows(&self, db: &impl Executor) -> Result<u64> {
        db.perform_for(M::META, surql::client::count(self)?)
    }
    fn page(&self, db: &impl Executor, page: u64, size: u64) -> Result<Vec<M>> {
        db.perform_for(
            M::META,
            ops::all(&self.clone().limit(size).start(page.saturating_mul(size))),
        )
    }
    fn page_after(
        &self,
        db: &impl Executor,
        after: Option<&RecordId>,
        size: u64,
    ) -> Result<Vec<M>> {
        db.perform_for(M::META, ops::page_after(self, after, size))
    }
    fn update_all(&self, db: &impl Executor, changes: &Changes) -> Result<u64> {
        db.perform_for(M::META, ops::update_all(self, changes))
    }
    fn delete_all(&self, db: &impl Executor) -> Result<u64> {
        db.perform_for(M::META, ops::delete_all(self))
    }
    fn get_or_create(&self, db: &impl Executor, defaults: M) -> Result<(M, bool)>
    where
        M: Clone,
    {
        db.perform_for(M::META, ops::get_or_create(self, defaults))
    }
    fn update_or_create(
        &self,
        db: &impl Executor,
        changes: Changes,
        defaults: M,
    ) -> Result<(M, bool)>
    where
        M: Clone,
    {
        db.perform_for(M::META, ops::update_or_create(self, changes, defaults))
    }
    fn fetch_values(&self, db: &impl Executor, fields: &[&str]) -> Result<Vec<Object>> {
        db.perform_for(
            M::META,
            surql::client::fetch_all::<Object>(&self.clone().select(fields.iter().copied()))?,
        )
    }
    fn fetch_values_list<T: DeserializeOwned + Send + 'static>(
        &self,
        db: &impl Executor,
        field: &str,
    ) -> Result<Vec<T>> {
        db.perform_for(
            M::META,
            surql::client::fetch_all::<T>(&self.clone().select_value(field))?,
        )
    }
}

impl Surreal {
    /// Calls a function (`fn::name`, or a builtin such as `string::lowercase`) with
    /// positional arguments and decodes its result as `T`.
    pub fn call_function<T: DeserializeOwned + Send + 'static>(
        &self,
        name: &str,
        args: Vec<Value>,
    ) -> Result<T> {
        self.perform(ops::call_function::<T>(name, args))
    }

    /// Calls a defined function with named arguments (its definition gives their order;
    /// a missing or unknown name is an error naming it). Two round trips.
    pub fn call_function_named<T: DeserializeOwned + Send + 'static>(
        &self,
        name: &str,
        args: BTreeMap<String, Value>,
    ) -> Result<T> {
        self.perform(ops::call_function_named::<T>(name, args))
    }
}
