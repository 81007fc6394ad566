//! `#[derive(Model)]` against the real `surql::model::Model` trait: what `META` says, the
//! keys, the field handles, and that the names the derive records are the names serde
//! writes. Compile errors of the derive are checked in `derive_ui.rs`.
#![deny(warnings)]

use pretty_assertions::assert_eq;
use serde::{Deserialize, Serialize};
use surql::model::{FieldKind, FieldMeta, IndexMeta, Model, ModelMeta, Permissions, TableKind};
use surql::{Datetime, Object, RecordId, RecordIdKey, Uuid, Value};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[surql(table = "person")]
struct Person {
    id: Option<RecordId>,
    name: String,
    age: i64,
    #[serde(rename = "first-name")]
    first_name: Option<String>,
    #[surql(server)]
    created_at: Option<Datetime>,
}

fn ada() -> Person {
    Person {
        id: None,
        name: "Ada".into(),
        age: 36,
        first_name: Some("Ada".into()),
        created_at: None,
    }
}

/// Every attribute at once. `rename_all` makes `liked_at` `likedAt`; `in`/`out` are renamed
/// by hand; `r#type` is stored as `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[serde(rename_all = "camelCase")]
#[surql(
    table = "likes",
    schemafull,
    changefeed = "7d",
    connection = "analytics"
)]
#[surql(relation(in = ["person", "bot"], out = "post", enforced))]
#[surql(permissions(
    select = "true",
    create = "$auth != NONE",
    update = "in = $auth.id",
    delete = "in = $auth.id"
))]
#[surql(index(name = "likes_when", fields("likedAt")))]
#[surql(index(name = "likes_pair", fields("in", "out"), unique))]
#[surql(define = "DEFINE EVENT liked ON likes THEN (UPDATE $after.out SET n += 1)")]
struct Likes {
    id: Option<RecordId>,
    #[serde(rename = "in")]
    #[surql(type = "record<person | bot>")]
    from: RecordId,
    #[serde(rename = "out")]
    to: RecordId,
    liked_at: Option<Datetime>,
    #[surql(server = "time::now()")]
    created_at: Option<Datetime>,
    #[surql(server)]
    updated_at: Option<Datetime>,
    #[surql(computed = "count(<-likes)")]
    like_count: Option<i64>,
    #[surql(computed)]
    score: Option<f64>,
    #[surql(flexible)]
    extra: Object,
    #[serde(skip)]
    cache: Option<String>,
    #[serde(skip_serializing)]
    read_only_locally: Option<String>,
    r#type: String,
    weight: std::option::Option<f64>,
}

fn likes() -> Likes {
    Likes {
        id: Some(RecordId::new("likes", "l1")),
        from: RecordId::new("person", "ada"),
        to: RecordId::new("post", "p1"),
        liked_at: None,
        created_at: None,
        updated_at: None,
        like_count: Some(3),
        score: Some(1.5),
        extra: Object::default(),
        cache: Some("local".into()),
        read_only_locally: None,
        r#type: "like".into(),
        weight: Some(0.5),
    }
}

fn data(name: &'static str, rust_name: &'static str, rust_type: &'static str) -> FieldMeta {
    FieldMeta {
        name,
        rust_name,
        rust_type,
        kind: FieldKind::Data,
        optional: rust_type.contains("Option"),
        flexible: false,
        db_type: None,
    }
}

#[test]
fn meta_of_a_model_with_every_attribute() {
    let fields = [
        FieldMeta {
            db_type: Some("record<person | bot>"),
            ..data("in", "from", "RecordId")
        },
        data("out", "to", "RecordId"),
        data("likedAt", "liked_at", "Option < Datetime >"),
        FieldMeta {
            kind: FieldKind::Server {
                value: Some("time::now()"),
            },
            ..data("createdAt", "created_at", "Option < Datetime >")
        },
        FieldMeta {
            kind: FieldKind::Server { value: None },
            ..data("updatedAt", "updated_at", "Option < Datetime >")
        },
        FieldMeta {
            kind: FieldKind::Computed {
                expr: Some("count(<-likes)"),
            },
            ..data("likeCount", "like_count", "Option < i64 >")
        },
        FieldMeta {
            kind: FieldKind::Computed { expr: None },
            ..data("score", "score", "Option < f64 >")
        },
        FieldMeta {
            flexible: true,
            ..data("extra", "extra", "Object")
        },
        data("type", "r#type", "String"),
        data("weight", "weight", "std :: option :: Option < f64 >"),
    ];
    assert_eq!(Likes::META.fields, fields.as_slice());
    let expected = ModelMeta {
        table: "likes",
        rust_name: "Likes",
        kind: TableKind::Relation {
            from: &["person", "bot"],
            to: &["post"],
            enforced: true,
        },
        id_field: "id",
        fields: Likes::META.fields, // compared above
        schemafull: true,
        changefeed: Some("7d"),
        connection: Some("analytics"),
        permissions: Permissions {
            select: Some("true"),
            create: Some("$auth != NONE"),
            update: Some("in = $auth.id"),
            delete: Some("in = $auth.id"),
        },
        indexes: &[
            IndexMeta {
                name: "likes_when",
                fields: &["likedAt"],
                unique: false,
            },
            IndexMeta {
                name: "likes_pair",
                fields: &["in", "out"],
                unique: true,
            },
        ],
        defines: &["DEFINE EVENT liked ON likes THEN (UPDATE $after.out SET n += 1)"],
    };
    assert_eq!(*Likes::META, expected);
    assert_eq!(
        Likes::META.unwritten().collect::<Vec<_>>(),
        ["createdAt", "updatedAt", "likeCount", "score"]
    );
}

#[test]
fn meta_names_are_the_names_serde_writes() {
    // Every stored field and the id, exactly: skipped fields are in neither.
    let Value::Object(o) = surql::to_value(&likes()).unwrap() else {
        panic!("a model serializes as an object")
    };
    let mut written: Vec<&str> = o.keys().map(String::as_str).collect();
    written.sort_unstable();
    let mut meta: Vec<&str> = Likes::META.fields.iter().map(|f| f.name).collect();
    meta.push(Likes::META.id_field);
    meta.sort_unstable();
    assert_eq!(written, meta);

    // What a write sends: no id, no server or computed field.
    let w = surql::model::write_data(&likes()).unwrap();
    let mut sent: Vec<&str> = w.keys().map(String::as_str).collect();
    sent.sort_unstable();
    assert_eq!(sent, ["extra", "in", "likedAt", "out", "type", "weight"]);
}

#[test]
fn defaults_table_kind_and_permissions() {
    #[derive(Serialize, Deserialize, Model)]
    struct Plain {
        id: Option<RecordId>,
    }
    assert_eq!(
        *Plain::META,
        ModelMeta {
            table: "Plain",
            rust_name: "Plain",
            kind: TableKind::Normal,
            id_field: "id",
            fields: &[],
            schemafull: false,
            changefeed: None,
            connection: None,
            permissions: Permissions::default(),
            indexes: &[],
            defines: &[],
        }
    );

    #[derive(Serialize, Deserialize, Model)]
    #[surql(relation)]
    struct AnyEdge {
        id: Option<RecordId>,
    }
    assert_eq!(
        AnyEdge::META.kind,
        TableKind::Relation {
            from: &[],
            to: &[],
            enforced: false
        }
    );

    #[derive(Serialize, Deserialize, Model)]
    #[surql(table = "adults", view = "SELECT * FROM person WHERE age >= 18")]
    struct Adult {
        id: Option<RecordId>,
        name: String,
    }
    assert_eq!(
        Adult::META.kind,
        TableKind::View {
            query: "SELECT * FROM person WHERE age >= 18"
        }
    );
    assert!(Adult::META.is_view());
}

#[test]
fn person_meta_and_handles() {
    assert_eq!(Person::META.table, "person");
    let names: Vec<(&str, &str, bool)> = Person::META
        .fields
        .iter()
        .map(|f| (f.name, f.rust_name, f.optional))
        .collect();
    assert_eq!(
        names,
        [
            ("name", "name", false),
            ("age", "age", false),
            ("first-name", "first_name", true),
            ("created_at", "created_at", true),
        ]
    );
    let f = Person::fields();
    assert_eq!(f.id.name(), "id");
    assert_eq!(f.name.name(), "name");
    assert_eq!(f.age.name(), "age");
    assert_eq!(f.first_name.name(), "first-name");
    assert_eq!(f.created_at.name(), "created_at");
    // The handles are Copy and Debug.
    let g = f;
    assert_eq!(
        format!("{g:?}"),
        "PersonFields { id: Field(id), name: Field(name), age: Field(age), \
         first_name: Field(first-name), created_at: Field(created_at) }"
    );
    assert_eq!(format!("{:?}", f.age), "Field(age)");
}

#[test]
fn key_and_record_id() {
    let mut p = ada();
    assert_eq!(p.key(), None);
    assert_eq!(p.record_id(), None);
    p.id = Some(RecordId::new("person", "ada"));
    assert_eq!(p.key(), Some(&RecordId::new("person", "ada")));
    assert_eq!(p.record_id(), Some(RecordId::new("person", "ada")));
}

fn key_type<M: Model<Key = K>, K>() {}

#[test]
fn typed_keys() {
    #[derive(Serialize, Deserialize, Model)]
    #[surql(table = "counter")]
    struct Counter {
        id: Option<i64>,
        n: i64,
    }
    #[derive(Serialize, Deserialize, Model)]
    #[surql(table = "tag")]
    struct Tag {
        #[surql(id)]
        #[serde(rename = "id")]
        slug: Option<String>,
        label: String,
    }
    #[derive(Serialize, Deserialize, Model)]
    #[surql(table = "session")]
    struct Session {
        id: ::core::option::Option<Uuid>,
    }
    #[derive(Serialize, Deserialize, Model)]
    #[surql(table = "thing")]
    struct Thing {
        id: Option<RecordIdKey>,
    }
    key_type::<Thing, RecordIdKey>();
    let k = Thing {
        id: Some(RecordIdKey::Int(3)),
    };
    assert_eq!(k.record_id(), Some(RecordId::new("thing", 3)));
    key_type::<Counter, i64>();
    key_type::<Tag, String>();
    key_type::<Session, Uuid>();
    key_type::<Person, RecordId>();

    let c = Counter { id: Some(7), n: 1 };
    assert_eq!(c.key(), Some(&7));
    assert_eq!(c.record_id(), Some(RecordId::new("counter", 7)));
    let t = Tag {
        slug: Some("rust".into()),
        label: "Rust".into(),
    };
    assert_eq!(t.key().map(String::as_str), Some("rust"));
    assert_eq!(t.record_id(), Some(RecordId::new("tag", "rust")));
    assert_eq!(Tag::META.id_field, "id");
    assert_eq!(Tag::META.fields.len(), 1);
    // The id handle is named like the Rust field and is a record id handle.
    let slug: surql::model::Field<Tag, RecordId> = Tag::fields().slug;
    assert_eq!(slug.name(), "id");
    let u = Uuid::parse("0190d0a4-6c39-7a6f-9a6c-1b2c3d4e5f60").unwrap();
    let s = Session { id: Some(u) };
    assert_eq!(s.key(), Some(&u));
    assert_eq!(s.record_id(), Some(RecordId::new("session", u)));
}

#[test]
fn renamed_fields_and_their_paths() {
    #[derive(Serialize, Deserialize, Model)]
    struct Odd {
        id: Option<RecordId>,
        #[serde(rename = "first-name")]
        first_name: String,
        #[serde(rename = "名前")]
        namae: String,
        #[serde(rename = "tags[0]")]
        first_tag: Option<String>,
        #[serde(rename = "a.b")]
        dotted: i64,
    }
    let f = Odd::fields();
    assert_eq!(f.first_name.name(), "first-name");
    assert_eq!(f.namae.name(), "名前");
    assert_eq!(f.namae.path(), "名前");
    assert_eq!(f.first_tag.name(), "tags[0]");
    assert_eq!(f.first_tag.path(), "`tags[0]`");
    assert_eq!(f.dotted.path(), "`a.b`");
    let names: Vec<&str> = Odd::META.fields.iter().map(|f| f.name).collect();
    assert_eq!(names, ["first-name", "名前", "tags[0]", "a.b"]);
}

#[test]
fn every_rename_all_case_matches_serde() {
    macro_rules! case {
        ($rule:literal, $name:ident, [$($want:literal),*]) => {{
            #[derive(Serialize, Deserialize, Model)]
            #[serde(rename_all = $rule)]
            struct $name {
                #[serde(rename = "id")]
                id: Option<RecordId>,
                first_name: String,
                user_id_2: i64,
                _private: bool,
                r#type: String,
            }
            let v = $name {
                id: None,
                first_name: String::new(),
                user_id_2: 0,
                _private: false,
                r#type: String::new(),
            };
            let meta: Vec<&str> = $name::META.fields.iter().map(|f| f.name).collect();
            assert_eq!(meta, [$($want),*], "rename_all = {}", $rule);
            let Value::Object(o) = surql::to_value(&v).unwrap() else { panic!() };
            for name in &meta {
                assert!(o.contains_key(*name), "serde does not write {name:?} ({})", $rule);
            }
            assert_eq!(o.len(), meta.len() + 1);
        }};
    }
    case!(
        "lowercase",
        Lower,
        ["first_name", "user_id_2", "_private", "type"]
    );
    case!(
        "UPPERCASE",
        Upper,
        ["FIRST_NAME", "USER_ID_2", "_PRIVATE", "TYPE"]
    );
    case!(
        "PascalCase",
        Pascal,
        ["FirstName", "UserId2", "Private", "Type"]
    );
    case!(
        "camelCase",
        Camel,
        ["firstName", "userId2", "private", "type"]
    );
    case!(
        "snake_case",
        Snake,
        ["first_name", "user_id_2", "_private", "type"]
    );
    case!(
        "SCREAMING_SNAKE_CASE",
        Screaming,
        ["FIRST_NAME", "USER_ID_2", "_PRIVATE", "TYPE"]
    );
    case!(
        "kebab-case",
        Kebab,
        ["first-name", "user-id-2", "-private", "type"]
    );
    case!(
        "SCREAMING-KEBAB-CASE",
        ScreamingKebab,
        ["FIRST-NAME", "USER-ID-2", "-PRIVATE", "TYPE"]
    );
}

#[test]
fn typed_filters_compile_like_the_string_forms() {
    let c = Person::objects()
        .filter(Person::fields().age.gt(18))
        .compile()
        .unwrap();
    assert_eq!(c.text, "SELECT * FROM $t0 WHERE age > $p0;");
    let f = Person::fields();
    let c = Person::objects()
        .filter(f.age.gte(18) & f.first_name.eq("Ada"))
        .compile()
        .unwrap();
    assert_eq!(
        c.text,
        "SELECT * FROM $t0 WHERE age >= $p0 AND `first-name` = $p1;"
    );
}

#[test]
fn flattened_fields_get_no_handle() {
    #[derive(Serialize, Deserialize)]
    struct Address {
        city: String,
    }
    #[derive(Serialize, Deserialize, Model)]
    #[surql(index(name = "by_city", fields("city")))]
    struct Home {
        id: Option<RecordId>,
        owner: String,
        #[serde(flatten)]
        address: Address,
    }
    let names: Vec<&str> = Home::META.fields.iter().map(|f| f.name).collect();
    assert_eq!(names, ["owner"]);
    assert_eq!(Home::META.indexes[0].fields, ["city"]);
    let _ = Home::fields().owner;
}

/// `Self` in a field type names the model in the handle.
#[test]
fn self_in_field_types() {
    #[derive(Serialize, Deserialize, Model)]
    struct Node {
        id: Option<RecordId>,
        children: Vec<Self>,
    }
    let _: surql::model::Field<Node, Vec<Node>> = Node::fields().children;
}

/// The generated code names everything by absolute path.
mod no_prelude {
    #![no_implicit_prelude]

    #[derive(::serde::Serialize, ::serde::Deserialize, ::surql::model::Model)]
    #[surql(index(name = "by_n", fields("n")))]
    pub struct Bare {
        pub id: ::std::option::Option<::surql::RecordId>,
        #[surql(server = "0")]
        pub n: ::std::option::Option<i64>,
    }
}

#[test]
fn no_implicit_prelude() {
    assert_eq!(no_prelude::Bare::fields().n.name(), "n");
    assert_eq!(no_prelude::Bare::META.table, "Bare");
}

mod reexport {
    pub use surql as core_path;
}

mod elsewhere {
    use serde::{Deserialize, Serialize};

    /// A model whose derive names the core crate by another path.
    #[derive(Serialize, Deserialize, crate::reexport::core_path::model::Model)]
    #[surql(crate = "crate::reexport::core_path", table = "note")]
    pub struct Note {
        pub id: Option<crate::reexport::core_path::RecordId>,
        pub text: String,
    }

    #[derive(Serialize, Deserialize)]
    struct Secret(i64);

    /// A public model with a private field type: its handle is public, the type is not.
    #[derive(Serialize, Deserialize, surql::model::Model)]
    pub struct Holder {
        id: Option<surql::RecordId>,
        secret: Secret,
    }
}

#[test]
fn crate_path_and_visibility() {
    use elsewhere::{Holder, Note};
    assert_eq!(Note::META.table, "note");
    assert_eq!(Note::fields().text.name(), "text");
    let _: elsewhere::NoteFields = Note::fields();
    assert_eq!(Holder::fields().id.name(), "id");
    assert_eq!(Holder::META.fields[0].rust_type, "Secret");
}
