//! The surql demo: starts a real SurrealDB (building it on the first run), then walks through
//! the client: sign in, typed CRUD, bound queries, the query compiler, models, a live query
//! and an interactive transaction. Run with `cargo run -p surql-conformance --example demo`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use surql::model::{Changes, Expr, Model};
use surql::query::{QuerySet, F};
use surql::{Datetime, RecordId};
use surql_conformance::server::{Server, Storage, ROOT_PASS, ROOT_USER};
use surql_smol::prelude::*;
use surql_smol::{BulkOptions, Credentials, Surreal};

/// A model: `#[derive(Model)]` maps it to the `member` table.
#[derive(Debug, Clone, Serialize, Deserialize, Model)]
#[surql(table = "member")]
struct Member {
    id: Option<RecordId>,
    name: String,
    visits: i64,
    #[serde(default)]
    tags: Vec<String>,
    /// Set by the server (`DEFAULT time::now()`): never written, read back by `save`.
    #[surql(server)]
    #[serde(default)]
    joined: Option<Datetime>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Person {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<RecordId>,
    name: String,
    age: i64,
    city: String,
}

fn person(name: &str, age: i64, city: &str) -> Person {
    Person {
        id: None,
        name: name.into(),
        age,
        city: city.into(),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "Starting a local SurrealDB (the first run builds it from crates.io: roughly 25-30 minutes on 2 cores)..."
    );
    let server = Server::start(&Storage::Memory, None)?;
    println!("SurrealDB is up on {}", server.ws_url());
    let outcome = futures_lite::future::block_on(demo(&server.ws_url()));
    drop(server); // stops the server
    outcome?;
    println!("Done; the server was stopped.");
    Ok(())
}

async fn demo(url: &str) -> Result<(), Box<dyn std::error::Error>> {
    let db = Surreal::connect(url).await?;
    db.signin(&Credentials::root(ROOT_USER, ROOT_PASS)).await?;
    println!("connected to {}", db.version().await?);
    db.query("DEFINE NAMESPACE demo; USE NS demo; DEFINE DATABASE main;")
        .await?
        .check()?;
    db.use_ns_db("demo", "main").await?;

    // Typed CRUD: a string key stays a string, whatever it looks like.
    let ada: Person = db
        .create(("person", "ada"), person("Ada", 36, "London"))
        .await?;
    println!("created {ada:?}");
    let _: Vec<Person> = db
        .insert(
            "person",
            vec![
                person("Grace", 45, "New York"),
                person("Alan", 41, "London"),
                person("Edsger", 29, "Amsterdam"),
            ],
        )
        .await?;
    let odd: Person = db
        .create(("person", "123"), person("Number-like key", 1, "Nowhere"))
        .await?;
    println!(
        "a string key that looks like a number stays a string: {:?}",
        odd.id
    );

    // A bound query: values never enter the SurrealQL text.
    let mut res = db
        .query("SELECT name, age FROM person WHERE city = $city ORDER BY age")
        .bind(("city", "London"))
        .await?;
    let londoners: Vec<serde_json_like::NameAge> = res.take(0)?;
    println!("Londoners: {londoners:?}");

    // The query compiler: Django-style filters, compiled to bound SurrealQL.
    let qs = QuerySet::table("person")
        .filter(F::new("age").gte(30) & F::new("city").icontains("LON"))
        .order_by(["-age"]);
    println!("compiled: {}", qs.compile()?.text);
    println!("for logs:  {}", qs.to_surql()?);
    let rows: Vec<Person> = qs.all(&db).await?;
    println!(
        "over 30 in a city containing 'lon': {:?}",
        rows.iter().map(|p| &p.name).collect::<Vec<_>>()
    );
    println!(
        "people: {}",
        QuerySet::table("person").count_rows(&db).await?
    );
    println!(
        "average age: {}",
        QuerySet::table("person").avg("age").fetch(&db).await?
    );

    // Models: save fills in the id and the server's fields; typed field handles build
    // filters and server-side changes; bulk writes and upserts are one statement each.
    db.query("DEFINE FIELD joined ON member TYPE datetime DEFAULT time::now() READONLY;")
        .await?
        .check()?;
    let mut grace = Member {
        id: None,
        name: "Grace".into(),
        visits: 0,
        tags: vec![],
        joined: None,
    };
    grace.save(&db).await?;
    println!("saved {:?} (joined {:?})", grace.id, grace.joined);
    let f = Member::fields();
    grace
        .merge(
            &db,
            &Changes::new()
                .increment(f.visits, 1)
                .append(f.tags, "early")
                .set_expr(f.name, Expr::func("string::uppercase", [Expr::of(f.name)])),
        )
        .await?;
    println!(
        "after merge: {} visits={} tags={:?}",
        grace.name, grace.visits, grace.tags
    );
    let crowd: Vec<Member> = (0..100)
        .map(|i| Member {
            id: None,
            name: format!("m{i}"),
            visits: i,
            tags: vec![],
            joined: None,
        })
        .collect();
    Member::bulk_create(
        &db,
        &crowd,
        BulkOptions {
            batch_size: 50,
            atomic: true,
        },
    )
    .await?;
    let regulars = Member::objects()
        .filter(f.visits.gte(90))
        .order_by([f.visits.desc()])
        .limit(3)
        .all(&db)
        .await?;
    println!(
        "top regulars: {:?}",
        regulars
            .iter()
            .map(|m| (&m.name, m.visits))
            .collect::<Vec<_>>()
    );
    let again = Member::upsert(&db, &grace, Some(&Changes::new().increment(f.visits, 10))).await?;
    println!(
        "upsert on an existing id incremented visits to {}",
        again.visits
    );
    match Member::get(&db, "nobody").await {
        Err(e) if e.is_does_not_exist() => println!("get(\"nobody\"): {e}"),
        other => println!("unexpected: {other:?}"),
    }

    // A live query: notifications arrive as a stream.
    let mut live = db.live("person").await?;
    let _: Person = db
        .create(("person", "barbara"), person("Barbara", 52, "Boston"))
        .await?;
    if let Some(n) = live.next_timeout(Duration::from_secs(5)).await? {
        println!("live: {:?} {}", n.action, n.record);
    }
    drop(live); // unsubscribes

    // An interactive transaction.
    let txn = db.begin().await?;
    txn.query("UPDATE person SET age += 1 WHERE city = 'London'")
        .await?
        .check()?;
    txn.commit().await?;
    let mut res = db.query("SELECT VALUE age FROM ONLY person:ada").await?;
    println!("Ada after the transaction: {}", res.take::<i64>(0)?);
    Ok(())
}

mod serde_json_like {
    /// A projection of `person` used by the bound query above.
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)] // the fields are printed through Debug
    pub struct NameAge {
        pub name: String,
        pub age: i64,
    }
}
