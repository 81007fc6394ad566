// Export / import scenarios, written once. Included by `export.rs` into one module per
// driver × transport; `w!` resolves a call (`.await` for smol, a plain call for blocking).
// Files are used on both sides so the same text runs in both drivers.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use surql::Value;

use super::drv::{self, ExportConfig, Surreal};
use super::INSTANCE;

const SCHEMA: &str = "
    DEFINE TABLE person SCHEMAFULL;
    DEFINE FIELD name ON person TYPE string;
    DEFINE FIELD age ON person TYPE int;
    DEFINE INDEX person_name ON person FIELDS name UNIQUE;
    DEFINE TABLE note SCHEMALESS;
    DEFINE FUNCTION fn::greet($n: string) { RETURN 'hi ' + $n; };
    CREATE person:ann SET name = 'ann', age = 31;
    CREATE person:bob SET name = 'bob', age = 42;
    CREATE note:1 SET text = 'a \"quoted\" note', tags = ['x', 'y'];
    RELATE person:ann->knows->person:bob SET since = 2020;
";

fn file(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("surql-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{INSTANCE}-{name}.surql"))
}

/// The session's namespace and database.
async fn names(db: &Surreal) -> drv::Result<(String, String)> {
    let v: Vec<String> = w!(db.query("RETURN [session::ns(), session::db()]"))?.take(0)?;
    Ok((v[0].clone(), v[1].clone()))
}

/// Everything the comparison looks at: the database's and tables' definitions and rows.
async fn snapshot(db: &Surreal) -> drv::Result<Vec<Value>> {
    let mut all = Vec::new();
    for q in [
        "INFO FOR DB",
        "INFO FOR TABLE person",
        "INFO FOR TABLE note",
        "SELECT * FROM person ORDER BY id",
        "SELECT * FROM note ORDER BY id",
        "SELECT * FROM knows ORDER BY id",
        "RETURN fn::greet('x')",
    ] {
        let v: Value = w!(db.query(q))?.take(0)?;
        all.push(v);
    }
    Ok(all)
}

scenario!(export_then_import_into_a_fresh_database_round_trips, |db| {
    w!(db.query(SCHEMA))?.check()?;
    let path = file("round-trip");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let progress = seen.clone();
    let bytes = w!(db
        .export_to_file(&path)
        .progress(move |n| progress.lock().unwrap().push(n)))?;
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(bytes, text.len() as u64);
    assert!(text.starts_with("-- ") && text.contains("OPTION IMPORT;"), "{text}");
    assert!(text.contains("DEFINE INDEX person_name"), "{text}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.last(), Some(&bytes), "progress ends at the total");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "progress grows: {seen:?}");

    let before = snapshot(&db).await?;
    let (ns, name) = names(&db).await?;
    let copy = format!("{name}_copy");
    w!(db.query(format!("DEFINE DATABASE {copy}")))?.check()?;
    w!(db.use_ns_db(&ns, &copy))?;
    let sent = w!(db.import_from_file(&path).progress(|_| {}))?;
    assert_eq!(sent, bytes);
    let after = snapshot(&db).await?;
    assert_eq!(before, after);
    w!(db.use_ns_db(&ns, &name))?;
    Ok(())
});

scenario!(an_import_with_failing_statements_names_them, |db| {
    let path = file("bad");
    std::fs::write(
        &path,
        "OPTION IMPORT;\nCREATE thing:1 SET n = 1;\nCREATE thing:1 SET n = 2;\nCREATE thing:2;\n",
    )
    .unwrap();
    let e = w!(db.import_from_file(&path)).expect_err("a duplicate record fails");
    let drv::Error::Import { failed } = &e else {
        panic!("expected Error::Import, got {e:?}");
    };
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].contains("thing:1"), "{failed:?}");
    assert!(e.to_string().contains("1 statement"), "{e}");
    // Not transactional: the statements that applied stay.
    let n: Vec<i64> = w!(db.query("SELECT VALUE n FROM thing:1"))?.take(0)?;
    assert_eq!(n, vec![1]);

    std::fs::write(&path, "OPTION IMPORT;\nCREATE thing:3;\nSELEKT FROM WHERE;\n").unwrap();
    let e = w!(db.import_from_file(&path)).expect_err("a parse error fails");
    assert!(matches!(&e, drv::Error::Import { failed } if failed[0].contains("Parse error")), "{e:?}");

    // A dump without `OPTION IMPORT;` is refused as a whole.
    std::fs::write(&path, "CREATE thing:9;\n").unwrap();
    let e = w!(db.import_from_file(&path)).expect_err("refused");
    assert!(matches!(&e, drv::Error::Http { status: 400, .. }), "{e:?}");
    assert!(e.to_string().contains("OPTION IMPORT"), "{e}");
    Ok(())
});

scenario!(an_export_config_selects_what_is_exported, |db| {
    w!(db.query(SCHEMA))?.check()?;
    let path = file("config");
    w!(db
        .export_to_file(&path)
        .config(ExportConfig::default().tables(["person"]).records(false)))?;
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("DEFINE TABLE person"), "{text}");
    assert!(!text.contains("DEFINE TABLE note"), "{text}");
    assert!(!text.contains("INSERT"), "{text}");
    Ok(())
});

scenario!(a_failed_export_leaves_no_file, |db| {
    let path = file("unauth");
    let _ = std::fs::remove_file(&path);
    w!(db.invalidate())?;
    let e = w!(db.export_to_file(&path)).expect_err("not signed in");
    assert!(matches!(e, drv::Error::Http { .. }), "{e:?}");
    assert!(!path.exists());
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(&format!("{INSTANCE}-unauth")))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    Ok(())
});
