//! Frame handling in the connection state machine: the per-message cost a driver pays on top
//! of the socket — encoding a request frame, and turning a response frame into an event.
//! Simulated time, no sockets.

use std::time::Instant;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use surql::conn::{Config, Connection, Event};
use surql::rpc::Request;
use surql::{cbor, Object, Value};
use surql_benches::query_result;

/// A `query` response frame for request `id` holding `result` as one OK statement.
fn response_frame(id: u64, result: Value) -> Vec<u8> {
    let mut row = Object::new();
    row.insert("result".into(), result);
    row.insert("status".into(), Value::from("OK"));
    row.insert("time".into(), Value::from("12.5µs"));
    row.insert("type".into(), Value::None);
    let mut envelope = Object::new();
    envelope.insert("id".into(), Value::Int(id as i64));
    envelope.insert("result".into(), Value::Array(vec![Value::Object(row)]));
    cbor::encode(&Value::Object(envelope))
}

fn connected() -> (Connection, Instant) {
    let now = Instant::now();
    let mut conn = Connection::new(Config::default(), now);
    conn.handle_connected(now);
    while conn.poll_transmit().is_some() {}
    while conn.poll_event().is_some() {}
    (conn, now)
}

/// One full round trip through the machine: send → transmit → frame in → event out.
fn round_trip(conn: &mut Connection, now: Instant, frame_for: impl Fn(u64) -> Vec<u8>) -> usize {
    let mut vars = Object::new();
    vars.insert("x".into(), Value::Int(1));
    let id = conn.send(Request::query("RETURN $x", vars), now);
    let sent = conn.poll_transmit().map(|f| f.len()).unwrap_or(0);
    conn.handle_frame(&frame_for(id.0), now);
    match conn.poll_event() {
        Some(Event::Response { result: Ok(v), .. }) => sent + usize::from(v != Value::None),
        other => panic!("expected a response, got {other:?}"),
    }
}

/// Sends `iters` requests, builds their reply frames untimed, then times only
/// `handle_frame` + `poll_event` over all of them.
fn handle_frames(
    conn: &mut Connection,
    now: Instant,
    iters: u64,
    frame_for: impl Fn(u64) -> Vec<u8>,
) -> std::time::Duration {
    let frames: Vec<Vec<u8>> = (0..iters)
        .map(|_| {
            let id = conn.send(Request::ping(), now);
            let _ = conn.poll_transmit();
            frame_for(id.0)
        })
        .collect();
    let start = Instant::now();
    for frame in &frames {
        conn.handle_frame(black_box(frame), now);
        black_box(conn.poll_event());
    }
    start.elapsed()
}

fn small_round_trip(c: &mut Criterion) {
    let (mut conn, now) = connected();
    let mut g = c.benchmark_group("conn_round_trip");
    g.throughput(Throughput::Elements(1));
    g.bench_function("RETURN $x (send + frame → event)", |b| {
        b.iter(|| round_trip(&mut conn, now, |id| response_frame(id, Value::Int(1))))
    });
    // The frame bytes are built outside the measured part here, to isolate the machine.
    g.bench_function("handle_frame only (small reply)", |b| {
        b.iter_custom(|iters| {
            handle_frames(&mut conn, now, iters, |id| response_frame(id, Value::None))
        })
    });
    g.finish();
}

fn big_frame(c: &mut Criterion) {
    let (mut conn, now) = connected();
    let result = query_result(1000);
    let probe = response_frame(1, result.clone());
    let mut g = c.benchmark_group("conn_handle_frame_1k_rows");
    g.throughput(Throughput::Bytes(probe.len() as u64));
    g.bench_function("handle_frame + poll_event", |b| {
        b.iter_custom(|iters| {
            handle_frames(&mut conn, now, iters, |id| {
                response_frame(id, result.clone())
            })
        })
    });
    g.finish();
}

criterion_group!(benches, small_round_trip, big_frame);
criterion_main!(benches);
