// Relation scenarios, written once. Included by `relations.rs` into one module per driver ×
// transport; `super::drv` is the driver crate, `super::WS` the transport and `w!` resolves a
// call (`.await` for smol, a plain call for blocking).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use surql::model::relation::{remove_all_relations, Direction, ForeignKey, OnDelete, Relation};
use surql::model::Model;
use surql::query::{Path, QuerySet, F};
use surql::{Object, RecordId, Value};

use super::drv::{self, ModelExt, ModelQuerySetExt, QuerySetExt, Surreal};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[surql(table = "person")]
struct Person {
    id: Option<RecordId>,
    name: String,
    age: i64,
}

impl Person {
    const FOLLOWS: Relation<Person, Person> = Relation::out("follows");
    const FOLLOWERS: Relation<Person, Person> = Relation::in_("follows");
    const KNOWS: Relation<Person, Person> = Relation::both("knows");
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[surql(table = "author")]
struct Author {
    id: Option<RecordId>,
    name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[surql(table = "book")]
struct Book {
    id: Option<RecordId>,
    title: String,
    author: RecordId,
}

const BOOK_AUTHOR: ForeignKey<Book, Author> = ForeignKey::new("author", OnDelete::Cascade);

async fn people(db: &Surreal, names: &[(&str, i64)]) -> drv::Result<Vec<Person>> {
    let mut out = Vec::new();
    for (name, age) in names {
        let mut p = Person {
            id: Some(RecordId::new("person", *name)),
            name: (*name).into(),
            age: *age,
        };
        w!(p.save(db))?;
        out.push(p);
    }
    Ok(out)
}

fn names(ps: &[Person]) -> BTreeSet<String> {
    ps.iter().map(|p| p.name.clone()).collect()
}

fn set(ns: &[&str]) -> BTreeSet<String> {
    ns.iter().map(|n| (*n).to_owned()).collect()
}

scenario!(relation_managers_add_remove_set_clear_count, |db| {
    let p = people(&db, &[("a", 30), ("b", 25), ("c", 41), ("d", 19)]).await?;
    let (a, b, c, d) = (&p[0], &p[1], &p[2], &p[3]);
    let follows = Person::FOLLOWS.of(a);
    let mut since = Object::new();
    since.insert("since".into(), Value::from(2020));
    let edge = w!(db.perform(follows.add(b, Some(&since))))?;
    match &edge {
        Value::Object(o) => {
            assert_eq!(o.get("since"), Some(&Value::from(2020)));
            assert_eq!(o.get("in"), Some(&Value::RecordId(a.id.clone().unwrap())));
        }
        other => panic!("the edge record: {other:?}"),
    }
    w!(db.perform(follows.add(c, None::<&()>)))?;
    assert_eq!(w!(db.perform(follows.count()))?, 2);
    assert!(w!(db.perform(follows.contains(b)))?);
    assert!(!w!(db.perform(follows.contains(d)))?);
    assert!(w!(db.perform(follows.exists()))?);
    assert_eq!(names(&w!(db.perform(follows.all()))?), set(&["b", "c"]));
    // filtered, ordered, typed: the manager's query set
    let older = w!(follows.objects().filter(Person::fields().age.gt(26)).all(&db))?;
    assert_eq!(names(&older), set(&["c"]));
    // the reverse relation sees the same edges from the other end
    assert_eq!(names(&w!(db.perform(Person::FOLLOWERS.of(b).all()))?), set(&["a"]));
    // an `in_` relation adds edges the other way round
    w!(db.perform(Person::FOLLOWERS.of(d).add(a, None::<&()>)))?;
    assert!(w!(db.perform(follows.contains(d)))?, "d <-follows<- a is a ->follows-> d");
    // remove, set, clear
    assert_eq!(w!(db.perform(follows.remove(b)))?, 1);
    assert_eq!(names(&w!(db.perform(follows.all()))?), set(&["c", "d"]));
    let kept_edge: Vec<Value> = w!(db.query("SELECT VALUE id FROM follows WHERE in = person:a AND out = person:d"))?.take(0)?;
    w!(db.perform(follows.set(&[b, d])))?;
    assert_eq!(names(&w!(db.perform(follows.all()))?), set(&["b", "d"]));
    let still: Vec<Value> = w!(db.query("SELECT VALUE id FROM follows WHERE in = person:a AND out = person:d"))?.take(0)?;
    assert_eq!(kept_edge, still, "set keeps the edges it does not need to change");
    w!(db.perform(follows.set(&[])))?;
    assert_eq!(w!(db.perform(follows.count()))?, 0);
    w!(db.perform(follows.add(b, None::<&()>)))?;
    w!(db.perform(follows.add(c, None::<&()>)))?;
    assert_eq!(w!(db.perform(follows.clear()))?, 2);
    assert!(!w!(db.perform(follows.exists()))?);
    // an unsaved record cannot have relations: an error naming the problem
    let ghost = Person { id: None, name: "ghost".into(), age: 1 };
    let err = w!(db.perform(Person::FOLLOWS.of(&ghost).add(b, None::<&()>))).unwrap_err();
    assert!(err.to_string().contains("save it first"), "{err}");
    let err = w!(Person::FOLLOWS.of(&ghost).objects().all(&db)).unwrap_err();
    assert!(err.to_string().contains("unsaved record"), "{err}");
    Ok(())
});

scenario!(self_relations_duplicate_edges_and_both_directions, |db| {
    let p = people(&db, &[("a", 30), ("b", 25), ("c", 41)]).await?;
    let (a, b, c) = (&p[0], &p[1], &p[2]);
    let follows = Person::FOLLOWS.of(a);
    w!(db.perform(follows.add(a, None::<&()>)))?;
    assert!(w!(db.perform(follows.contains(a)))?);
    assert!(w!(db.perform(Person::FOLLOWERS.of(a).contains(a)))?);
    // duplicate edges: the related record counts once, both edges exist
    w!(db.perform(follows.add(b, None::<&()>)))?;
    w!(db.perform(follows.add(b, None::<&()>)))?;
    assert_eq!(w!(db.perform(follows.count()))?, 2, "a and b, each once");
    assert_eq!(w!(db.perform(follows.remove(b)))?, 2, "both edges go");
    // `both`: either direction, each record once, a self-loop included
    w!(db.perform(Person::KNOWS.of(a).add(b, None::<&()>)))?;
    w!(db.perform(Person::KNOWS.of(c).add(a, None::<&()>)))?;
    w!(db.perform(Person::KNOWS.of(a).add(a, None::<&()>)))?;
    assert_eq!(names(&w!(db.perform(Person::KNOWS.of(a).all()))?), set(&["a", "b", "c"]));
    assert_eq!(w!(db.perform(Person::KNOWS.of(a).count()))?, 3);
    assert_eq!(names(&w!(db.perform(Person::KNOWS.of(b).all()))?), set(&["a"]));
    assert_eq!(w!(db.perform(Person::KNOWS.of(a).remove(c)))?, 1, "c ->knows-> a, seen from a");
    Ok(())
});

scenario!(three_hops_with_a_filter_at_each_in_one_query, |db| {
    people(&db, &[("a", 30), ("b", 25), ("b2", 70), ("c", 41), ("c2", 12), ("d", 50), ("d2", 9)]).await?;
    w!(db.query(
        "RELATE person:a->follows->[person:b, person:b2];
         RELATE person:b->follows->[person:c, person:c2];
         RELATE person:b2->follows->person:c2;
         RELATE person:c->follows->[person:d, person:d2];
         RELATE person:c2->follows->person:d;"
    ))?
    .check()?;
    let f = Person::fields();
    let a = w!(Person::get(&db, "a"))?;
    // a's followees under 60, their followees over 20, then everyone those follow
    let qs = Person::FOLLOWS
        .of(&a)
        .objects()
        .filter(f.age.lt(60))
        .related(&Person::FOLLOWS)
        .filter(f.age.gt(20))
        .related(&Person::FOLLOWS);
    assert_eq!(names(&w!(qs.all(&db))?), set(&["d", "d2"]));
    assert_eq!(w!(qs.clone().filter(f.age.gt(20)).count_rows(&db))?, 1);
    // the same as a raw graph path with per-hop filters
    let path = Path::new()
        .out("follows")
        .out("person")
        .filter(F::new("age").lt(60))
        .out("follows")
        .out("person")
        .filter(F::new("age").gt(20))
        .out("follows")
        .out("person");
    let raw = w!(QuerySet::record(RecordId::new("person", "a")).traverse(path).all::<Value>(&db))?;
    let mut raw_names: Vec<String> = raw
        .iter()
        .filter_map(|v| match v {
            Value::Object(o) => o.get("name").and_then(Value::as_str).map(str::to_owned),
            _ => None,
        })
        .collect();
    raw_names.sort();
    raw_names.dedup();
    assert_eq!(raw_names, ["d", "d2"]);
    Ok(())
});

scenario!(prefetch_loads_every_parents_relations_in_one_request, |db| {
    let p = people(&db, &[("a", 30), ("b", 25), ("c", 41), ("x", 1), ("y", 2), ("z", 90)]).await?;
    w!(db.query(
        "RELATE person:a->follows->[person:x, person:y];
         RELATE person:b->follows->person:z;
         RELATE person:c->follows->[person:x, person:z];"
    ))?
    .check()?;
    let parents = &p[..4]; // a, b, c, x (x follows nobody)
    let op = Person::FOLLOWS.prefetch(parents, None);
    // one operation of one request, whatever the number of parents
    assert!(op.request().is_some());
    let related = w!(db.perform(op))?;
    let got: Vec<BTreeSet<String>> = related.iter().map(|r| names(r)).collect();
    assert_eq!(got, [set(&["x", "y"]), set(&["z"]), set(&["x", "z"]), set(&[])]);
    // with a filter on the related records
    let adults = Person::objects().filter(Person::fields().age.gt(10));
    let related = w!(db.perform(Person::FOLLOWS.prefetch(parents, Some(&adults))))?;
    let got: Vec<BTreeSet<String>> = related.iter().map(|r| names(r)).collect();
    assert_eq!(got, [set(&[]), set(&["z"]), set(&["z"]), set(&[])]);
    // the reverse direction
    let related = w!(db.perform(Person::FOLLOWERS.prefetch(&p[3..], None)))?;
    let got: Vec<BTreeSet<String>> = related.iter().map(|r| names(r)).collect();
    assert_eq!(got, [set(&["a", "c"]), set(&["a"]), set(&["b", "c"])]);
    Ok(())
});

scenario!(remove_all_relations_over_several_edges_and_directions, |db| {
    people(&db, &[("a", 30), ("b", 25), ("c", 41)]).await?;
    w!(db.query(
        "RELATE person:a->follows->person:b; RELATE person:c->follows->person:a;
         RELATE person:a->likes->person:c; RELATE person:b->likes->person:a;
         RELATE person:b->follows->person:c;"
    ))?
    .check()?;
    let a = RecordId::new("person", "a");
    assert_eq!(w!(db.perform(remove_all_relations(&a, &["follows"], Direction::Out)))?, 1);
    assert_eq!(w!(db.perform(remove_all_relations(&a, &["follows", "likes"], Direction::Both)))?, 3);
    let left: Vec<Value> = w!(db.query("SELECT VALUE [in, out] FROM follows, likes"))?.take(0)?;
    assert_eq!(left.len(), 1, "only b ->follows-> c is left: {left:?}");
    let err = w!(db.perform(remove_all_relations(&a, &[], Direction::Out))).unwrap_err();
    assert!(err.is_invalid_input(), "{err}");
    Ok(())
});

scenario!(foreign_keys_cascade_or_reject_deletes, |db| {
    w!(db.query(BOOK_AUTHOR.define_field()))?.check()?;
    let mut ann = Author { id: None, name: "Ann".into() };
    w!(ann.save(&db))?;
    for title in ["one", "two"] {
        let mut b = Book { id: None, title: title.into(), author: ann.id.clone().unwrap() };
        w!(b.save(&db))?;
    }
    let books = w!(BOOK_AUTHOR.referencing(&ann).all(&db))?;
    assert_eq!(books.len(), 2);
    let back = w!(db.perform(BOOK_AUTHOR.get(&books[0])))?;
    assert_eq!(back.map(|a| a.name), Some("Ann".to_owned()));
    // CASCADE: deleting the author deletes the books
    w!(ann.delete(&db))?;
    assert_eq!(w!(Book::objects().count_rows(&db))?, 0);
    // REJECT: the delete is refused while a book links to the author
    let reject: ForeignKey<Book, Author> = ForeignKey::new("author", OnDelete::Reject);
    w!(db.query(reject.define_field()))?.check()?;
    let mut bob = Author { id: None, name: "Bob".into() };
    w!(bob.save(&db))?;
    let mut b = Book { id: None, title: "three".into(), author: bob.id.clone().unwrap() };
    w!(b.save(&db))?;
    let err = w!(bob.delete(&db)).unwrap_err();
    assert!(err.as_server_error().is_some(), "{err}");
    assert!(w!(Author::get(&db, bob.id.clone().unwrap())).is_ok(), "still there");
    Ok(())
});
