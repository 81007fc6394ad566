//! Exact text of every relation statement (the conformance suite runs them on a real server).

use serde::{Deserialize, Serialize};
use surql::model::relation::{remove_all_relations, Direction, ForeignKey, OnDelete, Relation};
use surql::model::Model;
use surql::op::{Operation, Step};
use surql::{RecordId, Value};

#[derive(Debug, Clone, Serialize, Deserialize, Model)]
#[surql(table = "person")]
struct Person {
    id: Option<RecordId>,
    age: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, Model)]
#[surql(table = "book")]
struct Book {
    id: Option<RecordId>,
    author: RecordId,
}

const FOLLOWS: Relation<Person, Person> = Relation::out("follows");
const FOLLOWERS: Relation<Person, Person> = Relation::in_("follows");
const KNOWS: Relation<Person, Person> = Relation::both("knows-x");

fn p(k: &str) -> Person {
    Person {
        id: Some(RecordId::new("person", k)),
        age: 1,
    }
}

fn text<O: Operation>(mut op: O) -> String {
    match op.step(None) {
        Step::Send(r) => match &r.params[0] {
            Value::String(s) => s.clone(),
            other => panic!("{other:?}"),
        },
        Step::Done(_) => panic!("nothing sent"),
    }
}

#[test]
fn relation_statements() {
    let a = p("a");
    assert_eq!(
        text(FOLLOWS.of(&a).add(&p("b"), None::<&()>)),
        "RELATE ONLY $p0->follows->$p1;"
    );
    assert_eq!(
        text(FOLLOWS.of(&a).add(&p("b"), Some(&1))),
        "RELATE ONLY $p0->follows->$p1 CONTENT $p2;"
    );
    assert_eq!(
        text(KNOWS.of(&a).add(&p("b"), None::<&()>)),
        "RELATE ONLY $p0->`knows-x`->$p1;"
    );
    assert_eq!(
        text(FOLLOWS.of(&a).remove(&p("b"))),
        "DELETE $t0 WHERE in = $p0 AND out = $p1 RETURN VALUE id;"
    );
    assert_eq!(
        text(FOLLOWERS.of(&a).remove(&p("b"))),
        "DELETE $t0 WHERE out = $p0 AND in = $p1 RETURN VALUE id;"
    );
    assert_eq!(
        text(KNOWS.of(&a).remove(&p("b"))),
        "DELETE $t0 WHERE (in = $p0 AND out = $p1) OR (out = $p2 AND in = $p3) RETURN VALUE id;"
    );
    assert_eq!(
        text(FOLLOWS.of(&a).clear()),
        "DELETE $t0 WHERE in = $p0 RETURN VALUE id;"
    );
    assert_eq!(
        text(FOLLOWS.of(&a).set(&[&p("b")])),
        "LET $from = $p0; LET $want = $p1; DELETE $t0 WHERE in = $from AND out NOT IN $want; FOR $t IN array::complement($want, $from->follows->?) { RELATE $from->follows->$t; };"
    );
    assert_eq!(
        text(FOLLOWS.of(&a).count()),
        "SELECT count() AS count FROM array::distinct($p0->follows->person) GROUP ALL;"
    );
    assert_eq!(
        text(FOLLOWERS.of(&a).contains(&p("b"))),
        "SELECT VALUE id FROM array::distinct($p0<-follows<-person) WHERE id = $p1 LIMIT $p2;"
    );
    assert_eq!(
        text(FOLLOWS.prefetch(&[p("a"), p("b")], None)),
        "SELECT id, ->follows->person.* AS related FROM $p0;"
    );
    let adults = Person::objects().filter(Person::fields().age.gt(17));
    assert_eq!(
        text(KNOWS.prefetch(&[p("a")], Some(&adults))),
        "SELECT id, array::union(->`knows-x`->(person WHERE age > $p0).*, <-`knows-x`<-(person WHERE age > $p1).*) AS related FROM $p2;"
    );
    assert_eq!(
        text(remove_all_relations(&RecordId::new("person", "a"), &["follows", "likes"], Direction::Both)),
        "LET $r = $p0; DELETE $t0 WHERE in = $r OR out = $r RETURN VALUE id; DELETE $t1 WHERE in = $r OR out = $r RETURN VALUE id;"
    );
    let fk: ForeignKey<Book, Person> = ForeignKey::new("author", OnDelete::Reject);
    assert_eq!(
        fk.define_field(),
        "DEFINE FIELD OVERWRITE author ON book TYPE record<person> REFERENCE ON DELETE REJECT;"
    );
}

#[test]
fn unsaved_records_are_refused_before_sending() {
    let ghost = Person { id: None, age: 1 };
    let mut op = FOLLOWS.of(&ghost).add(&p("b"), None::<&()>);
    assert!(matches!(op.step(None), Step::Done(Err(e)) if e.to_string().contains("save it first")));
    let err = FOLLOWS.of(&ghost).objects().compile().unwrap_err();
    assert!(err.to_string().contains("unsaved record"), "{err}");
    let mut op = FOLLOWS.prefetch(&[ghost], None);
    assert!(matches!(op.step(None), Step::Done(Err(_))));
}
