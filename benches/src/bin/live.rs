//! Live-event throughput: how many live notifications per second ONE subscriber receives
//! while another connection inserts 10,000 records (20 `INSERT`s of 500), per driver, next to
//! a raw floor measured in the same run against the same live SurrealDB 3.3.5 server.
//!
//! ```sh
//! cargo run --release -p surql-benches --bin live
//! ```
//!
//! - `floor`: a bare tungstenite socket that sends `live` and counts notification frames,
//!   decoding nothing: what the server delivers.
//! - `smol` / `blocking`: the driver's untyped `LiveStream` (`db.live("tick")`): each frame
//!   decoded into a `Notification` and routed through the core's mux.
//! - `smol typed` / `blocking typed`: `Tick::objects().live(&db)`, the model stream: the same,
//!   plus every record decoded into the model and the (empty) `post_live_change` signals run.
//!
//! The clock starts when the writer sends its first `INSERT` and stops when the subscriber
//! holds the last notification, so the figure is end to end (the server's insert and
//! dispatch included): when the drivers match the floor, the server is what limits it. What
//! the client itself spends is the second figure: the CPU time this process used during the
//! measurement (every thread: the subscriber's reader and IO thread, and the writer, which
//! only sends 20 requests), per event, from `/proc/self/stat` (Linux, 10 ms ticks). Each measurement uses a fresh database; the median of `LIVE_REPS`
//! repetitions (default 5) is reported, clients interleaved per repetition so load from
//! elsewhere on a shared machine hits all alike. The subscriber's `live_buffer` is raised to
//! the event count so a burst is measured rather than refused (the default, 1024, is the
//! driver contract's bound: a reader further behind ends with `ReaderTooSlow`).
//!
//! The server this binary starts gets `SURREAL_WEBSOCKET_RESPONSE_CHANNEL_SIZE` = twice the
//! event count: SurrealDB 3.3.5 queues at most 100 outgoing messages per WebSocket by default
//! and CLOSES a connection whose queue is full (code 1013, "Notifications were produced faster
//! than this connection read them"); one `INSERT` of 500 rows into a watched table fills it
//! before the server's own write loop drains it, even for the raw floor.
//!
//! Knobs: `LIVE_EVENTS` (default 10000, a multiple of 500), `LIVE_REPS`, `SURREAL_URL` (then
//! configure that server's queue yourself).

use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use surql::client::Credentials;
use surql::model::Model;
use surql::rpc::{decode_incoming, Incoming, Request};
use surql::{Object, RecordId, Table, Value};
use surql_conformance::server::{Server, Storage, ROOT_PASS, ROOT_USER};
use tungstenite::client::IntoClientRequest;
use tungstenite::http::HeaderValue;
use tungstenite::{Message, WebSocket};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Res<T> = Result<T, BoxError>;

const NS: &str = "bench_live";
const BATCH: usize = 500;
/// The server's per-connection queue of outgoing messages (notifications included).
const QUEUE_VAR: &str = "SURREAL_WEBSOCKET_RESPONSE_CHANNEL_SIZE";
/// The longest a subscriber waits for one notification before the run is declared failed.
const STALL: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Serialize, Deserialize, Model)]
#[surql(table = "tick")]
struct Tick {
    id: Option<RecordId>,
    n: i64,
    label: String,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Client {
    Floor,
    Smol,
    SmolTyped,
    Blocking,
    BlockingTyped,
}

impl Client {
    const ALL: [Client; 5] = [
        Client::Floor,
        Client::Smol,
        Client::SmolTyped,
        Client::Blocking,
        Client::BlockingTyped,
    ];

    fn name(self) -> &'static str {
        match self {
            Client::Floor => "floor (raw socket)",
            Client::Smol => "smol LiveStream",
            Client::SmolTyped => "smol typed (model)",
            Client::Blocking => "blocking LiveStream",
            Client::BlockingTyped => "blocking typed (model)",
        }
    }
}

fn env_number(name: &str, default: usize, ok: impl Fn(usize) -> bool) -> Res<usize> {
    match std::env::var(name) {
        Ok(s) => s
            .parse()
            .ok()
            .filter(|n| ok(*n))
            .ok_or_else(|| format!("{name}: {s:?} is not an accepted value").into()),
        Err(_) => Ok(default),
    }
}

fn main() -> Res<()> {
    let events = env_number("LIVE_EVENTS", 10_000, |n| n > 0 && n % BATCH == 0)?;
    let reps = env_number("LIVE_REPS", 5, |n| (1..=50).contains(&n))?;
    let _own;
    let addr = match std::env::var("SURREAL_URL") {
        Ok(url) => url
            .trim_start_matches("ws://")
            .trim_end_matches('/')
            .trim_end_matches("/rpc")
            .to_owned(),
        Err(_) => {
            // SurrealDB closes a WebSocket whose notification queue (100 by default) is full,
            // and one `INSERT` of 500 rows into a watched table fills it faster than the
            // server's own write loop drains it, whatever the client: give the server room.
            if std::env::var_os(QUEUE_VAR).is_none() {
                std::env::set_var(QUEUE_VAR, (2 * events).to_string());
            }
            _own = Server::start(&Storage::Memory, None)?;
            _own.addr.clone()
        }
    };
    let writer = surql_blocking::Surreal::connect(&format!("ws://{addr}"))?;
    writer.signin(&Credentials::root(ROOT_USER, ROOT_PASS))?;
    println!("live-event throughput: {events} inserts in batches of {BATCH}, one subscriber, median of {reps}");
    let mut rates = vec![Vec::<f64>::new(); Client::ALL.len()];
    let mut cpus = vec![Vec::<f64>::new(); Client::ALL.len()];
    // One warm-up round (not counted), then the measured ones.
    for rep in 0..=reps {
        for (i, client) in Client::ALL.into_iter().enumerate() {
            let db = format!("r{rep}_{i}");
            let sample = measure(client, &addr, &writer, &db, events)?;
            if rep > 0 {
                rates[i].push(sample.events_per_sec);
                cpus[i].push(sample.cpu_us_per_event);
            }
        }
    }
    let floor = median(&mut rates[0].clone());
    println!(
        "| {:<24} | {:>10} | {:>7} | {:>19} |",
        "client", "events/s", "/floor", "client CPU µs/event"
    );
    println!("|{:-<26}|{:->12}|{:->9}|{:->21}|", "", "", "", "");
    for (i, client) in Client::ALL.into_iter().enumerate() {
        let m = median(&mut rates[i]);
        println!(
            "| {:<24} | {:>10.0} | {:>6.0}% | {:>19.1} |",
            client.name(),
            m,
            100.0 * m / floor,
            median(&mut cpus[i]),
        );
    }
    Ok(())
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// This process's CPU time so far (user + system, all threads), from `/proc/self/stat`.
fn cpu_time() -> Res<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // The command name may hold spaces; the fields after it are plain numbers.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or("/proc/self/stat has no command name")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: u64 = fields
        .get(11..13)
        .ok_or("/proc/self/stat is too short")?
        .iter()
        .map(|f| f.parse::<u64>())
        .sum::<Result<u64, _>>()?;
    // USER_HZ is 100 on Linux.
    Ok(Duration::from_millis(ticks * 10))
}

/// What one measurement gave.
struct Sample {
    events_per_sec: f64,
    cpu_us_per_event: f64,
}

/// Subscribes `client` on a fresh database, inserts `events` rows from `writer`, and returns
/// the events per second the subscriber received and the CPU time spent per event.
fn measure(
    client: Client,
    addr: &str,
    writer: &surql_blocking::Surreal,
    db: &str,
    events: usize,
) -> Res<Sample> {
    writer
        .query(format!(
            "DEFINE NAMESPACE IF NOT EXISTS {NS}; USE NS {NS}; DEFINE DATABASE {db}; USE DB {db}; DEFINE TABLE tick;"
        ))
        .run()?
        .check()?;
    writer.use_ns_db(NS, db)?;
    // The subscriber thread: subscribe, then wait at the barrier, then count.
    let ready = Arc::new(Barrier::new(2));
    let subscriber = {
        let (addr, db, ready) = (addr.to_owned(), db.to_owned(), ready.clone());
        std::thread::spawn(move || -> Res<Instant> {
            match client {
                Client::Floor => floor(&addr, &db, events, &ready),
                Client::Smol | Client::SmolTyped => futures_lite::future::block_on(smol(
                    &addr,
                    &db,
                    events,
                    &ready,
                    client == Client::SmolTyped,
                )),
                Client::Blocking | Client::BlockingTyped => {
                    blocking(&addr, &db, events, &ready, client == Client::BlockingTyped)
                }
            }
        })
    };
    ready.wait();
    let cpu = cpu_time()?;
    let start = Instant::now();
    for batch in 0..events / BATCH {
        let rows: Vec<Value> = (0..BATCH)
            .map(|i| {
                let n = (batch * BATCH + i) as i64;
                Value::Object(Object::from([
                    ("n".to_owned(), Value::Int(n)),
                    ("label".to_owned(), Value::from(format!("tick-{n}"))),
                ]))
            })
            .collect();
        writer
            .query("INSERT INTO tick $rows")
            .bind(("rows", rows))
            .run()?
            .check()?;
    }
    let end = subscriber
        .join()
        .map_err(|_| format!("the {} subscriber panicked", client.name()))??;
    let cpu = cpu_time()?.saturating_sub(cpu);
    let secs = end.duration_since(start).as_secs_f64();
    Ok(Sample {
        events_per_sec: events as f64 / secs,
        cpu_us_per_event: cpu.as_secs_f64() * 1e6 / events as f64,
    })
}

fn options() -> surql::Options {
    // A burst is measured, not refused (see the module docs).
    surql::Options::default().live_buffer(1 << 20)
}

async fn smol(addr: &str, db: &str, events: usize, ready: &Barrier, typed: bool) -> Res<Instant> {
    use surql_smol::LiveQuerySetExt;
    let sub = surql_smol::Surreal::connect_with(&format!("ws://{addr}"), options()).await?;
    sub.signin(&Credentials::root(ROOT_USER, ROOT_PASS)).await?;
    sub.use_ns_db(NS, db).await?;
    if typed {
        let mut live = Tick::objects().live(&sub).await?;
        ready.wait();
        for i in 0..events {
            match live.next_timeout(STALL).await? {
                Some(ev) => {
                    let n = ev.notification().ok_or("a re-subscription")?;
                    if n.data.is_none() {
                        return Err(format!("notification {i} has no record").into());
                    }
                }
                None => return Err(format!("the stream ended after {i} events").into()),
            }
        }
    } else {
        let mut live = sub.live("tick").await?;
        ready.wait();
        for i in 0..events {
            if live.next_timeout(STALL).await?.is_none() {
                return Err(format!("the stream ended after {i} events").into());
            }
        }
    }
    Ok(Instant::now())
}

fn blocking(addr: &str, db: &str, events: usize, ready: &Barrier, typed: bool) -> Res<Instant> {
    use surql_blocking::LiveQuerySetExt;
    let sub = surql_blocking::Surreal::connect_with(&format!("ws://{addr}"), options())?;
    sub.signin(&Credentials::root(ROOT_USER, ROOT_PASS))?;
    sub.use_ns_db(NS, db)?;
    if typed {
        let mut live = Tick::objects().live(&sub)?;
        ready.wait();
        for i in 0..events {
            match live.next_timeout(STALL)? {
                Some(ev) => {
                    let n = ev.notification().ok_or("a re-subscription")?;
                    if n.data.is_none() {
                        return Err(format!("notification {i} has no record").into());
                    }
                }
                None => return Err(format!("the stream ended after {i} events").into()),
            }
        }
    } else {
        let mut live = sub.live("tick")?;
        ready.wait();
        for i in 0..events {
            if live.next_timeout(STALL)?.is_none() {
                return Err(format!("the stream ended after {i} events").into());
            }
        }
    }
    Ok(Instant::now())
}

/// The floor: a bare socket that subscribes and counts frames.
fn floor(addr: &str, db: &str, events: usize, ready: &Barrier) -> Res<Instant> {
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(STALL))?;
    let mut request = format!("ws://{addr}/rpc").into_client_request()?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("cbor"));
    let (mut sock, _) = tungstenite::client::client(request, stream)
        .map_err(|e| format!("WebSocket handshake with {addr} failed: {e}"))?;
    let creds = Credentials::root(ROOT_USER, ROOT_PASS);
    let signin = surql::client::signin(&creds).into_parts().0;
    let live = Request::live(Table::new("tick"), false);
    for (id, req) in [signin, Request::use_ns_db(NS, db), live]
        .iter()
        .enumerate()
    {
        sock.send(Message::Binary(req.encode(Some(id as u64 + 1)).into()))?;
        let reply = next_binary(&mut sock)?;
        match decode_incoming(&reply)? {
            Incoming::Response { result: Ok(_), .. } => {}
            other => return Err(format!("{}: {other:?}", req.method).into()),
        }
    }
    ready.wait();
    for _ in 0..events {
        next_binary(&mut sock)?; // every binary message now is a notification
    }
    let end = Instant::now();
    Ok(end)
}

fn next_binary(sock: &mut WebSocket<TcpStream>) -> Res<tungstenite::Bytes> {
    loop {
        match sock.read()? {
            Message::Binary(b) => return Ok(b),
            Message::Close(c) => return Err(format!("the server closed: {c:?}").into()),
            _ => {}
        }
    }
}
