//! Pure-core benches: CBOR encode/decode of a 1k-row query result (bytes/s), the typed
//! serde path against the `Value` path, a generic CBOR crate as a reference point,
//! identifier / record-key escaping, and the connection machine's work per answer with
//! many other requests in flight.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use surql::cbor;
use surql_benches::{escape_inputs, query_result, rows, Row};

const ROWS: usize = 1000;

fn cbor_encode(c: &mut Criterion) {
    let value = query_result(ROWS);
    let typed = rows(ROWS);
    let bytes = cbor::encode(&value);
    // The direct serializer keeps struct fields in declaration order (the `Value` path
    // sorts them), so the bytes differ but must mean the same value.
    assert_eq!(
        cbor::to_vec(&typed).ok().map(|b| cbor::decode(&b)),
        Some(Ok(value.clone())),
        "serde and Value paths must agree"
    );

    let mut g = c.benchmark_group("cbor_encode_1k_rows");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("encode(&Value)", |b| {
        b.iter(|| cbor::encode(black_box(&value)))
    });
    let mut buf = Vec::with_capacity(bytes.len());
    g.bench_function("encode_into(reused buffer)", |b| {
        b.iter(|| {
            buf.clear();
            cbor::encode_into(black_box(&value), &mut buf);
            buf.len()
        })
    });
    g.bench_function("to_vec(&Vec<Row>)", |b| {
        b.iter(|| cbor::to_vec(black_box(&typed)))
    });
    // What `to_vec` did before it wrote CBOR directly: a `Value` tree first.
    g.bench_function("encode(to_value(&Vec<Row>))", |b| {
        b.iter(|| surql::value::to_value(black_box(&typed)).map(|v| cbor::encode(&v)))
    });
    g.bench_function("ciborium::into_writer(&ciborium::Value)", |b| {
        let tree: ciborium::Value =
            ciborium::de::from_reader(bytes.as_slice()).expect("ciborium reads our bytes");
        b.iter(|| {
            let mut out = Vec::with_capacity(bytes.len());
            ciborium::ser::into_writer(black_box(&tree), &mut out).expect("ciborium writes");
            out
        })
    });
    g.finish();
}

fn cbor_decode(c: &mut Criterion) {
    let value = query_result(ROWS);
    let bytes = cbor::encode(&value);
    assert_eq!(cbor::decode(&bytes).as_ref(), Ok(&value));
    assert_eq!(cbor::from_slice::<Vec<Row>>(&bytes).ok(), Some(rows(ROWS)));

    let mut g = c.benchmark_group("cbor_decode_1k_rows");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("decode -> Value", |b| {
        b.iter(|| cbor::decode(black_box(&bytes)))
    });
    g.bench_function("skip_item (locate only)", |b| {
        b.iter(|| cbor::skip_item(black_box(&bytes), 0))
    });
    g.bench_function("from_slice -> Vec<Row>", |b| {
        b.iter(|| cbor::from_slice::<Vec<Row>>(black_box(&bytes)))
    });
    // What `from_slice` did before it read CBOR directly: a `Value` tree first.
    g.bench_function("from_value(decode) -> Vec<Row>", |b| {
        b.iter(|| {
            cbor::decode(black_box(&bytes))
                .map(|v| surql::value::from_value::<Vec<Row>>(v).map(|rows| rows.len()))
        })
    });
    g.bench_function("ciborium::from_reader -> ciborium::Value", |b| {
        b.iter(|| ciborium::de::from_reader::<ciborium::Value, _>(black_box(bytes.as_slice())))
    });
    // A `query` answer holding the same rows, read the way `db.query(..)` + `take` does.
    let mut row = surql::Object::new();
    row.insert("status".into(), "OK".into());
    row.insert("time".into(), "1.5ms".into());
    row.insert("type".into(), surql::Value::None);
    row.insert("result".into(), value.clone());
    let reply: std::sync::Arc<[u8]> =
        cbor::encode(&surql::Value::Array(vec![surql::Value::Object(row)])).into();
    let take = || {
        surql::client::query("", surql::Object::new())
            .decode_payload(surql::rpc::Payload::from_cbor(black_box(reply.clone())))
            .ok()
            .and_then(|mut r| r.take::<Vec<Row>>(0).ok())
    };
    assert_eq!(take(), Some(rows(ROWS)));
    g.bench_function("query answer -> take::<Vec<Row>>(0)", |b| b.iter(take));
    g.finish();
}

fn escaping(c: &mut Criterion) {
    let inputs = escape_inputs();
    let total: usize = inputs.iter().map(String::len).sum();
    let mut g = c.benchmark_group("escape_500_names");
    g.throughput(Throughput::Bytes(total as u64));
    for (name, f) in [
        (
            "escape_ident",
            surql::escape::escape_ident as fn(&str) -> std::borrow::Cow<'_, str>,
        ),
        ("escape_rid_key", surql::escape::escape_rid_key),
    ] {
        g.bench_with_input(BenchmarkId::from_parameter(name), &inputs, |b, inputs| {
            b.iter(|| inputs.iter().map(|s| f(black_box(s)).len()).sum::<usize>())
        });
    }
    g.finish();
}

/// What a driver asks of the connection machine for one request while `n` others are in
/// flight: send it, take its frame, hand over its answer, then the timer bookkeeping every
/// driver loop does (`poll_timeout`, `handle_timeout`) and the events. Flat in `n` is the
/// goal: a busy connection must not pay per answer for everything else it waits for.
fn conn_in_flight(c: &mut Criterion) {
    use std::time::{Duration, Instant};
    use surql::conn::{Config, Connection};
    use surql::rpc::Request;
    use surql::{Object, Value};

    let mut g = c.benchmark_group("conn_answer_with_n_in_flight");
    for n in [1usize, 32, 1024] {
        let now = Instant::now();
        let mut conn = Connection::new(
            Config {
                request_timeout: Duration::from_secs(30),
                ..Config::default()
            },
            now,
        );
        conn.handle_connected(now);
        for _ in 0..n {
            conn.send(Request::query("RETURN 1", Object::new()), now);
        }
        while conn.poll_transmit().is_some() {}
        while conn.poll_event().is_some() {}
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                let id = conn.send(Request::query("RETURN 1", Object::new()), now);
                let frame = conn.poll_transmit().expect("the request's frame");
                black_box(&frame);
                let mut reply = Object::new();
                reply.insert("id".into(), Value::Int(id.0 as i64));
                reply.insert("result".into(), Value::Array(Vec::new()));
                conn.handle_frame(&cbor::encode(&Value::Object(reply)), now);
                black_box(conn.poll_timeout());
                conn.handle_timeout(now);
                let mut events = 0;
                while conn.poll_event().is_some() {
                    events += 1;
                }
                assert_eq!(events, 1, "one answer");
            })
        });
    }
    g.finish();
}

criterion_group!(benches, cbor_encode, cbor_decode, escaping, conn_in_flight);
criterion_main!(benches);
