// Schema and migration scenarios, written once. Included by `schema.rs` into one module per
// driver × transport; `super::drv` is the driver crate and `w!` resolves a call. Migration
// runs and introspection are operations of the core (`db.perform(op)`), so both drivers and
// both transports send the same requests.

use serde::{Deserialize, Serialize};
use surql::model::Model;
use surql::schema::introspect::{generate_models, introspect};
use surql::schema::{diff, Migration, MigrationSet, Schema};
use surql::{Datetime, RecordId};


mod v1 {
    use super::*;
    #[derive(Serialize, Deserialize, Model)]
    #[surql(table = "person", schemafull, changefeed = "7d")]
    #[surql(permissions(select = "true", update = "id = $auth.id"))]
    pub struct Person {
        pub id: Option<RecordId>,
        pub name: String,
        pub age: i64,
        #[serde(rename = "first-name")]
        pub first_name: Option<String>,
        pub tags: Vec<String>,
        #[surql(server = "time::now()")]
        pub created: Option<Datetime>,
        #[surql(computed = "string::concat(name, '!')")]
        pub label: Option<String>,
    }
    #[derive(Serialize, Deserialize, Model)]
    #[surql(table = "post", schemafull)]
    pub struct Post {
        pub id: Option<RecordId>,
        #[surql(type = "record<person>")]
        pub author: RecordId,
        #[surql(flexible)]
        pub extra: surql::Object,
    }
    #[derive(Serialize, Deserialize, Model)]
    #[surql(table = "likes", relation(in = "person", out = ["post", "person"], enforced), schemafull)]
    pub struct Likes {
        pub id: Option<RecordId>,
        #[serde(rename = "in")]
        pub from: RecordId,
        #[serde(rename = "out")]
        pub to: RecordId,
        pub at: Datetime,
    }
}
mod v2 {
    use super::*;
    #[derive(Serialize, Deserialize, Model)]
    #[surql(table = "person", schemafull, changefeed = "7d")]
    #[surql(permissions(select = "true", update = "id = $auth.id"))]
    #[surql(index(name = "person_name", fields("name"), unique))]
    #[surql(define = "DEFINE ANALYZER en TOKENIZERS blank, class FILTERS lowercase, snowball(english)")]
    #[surql(define = "DEFINE INDEX person_ft ON person FIELDS bio FULLTEXT ANALYZER en BM25 HIGHLIGHTS")]
    #[surql(define = "DEFINE INDEX person_vec ON person FIELDS emb HNSW DIMENSION 4 DIST COSINE")]
    #[surql(define = "DEFINE EVENT person_log ON person WHEN $event = 'CREATE' THEN (CREATE log SET at = time::now())")]
    #[surql(define = "DEFINE FIELD OVERWRITE best ON person TYPE option<record<person>> REFERENCE ON DELETE UNSET")]
    pub struct Person {
        pub id: Option<RecordId>,
        pub name: String,
        pub age: f64,
        #[serde(rename = "first-name")]
        pub first_name: Option<String>,
        pub tags: Vec<String>,
        pub bio: Option<String>,
        pub emb: Option<Vec<f32>>,
        pub best: Option<RecordId>,
        #[surql(server = "time::now()")]
        pub created: Option<Datetime>,
        #[surql(computed = "string::concat(name, '!')")]
        pub label: Option<String>,
    }
}

fn models(step: usize) -> Schema {
    let metas: Vec<&surql::model::ModelMeta> = match step {
        1 => vec![v1::Person::META, v1::Post::META, v1::Likes::META],
        2 => vec![v2::Person::META, v1::Post::META, v1::Likes::META],
        _ => vec![v2::Person::META, v1::Post::META],
    };
    Schema::from_models(&metas).expect("the models' schema")
}

/// A data migration between steps 2 and 3: fills in `bio`, reversible.
fn data_migration() -> (String, String) {
    (
        "0003_fill_bio.surql".into(),
        "-- up\nUPDATE person SET bio = 'none yet' WHERE bio = NONE;\n-- down\nUPDATE person SET bio = NONE WHERE bio = 'none yet';\n".into(),
    )
}

/// The migration chain: 0001 (step 1), 0002 (step 2), 0003 (data), 0004 (step 3).
fn chain() -> MigrationSet {
    let mut files: Vec<(String, String)> = Vec::new();
    let add = |files: &mut Vec<(String, String)>, m: Migration| files.push((m.file_name(), m.to_text()));
    let set = MigrationSet::default();
    let (m1, _) = set.make(&models(1), None).unwrap().unwrap();
    add(&mut files, m1);
    let set = MigrationSet::from_files(files.clone()).unwrap();
    let (m2, _) = set.make(&models(2), Some("person v2")).unwrap().unwrap();
    add(&mut files, m2);
    files.push(data_migration());
    let set = MigrationSet::from_files(files.clone()).unwrap();
    let (m4, _) = set.make(&models(3), None).unwrap().unwrap();
    add(&mut files, m4);
    MigrationSet::from_files(files).unwrap()
}

scenario!(a_migration_chain_applies_and_rolls_back_point_by_point, |db| {
    let set = chain();
    let names: Vec<String> = set.migrations.iter().map(|m| m.name.clone()).collect();
    assert_eq!(
        names,
        ["0001_initial", "0002_person_v2", "0003_fill_bio", "0004_remove_likes"]
    );
    // Forwards, one migration at a time: the database is the replayed state each time.
    for (i, name) in names.iter().enumerate() {
        let report = w!(db.perform(set.migrate(Some(name), false)))?;
        assert_eq!(report.applied, std::slice::from_ref(name));
        let live = w!(db.perform(introspect()))?;
        let expected = set.state(Some(name)).unwrap();
        assert_eq!(live, expected, "after applying {name}");
        assert_eq!(report.status.iter().filter(|s| s.applied).count(), i + 1);
        if i == 0 {
            // Before 0002 defines the event that would write to a `log` table.
            w!(db.query("CREATE person:ada SET name = 'Ada', age = 36, tags = []"))?.check()?;
        }
    }
    // Everything applied: the models and the database agree.
    assert_eq!(diff(&w!(db.perform(introspect()))?, &models(3)), []);
    let bio: Option<String> = w!(db.query("SELECT VALUE bio FROM ONLY person:ada"))?.take(0)?;
    assert_eq!(bio.as_deref(), Some("none yet"), "the data migration ran");
    // Nothing pending.
    assert_eq!(w!(db.perform(set.migrate(None, false)))?.applied, Vec::<String>::new());
    // Backwards, point by point.
    for target in names.iter().rev().skip(1) {
        let report = w!(db.perform(set.rollback(target, false)))?;
        assert_eq!(report.rolled_back.len(), 1);
        let live = w!(db.perform(introspect()))?;
        let expected = set.state(Some(target)).unwrap();
        assert_eq!(diff(&live, &expected), [], "after rolling back to {target}");
        assert_eq!(live, expected, "after rolling back to {target}");
    }
    let bio: Option<String> = w!(db.query("SELECT VALUE bio FROM ONLY person:ada"))?.take(0)?;
    assert_eq!(bio, None, "the data migration was undone");
    let report = w!(db.perform(set.rollback("zero", false)))?;
    assert_eq!(report.rolled_back, ["0001_initial"]);
    assert_eq!(w!(db.perform(introspect()))?, Schema::new());
    // And all the way forwards again in one run.
    let report = w!(db.perform(set.migrate(None, false)))?;
    assert_eq!(report.applied, names);
    Ok(())
});

scenario!(a_field_type_change_migrates_stored_rows_and_applies_again_after_a_rollback, |db| {
    // An indexed field changes type on a table with a row. SurrealDB 4.0 needs the clause
    // surql adds (and the index rebuilt around it); 3.x takes the file as written.
    let set = MigrationSet::from_files([
        ("0001_t.surql".to_owned(), "-- up\nDEFINE TABLE t TYPE NORMAL SCHEMAFULL;\nDEFINE FIELD n ON t TYPE int;\nDEFINE INDEX t_n ON t FIELDS n;\n-- down\nREMOVE TABLE t;\n".to_owned()),
        ("0002_n_float.surql".to_owned(), "-- up\nDEFINE FIELD OVERWRITE n ON t TYPE float;\nDEFINE FIELD m ON t TYPE option<int>;\nDEFINE INDEX t_m ON t FIELDS m;\n-- down\nREMOVE INDEX t_m ON t;\nREMOVE FIELD m ON t;\nDEFINE FIELD OVERWRITE n ON t TYPE int;\n".to_owned()),
    ])
    .unwrap();
    let version = w!(db.version())?;
    let migrates = surql::version::ServerVersion::parse(&version)
        .is_some_and(|v| v.migrates_existing_rows());
    w!(db.perform(set.migrate(Some("0001"), false)))?;
    w!(db.query("CREATE t:1 SET n = 36"))?.check()?;
    for round in 0..2 {
        let report = w!(db.perform(set.migrate(None, false)))?;
        assert_eq!(report.applied, ["0002_n_float"], "round {round}");
        let live = w!(db.perform(introspect()))?;
        assert_eq!(live, set.state(None).unwrap(), "round {round}: after applying 0002 ({version})");
        let n: surql::Value = w!(db.query("SELECT VALUE n FROM ONLY t:1"))?.take(0)?;
        // 4.0 rewrote the stored row; 3.x keeps the value as it was stored.
        let want = if migrates { surql::Value::Float(36.0) } else { surql::Value::Int(36) };
        assert_eq!(n, want, "round {round}: the stored row ({version})");
        let report = w!(db.perform(set.rollback("0001", false)))?;
        assert_eq!(report.rolled_back, ["0002_n_float"]);
        let live = w!(db.perform(introspect()))?;
        assert_eq!(live, set.state(Some("0001_t")).unwrap(), "round {round}: after rolling back ({version})");
        let n: surql::Value = w!(db.query("SELECT VALUE n FROM ONLY t:1"))?.take(0)?;
        assert_eq!(n, surql::Value::Int(36), "round {round}: 36 again ({version})");
    }
    Ok(())
});

scenario!(a_failing_statement_stops_the_run_and_cancels_its_migration, |db| {
    let set = MigrationSet::from_files([
        ("0001_a.surql".to_owned(), "-- up\nDEFINE TABLE a TYPE NORMAL SCHEMAFULL;\n-- down\nREMOVE TABLE a;\n".to_owned()),
        ("0002_b.surql".to_owned(), "-- up\nDEFINE TABLE b TYPE NORMAL SCHEMAFULL;\nDEFINE FIELD x ON b TYPE int;\nCREATE b:1 SET x = 'not a number';\nDEFINE TABLE c;\n-- down\nREMOVE TABLE b;\n".to_owned()),
        ("0003_c.surql".to_owned(), "-- up\nDEFINE TABLE d;\n-- down\nREMOVE TABLE d;\n".to_owned()),
    ])
    .unwrap();
    let err = w!(db.perform(set.migrate(None, false))).unwrap_err();
    let msg = err.to_string();
    assert!(err.is_migration(), "{err:?}");
    assert!(msg.starts_with("migration 0002_b: applying: statement `CREATE b:1 SET x = 'not a number'` failed: "), "{msg}");
    let live = w!(db.perform(introspect()))?;
    assert_eq!(live.tables.keys().collect::<Vec<_>>(), ["a"], "0002 was cancelled whole, 0003 never ran");
    let status = w!(db.perform(set.status()))?.status;
    assert_eq!(status.iter().map(|s| s.applied).collect::<Vec<_>>(), [true, false, false]);
    Ok(())
});

scenario!(irreversible_rollbacks_and_changed_files_are_refused, |db| {
    let files = vec![
        ("0001_a.surql".to_owned(), "-- up\nDEFINE TABLE a;\n-- down\nREMOVE TABLE a;\n".to_owned()),
        ("0002_data.surql".to_owned(), "-- up\nCREATE a:1 SET n = 1;\n".to_owned()),
    ];
    let set = MigrationSet::from_files(files.clone()).unwrap();
    w!(db.perform(set.migrate(None, false)))?;
    let err = w!(db.perform(set.rollback("zero", false))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "migration 0002_data: is irreversible (its file has no `-- down` section): nothing was rolled back"
    );
    // A file edited after it was applied stops `migrate`.
    let mut edited = files.clone();
    edited[0].1 = "-- up\nDEFINE TABLE a SCHEMAFULL;\n-- down\nREMOVE TABLE a;\n".into();
    edited.push(("0003_b.surql".into(), "-- up\nDEFINE TABLE b;\n-- down\nREMOVE TABLE b;\n".into()));
    let set2 = MigrationSet::from_files(edited).unwrap();
    let err = w!(db.perform(set2.migrate(None, false))).unwrap_err();
    assert!(err.to_string().starts_with("migration 0001_a: its file changed after it was applied"), "{err}");
    // An unknown target.
    let err = w!(db.perform(set.migrate(Some("0042"), false))).unwrap_err();
    assert_eq!(err.to_string(), "migration 0042: no such migration (the target of migrate)");
    Ok(())
});

scenario!(fake_records_without_running, |db| {
    let set = MigrationSet::from_files([(
        "0001_a.surql".to_owned(),
        "-- up\nDEFINE TABLE a;\n-- down\nREMOVE TABLE a;\n".to_owned(),
    )])
    .unwrap();
    let report = w!(db.perform(set.migrate(None, true)))?;
    assert_eq!(report.applied, ["0001_a"]);
    assert_eq!(w!(db.perform(introspect()))?, Schema::new(), "nothing ran");
    assert!(w!(db.perform(set.status()))?.status[0].applied);
    let report = w!(db.perform(set.rollback("zero", true)))?;
    assert_eq!(report.rolled_back, ["0001_a"]);
    assert!(!w!(db.perform(set.status()))?.status[0].applied);
    Ok(())
});

/// A schema with every feature `inspectdb` reads.
pub const RICH_SCHEMA: &str = "
DEFINE ANALYZER en TOKENIZERS blank, class FILTERS lowercase, snowball(english);
DEFINE PARAM $limit VALUE 10;
DEFINE FUNCTION fn::inc($a: int) -> int { RETURN $a + 1; };
DEFINE TABLE person TYPE NORMAL SCHEMAFULL CHANGEFEED 7d PERMISSIONS FOR select WHERE true FOR update WHERE id = $auth.id;
DEFINE FIELD name ON person TYPE string ASSERT string::len($value) > 0;
DEFINE FIELD `first-name` ON person TYPE option<string>;
DEFINE FIELD age ON person TYPE option<int> DEFAULT 0;
DEFINE FIELD created ON person TYPE datetime DEFAULT time::now() READONLY;
DEFINE FIELD label ON person TYPE option<string> COMPUTED string::concat(name, '!');
DEFINE FIELD meta ON person TYPE object FLEXIBLE;
DEFINE FIELD tags ON person TYPE array<string>;
DEFINE FIELD emb ON person TYPE option<array<float>>;
DEFINE FIELD loc ON person TYPE option<geometry<point>>;
DEFINE FIELD balance ON person TYPE option<decimal>;
DEFINE FIELD ttl ON person TYPE option<duration>;
DEFINE FIELD uid ON person TYPE option<uuid>;
DEFINE FIELD type ON person TYPE option<string | int>;
DEFINE FIELD best ON person TYPE option<record<person>> REFERENCE ON DELETE UNSET;
DEFINE INDEX person_name ON person FIELDS name UNIQUE;
DEFINE INDEX person_age ON person FIELDS age, `first-name`;
DEFINE INDEX person_ft ON person FIELDS name FULLTEXT ANALYZER en BM25 HIGHLIGHTS;
DEFINE INDEX person_vec ON person FIELDS emb HNSW DIMENSION 4 DIST COSINE;
DEFINE EVENT person_log ON person WHEN $event = 'CREATE' THEN (CREATE log SET at = time::now());
DEFINE TABLE log;
DEFINE TABLE likes TYPE RELATION IN person OUT person ENFORCED SCHEMAFULL;
DEFINE FIELD at ON likes TYPE datetime;
DEFINE TABLE adults AS SELECT * FROM person WHERE age >= 18;
";

scenario!(inspectdb_round_trips, |db| {
    w!(db.query(RICH_SCHEMA))?.check()?;
    let live = w!(db.perform(introspect()))?;
    assert_eq!(
        live.tables.keys().collect::<Vec<_>>(),
        ["adults", "likes", "log", "person"]
    );
    let source = generate_models(&live);
    let golden = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/common/inspectdb_generated.rs");
    if std::env::var_os("SURQL_BLESS").is_some() {
        std::fs::write(golden, &source).expect("write the generated models");
    }
    let checked_in = std::fs::read_to_string(golden).expect("read the generated models");
    assert_eq!(checked_in, source, "inspectdb output changed: rerun with SURQL_BLESS=1");
    // The generated (and compiled) models describe exactly the database.
    let mut from_models = Schema::from_models(crate::generated::MODELS).expect("schema of the generated models");
    for d in crate::generated::DEFINES {
        from_models.apply_sql(d).expect("a database-level definition");
    }
    assert_eq!(diff(&live, &from_models), [], "schemadiff of generated models vs database");
    assert_eq!(live, from_models);
    Ok(())
});

scenario!(the_models_schema_is_what_the_server_reports, |db| {
    // Define the richest models directly, read them back: no difference at all.
    let schema = models(2);
    let sql = schema.define_sql().join("\n");
    w!(db.query(sql))?.check()?;
    let live = w!(db.perform(introspect()))?;
    assert_eq!(diff(&live, &schema), []);
    Ok(())
});
