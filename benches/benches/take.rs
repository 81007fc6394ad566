//! The client side of the e2e `query` workload, in process: a `query` reply frame of 20,000
//! rows of four fields (`id` a record id, `name`, `age`, `email`, keys in the order the
//! server sends them) read the way the drivers read it — the envelope split
//! (`split_reply` over WebSocket, `decode_response_payload` over HTTP), the statement split
//! (`split_query_results`, which `QueryResponse` once ran up front and now only runs
//! when its first `take` cannot read while locating) and `take::<Vec<QueryRow>>(0)` —
//! each step on its own and all together, next to the bare serde decode of the rows and a
//! structural skip.
//!
//! `cargo bench -p surql-benches --bench take`

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use serde::Deserialize;
use surql::client::QueryResponse;
use surql::rpc::{http::decode_response_payload, split_query_results, split_reply};
use surql::{cbor, Object, RecordId, Value};

const ROWS: usize = 20_000;

/// The e2e harness's row.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[allow(dead_code)] // read by serde only
struct QueryRow {
    id: RecordId,
    name: String,
    age: i64,
    email: String,
}

/// The rows as the server sends them: objects with sorted keys.
fn rows_value(n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| {
                let mut o = Object::new();
                o.insert(
                    "id".into(),
                    Value::RecordId(RecordId::new("person_q", i as i64)),
                );
                o.insert("name".into(), Value::from(format!("Person {i}")));
                o.insert("age".into(), Value::Int(18 + (i % 60) as i64));
                o.insert(
                    "email".into(),
                    Value::from(format!("person{i}@example.com")),
                );
                Value::Object(o)
            })
            .collect(),
    )
}

/// `{id, result: [{result: rows, status: "OK", time, type: NONE}]}`, as the server sends it.
fn reply_frame(rows: Value) -> Vec<u8> {
    let mut statement = Object::new();
    statement.insert("result".into(), rows);
    statement.insert("status".into(), Value::from("OK"));
    statement.insert("time".into(), Value::from("12.345678ms"));
    statement.insert("type".into(), Value::None);
    let mut envelope = Object::new();
    envelope.insert("id".into(), Value::Int(7));
    envelope.insert(
        "result".into(),
        Value::Array(vec![Value::Object(statement)]),
    );
    cbor::encode(&Value::Object(envelope))
}

fn take_rows(c: &mut Criterion) {
    let rows = rows_value(ROWS);
    let rows_bytes = cbor::encode(&rows);
    let frame = reply_frame(rows);
    let (_, payload) = split_reply(&frame).expect("a reply");
    let response = QueryResponse::from_payload(payload.clone()).expect("a query answer");
    let whole_ws = |frame: &[u8]| {
        let (_, p) = split_reply(frame).expect("a reply");
        let mut r = QueryResponse::from_payload(p).expect("a query answer");
        r.take::<Vec<QueryRow>>(0).expect("rows")
    };
    let whole_http = |frame: &[u8]| {
        let p = decode_response_payload(200, frame).expect("a reply");
        let mut r = QueryResponse::from_payload(p).expect("a query answer");
        r.take::<Vec<QueryRow>>(0).expect("rows")
    };
    assert_eq!(whole_ws(&frame).len(), ROWS);
    assert_eq!(whole_http(&frame), whole_ws(&frame));

    let mut g = c.benchmark_group("take_20k_rows");
    g.throughput(Throughput::Bytes(frame.len() as u64));
    g.sample_size(30);
    g.bench_function("frame -> Vec<QueryRow> (ws: split_reply)", |b| {
        b.iter(|| whole_ws(black_box(&frame)))
    });
    g.bench_function(
        "frame -> Vec<QueryRow> (http: decode_response_payload)",
        |b| b.iter(|| whole_http(black_box(&frame))),
    );
    g.bench_function("split_reply (envelope)", |b| {
        b.iter(|| split_reply(black_box(&frame)))
    });
    let answer = payload.raw_bytes().expect("bytes");
    g.bench_function("split_query_results (locating the statements)", |b| {
        b.iter(|| split_query_results(black_box(answer)).map(|s| s.map(|s| s.len())))
    });
    g.bench_function("take::<Vec<QueryRow>>(0) only", |b| {
        b.iter_batched(
            || response.clone(),
            |mut r| r.take::<Vec<QueryRow>>(0).expect("rows"),
            criterion::BatchSize::LargeInput,
        )
    });
    g.bench_function("from_slice::<Vec<QueryRow>> (rows alone)", |b| {
        b.iter(|| cbor::from_slice::<Vec<QueryRow>>(black_box(&rows_bytes)).expect("rows"))
    });
    g.bench_function("skip_item (rows alone)", |b| {
        b.iter(|| cbor::skip_item(black_box(&rows_bytes), 0))
    });
    g.finish();
}

criterion_group!(benches, take_rows);
criterion_main!(benches);
