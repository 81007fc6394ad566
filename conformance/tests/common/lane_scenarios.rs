// Lane scenarios, written once. Included by `lanes.rs` into one module per driver ×
// transport; `super::drv` is the driver crate, `super::WS` the transport, `w!` resolves a
// call (`.await` for smol, a plain call for blocking) and `concurrently!(n, |i| { … })` runs
// bodies at once (futures on one task for smol, threads for blocking). Each scenario runs on
// a root client of its own namespace/database.

use std::time::{Duration, Instant};

use surql::{Options, Value};
use surql_conformance::server::{Server, ROOT_PASS, ROOT_USER};

use super::drv::{self, Surreal};
use super::WS;


/// Callers at once in each round.
const CALLERS: usize = 16;

/// One round of `CALLERS` concurrent `sql` queries; each answer's first statement.
async fn round(db: &Surreal, sql: &'static str) -> drv::Result<Vec<Value>> {
    let answers = concurrently!(CALLERS, |_i| { w!(db.query(sql)) });
    let mut out = Vec::with_capacity(CALLERS);
    for answer in answers {
        out.push(answer?.take::<Value>(0)?);
    }
    Ok(out)
}

/// Rounds of `sql` until the client has more than one WebSocket open (bounded: 20 s);
/// every answer must be `expected`. Returns how many connections it has then.
async fn until_lanes_open(db: &Surreal, sql: &'static str, expected: &Value) -> drv::Result<usize> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        for got in round(db, sql).await? {
            assert_eq!(&got, expected, "an answer of `{sql}`");
        }
        let open = db.websocket_connections();
        if open > 1 || Instant::now() > deadline {
            return Ok(open);
        }
    }
}

fn text(s: &str) -> Value {
    Value::String(s.to_owned())
}

scenario!(concurrent_callers_open_lanes_that_carry_the_session, |db| {
    if !WS {
        // HTTP opens no WebSocket; the same concurrent calls work.
        assert_eq!(db.websocket_connections(), 0);
        for got in round(&db, "RETURN 1 + 1").await? {
            assert_eq!(got, Value::Int(2));
        }
        return Ok(());
    }
    assert_eq!(db.websocket_connections(), 1, "one connection before any overlap");
    w!(db.set("who", "ada"))?;
    let (ns, name) = {
        let mut r = w!(db.query("RETURN [session::ns(), session::db()]"))?;
        let v: Vec<String> = r.take(0)?;
        (v[0].clone(), v[1].clone())
    };
    let expected = Value::Array(vec![text(&ns), text(&name), text("ada")]);
    let open = until_lanes_open(&db, "RETURN [session::ns(), session::db(), $who]", &expected)
        .await?;
    assert!(open > 1, "no lane opened under {CALLERS} concurrent callers");
    assert!(open <= Options::default().ws_connections, "{open} connections");
    // Every lane answers with the session: its namespace, database, variables and root
    // authority (a write to the scenario's database; the table is defined first, as
    // concurrent first writes to an undefined table conflict on its definition).
    w!(db.query("DEFINE TABLE lane_rows"))?.check()?;
    let d = &db;
    let answers = concurrently!(CALLERS, |i| {
        w!(d.query("CREATE ONLY lane_rows SET n = $n RETURN VALUE n").bind(("n", i as i64)))
    });
    for (i, answer) in answers.into_iter().enumerate() {
        assert_eq!(answer?.take::<Option<i64>>(0)?, Some(i as i64));
    }
    let mut r = w!(db.query("RETURN count(SELECT * FROM lane_rows)"))?;
    assert_eq!(r.take::<i64>(0)?, CALLERS as i64);
    Ok(())
});

scenario!(a_session_change_is_seen_by_every_later_call, |db| {
    if !WS {
        assert_eq!(db.websocket_connections(), 0);
        w!(db.use_ns_db("l_other", "l_other"))?;
        for got in round(&db, "RETURN session::db()").await? {
            assert_eq!(got, text("l_other"));
        }
        return Ok(());
    }
    w!(db.set("v", 1))?;
    let open = until_lanes_open(&db, "RETURN $v", &Value::Int(1)).await?;
    assert!(open > 1, "no lane opened");
    // A variable changed: no later call, on whichever connection, sees the old value.
    w!(db.set("v", 2))?;
    for got in round(&db, "RETURN $v").await? {
        assert_eq!(got, Value::Int(2), "a call after `let` saw the old value");
    }
    // Lanes reopen from the new session.
    let open = until_lanes_open(&db, "RETURN $v", &Value::Int(2)).await?;
    assert!(open > 1, "no lane reopened after the session change");
    // Another database: every later call runs there.
    w!(db.query("DEFINE DATABASE IF NOT EXISTS l_other_db"))?.check()?;
    w!(db.use_db("l_other_db"))?;
    for got in round(&db, "RETURN session::db()").await? {
        assert_eq!(got, text("l_other_db"), "a call after `use` ran in the old database");
    }
    // Authentication dropped: no later call runs with the old token.
    let open = until_lanes_open(&db, "RETURN session::db()", &text("l_other_db")).await?;
    assert!(open > 1, "no lane reopened after `use`");
    w!(db.invalidate())?;
    let d = &db;
    let answers = concurrently!(CALLERS, |_i| { w!(d.query("INFO FOR DB")) });
    for answer in answers {
        let outcome = answer.and_then(|mut r| Ok(r.take::<Value>(0)?));
        assert!(
            outcome.is_err(),
            "a call after `invalidate` ran with the old authority: {outcome:?}"
        );
    }
    Ok(())
});

scenario!(one_connection_when_lanes_are_off, |db| {
    let server = Server::shared();
    let url = if WS { server.ws_url() } else { server.http_url() };
    let one = w!(Surreal::connect_with(&url, Options::default().ws_connections(1)))?;
    w!(one.signin(&drv::Credentials::root(ROOT_USER, ROOT_PASS)))?;
    for _ in 0..20 {
        for got in round(&one, "RETURN 7").await? {
            assert_eq!(got, Value::Int(7));
        }
    }
    assert_eq!(one.websocket_connections(), usize::from(WS));
    Ok(())
});

scenario!(live_queries_stay_on_the_first_connection_while_lanes_write, |db| {
    w!(db.query("DEFINE TABLE lane_live"))?.check()?;
    if !WS {
        assert_eq!(db.websocket_connections(), 0);
        return Ok(());
    }
    let open = until_lanes_open(&db, "RETURN 3", &Value::Int(3)).await?;
    assert!(open > 1, "no lane opened");
    let mut live = w!(db.live("lane_live"))?;
    // Concurrent writes spread over the lanes; the live query (on the first connection)
    // hears every one of them.
    let d = &db;
    let answers = concurrently!(CALLERS, |i| {
        w!(d.query("CREATE lane_live SET n = $n").bind(("n", i as i64)))
    });
    for answer in answers {
        answer?.check()?;
    }
    let mut seen = 0;
    while seen < CALLERS {
        let n = w!(live.next_timeout(Duration::from_secs(10)))?
            .unwrap_or_else(|| panic!("only {seen} of {CALLERS} notifications"));
        assert_eq!(n.action, drv::Action::Create);
        seen += 1;
    }
    // A `LIVE SELECT` through `query` under concurrency is on the first connection too:
    // its `KILL` (also routed there) finds it.
    let answers = concurrently!(4, |_i| { w!(d.query("LIVE SELECT * FROM lane_live")) });
    for answer in answers {
        let id: surql::Uuid = answer?.take(0)?;
        w!(db.query("KILL $id").bind(("id", id)))?.check()?;
    }
    Ok(())
});
