//! What request logging costs per request: the gate every request passes when nobody listens
//! (the `tracing` callsite check and the recorders' atomic), and the work done when a
//! subscriber or a recorder does listen (the redacted log line, the rows of the answer, a
//! recorder push). The drivers run exactly these steps around each request.

use std::sync::Arc;
use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use surql::log::{Recorders, RequestLog};
use surql::rpc::{Payload, Request};
use surql::{cbor, Object, Table, Value};

/// `CREATE $t0 CONTENT $p0 RETURN AFTER;` with a small record, as a model `save` sends it.
fn save_request() -> Request {
    let mut record = Object::new();
    record.insert("name".into(), "Ada".into());
    record.insert("age".into(), 36.into());
    record.insert("email".into(), "ada@example.com".into());
    let mut vars = Object::new();
    vars.insert("t0".into(), Value::Table(Table::new("person")));
    vars.insert("p0".into(), Value::Object(record.clone()));
    Request::query("CREATE $t0 CONTENT $p0 RETURN AFTER;", vars)
}

/// Its answer: one statement that returned one record.
fn save_answer() -> Payload {
    let mut record = Object::new();
    record.insert("name".into(), "Ada".into());
    record.insert("age".into(), 36.into());
    let mut row = Object::new();
    row.insert("status".into(), "OK".into());
    row.insert("time".into(), "120µs".into());
    row.insert("result".into(), Value::Array(vec![Value::Object(record)]));
    Payload::from_cbor(cbor::encode(&Value::Array(vec![Value::Object(row)])))
}

fn gate(c: &mut Criterion) {
    let mut g = c.benchmark_group("log_gate");
    let recorders = Recorders::new();
    // No subscriber is installed in this process: the state of every request by default.
    g.bench_function("nobody_listens", |b| {
        b.iter(|| {
            black_box(tracing::enabled!(target: "surql", tracing::Level::DEBUG))
                || black_box(&recorders).is_active()
        })
    });
    g.finish();
}

fn listening(c: &mut Criterion) {
    let mut g = c.benchmark_group("log_listening");
    let req = save_request();
    let answer = save_answer();
    g.bench_function("save_line_and_rows", |b| {
        b.iter(|| {
            RequestLog::new(black_box(&req), false)
                .finish(Duration::from_micros(300), Ok(Some(black_box(&answer))))
        })
    });
    g.bench_function("save_line_and_rows_values_on", |b| {
        b.iter(|| {
            RequestLog::new(black_box(&req), true)
                .finish(Duration::from_micros(300), Ok(Some(black_box(&answer))))
        })
    });
    let set = Arc::new(Recorders::new());
    let rec = set.start();
    g.bench_function("save_recorded", |b| {
        b.iter(|| {
            set.push(
                RequestLog::new(black_box(&req), false)
                    .finish(Duration::from_micros(300), Ok(Some(black_box(&answer)))),
            );
            if rec.count() > 10_000 {
                rec.clear();
            }
        })
    });
    g.finish();
}

criterion_group!(benches, gate, listening);
criterion_main!(benches);
