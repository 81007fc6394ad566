//! Exact-text tests of every statement the schema layer writes, and of reading them back.

use super::parse::{parse_statement, parse_statements, split_statements, RemoveKind, Statement};
use super::*;

fn field(table: &str, name: &str, ty: &str) -> Field {
    Field::new(table, name, Some(ty.to_owned()))
}

#[test]
fn define_table_every_kind() {
    let mut t = Table::new("person");
    assert_eq!(
        t.define_sql(),
        "DEFINE TABLE person TYPE NORMAL SCHEMALESS;"
    );
    t.schemafull = true;
    t.changefeed = Some("1w".into());
    t.comment = Some("it's".into());
    assert_eq!(
        t.define_sql(),
        "DEFINE TABLE person TYPE NORMAL SCHEMAFULL COMMENT 'it\\'s' CHANGEFEED 1w;"
    );
    assert_eq!(
        t.overwrite_sql(),
        "DEFINE TABLE OVERWRITE person TYPE NORMAL SCHEMAFULL COMMENT 'it\\'s' CHANGEFEED 1w;"
    );
    t.comment = None;
    t.changefeed = None;
    t.permissions.select = Permission::Where("true".into());
    t.permissions.update = Permission::Where("id = $auth.id".into());
    assert_eq!(
        t.define_sql(),
        "DEFINE TABLE person TYPE NORMAL SCHEMAFULL PERMISSIONS FOR select WHERE true, FOR update WHERE id = $auth.id;"
    );
    t.permissions = TablePermissions {
        select: Permission::Full,
        create: Permission::Full,
        update: Permission::Full,
        delete: Permission::Full,
    };
    assert_eq!(
        t.define_sql(),
        "DEFINE TABLE person TYPE NORMAL SCHEMAFULL PERMISSIONS FULL;"
    );
    let mut r = Table::new("likes");
    r.kind = TableType::Relation {
        from: vec!["person".into()],
        to: vec!["post".into(), "my-book".into()],
        enforced: true,
    };
    r.schemafull = true;
    assert_eq!(
        r.define_sql(),
        "DEFINE TABLE likes TYPE RELATION IN person OUT post | `my-book` ENFORCED SCHEMAFULL;"
    );
    r.kind = TableType::Relation {
        from: vec![],
        to: vec![],
        enforced: false,
    };
    assert_eq!(
        r.define_sql(),
        "DEFINE TABLE likes TYPE RELATION SCHEMAFULL;"
    );
    let mut v = Table::new("adults");
    v.kind = TableType::Any;
    v.view = Some("SELECT * FROM person WHERE age >= 18".into());
    assert_eq!(
        v.define_sql(),
        "DEFINE TABLE adults TYPE ANY SCHEMALESS AS SELECT * FROM person WHERE age >= 18;"
    );
    assert_eq!(v.remove_sql(), "REMOVE TABLE adults;");
    assert_eq!(Table::new("select").remove_sql(), "REMOVE TABLE `select`;");
}

#[test]
fn define_field_every_clause() {
    let f = field("person", "name", "string");
    assert_eq!(f.define_sql(), "DEFINE FIELD name ON person TYPE string;");
    assert_eq!(
        f.overwrite_sql(),
        "DEFINE FIELD OVERWRITE name ON person TYPE string;"
    );
    assert_eq!(f.remove_sql(), "REMOVE FIELD name ON person;");
    let mut f = field("person", "`first-name`", "none | string");
    assert_eq!(
        f.define_sql(),
        "DEFINE FIELD `first-name` ON person TYPE option<string>;"
    );
    f.default = Some("'x'".into());
    f.default_always = true;
    f.readonly = true;
    f.assert = Some("$value != ''".into());
    f.comment = Some("c".into());
    f.permissions = Some("FOR select WHERE true".into());
    assert_eq!(
        f.define_sql(),
        "DEFINE FIELD `first-name` ON person TYPE option<string> DEFAULT ALWAYS 'x' READONLY ASSERT $value != '' COMMENT 'c' PERMISSIONS FOR select WHERE true;"
    );
    let mut o = field("person", "meta", "object");
    o.flexible = true;
    assert_eq!(
        o.define_sql(),
        "DEFINE FIELD meta ON person TYPE object FLEXIBLE;"
    );
    let mut r = field("book", "author", "record<author>");
    r.reference = Some("CASCADE".into());
    assert_eq!(
        r.define_sql(),
        "DEFINE FIELD author ON book TYPE record<author> REFERENCE ON DELETE CASCADE;"
    );
    let mut c = field("person", "label", "option<string>");
    c.computed = Some("string::concat(name, '!')".into());
    assert_eq!(
        c.define_sql(),
        "DEFINE FIELD label ON person TYPE option<string> COMPUTED string::concat(name, '!');"
    );
    let mut v = Field::new("person", "seen", None);
    v.value = Some("time::now()".into());
    assert_eq!(
        v.define_sql(),
        "DEFINE FIELD seen ON person VALUE time::now();"
    );
}

#[test]
fn define_index_every_kind() {
    let mut ix = Index {
        name: "person_name".into(),
        table: "person".into(),
        fields: vec!["name".into(), "age".into()],
        kind: IndexKind::Plain,
        comment: None,
    };
    assert_eq!(
        ix.define_sql(),
        "DEFINE INDEX person_name ON person FIELDS name, age;"
    );
    ix.kind = IndexKind::Unique;
    assert_eq!(
        ix.define_sql(),
        "DEFINE INDEX person_name ON person FIELDS name, age UNIQUE;"
    );
    ix.fields = vec!["bio".into()];
    ix.kind = IndexKind::fulltext("en", true);
    assert_eq!(
        ix.define_sql(),
        "DEFINE INDEX person_name ON person FIELDS bio FULLTEXT ANALYZER en BM25(1.2,0.75) HIGHLIGHTS;"
    );
    ix.fields = vec!["embedding".into()];
    ix.kind = IndexKind::hnsw(1536, "cosine");
    ix.comment = Some("vectors".into());
    assert_eq!(
        ix.define_sql(),
        "DEFINE INDEX person_name ON person FIELDS embedding HNSW DIMENSION 1536 DIST COSINE TYPE F32 EFC 150 M 12 COMMENT 'vectors';"
    );
    assert_eq!(ix.remove_sql(), "REMOVE INDEX person_name ON person;");
}

#[test]
fn define_event_analyzer_param_function_access() {
    let e = Event {
        name: "audit".into(),
        table: "person".into(),
        when: Some("$event = 'CREATE'".into()),
        then: "(CREATE log SET at = time::now())".into(),
        comment: None,
    };
    assert_eq!(
        e.define_sql(),
        "DEFINE EVENT audit ON person WHEN $event = 'CREATE' THEN (CREATE log SET at = time::now());"
    );
    assert_eq!(e.remove_sql(), "REMOVE EVENT audit ON person;");
    let a = Analyzer {
        name: "en".into(),
        function: None,
        tokenizers: vec!["blank".into(), "class".into()],
        filters: vec!["lowercase".into(), "snowball(english)".into()],
        comment: None,
    };
    assert_eq!(
        a.define_sql(),
        "DEFINE ANALYZER en TOKENIZERS blank, class FILTERS lowercase, snowball(english);"
    );
    assert_eq!(a.remove_sql(), "REMOVE ANALYZER en;");
    let p = Param {
        name: "limit".into(),
        value: "10".into(),
        comment: None,
    };
    assert_eq!(p.define_sql(), "DEFINE PARAM $limit VALUE 10;");
    assert_eq!(p.remove_sql(), "REMOVE PARAM $limit;");
    let f = Function {
        name: "inc".into(),
        body: "($a: int) -> int { RETURN $a + 1; }".into(),
    };
    assert_eq!(
        f.define_sql(),
        "DEFINE FUNCTION fn::inc($a: int) -> int { RETURN $a + 1; };"
    );
    assert_eq!(f.remove_sql(), "REMOVE FUNCTION fn::inc;");
    let ac = Access {
        name: "user".into(),
        statement: "DEFINE ACCESS user ON DATABASE TYPE RECORD SIGNIN (SELECT * FROM user)".into(),
    };
    assert_eq!(ac.remove_sql(), "REMOVE ACCESS user ON DATABASE;");
}

/// Every statement the server printed for a schema (3.3.5, `INFO FOR DB`/`TABLE`) parses
/// into the model, and the model's own statements parse back into the same model.
#[test]
fn server_statements_read_back() {
    let cases = [
        "DEFINE TABLE person TYPE NORMAL SCHEMAFULL CHANGEFEED 1w PERMISSIONS FOR select WHERE true, FOR create, delete NONE, FOR update WHERE id = $auth.id",
        "DEFINE TABLE likes TYPE RELATION IN person OUT person | post ENFORCED SCHEMAFULL PERMISSIONS NONE",
        "DEFINE TABLE v2 TYPE ANY SCHEMALESS COMMENT 'v' AS SELECT count() AS n FROM p GROUP ALL PERMISSIONS NONE",
        "DEFINE TABLE s TYPE ANY SCHEMALESS COMMENT \"hi 'x'\" CHANGEFEED 1d12h PERMISSIONS NONE",
        "DEFINE FIELD age ON person TYPE none | int DEFAULT 3 ASSERT $value > 0 PERMISSIONS FULL",
        "DEFINE FIELD created ON person TYPE datetime DEFAULT time::now() READONLY PERMISSIONS FULL",
        "DEFINE FIELD label ON person COMPUTED string::concat(name, '!') PERMISSIONS FULL",
        "DEFINE FIELD meta ON person TYPE object FLEXIBLE PERMISSIONS FULL",
        "DEFINE FIELD `weird-name`.* ON s TYPE float PERMISSIONS FULL",
        "DEFINE FIELD a ON s TYPE none | string DEFAULT ALWAYS 'z' COMMENT 'c' PERMISSIONS FULL",
        "DEFINE FIELD z ON p TYPE none | record<p> DEFAULT NONE READONLY ASSERT true REFERENCE ON DELETE IGNORE COMMENT 'k' PERMISSIONS FULL",
        "DEFINE FIELD y ON p TYPE int DEFAULT 1 READONLY ASSERT $value > 0 PERMISSIONS FOR select WHERE true, FOR create, update FULL",
        "DEFINE FIELD c3 ON p TYPE datetime READONLY VALUE time::now() PERMISSIONS FULL",
        "DEFINE INDEX ft ON person FIELDS name FULLTEXT ANALYZER az BM25(1.2,0.75) HIGHLIGHTS",
        "DEFINE INDEX vec ON person FIELDS emb HNSW DIMENSION 4 DIST COSINE TYPE F32 EFC 150 M 12 M0 24 LM 0.40242960438184466f",
        "DEFINE INDEX ab ON s FIELDS a, b",
        "DEFINE EVENT ev ON person WHEN $event = 'CREATE' THEN (CREATE log SET at = time::now())",
        "DEFINE EVENT e2 ON s WHEN true THEN { CREATE log }",
        "DEFINE ANALYZER az TOKENIZERS BLANK,CLASS FILTERS LOWERCASE, SNOWBALL(ENGLISH)",
        "DEFINE PARAM $x VALUE 3 PERMISSIONS FULL",
        "DEFINE FUNCTION fn::inc($a: int) -> int { RETURN $a + 1 } PERMISSIONS FULL",
    ];
    for c in cases {
        let st = parse_statement(c).unwrap_or_else(|e| panic!("{c}: {e}"));
        let again = match &st {
            Statement::DefineTable(t, _) => t.define_sql(),
            Statement::DefineField(f, _) => f.define_sql(),
            Statement::DefineIndex(i, _) => i.define_sql(),
            Statement::DefineEvent(e, _) => e.define_sql(),
            Statement::DefineAnalyzer(a, _) => a.define_sql(),
            Statement::DefineParam(p, _) => p.define_sql(),
            Statement::DefineFunction(f, _) => f.define_sql(),
            other => panic!("{c}: parsed as {other:?}"),
        };
        assert_eq!(parse_statement(&again).unwrap(), st, "{c} → {again}");
    }
    // Exact readings.
    let Statement::DefineTable(t, _) = parse_statement(cases[0]).unwrap() else {
        panic!()
    };
    assert_eq!(
        t.define_sql(),
        "DEFINE TABLE person TYPE NORMAL SCHEMAFULL CHANGEFEED 1w PERMISSIONS FOR select WHERE true, FOR update WHERE id = $auth.id;"
    );
    let Statement::DefineTable(v, _) = parse_statement(cases[2]).unwrap() else {
        panic!()
    };
    assert_eq!(
        v.view.as_deref(),
        Some("SELECT count() AS n FROM p GROUP ALL")
    );
    assert_eq!(v.comment.as_deref(), Some("v"));
    let Statement::DefineField(f, _) = parse_statement(cases[10]).unwrap() else {
        panic!()
    };
    assert_eq!(
        f.define_sql(),
        "DEFINE FIELD z ON p TYPE option<record<p>> DEFAULT NONE READONLY ASSERT true REFERENCE ON DELETE IGNORE COMMENT 'k';"
    );
    let Statement::DefineIndex(i, _) = parse_statement(cases[14]).unwrap() else {
        panic!()
    };
    assert_eq!(i.kind, IndexKind::hnsw(4, "COSINE"));
    let Statement::DefineAnalyzer(a, _) = parse_statement(cases[18]).unwrap() else {
        panic!()
    };
    assert_eq!(
        a.define_sql(),
        "DEFINE ANALYZER az TOKENIZERS blank, class FILTERS lowercase, snowball(english);"
    );
    let Statement::DefineEvent(e, _) = parse_statement(cases[17]).unwrap() else {
        panic!()
    };
    assert_eq!(e.when, None);
}

#[test]
fn removes_and_other_statements() {
    assert_eq!(
        parse_statement("REMOVE FIELD IF EXISTS `first-name` ON TABLE person").unwrap(),
        Statement::Remove {
            kind: RemoveKind::Field,
            name: "`first-name`".into(),
            table: Some("person".into())
        }
    );
    assert_eq!(
        parse_statement("REMOVE PARAM $x").unwrap(),
        Statement::Remove {
            kind: RemoveKind::Param,
            name: "x".into(),
            table: None
        }
    );
    assert_eq!(
        parse_statement("UPDATE person SET n = 1").unwrap(),
        Statement::Other("UPDATE person SET n = 1".into())
    );
}

#[test]
fn statements_split_at_top_level_semicolons() {
    let sql = "DEFINE FUNCTION fn::a() { LET $x = 1; RETURN $x; };\n-- a comment; with a semicolon\nUPDATE t SET s = 'a;b';;\nREMOVE TABLE t";
    assert_eq!(
        split_statements(sql).unwrap(),
        [
            "DEFINE FUNCTION fn::a() { LET $x = 1; RETURN $x; }",
            "UPDATE t SET s = 'a;b'",
            "REMOVE TABLE t"
        ]
    );
    assert!(split_statements("UPDATE t SET s = 'open").is_err());
}

#[test]
fn durations_and_expressions_have_one_spelling() {
    assert_eq!(canonical_duration("7d"), "1w");
    assert_eq!(canonical_duration("36h"), "1d12h");
    assert_eq!(canonical_duration("90m"), "1h30m");
    assert_eq!(canonical_duration("1w"), "1w");
    assert_eq!(canonical_duration("nonsense"), "nonsense");
    assert_eq!(
        normalize_expr("string::concat(name,'!')"),
        normalize_expr("string::concat(name, '!')")
    );
    assert_eq!(normalize_expr("{}"), normalize_expr("{  }"));
    assert_eq!(
        normalize_expr("{ CREATE log; }"),
        normalize_expr("{ CREATE log }")
    );
    assert_ne!(normalize_expr("'a b'"), normalize_expr("'ab'"));
}

#[test]
fn a_schema_replays_defines_and_removes() {
    let mut s = Schema::new();
    s.apply_sql(
        "DEFINE TABLE person TYPE NORMAL SCHEMAFULL;
         DEFINE FIELD name ON person TYPE string;
         DEFINE FIELD age ON person TYPE int;
         DEFINE INDEX by_name ON person FIELDS name UNIQUE;
         UPDATE person SET age = 1;
         DEFINE TABLE OVERWRITE person TYPE NORMAL SCHEMALESS;
         REMOVE FIELD age ON person;",
    )
    .unwrap();
    let t = s.table("person").unwrap();
    assert!(!t.schemafull, "the table was overwritten");
    assert_eq!(
        t.fields.keys().collect::<Vec<_>>(),
        ["name"],
        "fields survive an overwrite"
    );
    assert_eq!(t.indexes.len(), 1);
    assert_eq!(
        s.apply_sql("DEFINE INDEX i ON nowhere FIELDS a")
            .unwrap_err()
            .0,
        "index `i` on table `nowhere`, which is not defined before it"
    );
    assert_eq!(parse_statements("").unwrap(), []);
}

#[test]
fn removing_an_array_field_removes_its_element_field() {
    assert_eq!(
        field("person", "tags", "option<array<string>>").remove_sql(),
        "REMOVE FIELD tags ON person;\nREMOVE FIELD IF EXISTS tags.* ON person;"
    );
}
