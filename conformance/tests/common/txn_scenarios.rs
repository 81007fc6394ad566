// Transaction and signal scenarios, written once. Included by `transactions.rs` into one
// module per driver × transport; `super::drv` is the driver crate, `super::WS` the transport,
// `w!` resolves a call, `closure!(|tx| { … })` is an async closure for smol and a plain one
// for blocking, and `concurrently!(n, |i| { … })` runs bodies at once (futures or threads).

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use surql::model::{ops, Changes, Model};
use surql::signals::{Action, AnyModel, Around, SignalCtx};
use surql::txn::RetryPolicy;
use surql::{Datetime, Object, RecordId};
use surql_conformance::server::{Server, ROOT_PASS, ROOT_USER};

use super::drv::{self, Credentials, ModelExt, ModelQuerySetExt, Surreal};
use super::WS;


#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[surql(table = "person")]
struct Person {
    id: Option<RecordId>,
    name: String,
    #[surql(server)]
    #[serde(default)]
    created_at: Option<Datetime>,
}

fn person(name: &str) -> Person {
    Person {
        id: None,
        name: name.into(),
        created_at: None,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[surql(table = "counter")]
struct Counter {
    id: Option<RecordId>,
    n: i64,
}

/// Another client on the same namespace/database (its own connection).
async fn another_client(db: &Surreal) -> drv::Result<Surreal> {
    let names: Vec<String> = w!(db.query("RETURN [session::ns(), session::db()]"))?.take(0)?;
    let server = Server::shared();
    let url = if WS { server.ws_url() } else { server.http_url() };
    let c = w!(Surreal::connect(&url))?;
    w!(c.signin(&Credentials::root(ROOT_USER, ROOT_PASS)))?;
    w!(c.use_ns_db(&names[0], &names[1]))?;
    Ok(c)
}

async fn people(db: &Surreal) -> drv::Result<u64> {
    match w!(Person::objects().count_rows(db)) {
        Ok(n) => Ok(n),
        // nothing was ever written: the table does not exist
        Err(e) if e.to_string().contains("does not exist") => Ok(0),
        Err(e) => Err(e),
    }
}

scenario!(model_actions_run_inside_a_transaction, |db| {
    if WS {
        // interactive: an action sees the answers of the ones before it
        let rec = db.record();
        let id = w!(db.transaction(closure!(|tx| {
            let mut p = person("ann");
            w!(p.save(tx))?;
            let id = p.id.clone().expect("saved");
            let again = w!(Person::get(tx, id.clone()))?;
            assert_eq!(again.name, "ann");
            w!(p.merge(tx, &Changes::new().set(Person::fields().name, "ann2")))?;
            assert_eq!(p.name, "ann2");
            Ok(id)
        })))?;
        let methods: Vec<String> = rec.statements().iter().map(|r| r.method.as_str().to_owned()).collect();
        assert_eq!(methods, ["begin", "query", "query", "query", "commit"], "{:?}", rec.texts());
        drop(rec);
        assert_eq!(w!(Person::get(&db, id))?.name, "ann2");
    } else {
        let rec = db.record();
        // HTTP: one request at commit; an action that needs its answer is refused, a queued
        // one answers after the commit
        let (a, b) = w!(db.transaction(closure!(|tx| {
            let mut p = person("x");
            let err = w!(p.save(tx)).unwrap_err();
            assert!(err.is_not_supported(), "{err}");
            let a = w!(tx.defer(ops::save(&person("ann"))))?;
            let b = w!(tx.defer(ops::save(&person("bob"))))?;
            Ok((a, b))
        })))?;
        // the whole transaction was one request
        assert_eq!(rec.count(), 1, "{:?}", rec.texts());
        assert!(rec.texts()[0].starts_with("BEGIN TRANSACTION; CREATE $b0_t0 CONTENT $b0_p0 RETURN AFTER; CREATE $b1_t0"), "{:?}", rec.texts());
        drop(rec);
        let (a, b) = (a.take()?, b.take()?);
        assert!(a.id.is_some() && b.id.is_some(), "the stored records came back after the commit");
        assert_eq!(w!(Person::objects().order_by(["name"]).fetch_values_list::<String>(&db, "name"))?, ["ann", "bob"]);
    }
    Ok(())
});

scenario!(a_failing_closure_leaves_no_trace, |db| {
    let err = w!(db.transaction(closure!(|tx| {
        let _ = w!(tx.defer(ops::save(&person("ghost"))))?;
        Err::<(), _>(drv::Error::invalid("test", "the closure gave up"))
    })))
    .unwrap_err();
    assert!(err.to_string().contains("the closure gave up"), "{err}");
    assert_eq!(people(&db).await?, 0);
    Ok(())
});

scenario!(a_statement_failing_at_commit_applies_nothing, |db| {
    let mut first = person("first");
    first.id = Some(RecordId::new("person", "dup"));
    let err = w!(db.transaction(closure!(|tx| {
        let a = w!(tx.defer(ops::save(&person("a"))))?;
        // a create with an id that the same transaction already created fails
        let b = w!(tx.defer(surql::client::query("CREATE person:dup SET name = 'x'", Object::new())))?;
        let c = w!(tx.defer(surql::client::query("CREATE person:dup SET name = 'y'", Object::new())))?;
        if WS {
            // answered at once: the second create's error is in its own answer
            a.take()?;
            b.take()?.check()?;
            c.take()?.check()?;
        }
        Ok(())
    })))
    .unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    assert_eq!(people(&db).await?, 0, "all or nothing");
    Ok(())
});

scenario!(a_panicking_closure_leaves_no_trace_and_no_open_transaction, |db| {
    // The server allows 64 open transactions per session: 70 leaked ones would make the
    // next `begin` fail.
    for i in 0..70 {
        let outcome = caught!(db.transaction(closure!(|tx| {
            let _ = w!(tx.defer(ops::save(&person("panicked"))))?;
            if i < 1000 {
                panic!("the closure panicked (expected by the test)");
            }
            Ok(())
        })));
        assert!(outcome.is_err(), "the panic reaches the caller");
    }
    let mut p = person("after");
    w!(db.transaction(closure!(|tx| {
        if WS {
            w!(p.save(tx))?;
        } else {
            let _ = w!(tx.defer(ops::save(&p)))?;
        }
        Ok(())
    })))?;
    assert_eq!(people(&db).await?, 1, "only the last transaction wrote");
    Ok(())
});

scenario!(retry_on_conflict_counts_exactly, |db| {
    w!(db.query("CREATE counter:c SET n = 0"))?.check()?;
    const CLIENTS: usize = 8;
    const TIMES: usize = 50;
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        clients.push(another_client(&db).await?);
    }
    let clients = &clients;
    let retries = Arc::new(Mutex::new(0u64));
    let retries = &retries;
    let results = concurrently!(CLIENTS, |i| {
        let c = &clients[i];
        let policy = RetryPolicy::default()
            .max_retries(500)
            .base_delay(std::time::Duration::from_millis(1))
            .max_delay(std::time::Duration::from_millis(20));
        let rid = RecordId::new("counter", "c");
        let mut tries = 0u64;
        for _ in 0..TIMES {
            w!(c.retry_on_conflict(&policy, closure!(|tx| {
                tries += 1;
                if WS {
                    // read, then write what was read plus one: only a transaction makes
                    // this exact under concurrency
                    let cur = w!(Counter::get(tx, rid.clone()))?;
                    let set = Changes::new().set_path("n", cur.n + 1);
                    w!(tx.perform(ops::merge_id::<Counter>(rid.clone(), &set, false)))?;
                } else {
                    let add = Changes::new().increment_path("n", 1);
                    let _ = w!(tx.defer(ops::merge_id::<Counter>(rid.clone(), &add, false)))?;
                }
                Ok(())
            })))?;
        }
        *retries.lock().unwrap() += tries - TIMES as u64;
        Ok::<_, drv::Error>(())
    });
    for r in results {
        match r {
            // 3.0 gives a conflict no structure: surql does not retry it (see
            // `transaction_conflict_is_retryable`), so the closure's conflict comes back.
            Err(e)
                if !e.is_conflict()
                    && e.to_string().contains("Transaction conflict")
                    && crate::harness::known_before_skip(
                        &w!(db.version())?,
                        3,
                        1,
                        "retry_on_conflict_counts_exactly",
                        &format!(
                            "the server reports a transaction conflict without `details.kind` \
                             ({e}), which surql does not retry"
                        ),
                    ) =>
            {
                return Ok(());
            }
            r => r?,
        }
    }
    let n = w!(Counter::get(&db, "c"))?.n;
    let version = w!(db.version())?;
    let expected = (CLIENTS * TIMES) as i64;
    if n != expected
        && crate::harness::known_before_skip(
            &version,
            3,
            3,
            "retry_on_conflict_counts_exactly",
            &format!(
                "the server lost {} of {expected} concurrent increments whose commits it \
                 confirmed (its memory engine before 3.3, surrealmx 0.22, misses write \
                 conflicts; on 3.3 and later this fails)",
                expected - n
            ),
        )
    {
        return Ok(());
    }
    // Every transaction committed exactly once (the server said so); a smaller count is an
    // update the server lost. Seen on 3.2.6 (its memory engine is surrealmx 0.22; 3.3.5's
    // is 0.27): 399 of 400, over WebSocket (read, then write) and over HTTP (`n += 1` in a
    // batch) alike.
    assert_eq!(
        n,
        (CLIENTS * TIMES) as i64,
        "{version} kept {n} of {} increments, each committed once: the server lost updates of \
         concurrent transactions",
        CLIENTS * TIMES
    );
    if WS {
        // the exact count was reached through conflicts, not around them
        assert!(*retries.lock().unwrap() > 0, "no conflict happened: the test proved nothing");
    }
    Ok(())
});

/// Records every signal in order.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, s: impl Into<String>) {
        self.0.lock().unwrap().push(s.into());
    }
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

struct Mw(&'static str, Log);

impl Around<Person> for Mw {
    fn before(&self, p: &Person, _ctx: &SignalCtx<'_>) -> Result<(), surql::Error> {
        if p.name == format!("refused by {}", self.0) {
            return Err(surql::Error::invalid("name", format!("{} refuses it", self.0)));
        }
        self.1.push(format!("before {}", self.0));
        Ok(())
    }
    fn after(&self, _p: &Person, _ctx: &SignalCtx<'_>, outcome: Result<&Person, &surql::Error>) {
        self.1.push(format!("after {} {}", self.0, if outcome.is_ok() { "ok" } else { "err" }));
    }
}

struct MwAny(Log);

impl Around<dyn AnyModel> for MwAny {
    fn before(&self, m: &dyn AnyModel, ctx: &SignalCtx<'_>) -> Result<(), surql::Error> {
        self.0.push(format!("before any {} {:?}", m.meta().table, ctx.action));
        Ok(())
    }
    fn after(&self, _m: &dyn AnyModel, _ctx: &SignalCtx<'_>, outcome: Result<&dyn AnyModel, &surql::Error>) {
        let stored = outcome.ok().and_then(|m| m.any_record_id()).is_some();
        self.0.push(format!("after any stored_id={stored}"));
    }
}

scenario!(signals_fire_in_the_documented_order, |db| {
    let log = Log::default();
    let s = db.signals();
    let l = log.clone();
    s.on_pre::<Person>(Action::Save, move |p, ctx| {
        if p.name == "invalid" {
            return Err(surql::Error::invalid("name", "pre_save refuses `invalid`"));
        }
        l.push(format!("pre {} created={}", p.name, ctx.created));
        Ok(())
    });
    let l = log.clone();
    s.on_pre_any(Action::Save, move |m, _| {
        l.push(format!("pre any {}", m.meta().table));
        Ok(())
    });
    s.on_around::<Person>(Action::Save, Mw("a", log.clone()));
    s.on_around::<Person>(Action::Save, Mw("b", log.clone()));
    s.on_around_any(Action::Save, MwAny(log.clone()));
    let l = log.clone();
    s.on_post::<Person>(Action::Save, move |p, _| {
        l.push(format!("post {} id={} created_at={}", p.name, p.id.is_some(), p.created_at.is_some()))
    });
    let l = log.clone();
    let post_any = s.on_post_any(Action::Save, move |m, _| l.push(format!("post any {}", m.meta().table)));
    w!(db.query("DEFINE FIELD created_at ON person TYPE datetime DEFAULT time::now() READONLY;"))?.check()?;

    let mut p = person("ann");
    let rec = db.record();
    w!(p.save(&db))?;
    // the action sent exactly its one statement; the signals sent nothing
    assert_eq!(rec.texts(), ["CREATE $t0 CONTENT $p0 RETURN AFTER;"]);
    rec.clear();
    assert_eq!(
        log.take(),
        [
            "pre ann created=true",
            "pre any person",
            "before a",
            "before b",
            "before any person Save",
            "after any stored_id=true",
            "after b ok",
            "after a ok",
            "post ann id=true created_at=true",
            "post any person",
        ]
    );
    // a refusing pre handler aborts the write before anything is sent
    let mut bad = person("invalid");
    let err = w!(bad.save(&db)).unwrap_err();
    assert!(err.to_string().contains("pre_save refuses"), "{err}");
    assert_eq!(log.take(), Vec::<String>::new());
    assert_eq!(rec.count(), 0, "an aborted save sends nothing: {:?}", rec.texts());
    drop(rec);
    // a refusing around handler: the ones already entered unwind with the error
    let mut refused = person("refused by b");
    let err = w!(refused.save(&db)).unwrap_err();
    assert!(err.to_string().contains("b refuses it"), "{err}");
    assert_eq!(log.take(), ["pre refused by b created=true", "pre any person", "before a", "after a err"]);
    assert_eq!(people(&db).await?, 1, "neither refused save was written");
    // a failing database call: around handlers see the error, post handlers do not run
    let mut clash = person("clash");
    clash.id = p.id.clone();
    w!(db.query("DEFINE FIELD name ON person TYPE string ASSERT $value != 'clash';"))?.check()?;
    let err = w!(clash.save(&db)).unwrap_err();
    assert!(err.as_server_error().is_some(), "{err}");
    assert_eq!(
        log.take(),
        ["pre clash created=false", "pre any person", "before a", "before b", "before any person Save", "after any stored_id=false", "after b err", "after a err"]
    );
    // disconnect
    assert!(s.disconnect(post_any));
    assert!(!s.disconnect(post_any));
    p.name = "ann2".into();
    w!(p.save(&db))?;
    assert!(!log.take().iter().any(|l| l.starts_with("post any")));
    // update and delete signals
    let l = log.clone();
    s.on_pre::<Person>(Action::Update, move |p, ctx| {
        l.push(format!("pre update {} changes={}", p.name, ctx.changes.is_some()))
            ;
        Ok(())
    });
    let l = log.clone();
    s.on_post::<Person>(Action::Update, move |p, _| l.push(format!("post update {}", p.name)));
    let l = log.clone();
    s.on_pre::<Person>(Action::Delete, move |p, _| {
        l.push(format!("pre delete {}", p.name));
        Ok(())
    });
    let l = log.clone();
    s.on_post::<Person>(Action::Delete, move |p, _| l.push(format!("post delete {}", p.name)));
    w!(p.merge(&db, &Changes::new().set(Person::fields().name, "ann3")))?;
    assert_eq!(log.take(), ["pre update ann2 changes=true", "post update ann3"]);
    w!(p.delete(&db))?;
    assert_eq!(log.take(), ["pre delete ann3", "post delete ann3"]);
    // another client has its own (empty) registry
    let other = another_client(&db).await?;
    w!(person("elsewhere").save(&other))?;
    assert_eq!(log.take(), Vec::<String>::new());
    s.clear();
    w!(person("cleared").save(&db))?;
    assert_eq!(log.take(), Vec::<String>::new());
    Ok(())
});

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[surql(table = "metric", connection = "analytics")]
struct Metric {
    id: Option<RecordId>,
    value: i64,
}

scenario!(named_connections_route_models_and_using_overrides, |db| {
    use super::drv::{ConnectionConfig, Connections};
    let names: Vec<String> = w!(db.query("RETURN [session::ns(), session::db()]"))?.take(0)?;
    let (ns, main) = (names[0].clone(), names[1].clone());
    let analytics_db = format!("{main}_analytics");
    let server = Server::shared();
    let url = if WS { server.ws_url() } else { server.http_url() };
    let root = || Credentials::root(ROOT_USER, ROOT_PASS);
    let conns = Connections::new();
    conns.add("default", ConnectionConfig::new(url.clone()).credentials(root()).ns_db(ns.clone(), main.clone()));
    // the second database does not exist yet: defined on first use
    conns.add(
        "analytics",
        ConnectionConfig::new(url.clone())
            .credentials(root())
            .ns_db(ns.clone(), analytics_db.clone())
            .define_ns_db(true)
            .pool_size(2),
    );
    assert_eq!(conns.names(), ["analytics", "default"]);
    // a model pinned to `analytics`, a model without a connection
    w!(Metric { id: None, value: 7 }.save(&conns))?;
    w!(person("ann").save(&conns))?;
    let analytics = w!(conns.get("analytics"))?;
    assert_eq!(w!(Metric::objects().count_rows(&analytics))?, 1);
    assert_eq!(people(&analytics).await?, 0, "the person went to `default`");
    assert_eq!(people(&db).await?, 1);
    let info: surql::Value = w!(db.query("INFO FOR DB"))?.take(0)?;
    let tables = match &info {
        surql::Value::Object(o) => o.get("tables").cloned(),
        _ => None,
    };
    match tables {
        Some(surql::Value::Object(t)) => {
            assert!(t.contains_key("person") && !t.contains_key("metric"), "{t:?}")
        }
        other => panic!("INFO FOR DB without tables: {other:?}"),
    }
    // `using` overrides the model's own connection, for one action or query set
    w!(person("bob").save(&conns.using("analytics")))?;
    assert_eq!(people(&analytics).await?, 1);
    let all = w!(Person::objects().all(&conns.using("analytics")))?;
    assert_eq!(all.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["bob"]);
    let all = w!(Person::objects().all(&conns))?;
    assert_eq!(all.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["ann"]);
    // the pool hands out its clients in turn; all of them work
    for _ in 0..4 {
        let c = w!(conns.get("analytics"))?;
        assert_eq!(w!(Metric::objects().count_rows(&c))?, 1);
    }
    // an unknown name is an error naming it
    let err = w!(Person::objects().all(&conns.using("nope"))).unwrap_err();
    assert!(err.to_string().contains("`nope` is not configured"), "{err}");
    Ok(())
});
