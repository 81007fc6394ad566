//! surql-smol brings no executor requirement: it must work from smol's executor, from inside a
//! tokio runtime, and with many concurrent callers multiplexed on one WebSocket.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use surql_conformance::server::{Server, ROOT_PASS, ROOT_USER};
use surql_smol::{Credentials, Surreal};

async fn connect() -> Surreal {
    let db = Surreal::connect(&Server::shared().ws_url())
        .await
        .expect("connect");
    db.signin(&Credentials::root(ROOT_USER, ROOT_PASS))
        .await
        .expect("signin");
    db
}

async fn round_trips(db: &Surreal, caller: i64, n: i64) {
    for i in 0..n {
        let x = caller * 1_000 + i;
        let mut res = db.query("RETURN $x").bind(("x", x)).await.expect("query");
        assert_eq!(
            res.take::<i64>(0).expect("take"),
            x,
            "caller {caller} got another's answer"
        );
    }
}

#[test]
fn works_inside_a_tokio_runtime() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let db = connect().await;
        let tasks: Vec<_> = (0..8)
            .map(|c| {
                let db = db.clone();
                tokio::spawn(async move { round_trips(&db, c, 25).await })
            })
            .collect();
        for t in tasks {
            t.await.expect("task");
        }
        assert!(db
            .version()
            .await
            .expect("version")
            .starts_with("surrealdb-"));
    });
}

#[test]
fn thirty_two_concurrent_callers_share_one_connection() {
    futures_lite::future::block_on(async {
        let db = connect().await;
        let mut futures: Vec<Pin<Box<dyn Future<Output = ()> + Send>>> = Vec::new();
        for c in 0..32 {
            let db = db.clone();
            futures.push(Box::pin(async move { round_trips(&db, c, 20).await }));
        }
        join_all(futures).await;
    });
}

/// A tiny join-all (no executor crate needed): polls every future until all are done.
async fn join_all(mut futures: Vec<Pin<Box<dyn Future<Output = ()> + Send>>>) {
    std::future::poll_fn(move |cx: &mut Context<'_>| {
        futures.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if futures.is_empty() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await
}
