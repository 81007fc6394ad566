//! Every attribute of the derive, compiled with warnings denied (the generated code must
//! not warn), then a few uses of what it generates.
#![deny(warnings)]
#![deny(missing_docs)]

use serde::{Deserialize, Serialize};
use surql::model::{Field, FieldKind, Model, TableKind};
use surql::{Datetime, Object, RecordId, Uuid};

mod core_alias {
    pub use surql as path;
}

/// A person.
#[derive(Debug, Serialize, Deserialize, Model)]
#[serde(rename_all = "camelCase")]
#[surql(table = "person", crate = "crate::core_alias::path")]
#[surql(schemafull, changefeed = "7d")]
#[surql(permissions(
    select = "true",
    create = "true",
    update = "id = $auth.id",
    delete = "false"
))]
#[surql(index(name = "person_name", fields("firstName", "lastName")))]
#[surql(index(name = "person_email", fields("email"), unique))]
pub struct Person {
    /// The id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<RecordId>,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: Option<String>,
    /// Email.
    #[serde(rename = "email")]
    pub mail: String,
    /// Age.
    pub age: i64,
    /// Tags.
    pub tags: Vec<String>,
    /// Set by the server.
    #[surql(server = "time::now()")]
    pub created_at: Option<Datetime>,
    /// Set by the server, expression not declared.
    #[surql(server)]
    pub updated_at: Option<Datetime>,
    /// Computed on read.
    #[surql(computed = "string::len(first_name)")]
    pub name_len: Option<i64>,
    /// Computed, expression not declared.
    #[surql(computed)]
    pub score: Option<f64>,
    /// Any keys.
    #[surql(flexible)]
    pub settings: Object,
    /// Not stored.
    #[serde(skip)]
    pub cache: Option<String>,
    /// A keyword as a field name.
    pub r#type: String,
}

/// A relation.
#[derive(Serialize, Deserialize, Model)]
#[surql(table = "likes", relation(in = ["person", "bot"], out = "post", enforced))]
pub struct Likes {
    id: Option<RecordId>,
    #[serde(rename = "in")]
    from: RecordId,
    #[serde(rename = "out")]
    to: RecordId,
}

/// A view, keyed by integers.
#[derive(Serialize, Deserialize, Model)]
#[surql(table = "adults", view = "SELECT * FROM person WHERE age >= 18")]
struct Adult {
    id: Option<i64>,
    name: String,
}

/// A model with a differently named id and a string key.
#[derive(Serialize, Deserialize, Model)]
#[surql(relation)]
struct Tag {
    #[surql(id)]
    #[serde(rename = "id")]
    slug: Option<String>,
    label: String,
}

/// A uuid key.
#[derive(Serialize, Deserialize, Model)]
struct Session {
    id: Option<Uuid>,
}

fn main() {
    let f = Person::fields();
    let _q = Person::objects()
        .filter(f.age.gte(18) & f.first_name.icontains("a") & f.tags.contains("x"))
        .filter(f.last_name.is_null(false) | f.mail.endswith("@example.com"))
        .filter(f.r#type.eq("human") & f.age.is_in([1, 2, 3]));
    let _: Field<Person, RecordId> = f.id;
    let _: Field<Person, String> = f.last_name;
    assert_eq!(f.mail.name(), "email");
    assert_eq!(Person::META.fields.len(), 11);
    assert_eq!(
        Person::META.field("createdAt").unwrap().kind,
        FieldKind::Server {
            value: Some("time::now()")
        }
    );
    assert!(matches!(
        Likes::META.kind,
        TableKind::Relation { enforced: true, .. }
    ));
    assert!(Adult::META.is_view());
    assert_eq!(Adult::fields().name.name(), "name");
    assert_eq!(Tag::fields().slug.name(), "id");
    assert_eq!(Tag::META.table, "Tag");
    assert_eq!(Session::META.table, "Session");
    let likes = Likes {
        id: None,
        from: RecordId::new("person", "a"),
        to: RecordId::new("post", "b"),
    };
    assert_eq!(likes.key(), None);
    let _ = (&likes.from, &likes.to);
    let _ = Adult {
        id: Some(1),
        name: String::new(),
    }
    .record_id();
}
