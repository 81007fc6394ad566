//! Schema diffs: the [`Operation`]s that turn one [`Schema`] into another, each with its
//! forwards and backwards SurrealQL.
//!
//! Two definitions are "the same" when their `DEFINE` statements are equal after
//! [`normalize_expr`] (whitespace outside strings ignored), so the server's re-printing of
//! an expression is not a change.

use super::{
    normalize_expr, Access, Analyzer, Event, Field, Function, Index, Param, Schema, Table,
};

/// One schema item: what an [`Operation`] creates, removes or alters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A table (with its fields, indexes and events when created or removed whole).
    Table(Table),
    /// A field.
    Field(Field),
    /// An index.
    Index(Index),
    /// An event.
    Event(Event),
    /// An analyzer.
    Analyzer(Analyzer),
    /// A param.
    Param(Param),
    /// A function.
    Function(Function),
    /// An access.
    Access(Access),
}

impl Item {
    /// The statements that create the item (a table: with everything on it).
    pub fn create_sql(&self) -> Vec<String> {
        match self {
            Item::Table(t) => t.define_all(),
            Item::Field(f) => vec![f.define_sql()],
            Item::Index(i) => vec![i.define_sql()],
            Item::Event(e) => vec![e.define_sql()],
            Item::Analyzer(a) => vec![a.define_sql()],
            Item::Param(p) => vec![p.define_sql()],
            Item::Function(f) => vec![f.define_sql()],
            Item::Access(a) => vec![a.define_sql()],
        }
    }

    /// The statement that redefines an existing item in place (a table: its own clauses;
    /// an index: removed and defined again, so it is rebuilt).
    pub fn overwrite_sql(&self) -> Vec<String> {
        match self {
            Item::Table(t) => vec![t.overwrite_sql()],
            Item::Field(f) => vec![f.overwrite_sql()],
            Item::Index(i) => vec![i.remove_sql(), i.define_sql()],
            Item::Event(e) => vec![e.overwrite_sql()],
            Item::Analyzer(a) => vec![a.overwrite_sql()],
            Item::Param(p) => vec![p.overwrite_sql()],
            Item::Function(f) => vec![f.overwrite_sql()],
            Item::Access(a) => vec![a.remove_sql(), a.define_sql()],
        }
    }

    /// The statement that removes the item.
    pub fn remove_sql(&self) -> String {
        match self {
            Item::Table(t) => t.remove_sql(),
            Item::Field(f) => f.remove_sql(),
            Item::Index(i) => i.remove_sql(),
            Item::Event(e) => e.remove_sql(),
            Item::Analyzer(a) => a.remove_sql(),
            Item::Param(p) => p.remove_sql(),
            Item::Function(f) => f.remove_sql(),
            Item::Access(a) => a.remove_sql(),
        }
    }

    /// `table person`, `field email on person`, …
    pub fn describe(&self) -> String {
        match self {
            Item::Table(t) => format!("table {}", t.name),
            Item::Field(f) => format!("field {} on {}", f.name, f.table),
            Item::Index(i) => format!("index {} on {}", i.name, i.table),
            Item::Event(e) => format!("event {} on {}", e.name, e.table),
            Item::Analyzer(a) => format!("analyzer {}", a.name),
            Item::Param(p) => format!("param ${}", p.name),
            Item::Function(f) => format!("function fn::{}", f.name),
            Item::Access(a) => format!("access {}", a.name),
        }
    }

    /// A short name for migration file names (`person`, `person_email`).
    fn slug(&self) -> String {
        match self {
            Item::Table(t) => t.name.clone(),
            Item::Field(f) => format!("{}_{}", f.table, f.name),
            Item::Index(i) => format!("{}_{}", i.table, i.name),
            Item::Event(e) => format!("{}_{}", e.table, e.name),
            Item::Analyzer(a) => a.name.clone(),
            Item::Param(p) => p.name.clone(),
            Item::Function(f) => f.name.clone(),
            Item::Access(a) => a.name.clone(),
        }
    }
}

/// One migration step, with its forwards and backwards SurrealQL.
// A migration holds a handful of operations: boxing the larger items would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// Creates the item (a table with its fields, indexes and events). Backwards: removes it.
    Create(Item),
    /// Removes the item. Backwards: creates it again as it was (a table's data is gone).
    Remove(Item),
    /// Redefines the item. Backwards: the previous definition.
    Alter {
        /// The definition before.
        from: Item,
        /// The definition after.
        to: Item,
    },
    /// Hand-written SurrealQL (data migrations): reversible when `down` is given.
    Raw {
        /// Forwards.
        up: String,
        /// Backwards, if the step can be undone.
        down: Option<String>,
    },
}

impl Operation {
    /// The forwards statements.
    pub fn forwards(&self) -> Vec<String> {
        match self {
            Operation::Create(i) => i.create_sql(),
            Operation::Remove(i) => vec![i.remove_sql()],
            Operation::Alter { to, .. } => to.overwrite_sql(),
            Operation::Raw { up, .. } => vec![up.clone()],
        }
    }

    /// The backwards statements, `None` when the operation cannot be undone.
    pub fn backwards(&self) -> Option<Vec<String>> {
        match self {
            Operation::Create(i) => Some(vec![i.remove_sql()]),
            Operation::Remove(i) => Some(i.create_sql()),
            Operation::Alter { from, .. } => Some(from.overwrite_sql()),
            Operation::Raw { down, .. } => down.clone().map(|d| vec![d]),
        }
    }

    /// Whether [`backwards`](Self::backwards) exists.
    pub fn reversible(&self) -> bool {
        !matches!(self, Operation::Raw { down: None, .. })
    }

    /// `create table person`, `alter field age on person`, `raw SQL`.
    pub fn describe(&self) -> String {
        match self {
            Operation::Create(i) => format!("create {}", i.describe()),
            Operation::Remove(i) => format!("remove {}", i.describe()),
            Operation::Alter { to, .. } => format!("alter {}", to.describe()),
            Operation::Raw { .. } => "raw SQL".into(),
        }
    }

    /// A file-name fragment: `create_person`, `alter_person_age`.
    pub fn slug(&self) -> String {
        match self {
            Operation::Create(i) => format!("create_{}", i.slug()),
            Operation::Remove(i) => format!("remove_{}", i.slug()),
            Operation::Alter { to, .. } => format!("alter_{}", to.slug()),
            Operation::Raw { .. } => "raw".into(),
        }
    }
}

fn same(a: &[String], b: &[String]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| normalize_expr(x) == normalize_expr(y))
}

fn same_item(a: &Item, b: &Item) -> bool {
    match (a, b) {
        // A table's own clauses only: its fields, indexes and events are diffed one by one.
        (Item::Table(a), Item::Table(b)) => same(&[a.define_sql()], &[b.define_sql()]),
        _ => same(&a.create_sql(), &b.create_sql()),
    }
}

/// Collects create/alter/remove operations of one kind of item.
fn diff_map<T: Clone>(
    from: &std::collections::BTreeMap<String, T>,
    to: &std::collections::BTreeMap<String, T>,
    wrap: impl Fn(T) -> Item,
    creates: &mut Vec<Operation>,
    alters: &mut Vec<Operation>,
    removes: &mut Vec<Operation>,
) {
    for (name, new) in to {
        match from.get(name) {
            None => creates.push(Operation::Create(wrap(new.clone()))),
            Some(old) => {
                let (old, new) = (wrap(old.clone()), wrap(new.clone()));
                if !same_item(&old, &new) {
                    alters.push(Operation::Alter { from: old, to: new });
                }
            }
        }
    }
    for (name, old) in from {
        if !to.contains_key(name) {
            removes.push(Operation::Remove(wrap(old.clone())));
        }
    }
}

/// The operations that turn `from` into `to`, in an order the server accepts:
/// analyzers, params and functions first (indexes and fields may use them); then new
/// tables whole; then, per existing table, removed events and indexes, the table's own
/// changes, removed, added and altered fields, added and altered indexes and events; then
/// removed tables; then removed functions, params and analyzers; accesses last. Within a
/// kind, items are in name order, so the same two schemas always give the same list.
///
/// Renames are never guessed: a renamed field is a removed field and an added one (write
/// a [`Operation::Raw`] by hand to move data).
pub fn diff(from: &Schema, to: &Schema) -> Vec<Operation> {
    let mut ops = Vec::new();
    let mut late_removes = Vec::new();

    let mut creates = Vec::new();
    let mut alters = Vec::new();
    diff_map(
        &from.analyzers,
        &to.analyzers,
        Item::Analyzer,
        &mut creates,
        &mut alters,
        &mut late_removes,
    );
    diff_map(
        &from.params,
        &to.params,
        Item::Param,
        &mut creates,
        &mut alters,
        &mut late_removes,
    );
    diff_map(
        &from.functions,
        &to.functions,
        Item::Function,
        &mut creates,
        &mut alters,
        &mut late_removes,
    );
    ops.append(&mut creates);
    ops.append(&mut alters);

    // New tables, whole.
    for (name, t) in &to.tables {
        if !from.tables.contains_key(name) {
            ops.push(Operation::Create(Item::Table(t.clone())));
        }
    }
    // Changed tables, item by item.
    for (name, new) in &to.tables {
        let Some(old) = from.tables.get(name) else {
            continue;
        };
        let (mut c_ix, mut a_ix, mut r_ix) = (Vec::new(), Vec::new(), Vec::new());
        diff_map(
            &old.indexes,
            &new.indexes,
            Item::Index,
            &mut c_ix,
            &mut a_ix,
            &mut r_ix,
        );
        let (mut c_ev, mut a_ev, mut r_ev) = (Vec::new(), Vec::new(), Vec::new());
        diff_map(
            &old.events,
            &new.events,
            Item::Event,
            &mut c_ev,
            &mut a_ev,
            &mut r_ev,
        );
        let (mut c_f, mut a_f, mut r_f) = (Vec::new(), Vec::new(), Vec::new());
        diff_map(
            &old.fields,
            &new.fields,
            Item::Field,
            &mut c_f,
            &mut a_f,
            &mut r_f,
        );
        ops.append(&mut r_ev);
        ops.append(&mut r_ix);
        let (old_t, new_t) = (Item::Table(old.clone()), Item::Table(new.clone()));
        if !same_item(&old_t, &new_t) {
            ops.push(Operation::Alter {
                from: old_t,
                to: new_t,
            });
        }
        ops.append(&mut r_f);
        ops.append(&mut c_f);
        ops.append(&mut a_f);
        ops.append(&mut c_ix);
        ops.append(&mut a_ix);
        ops.append(&mut c_ev);
        ops.append(&mut a_ev);
    }
    for (name, t) in &from.tables {
        if !to.tables.contains_key(name) {
            ops.push(Operation::Remove(Item::Table(t.clone())));
        }
    }
    // Functions after params, analyzers after the indexes that used them are gone.
    late_removes.reverse();
    ops.append(&mut late_removes);

    let (mut c_ac, mut a_ac, mut r_ac) = (Vec::new(), Vec::new(), Vec::new());
    diff_map(
        &from.accesses,
        &to.accesses,
        Item::Access,
        &mut c_ac,
        &mut a_ac,
        &mut r_ac,
    );
    ops.append(&mut r_ac);
    ops.append(&mut c_ac);
    ops.append(&mut a_ac);
    ops
}
