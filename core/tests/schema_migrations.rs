//! Schemas from models and incremental migrations, without a server: each model edit
//! (add field, change type, add index, drop table) gives exactly the expected operations
//! and file, and the state replayed from the files is what the models say.

use serde::{Deserialize, Serialize};
use surql::model::Model;
use surql::schema::{diff::Item, MigrationSet, Operation, Schema};
use surql::{Datetime, RecordId};

mod v1 {
    use super::*;
    #[derive(Serialize, Deserialize, Model)]
    #[surql(table = "person", schemafull)]
    pub struct Person {
        pub id: Option<RecordId>,
        pub name: String,
        pub age: i64,
    }
    #[derive(Serialize, Deserialize, Model)]
    #[surql(table = "post", schemafull)]
    pub struct Post {
        pub id: Option<RecordId>,
        #[surql(type = "record<person>")]
        pub author: RecordId,
        #[surql(server = "time::now()")]
        pub at: Option<Datetime>,
    }
}
mod v2 {
    use super::*;
    #[derive(Serialize, Deserialize, Model)]
    #[surql(table = "person", schemafull)]
    pub struct Person {
        pub id: Option<RecordId>,
        pub name: String,
        pub age: i64,
        pub email: Option<String>,
    }
}
mod v3 {
    use super::*;
    #[derive(Serialize, Deserialize, Model)]
    #[surql(table = "person", schemafull)]
    pub struct Person {
        pub id: Option<RecordId>,
        pub name: String,
        pub age: f64,
        pub email: Option<String>,
    }
}
mod v4 {
    use super::*;
    #[derive(Serialize, Deserialize, Model)]
    #[surql(table = "person", schemafull)]
    #[surql(index(name = "person_email", fields("email"), unique))]
    #[surql(
        define = "DEFINE EVENT hello ON person WHEN $event = 'CREATE' THEN (CREATE log SET p = $after.id)"
    )]
    pub struct Person {
        pub id: Option<RecordId>,
        pub name: String,
        pub age: f64,
        pub email: Option<String>,
    }
}

fn ops_of(set: &MigrationSet, schema: &Schema) -> Vec<String> {
    match set.make(schema, None).unwrap() {
        Some((_, ops)) => ops.iter().map(Operation::describe).collect(),
        None => Vec::new(),
    }
}

/// Makes the next migration and adds it to the set, as `makemigrations` does on disk.
fn step(set: &mut MigrationSet, schema: &Schema) -> surql::schema::Migration {
    let (m, _) = set.make(schema, None).unwrap().expect("a change");
    let text = m.to_text();
    let mut files: Vec<(String, String)> = set
        .migrations
        .iter()
        .map(|m| (m.file_name(), m.to_text()))
        .collect();
    files.push((m.file_name(), text));
    *set = MigrationSet::from_files(files).unwrap();
    m
}

#[test]
fn schema_from_models_is_exact() {
    let s = Schema::from_models(&[v1::Person::META, v1::Post::META]).unwrap();
    assert_eq!(
        s.define_sql(),
        [
            "DEFINE TABLE person TYPE NORMAL SCHEMAFULL;",
            "DEFINE FIELD age ON person TYPE int;",
            "DEFINE FIELD name ON person TYPE string;",
            "DEFINE TABLE post TYPE NORMAL SCHEMAFULL;",
            "DEFINE FIELD at ON post TYPE option<datetime> DEFAULT time::now() READONLY;",
            "DEFINE FIELD author ON post TYPE record<person>;",
        ]
    );
    assert!(Schema::from_models(&[v1::Person::META, v2::Person::META])
        .unwrap_err()
        .0
        .contains("two models use the table `person`"));
}

#[test]
fn makemigrations_is_incremental() {
    let mut set = MigrationSet::default();
    let s1 = Schema::from_models(&[v1::Person::META, v1::Post::META]).unwrap();
    assert_eq!(
        ops_of(&set, &s1),
        ["create table person", "create table post"]
    );
    let m1 = step(&mut set, &s1);
    assert_eq!(m1.name, "0001_initial");
    assert_eq!(
        m1.to_text(),
        "-- surql migration 0001_initial\n-- create table person\n-- create table post\n-- up\n\
DEFINE TABLE person TYPE NORMAL SCHEMAFULL;\n\
DEFINE FIELD age ON person TYPE int;\n\
DEFINE FIELD name ON person TYPE string;\n\
DEFINE TABLE post TYPE NORMAL SCHEMAFULL;\n\
DEFINE FIELD at ON post TYPE option<datetime> DEFAULT time::now() READONLY;\n\
DEFINE FIELD author ON post TYPE record<person>;\n\
-- down\nREMOVE TABLE post;\nREMOVE TABLE person;\n"
    );
    // Nothing changed: no migration.
    assert!(set.make(&s1, None).unwrap().is_none());
    assert_eq!(set.state(None).unwrap(), s1);

    // Add a field.
    let s2 = Schema::from_models(&[v2::Person::META, v1::Post::META]).unwrap();
    let m2 = step(&mut set, &s2);
    assert_eq!(m2.name, "0002_create_person_email");
    assert_eq!(m2.up, "DEFINE FIELD email ON person TYPE option<string>;");
    assert_eq!(m2.down.as_deref(), Some("REMOVE FIELD email ON person;"));

    // Change a type.
    let s3 = Schema::from_models(&[v3::Person::META, v1::Post::META]).unwrap();
    let m3 = step(&mut set, &s3);
    assert_eq!(m3.name, "0003_alter_person_age");
    assert_eq!(m3.up, "DEFINE FIELD OVERWRITE age ON person TYPE float;");
    assert_eq!(
        m3.down.as_deref(),
        Some("DEFINE FIELD OVERWRITE age ON person TYPE int;")
    );

    // Add an index and an event.
    let s4 = Schema::from_models(&[v4::Person::META, v1::Post::META]).unwrap();
    assert_eq!(
        ops_of(&set, &s4),
        [
            "create index person_email on person",
            "create event hello on person"
        ]
    );
    let m4 = step(&mut set, &s4);
    assert_eq!(m4.name, "0004_create_person_person_email_and_more");
    assert_eq!(
        m4.up,
        "DEFINE INDEX person_email ON person FIELDS email UNIQUE;\n\
DEFINE EVENT hello ON person WHEN $event = 'CREATE' THEN (CREATE log SET p = $after.id);"
    );

    // Drop a table: its down section restores it whole.
    let s5 = Schema::from_models(&[v4::Person::META]).unwrap();
    let m5 = step(&mut set, &s5);
    assert_eq!(m5.name, "0005_remove_post");
    assert_eq!(m5.up, "REMOVE TABLE post;");
    assert_eq!(
        m5.down.as_deref(),
        Some(
            "DEFINE TABLE post TYPE NORMAL SCHEMAFULL;\n\
DEFINE FIELD at ON post TYPE option<datetime> DEFAULT time::now() READONLY;\n\
DEFINE FIELD author ON post TYPE record<person>;"
        )
    );
    assert!(set.make(&s5, None).unwrap().is_none());
    // The state at each point is each step's models.
    assert_eq!(set.state(Some("0001_initial")).unwrap(), s1);
    assert_eq!(set.state(Some("0003_alter_person_age")).unwrap(), s3);
    assert_eq!(set.state(None).unwrap(), s5);
}

#[test]
fn migration_files_parse_and_name_deterministically() {
    let m = surql::schema::Migration::parse(
        "0007_data",
        "-- hand written\n-- up\nUPDATE person SET n = 1;\n-- down\n-- irreversible\n",
    )
    .unwrap();
    assert!(!m.reversible());
    assert_eq!(m.up, "UPDATE person SET n = 1;");
    assert_eq!(m.number(), Some(7));
    assert!(surql::schema::Migration::parse("0001_x", "DEFINE TABLE t;")
        .unwrap_err()
        .0
        .contains("comes before the `-- up` line"));
    let dup = MigrationSet::from_files([
        ("0001_a.surql".to_owned(), "-- up\n".to_owned()),
        ("0001_b.surql".to_owned(), "-- up\n".to_owned()),
    ]);
    assert!(dup.unwrap_err().0.contains("have the same number"));
    assert_eq!(
        surql::schema::migrations::slugify("Add e-mail, now!"),
        "add_e_mail_now"
    );
    let raw = Operation::Raw {
        up: "UPDATE person SET n = 1".into(),
        down: None,
    };
    assert!(!raw.reversible());
    let m = surql::schema::Migration::from_operations("0002_raw", &[raw]);
    assert_eq!(m.down, None);
    assert!(m.to_text().ends_with("-- down\n-- irreversible\n"));
    let _ = Item::Table(surql::schema::Table::new("x"));
}

// ---------------------------------------------------------------------------------------
// Applying against a scripted server: what a run sends depends on the server's `version()`.

use surql::op::{Operation as _, Step};
use surql::rpc::{Method, Payload};
use surql::schema::migrations::MigrationRun;
use surql::{Object, Value};

fn ok_results(values: Vec<Value>) -> Payload {
    Payload::from(Value::Array(
        values
            .into_iter()
            .map(|v| {
                let mut o = Object::new();
                o.insert("status".into(), "OK".into());
                o.insert("time".into(), "1µs".into());
                o.insert("result".into(), v);
                Value::Object(o)
            })
            .collect(),
    ))
}

/// Runs `op` against a server that answers `version()` with `version`, has `applied`
/// recorded, and accepts every statement; returns the methods and the query texts sent.
fn run_scripted(
    mut op: MigrationRun,
    version: &str,
    applied: &[&surql::schema::Migration],
) -> (Vec<Method>, Vec<String>) {
    let (mut methods, mut texts) = (Vec::new(), Vec::new());
    let mut answer = None;
    loop {
        match op.step(answer.take()) {
            Step::Send(req) => {
                methods.push(req.method);
                answer = Some(Ok(match req.method {
                    Method::Version => Payload::from(Value::from(version)),
                    Method::Query => {
                        let text = req.params[0].as_str().unwrap().to_owned();
                        let reply =
                            if text.starts_with("DEFINE TABLE IF NOT EXISTS _surql_migrations") {
                                let rows = applied
                                    .iter()
                                    .map(|m| {
                                        let mut o = Object::new();
                                        o.insert("name".into(), m.name.as_str().into());
                                        o.insert("checksum".into(), m.checksum().into());
                                        Value::Object(o)
                                    })
                                    .collect();
                                let mut v = vec![Value::None; 4];
                                v.push(Value::Array(rows));
                                ok_results(v)
                            } else {
                                ok_results(vec![Value::None; text.matches(";\n").count() + 1])
                            };
                        texts.push(text);
                        reply
                    }
                    m => panic!("unexpected {m:?}"),
                }));
            }
            Step::Done(r) => {
                r.unwrap();
                return (methods, texts);
            }
        }
    }
}

/// 0001 creates `person` with `age: int`, 0002 adds `email`, 0003 makes `age` a float.
fn age_chain() -> MigrationSet {
    let mut set = MigrationSet::default();
    step(&mut set, &Schema::from_models(&[v1::Person::META]).unwrap());
    step(&mut set, &Schema::from_models(&[v2::Person::META]).unwrap());
    step(&mut set, &Schema::from_models(&[v3::Person::META]).unwrap());
    set
}

#[test]
fn on_4_0_a_changed_field_type_migrates_existing_rows() {
    let set = age_chain();
    let (methods, texts) = run_scripted(
        set.migrate(None, false).seed(0x2a),
        "surrealdb-4.0.0-beta.1",
        &[],
    );
    assert_eq!(
        methods,
        [
            Method::Query,
            Method::Version,
            Method::Query,
            Method::Query,
            Method::Query
        ]
    );
    // A new table has no rows: its fields go as the file says.
    assert_eq!(
        texts[1],
        "BEGIN TRANSACTION;\n\
         DEFINE TABLE person TYPE NORMAL SCHEMAFULL;\n\
         DEFINE FIELD age ON person TYPE int;\n\
         DEFINE FIELD name ON person TYPE string;\n\
         CREATE $_surql_rid SET name = $_surql_name, checksum = $_surql_checksum;\n\
         COMMIT TRANSACTION;"
    );
    // An optional new field accepts NONE: nothing to migrate.
    assert!(
        texts[2].contains("DEFINE FIELD email ON person TYPE option<string>;\n"),
        "{}",
        texts[2]
    );
    assert_eq!(
        texts[3],
        "BEGIN TRANSACTION;\n\
         DEFINE FIELD OVERWRITE age ON person TYPE float MIGRATE EXISTING ROWS AS \
         surql_0003_alter_person_age_up_0000002a_age USING $value FALLBACK 0.0;\n\
         CREATE $_surql_rid SET name = $_surql_name, checksum = $_surql_checksum;\n\
         COMMIT TRANSACTION;"
    );
    // Rolling back changes the type back, under a name of its own.
    let m = &set.migrations;
    let (_, texts) = run_scripted(
        set.rollback("0002", false).seed(0x2a),
        "surrealdb-4.0.0-beta.1",
        &[&m[0], &m[1], &m[2]],
    );
    assert_eq!(
        texts[1],
        "BEGIN TRANSACTION;\n\
         DEFINE FIELD OVERWRITE age ON person TYPE int MIGRATE EXISTING ROWS AS \
         surql_0003_alter_person_age_down_0000002a_age USING $value FALLBACK 0;\n\
         DELETE $_surql_rid;\n\
         COMMIT TRANSACTION;"
    );
}

#[test]
fn on_3_x_the_file_goes_as_written() {
    let set = age_chain();
    for version in ["surrealdb-3.3.5", "surrealdb-3.0.5", "not a version"] {
        let (_, texts) = run_scripted(set.migrate(None, false).seed(0x2a), version, &[]);
        assert_eq!(
            texts[3],
            "BEGIN TRANSACTION;\n\
             DEFINE FIELD OVERWRITE age ON person TYPE float;\n\
             CREATE $_surql_rid SET name = $_surql_name, checksum = $_surql_checksum;\n\
             COMMIT TRANSACTION;",
            "{version}"
        );
    }
}

#[test]
fn names_differ_per_run_unless_seeded() {
    let set = age_chain();
    let v4 = "surrealdb-4.0.0-beta.1";
    let a = run_scripted(set.migrate(None, false), v4, &[]).1;
    let b = run_scripted(set.migrate(None, false), v4, &[]).1;
    assert_ne!(
        a[3], b[3],
        "a migration applied again needs a new name on 4.0"
    );
    let a = run_scripted(set.migrate(None, false).seed(7), v4, &[]).1;
    let b = run_scripted(set.migrate(None, false).seed(7), v4, &[]).1;
    assert_eq!(a, b);
}

#[test]
fn status_and_fake_runs_do_not_ask_the_version() {
    let set = age_chain();
    let (methods, _) = run_scripted(set.status(), "surrealdb-4.0.0-beta.1", &[]);
    assert_eq!(methods, [Method::Query]);
    let (methods, _) = run_scripted(set.migrate(None, true), "surrealdb-4.0.0-beta.1", &[]);
    assert_eq!(
        methods,
        [Method::Query, Method::Query, Method::Query, Method::Query]
    );
    // Nothing pending: nothing asked.
    let m = &set.migrations;
    let (methods, _) = run_scripted(
        set.migrate(None, false),
        "surrealdb-4.0.0-beta.1",
        &[&m[0], &m[1], &m[2]],
    );
    assert_eq!(methods, [Method::Query]);
}

#[test]
fn replay_ignores_a_migrate_clause() {
    let mut with = Schema::new();
    with.apply_sql(
        "DEFINE TABLE t TYPE NORMAL SCHEMAFULL;\n\
         DEFINE FIELD OVERWRITE a ON t TYPE float MIGRATE EXISTING ROWS AS m USING <float> $value FALLBACK 0.0 DEFAULT 1.0;",
    )
    .unwrap();
    let mut without = Schema::new();
    without
        .apply_sql(
            "DEFINE TABLE t TYPE NORMAL SCHEMAFULL;\nDEFINE FIELD a ON t TYPE float DEFAULT 1.0;",
        )
        .unwrap();
    assert_eq!(with, without);
}

#[test]
fn on_4_0_an_index_on_a_migrated_table_is_built_after_the_commit() {
    let set = MigrationSet::from_files([
        (
            "0001_a.surql".to_owned(),
            "-- up\nDEFINE TABLE person TYPE NORMAL SCHEMAFULL;\nDEFINE FIELD age ON person TYPE int;\nDEFINE INDEX person_age ON person FIELDS age;\n-- down\nREMOVE TABLE person;\n".to_owned(),
        ),
        (
            "0002_b.surql".to_owned(),
            "-- up\nDEFINE FIELD OVERWRITE age ON person TYPE float;\nDEFINE FIELD bio ON person TYPE option<string>;\nDEFINE INDEX person_bio ON person FIELDS bio;\n-- down\nREMOVE INDEX person_bio ON person;\nREMOVE FIELD bio ON person;\nDEFINE FIELD OVERWRITE age ON person TYPE int;\n".to_owned(),
        ),
    ])
    .unwrap();
    let m = &set.migrations;
    let (methods, texts) = run_scripted(
        set.migrate(None, false).seed(1),
        "surrealdb-4.0.0-beta.1",
        &[&m[0]],
    );
    assert_eq!(
        methods,
        [Method::Query, Method::Version, Method::Query, Method::Query]
    );
    assert_eq!(
        texts[1],
        "BEGIN TRANSACTION;\n\
         REMOVE INDEX person_age ON person;\n\
         DEFINE FIELD OVERWRITE age ON person TYPE float MIGRATE EXISTING ROWS AS \
         surql_0002_b_up_00000001_age USING $value FALLBACK 0.0;\n\
         DEFINE FIELD bio ON person TYPE option<string>;\n\
         COMMIT TRANSACTION;"
    );
    assert_eq!(
        texts[2],
        "BEGIN TRANSACTION;\n\
         DEFINE INDEX person_age ON person FIELDS age;\n\
         DEFINE INDEX person_bio ON person FIELDS bio;\n\
         CREATE $_surql_rid SET name = $_surql_name, checksum = $_surql_checksum;\n\
         COMMIT TRANSACTION;"
    );
    // 3.x: one transaction, as the file says.
    let (methods, texts) = run_scripted(
        set.migrate(None, false).seed(1),
        "surrealdb-3.3.5",
        &[&m[0]],
    );
    assert_eq!(methods, [Method::Query, Method::Version, Method::Query]);
    assert_eq!(
        texts[1],
        "BEGIN TRANSACTION;\n\
         DEFINE FIELD OVERWRITE age ON person TYPE float;\n\
         DEFINE FIELD bio ON person TYPE option<string>;\n\
         DEFINE INDEX person_bio ON person FIELDS bio;\n\
         CREATE $_surql_rid SET name = $_surql_name, checksum = $_surql_checksum;\n\
         COMMIT TRANSACTION;"
    );
}

/// A transaction's answer whose COMMIT hit a conflict (as 4.0 words it).
fn conflict_results(n: usize) -> Payload {
    let mut rows: Vec<Value> = Vec::new();
    for i in 0..n {
        let mut o = Object::new();
        o.insert("time".into(), "1µs".into());
        if i + 1 < n {
            o.insert("status".into(), "OK".into());
            o.insert("result".into(), Value::None);
        } else {
            o.insert("status".into(), "ERR".into());
            o.insert("kind".into(), "Query".into());
            let mut d = Object::new();
            d.insert("kind".into(), "TransactionConflict".into());
            o.insert("details".into(), Value::Object(d));
            o.insert(
                "result".into(),
                "Cannot COMMIT: Transaction conflict: Write conflict, retry the transaction. This transaction can be retried".into(),
            );
        }
        rows.push(Value::Object(o));
    }
    Payload::from(Value::Array(rows))
}

/// Runs a one-migration set whose transaction conflicts `conflicts` times, then commits.
fn run_conflicting(conflicts: usize) -> (usize, Result<Vec<String>, surql::Error>) {
    let set = MigrationSet::from_files([(
        "0001_a.surql".to_owned(),
        "-- up\nUPDATE person SET bio = 'x';\n-- down\nUPDATE person SET bio = NONE;\n".to_owned(),
    )])
    .unwrap();
    let mut op = set.migrate(None, false);
    let (mut sent, mut answer, mut left) = (0, None, conflicts);
    loop {
        match op.step(answer.take()) {
            Step::Send(req) => {
                answer = Some(Ok(match req.method {
                    Method::Version => Payload::from(Value::from("surrealdb-4.0.0-beta.1")),
                    _ => {
                        let text = req.params[0].as_str().unwrap().to_owned();
                        if text.starts_with("DEFINE TABLE IF NOT EXISTS _surql_migrations") {
                            let mut v = vec![Value::None; 4];
                            v.push(Value::Array(Vec::new()));
                            ok_results(v)
                        } else {
                            sent += 1;
                            assert!(
                                text.starts_with(
                                    "BEGIN TRANSACTION;\nUPDATE person SET bio = 'x';\n"
                                ),
                                "{text}"
                            );
                            if left > 0 {
                                left -= 1;
                                conflict_results(4)
                            } else {
                                ok_results(vec![Value::None; 4])
                            }
                        }
                    }
                }));
            }
            Step::Done(r) => return (sent, r.map(|r| r.applied)),
        }
    }
}

#[test]
fn a_conflicting_migration_transaction_is_sent_again_a_bounded_number_of_times() {
    use surql::schema::migrations::CONFLICT_RETRIES;
    let (sent, r) = run_conflicting(3);
    assert_eq!(sent, 4);
    assert_eq!(r.unwrap(), ["0001_a"]);
    let n = CONFLICT_RETRIES as usize;
    let (sent, r) = run_conflicting(n);
    assert_eq!((sent, r.unwrap().len()), (n + 1, 1));
    let (sent, r) = run_conflicting(n + 1);
    assert_eq!(sent, n + 1);
    let e = r.unwrap_err();
    assert!(e.is_migration(), "{e:?}");
    assert!(
        e.to_string()
            .starts_with("migration 0001_a: applying: failed: Cannot COMMIT: Transaction conflict")
            && e.to_string().contains(&format!("(sent {} times)", n + 1)),
        "{e}"
    );
}
