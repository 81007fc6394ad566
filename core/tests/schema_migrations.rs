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
