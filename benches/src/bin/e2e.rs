//! End-to-end throughput of both surql drivers against ONE live SurrealDB 3.3.5 server,
//! next to a raw floor measured in the same run.
//!
//! ```sh
//! cargo run --release -p surql-benches --bin e2e
//! ```
//!
//! The floor is what the wire allows without a client library: pre-encoded CBOR request
//! frames written to a bare socket (tungstenite for WebSocket, a hand-written keep-alive
//! `POST /rpc` loop for HTTP), replies read but never decoded. Each driver does the real
//! work an application would: encode the call, correlate the reply, decode it (typed structs
//! for the select). The ratio driver/floor is therefore the whole client-side cost.
//!
//! Every number is the median of a few repetitions after a warm-up (a best-of would
//! flatter whoever got lucky), and each repetition runs the floor and both drivers back to
//! back, so a burst of load from elsewhere on a shared machine (the server runs on the same
//! cores) hits all three alike. Their order rotates from one repetition to the next, so
//! none always runs first or always follows the same one.
//!
//! Two workloads measure the model layer (`#[derive(Model)]`) on the same terms:
//! `model_insert` is `BenchInsert::bulk_create` of 20,000 typed rows in batches of 500 into
//! the model's table (`bench_model`, reset before each contender and its row count checked
//! after); its floor sends the same `INSERT INTO $t0 $p0;` frames with the same bound values
//! (pre-encoded, one per batch) and reads the server's echo of the stored rows without
//! decoding it. `model_all` is `BenchPerson::objects().all()` over the 20,000-row `person`
//! table; its floor is the same pre-encoded `query` (`SELECT * FROM $t0;`, `$t0 = person`).
//! At start-up the floors' requests are checked equal to the ones the model operations
//! build, so both sides do the same wire work.
//!
//! Two reference lines go under the table. The async one (with `rt`): the sequential
//! WebSocket row of surql-smol against the same frames on an `async_io` socket, with an A/A
//! control. The threads one (with `conc`): the WebSocket concurrency row's pipelined floor
//! and surql-blocking measured again, interleaved with a floor of 32 threads on 32 bare
//! sockets and one of the lanes' shape (4 bare sockets, 8 requests pipelined on each), so
//! the blocking driver's 32 threads on one client can be read against what 32 threads, and
//! its own connections, cost without a client library.
//!
//! The `mem` workload measures memory instead of speed: for each client and transport it
//! spawns this binary again as a child (`--rss-child`) that reads [`MEM_ROWS`] rows through
//! `query` into `Vec<QueryRow>` (the floor child only reads the reply frame) and reports its
//! peak RSS (`VmHWM`), so no client's allocations colour another's figure.
//!
//! Knobs: `E2E_SCALE=0.1` shrinks every workload for a quick check; `E2E_REPS=10` changes
//! the repetitions (default 3; the 32-caller and `query` rows take three times as many); `E2E_ONLY=select,insert` runs only some of `rt`, `conc`,
//! `insert`, `select`, `query`, `model_insert`, `model_all`, `mem`; `SURREAL_URL` points the run at a server somebody
//! else started instead of starting an in-memory one.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use surql::client::Credentials;
use surql::model::Model;
use surql::rpc::http::HttpSession;
use surql::rpc::{decode_incoming, Incoming, Request};
use surql::{Datetime, Object, RecordId, Table, Value};
use surql_benches::Row;
use surql_conformance::server::{Server, Storage, ROOT_PASS, ROOT_USER};
use tungstenite::client::IntoClientRequest;
use tungstenite::http::HeaderValue;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Bytes, Message, WebSocket};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Res<T> = Result<T, BoxError>;

const NS: &str = "bench";
const DB: &str = "e2e";
/// The table every select reads (filled once during set-up).
const SELECT_TABLE: &str = "person";
/// The table the `query` and `mem` workloads read: rows of four fields ([`QueryRow`]), the
/// shape of the issue's measurement (200,000 of them make a ~15 MB reply, under the 16 MiB
/// frame cap some WebSocket clients keep by default).
const QUERY_TABLE: &str = "person_q";
/// The same rows for the `mem` children, in their own table so the timed `query` reads a
/// table of its own size (a `LIMIT` over a bigger table costs the server more, which would
/// flatter the ratio).
const MEM_TABLE: &str = "person_m";
/// What the `mem` children run (with `$n` bound).
const MEM_SQL: &str = "SELECT * FROM person_m LIMIT $n";
/// What the `query` and `mem` workloads run (with `$n` bound).
const QUERY_SQL: &str = "SELECT * FROM person_q LIMIT $n";
/// Rows the `mem` children read (scaled by `E2E_SCALE`).
const MEM_ROWS: usize = 200_000;
/// The flag that makes this binary a `mem` child.
const RSS_CHILD_FLAG: &str = "--rss-child";
/// Callers sharing one connection in the concurrency workload.
const CONCURRENCY: usize = 32;
/// Rows per `INSERT` statement.
const BATCH: usize = 500;
const ROUND_TRIP_SQL: &str = "RETURN $x";
/// What `bulk_create` sends per batch (`$t0` = the model's table, `$p0` = the rows).
const MODEL_INSERT_SQL: &str = "INSERT INTO $t0 $p0;";
/// What `Model::objects().all()` sends (`$t0` = the model's table).
const MODEL_ALL_SQL: &str = "SELECT * FROM $t0;";
/// Largest HTTP body the raw floor accepts (the server's own message limit is 128 MiB).
const MAX_BODY: usize = 128 << 20;

/// Sizes of the four workloads (scaled by `E2E_SCALE`).
struct Workload {
    round_trips: usize,
    /// Calls per concurrent caller.
    per_caller: usize,
    /// Rows inserted per repetition (in batches of [`BATCH`]).
    insert_rows: Vec<NewRow>,
    /// Rows in [`SELECT_TABLE`].
    select_rows: usize,
    /// Rows the timed `query` reads from [`QUERY_TABLE`].
    query_rows: usize,
    /// Rows `model_insert` stores per repetition (`bulk_create`, batches of [`BATCH`]).
    model_rows: Vec<BenchInsert>,
    /// Rows each `mem` child reads from [`MEM_TABLE`].
    mem_rows: usize,
    /// Repetitions of each measurement; the median is reported.
    reps: usize,
    /// Which workloads run: round trips, concurrent, insert, select, query, model insert,
    /// model all, mem (`E2E_ONLY`).
    enabled: [bool; 8],
}

/// The names `E2E_ONLY` accepts, in workload order.
const WORKLOADS: [&str; 8] = [
    "rt",
    "conc",
    "insert",
    "select",
    "query",
    "model_insert",
    "model_all",
    "mem",
];
/// Indexes into [`Workload::enabled`] of the workloads with special set-up or repetitions.
const CONCURRENT: usize = 1;
const QUERY: usize = 4;
const MODEL_INSERT: usize = 5;
const MODEL_ALL: usize = 6;
const MEM: usize = 7;

impl Workload {
    fn from_env() -> Res<Workload> {
        let scale: f64 = match std::env::var("E2E_SCALE") {
            Ok(s) => s
                .parse()
                .ok()
                .filter(|f: &f64| f.is_finite() && *f > 0.0 && *f <= 10.0)
                .ok_or_else(|| format!("E2E_SCALE must be a number in (0, 10], got {s:?}"))?,
            Err(_) => 1.0,
        };
        let reps = match std::env::var("E2E_REPS") {
            Ok(s) => s
                .parse()
                .ok()
                .filter(|r| (1..=50).contains(r))
                .ok_or_else(|| format!("E2E_REPS must be a whole number 1-50, got {s:?}"))?,
            Err(_) => 3,
        };
        let enabled = match std::env::var("E2E_ONLY") {
            Ok(s) => {
                let names: Vec<&str> = s.split(',').map(str::trim).collect();
                if let Some(bad) = names.iter().find(|n| !WORKLOADS.contains(n)) {
                    return Err(format!(
                        "E2E_ONLY: unknown workload {bad:?} in {s:?}; use a comma list of {WORKLOADS:?}"
                    )
                    .into());
                }
                WORKLOADS.map(|w| names.contains(&w))
            }
            Err(_) => [true; 8],
        };
        let n = |base: usize, min: usize| ((base as f64 * scale) as usize).max(min);
        // Whole batches, so every INSERT carries exactly BATCH rows.
        let insert = n(20_000, BATCH) / BATCH * BATCH;
        Ok(Workload {
            round_trips: n(2_000, 50),
            per_caller: n(250, 5),
            insert_rows: surql_benches::rows(insert)
                .into_iter()
                .map(NewRow::from)
                .collect(),
            model_rows: surql_benches::rows(insert)
                .into_iter()
                .map(BenchInsert::from)
                .collect(),
            select_rows: n(20_000, 100),
            query_rows: n(20_000, 100),
            mem_rows: n(MEM_ROWS, 1_000),
            reps,
            enabled,
        })
    }
}

/// A row to insert: [`Row`] without its id, so the server assigns ids in any table.
#[derive(Debug, Clone, Serialize)]
struct NewRow {
    name: String,
    age: i64,
    email: String,
    tags: Vec<String>,
    created: Datetime,
    score: f64,
}

impl From<BenchInsert> for NewRow {
    fn from(r: BenchInsert) -> Self {
        NewRow {
            name: r.name,
            age: r.age,
            email: r.email,
            tags: r.tags,
            created: r.created,
            score: r.score,
        }
    }
}

impl From<Row> for NewRow {
    fn from(r: Row) -> Self {
        NewRow {
            name: r.name,
            age: r.age,
            email: r.email,
            tags: r.tags,
            created: r.created,
            score: r.score,
        }
    }
}

/// Declares a model with the fields of [`Row`] (the id optional, so the server assigns it
/// on insert) on a table fixed at compile time.
macro_rules! bench_model {
    ($(#[$doc:meta])* $name:ident, $table:tt) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Serialize, Deserialize, surql::model::Model)]
        #[surql(table = $table)]
        struct $name {
            id: Option<RecordId>,
            name: String,
            age: i64,
            email: String,
            tags: Vec<String>,
            created: Datetime,
            score: f64,
        }

        impl From<Row> for $name {
            fn from(r: Row) -> Self {
                $name {
                    id: None,
                    name: r.name,
                    age: r.age,
                    email: r.email,
                    tags: r.tags,
                    created: r.created,
                    score: r.score,
                }
            }
        }
    };
}

bench_model!(
    /// The model `model_all` reads: the rows of [`SELECT_TABLE`].
    BenchPerson,
    "person"
);
bench_model!(
    /// The model `model_insert` writes: every contender in turn into the same table, reset
    /// before each.
    BenchInsert,
    "bench_model"
);

/// What the drivers' `bulk_create` is given in `model_insert`.
const MODEL_BULK: surql::model::ops::BulkOptions = surql::model::ops::BulkOptions {
    batch_size: BATCH,
    atomic: false,
};

/// A row of [`QUERY_TABLE`]: four fields, as the issue's user declared theirs.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct QueryRow {
    id: RecordId,
    name: String,
    age: i64,
    email: String,
}

fn query_rows(table: &str, n: usize) -> Vec<QueryRow> {
    (0..n)
        .map(|i| QueryRow {
            id: RecordId::new(table, i as i64),
            name: format!("Person {i}"),
            age: 18 + (i % 60) as i64,
            email: format!("person{i}@example.com"),
        })
        .collect()
}

#[derive(Debug, Deserialize)]
struct Count {
    n: u64,
}

/// One measured run: operations done and the time they took (set-up excluded).
type Run = Res<(usize, Duration)>;

/// A client under test: the raw floor or one of the drivers, on one transport. Every method
/// times only its hot part, so pre-encoding the floor's frames is not counted.
trait Contender {
    /// `n` sequential `RETURN $x` round trips.
    fn round_trips(&mut self, n: usize) -> Run;
    /// [`CONCURRENCY`] callers × `per_caller` round trips on one client.
    fn concurrent(&mut self, per_caller: usize) -> Run;
    /// Inserts `rows` into the (empty) `table` in batches of [`BATCH`].
    fn insert(&mut self, table: &str, rows: &[NewRow]) -> Run;
    /// Selects every row of [`SELECT_TABLE`] (expected: `n`).
    fn select(&mut self, n: usize) -> Run;
    /// [`QUERY_SQL`] with `$n = n`, its first statement taken as `Vec<QueryRow>`.
    fn query(&mut self, n: usize) -> Run;
    /// `BenchInsert::bulk_create` of `rows` (batches of [`BATCH`]) into the model's (empty)
    /// table, the stored rows decoded; the floor sends the same frames.
    fn model_insert(&mut self, rows: &[BenchInsert]) -> Run;
    /// `BenchPerson::objects().all()` over [`SELECT_TABLE`] (expected: `n` rows).
    fn model_all(&mut self, n: usize) -> Run;
}

/// Operations per second of one client on the seven timed workloads.
#[derive(Debug, Default, Clone, Copy)]
struct Rates {
    round_trip: f64,
    concurrent: f64,
    insert: f64,
    select: f64,
    query: f64,
    model_insert: f64,
    model_all: f64,
}

fn rate((ops, elapsed): (usize, Duration)) -> f64 {
    ops as f64 / elapsed.as_secs_f64().max(1e-9)
}

fn ensure(ok: bool, what: impl FnOnce() -> String) -> Res<()> {
    if ok {
        Ok(())
    } else {
        Err(what().into())
    }
}

fn vars(pairs: &[(&str, Value)]) -> Object {
    let mut o = Object::new();
    for (k, v) in pairs {
        o.insert((*k).into(), v.clone());
    }
    o
}

fn insert_sql(table: &str) -> String {
    // RETURN NONE: the reply is tiny, so inserts measure the request side (encoding 500
    // rows) and the server, not a 500-row echo.
    format!("INSERT INTO {table} $rows RETURN NONE")
}

fn insert_requests(table: &str, rows: &[NewRow]) -> Res<Vec<Request>> {
    rows.chunks(BATCH)
        .map(|chunk| {
            let rows = surql::to_value(chunk)?;
            Ok(Request::query(insert_sql(table), vars(&[("rows", rows)])))
        })
        .collect()
}

fn signin_request() -> Request {
    surql::client::signin(&Credentials::root(ROOT_USER, ROOT_PASS))
        .into_parts()
        .0
}

fn select_request() -> Request {
    surql::client::select::<Value>(SELECT_TABLE).into_parts().0
}

fn query_request(sql: &str, n: usize) -> Request {
    Request::query(sql, vars(&[("n", Value::Int(n as i64))]))
}

fn table_value<M: Model>() -> Value {
    Value::Table(Table::new(M::META.table))
}

/// The floor's `model_insert` requests: [`MODEL_INSERT_SQL`] per batch of [`BATCH`] rows,
/// the rows bound pre-encoded as `bulk_create` binds them. They are encoded here without the
/// model layer: plain serde to CBOR of the rows as [`NewRow`]s (the same fields in the same
/// order, no id), which is what the model's row encoder must produce for rows without an id
/// ([`check_model_floors`] compares the bytes, and their meaning with `write_data`'s).
fn model_insert_requests(rows: &[BenchInsert]) -> Res<Vec<Request>> {
    let rows: Vec<NewRow> = rows.iter().cloned().map(NewRow::from).collect();
    rows.chunks(BATCH)
        .map(|chunk| {
            let mut raw = std::collections::BTreeMap::new();
            raw.insert("p0".to_owned(), surql::cbor::RawValue::from_serde(chunk)?);
            Ok(Request::query_with_raw(
                MODEL_INSERT_SQL,
                vars(&[("t0", table_value::<BenchInsert>())]),
                raw,
            ))
        })
        .collect()
}

/// The floor's `model_all` request: [`MODEL_ALL_SQL`] with `$t0` = [`SELECT_TABLE`].
fn model_all_request() -> Request {
    Request::query(MODEL_ALL_SQL, vars(&[("t0", table_value::<BenchPerson>())]))
}

/// Checks, once before anything is timed, that the floors send exactly what the model
/// operations send: the first `bulk_create` batch and the `all()` query.
fn check_model_floors(w: &Workload) -> Res<()> {
    ensure(BenchPerson::META.table == SELECT_TABLE, || {
        format!(
            "BenchPerson reads {}, not {SELECT_TABLE}",
            BenchPerson::META.table
        )
    })?;
    let all = surql::model::ops::all(&BenchPerson::objects());
    ensure(all.request() == Some(&model_all_request()), || {
        format!(
            "the model_all floor request differs from the driver's: {:?} vs {:?}",
            model_all_request(),
            all.request()
        )
    })?;
    if w.model_rows.is_empty() {
        return Ok(());
    }
    use surql::op::{Operation, Step};
    let mut op = surql::model::ops::bulk_create(&w.model_rows, MODEL_BULK);
    let Step::Send(first) = op.step(None) else {
        return Err("bulk_create sent nothing".into());
    };
    let floor = model_insert_requests(&w.model_rows)?;
    ensure(floor.len() == w.model_rows.len() / BATCH, || {
        format!(
            "{} model_insert frames for {} rows",
            floor.len(),
            w.model_rows.len()
        )
    })?;
    ensure(floor.first() == Some(&first), || {
        "the model_insert floor's first request differs from bulk_create's".into()
    })?;
    // And the bytes mean what the model layer's `Value` route builds.
    let rows = first
        .raw_vars()
        .get("p0")
        .ok_or("bulk_create bound no $p0")?;
    let want: Vec<Value> = w
        .model_rows
        .iter()
        .take(BATCH)
        .map(|m| Ok(Value::Object(surql::model::write_data(m)?)))
        .collect::<Res<_>>()?;
    ensure(rows.to_value()? == Value::Array(want), || {
        "the model_insert rows do not decode to what write_data builds".into()
    })
}

/// Checks a floor's `model_insert` replies (outside the timed part): one statement per
/// reply, OK, echoing every row of its batch.
fn check_model_insert_replies<B: AsRef<[u8]>>(replies: &[B], rows: usize) -> Res<()> {
    let mut stored = 0;
    for r in replies {
        stored += query_reply_rows(r.as_ref(), "model INSERT")?;
    }
    ensure(stored == rows, || {
        format!("the model INSERT replies echo {stored} rows, wanted {rows}")
    })
}

// The floor's checks of big replies walk the CBOR without decoding it: building a `Value`
// tree of 20,000 rows (and freeing it) would leave allocator work (glibc consolidating
// freed chunks on the next big allocation) that lands in the NEXT contender's timed part.

/// The head of the CBOR item at `pos`: major type, argument, offset just past the head.
/// Indefinite lengths are refused (the server sends definite ones).
fn cbor_head(b: &[u8], pos: usize) -> Res<(u8, u64, usize)> {
    let ib = *b.get(pos).ok_or("truncated CBOR in a reply")?;
    let (major, info) = (ib >> 5, ib & 0x1f);
    let (arg, used) = match info {
        0..=23 => (u64::from(info), 1),
        24..=27 => {
            let n = 1usize << (info - 24);
            let bytes = b
                .get(pos + 1..pos + 1 + n)
                .ok_or("truncated CBOR in a reply")?;
            let arg = bytes.iter().fold(0u64, |a, &x| (a << 8) | u64::from(x));
            (arg, 1 + n)
        }
        _ => return Err(format!("unexpected CBOR head 0x{ib:02x} in a reply").into()),
    };
    Ok((major, arg, pos + used))
}

/// Where the value of text key `key` starts in the map at `pos`.
fn cbor_map_get(b: &[u8], pos: usize, key: &str) -> Res<usize> {
    let (major, n, mut p) = cbor_head(b, pos)?;
    ensure(major == 5, || {
        format!("expected a map in a reply, found major type {major}")
    })?;
    for _ in 0..n {
        let (km, klen, kp) = cbor_head(b, p)?;
        let value = kp + klen as usize;
        if km == 3 && b.get(kp..value) == Some(key.as_bytes()) {
            return Ok(value);
        }
        p = surql::cbor::skip_item(b, value)?;
    }
    Err(format!("no `{key}` in a reply").into())
}

/// The length of the array at `pos`, every element stepped over (so it is all there).
fn cbor_array_len(b: &[u8], pos: usize) -> Res<usize> {
    let (major, n, mut p) = cbor_head(b, pos)?;
    ensure(major == 4, || {
        format!("expected an array in a reply, found major type {major}")
    })?;
    for _ in 0..n {
        p = surql::cbor::skip_item(b, p)?;
    }
    Ok(n as usize)
}

/// The rows of a `select` reply envelope (WebSocket frame or HTTP body).
fn select_reply_rows(reply: &[u8]) -> Res<usize> {
    cbor_array_len(reply, cbor_map_get(reply, 0, "result")?)
}

/// The rows of the last statement of a `query` reply envelope, every statement checked OK.
fn query_reply_rows(reply: &[u8], what: &str) -> Res<usize> {
    let statements = cbor_map_get(reply, 0, "result")?;
    let (major, n, mut p) = cbor_head(reply, statements)?;
    ensure(major == 4 && n > 0, || {
        format!("{what}: no statement results")
    })?;
    let mut rows = 0;
    for _ in 0..n {
        let status = cbor_map_get(reply, p, "status")?;
        let (status, _) = surql::cbor::decode_prefix(reply.get(status..).unwrap_or_default())?;
        ensure(status == Value::from("OK"), || {
            format!("{what}: a statement failed ({status:?})")
        })?;
        rows = cbor_array_len(reply, cbor_map_get(reply, p, "result")?)?;
        p = surql::cbor::skip_item(reply, p)?;
    }
    Ok(rows)
}

// --- admin: set-up and checks, through the blocking driver (never timed) -------------------

struct Admin(surql_blocking::Surreal);

impl Admin {
    fn connect(ws_url: &str) -> Res<Admin> {
        let db = surql_blocking::Surreal::connect(ws_url)?;
        db.signin(&Credentials::root(ROOT_USER, ROOT_PASS))?;
        db.query(format!(
            "DEFINE NAMESPACE IF NOT EXISTS {NS}; USE NS {NS}; DEFINE DATABASE IF NOT EXISTS {DB};"
        ))
        .run()?
        .check()?;
        db.use_ns_db(NS, DB)?;
        Ok(Admin(db))
    }

    fn sql(&self, text: &str) -> Res<()> {
        self.0.query(text).run()?.check()?;
        Ok(())
    }

    fn count(&self, table: &str) -> Res<u64> {
        let mut r = self
            .0
            .query(format!("SELECT count() AS n FROM {table} GROUP ALL"))
            .run()?;
        let rows: Vec<Count> = r.take(0)?;
        Ok(rows.iter().map(|c| c.n).sum())
    }

    fn reset_table(&self, table: &str) -> Res<()> {
        self.sql(&format!("REMOVE TABLE IF EXISTS {table}"))
    }

    /// Checks that an insert repetition really stored every row (a failing statement
    /// would otherwise look like a very fast one).
    fn expect_rows(&self, table: &str, want: usize) -> Res<()> {
        let got = self.count(table)?;
        ensure(got == want as u64, || {
            format!("after the insert run, {table} holds {got} rows instead of {want}")
        })
    }

    fn fill_select_table(&self, n: usize) -> Res<()> {
        self.fill(SELECT_TABLE, &surql_benches::rows(n))
    }

    fn fill(&self, table: &str, rows: &[impl Serialize]) -> Res<()> {
        self.reset_table(table)?;
        for chunk in rows.chunks(BATCH) {
            self.0
                .query(insert_sql(table))
                .bind(("rows", chunk))
                .run()?
                .check()?;
        }
        self.expect_rows(table, rows.len())
    }
}

// --- the raw WebSocket floor ---------------------------------------------------------------

/// A bare tungstenite client: frames in, frames out, nothing decoded on the hot path.
struct RawWs {
    sock: WebSocket<TcpStream>,
    next_id: u64,
}

impl RawWs {
    fn connect(addr: &str) -> Res<RawWs> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        let mut request = format!("ws://{addr}/rpc").into_client_request()?;
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("cbor"));
        // tungstenite's default 16 MiB frame cap would make the floor fail replies the
        // drivers accept; allow what the server itself allows.
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_BODY))
            .max_frame_size(Some(MAX_BODY));
        let (sock, response) =
            tungstenite::client::client_with_config(request, stream, Some(config))
                .map_err(|e| format!("WebSocket handshake with {addr} failed: {e}"))?;
        let proto = response.headers().get("Sec-WebSocket-Protocol");
        ensure(proto.is_some_and(|p| p == "cbor"), || {
            format!("the server at {addr} did not select the cbor subprotocol ({proto:?})")
        })?;
        let mut raw = RawWs { sock, next_id: 1 };
        raw.call_checked(&signin_request())?;
        raw.call_checked(&Request::use_ns_db(NS, DB))?;
        Ok(raw)
    }

    fn frame(&mut self, req: &Request) -> Bytes {
        let id = self.next_id;
        self.next_id += 1;
        Bytes::from(req.encode(Some(id)))
    }

    fn frames(&mut self, reqs: &[Request]) -> Vec<Bytes> {
        reqs.iter().map(|r| self.frame(r)).collect()
    }

    fn write(&mut self, frame: &Bytes) -> Res<()> {
        self.sock.write(Message::Binary(frame.clone()))?;
        Ok(())
    }

    fn flush(&mut self) -> Res<()> {
        self.sock.flush()?;
        Ok(())
    }

    /// The next reply frame (pings are answered by tungstenite on the next write).
    fn recv(&mut self) -> Res<Bytes> {
        loop {
            match self.sock.read()? {
                Message::Binary(b) => return Ok(b),
                Message::Text(t) => return Ok(Bytes::copy_from_slice(t.as_bytes())),
                Message::Close(c) => return Err(format!("the server closed: {c:?}").into()),
                _ => {}
            }
        }
    }

    fn call(&mut self, frame: &Bytes) -> Res<Bytes> {
        self.write(frame)?;
        self.flush()?;
        self.recv()
    }

    /// Set-up and verification only: sends `req` and decodes the answer.
    fn call_checked(&mut self, req: &Request) -> Res<Value> {
        let frame = self.frame(req);
        let reply = self.call(&frame)?;
        decoded_result(&reply, &req.method.to_string())
    }
}

/// Decodes a WebSocket reply outside the timed part, to prove the floor did real work.
fn decoded_result(frame: &[u8], what: &str) -> Res<Value> {
    match decode_incoming(frame)? {
        Incoming::Response { result: Ok(v), .. } => Ok(v),
        Incoming::Response { result: Err(e), .. } => Err(format!("{what} failed: {e}").into()),
        other => Err(format!("{what}: unexpected message {other:?}").into()),
    }
}

/// Checks a `query` reply: every statement OK.
fn check_query_reply(v: Value, what: &str) -> Res<Value> {
    let results = surql::rpc::parse_query_results(v)?;
    let mut out = Value::None;
    for r in results {
        match r.result {
            Ok(v) => out = v,
            Err(e) => return Err(format!("{what}: a statement failed: {e}").into()),
        }
    }
    Ok(out)
}

/// The WebSocket floor: one bare socket, pre-encoded frames.
struct FloorWs(RawWs);

/// The async floor of the sequential row, a reference for the async driver: the same
/// pre-encoded frames on one `async_io::Async<TcpStream>` (what any async-io client pays per
/// wait: the reactor's registration, timer and wake-up), WebSocket framing by hand.
struct AsyncFloorWs {
    io: async_io::Async<TcpStream>,
    /// Bytes read and not yet taken as a frame.
    buf: Vec<u8>,
    next_id: u64,
}

impl AsyncFloorWs {
    /// Upgrades, signs in and selects the database with the blocking floor, then keeps a
    /// duplicate of its socket (nothing is left unread in tungstenite's buffer by then).
    fn connect(addr: &str) -> Res<AsyncFloorWs> {
        let raw = RawWs::connect(addr)?;
        let tcp = raw.sock.get_ref().try_clone()?;
        let next_id = raw.next_id;
        drop(raw);
        Ok(AsyncFloorWs {
            io: async_io::Async::new(tcp)?,
            buf: Vec::new(),
            next_id,
        })
    }

    /// A masked client frame (mask key 0: XOR leaves the payload as it is).
    fn frame(&mut self, req: &Request) -> Vec<u8> {
        let payload = req.encode(Some(self.next_id));
        self.next_id += 1;
        let mut f = vec![0x82];
        match payload.len() {
            n if n < 126 => f.push(0x80 | n as u8),
            n if n <= 0xffff => {
                f.push(0x80 | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(0x80 | 127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        f.extend_from_slice(&[0; 4]);
        f.extend_from_slice(&payload);
        f
    }

    /// The next data frame's payload (server frames are unmasked and, for these replies,
    /// unfragmented; anything else fails the run).
    async fn recv(&mut self) -> Res<Vec<u8>> {
        use futures_lite::AsyncReadExt;
        loop {
            if self.buf.len() >= 2 {
                let (b0, b1) = (self.buf[0], self.buf[1]);
                ensure(b0 & 0x80 != 0 && b1 & 0x80 == 0, || {
                    format!("unexpected frame header {b0:#x} {b1:#x}")
                })?;
                let (head, len) = match b1 & 0x7f {
                    126 if self.buf.len() >= 4 => {
                        (4, u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize)
                    }
                    127 if self.buf.len() >= 10 => {
                        let mut n = [0; 8];
                        n.copy_from_slice(&self.buf[2..10]);
                        (10, u64::from_be_bytes(n) as usize)
                    }
                    126 | 127 => (usize::MAX, 0),
                    n => (2, n as usize),
                };
                if head != usize::MAX && self.buf.len() >= head + len {
                    let payload = self.buf[head..head + len].to_vec();
                    self.buf.drain(..head + len);
                    match b0 & 0x0f {
                        1 | 2 => return Ok(payload),
                        8 => return Err("the server closed the connection".into()),
                        _ => continue, // ping/pong: not expected, skipped
                    }
                }
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = (&self.io).read(&mut chunk).await?;
            ensure(n > 0, || "the server hung up".to_owned())?;
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn round_trips(&mut self, n: usize) -> Run {
        use futures_lite::AsyncWriteExt;
        let frames: Vec<Vec<u8>> = round_trip_requests(0, n)
            .iter()
            .map(|r| self.frame(r))
            .collect();
        async_io::block_on(async {
            let start = Instant::now();
            let mut last = Vec::new();
            for f in &frames {
                (&self.io).write_all(f).await?;
                last = self.recv().await?;
            }
            let elapsed = start.elapsed();
            let v = check_query_reply(decoded_result(&last, "RETURN $x")?, "RETURN $x")?;
            let want = Value::Int(n as i64 - 1);
            ensure(v == want, || {
                format!("RETURN $x gave {v:?}, wanted {want:?}")
            })?;
            Ok((n, elapsed))
        })
    }
}

/// Sends `frames` on `raw` keeping `depth` of them in flight (one more written as each reply
/// is read); the last reply.
fn pipelined(raw: &mut RawWs, frames: &[Bytes], depth: usize) -> Res<Bytes> {
    let mut sent = 0;
    while sent < frames.len().min(depth) {
        raw.write(&frames[sent])?;
        sent += 1;
    }
    raw.flush()?;
    let mut last = Bytes::new();
    for _ in 0..frames.len() {
        last = raw.recv()?;
        if let Some(f) = frames.get(sent) {
            raw.write(f)?;
            raw.flush()?;
            sent += 1;
        }
    }
    Ok(last)
}

/// Bare WebSockets sharing the concurrency row's 32 callers, one thread each, each keeping
/// its share of the requests pipelined (32 / sockets in flight), with pre-encoded frames.
/// Two references for the blocking driver: 32 sockets (each thread its own upgraded,
/// signed-in socket doing sequential round trips: nothing is handed from one thread to
/// another; the HTTP floor of that row is built the same way), and the lanes' shape without
/// a client library (as many sockets as `Options::ws_connections` allows, 4 by default, 8
/// requests in flight on each).
struct SocketsFloorWs(Vec<RawWs>);

impl SocketsFloorWs {
    fn connect(addr: &str, sockets: usize) -> Res<SocketsFloorWs> {
        (0..sockets)
            .map(|_| RawWs::connect(addr))
            .collect::<Res<Vec<_>>>()
            .map(SocketsFloorWs)
    }

    fn concurrent(&mut self, per_caller: usize) -> Run {
        let sockets = self.0.len();
        let per_socket = CONCURRENCY * per_caller / sockets;
        let work: Vec<_> = self
            .0
            .iter_mut()
            .enumerate()
            .map(|(c, raw)| {
                let frames = raw.frames(&round_trip_requests(c * per_socket, per_socket));
                (raw, frames)
            })
            .collect();
        run_threads(work, |(raw, frames)| {
            let last = pipelined(raw, &frames, CONCURRENCY / sockets)?;
            check_query_reply(decoded_result(&last, "RETURN $x")?, "RETURN $x")?;
            Ok(frames.len())
        })
    }
}

/// The threads reference line under the table: the WebSocket concurrency row's pipelined
/// floor and surql-blocking, measured again interleaved with two [`SocketsFloorWs`] (as many
/// repetitions as the row), so the blocking driver's 32 threads can be read against what 32
/// threads cost without a client library.
fn threads_reference(addr: &str, ws_url: &str, w: &Workload) -> Res<String> {
    let mut floor = FloorWs(RawWs::connect(addr)?);
    let mut threads = SocketsFloorWs::connect(addr, CONCURRENCY)?;
    let mut lanes = SocketsFloorWs::connect(addr, surql::Options::default().ws_connections)?;
    let mut blocking = Blocking::connect(ws_url)?;
    let warm = 10;
    floor.concurrent(warm)?;
    threads.concurrent(warm)?;
    lanes.concurrent(warm)?;
    blocking.concurrent(warm)?;
    let mut samples: [Vec<f64>; 4] = Default::default();
    for rep in 0..w.reps * 3 {
        for i in rotation::<4>(rep) {
            let r = rate(match i {
                0 => floor.concurrent(w.per_caller)?,
                1 => threads.concurrent(w.per_caller)?,
                2 => lanes.concurrent(w.per_caller)?,
                _ => blocking.concurrent(w.per_caller)?,
            });
            samples[i].push(r);
        }
    }
    let paired = paired_ratio(&samples[3], &samples[0]);
    let paired_lanes = paired_ratio(&samples[3], &samples[2]);
    let sockets = lanes.0.len();
    let [f, t, l, b] = samples.map(median);
    let pct = |x: f64, of: f64| 100.0 * x / of.max(f64::MIN_POSITIVE);
    Ok(format!(
        "threads reference, {CONCURRENCY} concurrent callers × {} `RETURN $x` over ws (calls/s, \
         medians of {}, interleaved): the pipelined floor {}; {CONCURRENCY} threads on \
         {CONCURRENCY} bare sockets {} = {:.0}% of it; surql-blocking ({CONCURRENCY} threads, \
         one client with {} WebSocket connections open at the end, `Options::ws_connections`) {} \
         = {:.0}% of the pipelined floor ({:.0}% paired, see above), {:.0}% of the \
         {CONCURRENCY}-socket floor; {sockets} bare sockets with {} requests pipelined on each \
         (the lanes' shape without a client library) {} = {:.0}% of the pipelined floor, and \
         surql-blocking {:.0}% of it ({:.0}% paired).\n",
        w.per_caller,
        w.reps * 3,
        fmt_rate(f),
        fmt_rate(t),
        pct(t, f),
        blocking.0.websocket_connections(),
        fmt_rate(b),
        pct(b, f),
        paired * 100.0,
        pct(b, t),
        CONCURRENCY / sockets,
        fmt_rate(l),
        pct(l, f),
        pct(b, l),
        paired_lanes * 100.0,
    ))
}

/// The async reference line under the table: the sequential WebSocket row of the async
/// driver against [`AsyncFloorWs`], with the blocking floor measured in the same slices, and
/// a second blocking floor on its own connection as a control: the same client twice, so
/// how far apart the two come out is this run's own noise, to read every ratio against.
fn async_reference(addr: &str, ws_url: &str, w: &Workload) -> Res<String> {
    let mut floor = FloorWs(RawWs::connect(addr)?);
    let mut control = FloorWs(RawWs::connect(addr)?);
    let mut async_floor = AsyncFloorWs::connect(addr)?;
    let mut smol = Smol::connect(ws_url)?;
    floor.round_trips(200)?; // warm-up
    control.round_trips(200)?;
    async_floor.round_trips(200)?;
    smol.round_trips(200)?;
    let mut samples: [Vec<f64>; 4] = Default::default();
    for rep in 0..w.reps {
        let rates = sliced_round_trips::<4>(rep, w.round_trips, |i, n| match i {
            0 => floor.round_trips(n),
            1 => control.round_trips(n),
            2 => async_floor.round_trips(n),
            _ => smol.round_trips(n),
        })?;
        for (i, r) in rates.into_iter().enumerate() {
            samples[i].push(r);
        }
    }
    let [f, c, a, s] = samples.map(median);
    let pct = |x: f64, of: f64| 100.0 * x / of.max(f64::MIN_POSITIVE);
    Ok(format!(
        "async reference, {} sequential `RETURN $x` over ws (calls/s, medians of {}, in slices): \
         floor {}; the same floor on a second connection (control) {} = {:.0}% of it; async \
         floor (the same pre-encoded frames on an `async_io::Async<TcpStream>`) {} = {:.0}% of \
         the floor; surql-smol {} = {:.0}% of the async floor, {:.0}% of the floor.\n",
        w.round_trips,
        w.reps,
        fmt_rate(f),
        fmt_rate(c),
        pct(c, f),
        fmt_rate(a),
        pct(a, f),
        fmt_rate(s),
        pct(s, a),
        pct(s, f),
    ))
}

fn round_trip_requests(first: usize, n: usize) -> Vec<Request> {
    (first..first + n)
        .map(|i| Request::query(ROUND_TRIP_SQL, vars(&[("x", Value::Int(i as i64))])))
        .collect()
}

impl Contender for FloorWs {
    fn round_trips(&mut self, n: usize) -> Run {
        let raw = &mut self.0;
        let frames = raw.frames(&round_trip_requests(0, n));
        let start = Instant::now();
        let mut last = Bytes::new();
        for f in &frames {
            last = raw.call(f)?;
        }
        let elapsed = start.elapsed();
        let v = check_query_reply(decoded_result(&last, "RETURN $x")?, "RETURN $x")?;
        let want = Value::Int(n as i64 - 1);
        ensure(v == want, || {
            format!("RETURN $x gave {v:?}, wanted {want:?}")
        })?;
        Ok((n, elapsed))
    }

    /// 32 requests in flight on one socket: the pipelined equivalent of 32 callers.
    fn concurrent(&mut self, per_caller: usize) -> Run {
        let raw = &mut self.0;
        let frames = raw.frames(&round_trip_requests(0, CONCURRENCY * per_caller));
        let start = Instant::now();
        let last = pipelined(raw, &frames, CONCURRENCY)?;
        let elapsed = start.elapsed();
        check_query_reply(decoded_result(&last, "RETURN $x")?, "RETURN $x")?;
        Ok((frames.len(), elapsed))
    }

    fn insert(&mut self, table: &str, rows: &[NewRow]) -> Run {
        let raw = &mut self.0;
        let frames = raw.frames(&insert_requests(table, rows)?);
        let start = Instant::now();
        let mut replies = Vec::with_capacity(frames.len());
        for f in &frames {
            replies.push(raw.call(f)?);
        }
        let elapsed = start.elapsed();
        for r in &replies {
            check_query_reply(decoded_result(r, "INSERT")?, "INSERT")?;
        }
        Ok((rows.len(), elapsed))
    }

    fn select(&mut self, n: usize) -> Run {
        let raw = &mut self.0;
        let f = raw.frame(&select_request());
        let start = Instant::now();
        let reply = raw.call(&f)?;
        let elapsed = start.elapsed();
        let got = select_reply_rows(&reply)?;
        ensure(got == n, || format!("select gave {got} rows, wanted {n}"))?;
        Ok((n, elapsed))
    }

    fn query(&mut self, n: usize) -> Run {
        let raw = &mut self.0;
        let f = raw.frame(&query_request(QUERY_SQL, n));
        let start = Instant::now();
        let reply = raw.call(&f)?;
        let elapsed = start.elapsed();
        let got = query_reply_rows(&reply, "query")?;
        ensure(got == n, || format!("query gave {got} rows, wanted {n}"))?;
        Ok((n, elapsed))
    }

    fn model_insert(&mut self, rows: &[BenchInsert]) -> Run {
        let raw = &mut self.0;
        let frames = raw.frames(&model_insert_requests(rows)?);
        let start = Instant::now();
        let mut replies = Vec::with_capacity(frames.len());
        for f in &frames {
            replies.push(raw.call(f)?);
        }
        let elapsed = start.elapsed();
        check_model_insert_replies(&replies, rows.len())?;
        Ok((rows.len(), elapsed))
    }

    fn model_all(&mut self, n: usize) -> Run {
        let raw = &mut self.0;
        let f = raw.frame(&model_all_request());
        let start = Instant::now();
        let reply = raw.call(&f)?;
        let elapsed = start.elapsed();
        let got = query_reply_rows(&reply, "model all")?;
        ensure(got == n, || {
            format!("model all gave {got} rows, wanted {n}")
        })?;
        Ok((n, elapsed))
    }
}

/// The HTTP floor: keep-alive connections, pre-built requests.
struct FloorHttp {
    addr: String,
    session: HttpSession,
    raw: RawHttp,
}

impl FloorHttp {
    fn connect(addr: &str) -> Res<FloorHttp> {
        Ok(FloorHttp {
            addr: addr.to_owned(),
            session: http_session(addr)?,
            raw: RawHttp::connect(addr)?,
        })
    }

    fn bytes(&self, reqs: &[Request]) -> Res<Vec<Vec<u8>>> {
        reqs.iter()
            .map(|r| http_bytes(&self.session, &self.addr, r))
            .collect()
    }
}

impl Contender for FloorHttp {
    fn round_trips(&mut self, n: usize) -> Run {
        let reqs = self.bytes(&round_trip_requests(0, n))?;
        let raw = &mut self.raw;
        let start = Instant::now();
        let mut status = 0;
        for r in &reqs {
            status = raw.exchange(r)?;
        }
        let elapsed = start.elapsed();
        check_query_reply(raw.result(status)?, "RETURN $x")?;
        Ok((n, elapsed))
    }

    /// 32 callers, each on its own keep-alive connection (what a pooled client does).
    fn concurrent(&mut self, per_caller: usize) -> Run {
        let work = (0..CONCURRENCY)
            .map(|c| {
                let reqs = self.bytes(&round_trip_requests(c * per_caller, per_caller))?;
                Ok((RawHttp::connect(&self.addr)?, reqs))
            })
            .collect::<Res<Vec<_>>>()?;
        run_threads(work, |(mut conn, reqs)| {
            let mut status = 0;
            for r in &reqs {
                status = conn.exchange(r)?;
            }
            check_query_reply(conn.result(status)?, "RETURN $x")?;
            Ok(reqs.len())
        })
    }

    fn insert(&mut self, table: &str, rows: &[NewRow]) -> Run {
        let reqs = self.bytes(&insert_requests(table, rows)?)?;
        let raw = &mut self.raw;
        let start = Instant::now();
        let mut statuses = Vec::with_capacity(reqs.len());
        for r in &reqs {
            statuses.push(raw.exchange(r)?);
        }
        let elapsed = start.elapsed();
        ensure(statuses.iter().all(|s| *s == 200), || {
            format!("an INSERT over HTTP answered {statuses:?}")
        })?;
        Ok((rows.len(), elapsed))
    }

    fn select(&mut self, n: usize) -> Run {
        let req = http_bytes(&self.session, &self.addr, &select_request())?;
        let start = Instant::now();
        let status = self.raw.exchange(&req)?;
        let elapsed = start.elapsed();
        ensure(status == 200, || {
            format!("select over HTTP answered {status}")
        })?;
        let got = select_reply_rows(&self.raw.body)?;
        ensure(got == n, || {
            format!("select over HTTP gave {got} rows, wanted {n}")
        })?;
        Ok((n, elapsed))
    }

    fn query(&mut self, n: usize) -> Run {
        let req = http_bytes(&self.session, &self.addr, &query_request(QUERY_SQL, n))?;
        let start = Instant::now();
        let status = self.raw.exchange(&req)?;
        let elapsed = start.elapsed();
        ensure(status == 200, || {
            format!("query over HTTP answered {status}")
        })?;
        let got = query_reply_rows(&self.raw.body, "query over HTTP")?;
        ensure(got == n, || {
            format!("query over HTTP gave {got} rows, wanted {n}")
        })?;
        Ok((n, elapsed))
    }

    fn model_insert(&mut self, rows: &[BenchInsert]) -> Run {
        let reqs = self.bytes(&model_insert_requests(rows)?)?;
        let raw = &mut self.raw;
        let start = Instant::now();
        let mut statuses = Vec::with_capacity(reqs.len());
        let mut bodies = Vec::with_capacity(reqs.len());
        for r in &reqs {
            statuses.push(raw.exchange(r)?);
            // Kept (moved, not copied) to be checked after the timed part.
            bodies.push(std::mem::take(&mut raw.body));
        }
        let elapsed = start.elapsed();
        ensure(statuses.iter().all(|s| *s == 200), || {
            format!("a model INSERT over HTTP answered {statuses:?}")
        })?;
        check_model_insert_replies(&bodies, rows.len())?;
        Ok((rows.len(), elapsed))
    }

    fn model_all(&mut self, n: usize) -> Run {
        let req = http_bytes(&self.session, &self.addr, &model_all_request())?;
        let start = Instant::now();
        let status = self.raw.exchange(&req)?;
        let elapsed = start.elapsed();
        ensure(status == 200, || {
            format!("model all over HTTP answered {status}")
        })?;
        let got = query_reply_rows(&self.raw.body, "model all over HTTP")?;
        ensure(got == n, || {
            format!("model all over HTTP gave {got} rows, wanted {n}")
        })?;
        Ok((n, elapsed))
    }
}

// --- the raw HTTP floor ------------------------------------------------------------------

/// A bare keep-alive HTTP/1.1 client sending pre-built `POST /rpc` requests.
struct RawHttp {
    conn: BufReader<TcpStream>,
    line: String,
    body: Vec<u8>,
}

impl RawHttp {
    fn connect(addr: &str) -> Res<RawHttp> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        Ok(RawHttp {
            conn: BufReader::with_capacity(64 * 1024, stream),
            line: String::new(),
            body: Vec::new(),
        })
    }

    /// Writes one pre-built request and reads its response into `self.body`; the status.
    fn exchange(&mut self, request: &[u8]) -> Res<u16> {
        self.conn.get_mut().write_all(request)?;
        self.read_line()?;
        let status: u16 = self
            .line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("not an HTTP status line: {:?}", self.line))?;
        let mut length = None;
        let mut chunked = false;
        loop {
            self.read_line()?;
            let l = self.line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                let v = v.trim();
                if k.eq_ignore_ascii_case("content-length") {
                    length = Some(
                        v.parse::<usize>()
                            .map_err(|_| format!("bad Content-Length {v:?}"))?,
                    );
                } else if k.eq_ignore_ascii_case("transfer-encoding") {
                    chunked = v.eq_ignore_ascii_case("chunked");
                }
            }
        }
        self.body.clear();
        if chunked {
            loop {
                self.read_line()?;
                let size_text = self.line.trim().split(';').next().unwrap_or("");
                let size = usize::from_str_radix(size_text, 16)
                    .map_err(|_| format!("bad chunk size {size_text:?}"))?;
                let start = self.body.len();
                ensure(size <= MAX_BODY - start.min(MAX_BODY), || {
                    format!("a chunked HTTP body over {MAX_BODY} bytes (chunk of {size})")
                })?;
                self.body.resize(start + size, 0);
                self.conn.read_exact(&mut self.body[start..])?;
                self.read_line()?;
                if size == 0 {
                    break;
                }
            }
        } else {
            let n = length.ok_or("an HTTP response without Content-Length or chunking")?;
            ensure(n <= MAX_BODY, || {
                format!("an HTTP body of {n} bytes is over the {MAX_BODY}-byte limit")
            })?;
            self.body.resize(n, 0);
            self.conn.read_exact(&mut self.body)?;
        }
        Ok(status)
    }

    fn read_line(&mut self) -> Res<()> {
        self.line.clear();
        if self.conn.read_line(&mut self.line)? == 0 {
            return Err("the server closed the HTTP connection".into());
        }
        Ok(())
    }

    /// Set-up and verification only: the decoded result of the last response.
    fn result(&self, status: u16) -> Res<Value> {
        Ok(surql::rpc::http::decode_response(status, &self.body)?)
    }
}

/// A complete HTTP request (head and body) for `req`, built before any timing starts.
fn http_bytes(session: &HttpSession, addr: &str, req: &Request) -> Res<Vec<u8>> {
    let h = session.encode_request(req)?;
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n",
        h.method,
        h.path,
        h.body.len()
    );
    for (k, v) in &h.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(&h.body);
    Ok(out)
}

fn http_session(addr: &str) -> Res<HttpSession> {
    let mut session = HttpSession::default();
    let signin = signin_request();
    let mut raw = RawHttp::connect(addr)?;
    let status = raw.exchange(&http_bytes(&session, addr, &signin)?)?;
    let token = raw.result(status)?;
    session.apply(&signin, &token);
    ensure(session.token.is_some(), || {
        format!("signin over HTTP gave no token: {token:?}")
    })?;
    session.ns = Some(NS.into());
    session.db = Some(DB.into());
    Ok(session)
}

/// Runs one thread per item, all released together by a barrier once they are ready;
/// returns the total of their operation counts and the time from release to the last join.
fn run_threads<I, F>(items: I, work: F) -> Res<(usize, Duration)>
where
    I: IntoIterator,
    I::Item: Send,
    F: Fn(I::Item) -> Res<usize> + Sync,
{
    let items: Vec<I::Item> = items.into_iter().collect();
    let barrier = Barrier::new(items.len() + 1);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .into_iter()
            .map(|item| {
                let (barrier, work) = (&barrier, &work);
                s.spawn(move || {
                    barrier.wait();
                    work(item)
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let mut ops = 0;
        for h in handles {
            ops += h.join().map_err(|_| "a caller thread panicked")??;
        }
        Ok((ops, start.elapsed()))
    })
}

// --- the drivers ---------------------------------------------------------------------------

/// surql-smol, driven from the caller's thread with `async_io::block_on`.
struct Smol(surql_smol::Surreal);

impl Smol {
    fn connect(url: &str) -> Res<Smol> {
        async_io::block_on(async {
            let db = surql_smol::Surreal::connect(url).await?;
            db.signin(&Credentials::root(ROOT_USER, ROOT_PASS)).await?;
            db.use_ns_db(NS, DB).await?;
            Ok(Smol(db))
        })
    }
}

impl Contender for Smol {
    fn round_trips(&mut self, n: usize) -> Run {
        async_io::block_on(async {
            let start = Instant::now();
            for i in 0..n {
                smol_round_trip(&self.0, i as i64).await?;
            }
            Ok((n, start.elapsed()))
        })
    }

    /// 32 tasks on one executor, sharing one client.
    fn concurrent(&mut self, per_caller: usize) -> Run {
        let ex = async_executor::Executor::new();
        let start = Instant::now();
        let tasks: Vec<_> = (0..CONCURRENCY)
            .map(|c| {
                let db = self.0.clone();
                ex.spawn(async move {
                    for i in 0..per_caller {
                        smol_round_trip(&db, (c * per_caller + i) as i64).await?;
                    }
                    Ok::<_, BoxError>(per_caller)
                })
            })
            .collect();
        let ops = async_io::block_on(ex.run(async {
            let mut ops = 0;
            for t in tasks {
                ops += t.await?;
            }
            Ok::<_, BoxError>(ops)
        }))?;
        Ok((ops, start.elapsed()))
    }

    fn insert(&mut self, table: &str, rows: &[NewRow]) -> Run {
        let sql = insert_sql(table);
        async_io::block_on(async {
            let start = Instant::now();
            for chunk in rows.chunks(BATCH) {
                self.0
                    .query(sql.as_str())
                    .bind(("rows", chunk))
                    .await?
                    .check()?;
            }
            Ok((rows.len(), start.elapsed()))
        })
    }

    fn select(&mut self, n: usize) -> Run {
        async_io::block_on(async {
            let start = Instant::now();
            let rows: Vec<Row> = self.0.select(SELECT_TABLE).await?;
            let elapsed = start.elapsed();
            ensure(rows.len() == n, || {
                format!("select gave {} rows, wanted {n}", rows.len())
            })?;
            Ok((n, elapsed))
        })
    }

    fn query(&mut self, n: usize) -> Run {
        async_io::block_on(async {
            let start = Instant::now();
            let rows = smol_query(&self.0, QUERY_SQL, n).await?;
            let elapsed = start.elapsed();
            ensure(rows.len() == n, || {
                format!("query gave {} rows, wanted {n}", rows.len())
            })?;
            Ok((n, elapsed))
        })
    }

    fn model_insert(&mut self, rows: &[BenchInsert]) -> Run {
        async_io::block_on(async {
            let start = Instant::now();
            // Both drivers' `ModelExt` are in scope here, hence the qualified call.
            let stored =
                <BenchInsert as surql_smol::ModelExt>::bulk_create(&self.0, rows, MODEL_BULK)
                    .await?;
            let elapsed = start.elapsed();
            check_stored(&stored, rows.len())?;
            Ok((rows.len(), elapsed))
        })
    }

    fn model_all(&mut self, n: usize) -> Run {
        async_io::block_on(async {
            let start = Instant::now();
            let rows = surql_smol::ModelQuerySetExt::all(&BenchPerson::objects(), &self.0).await?;
            let elapsed = start.elapsed();
            ensure(rows.len() == n, || {
                format!("model all gave {} rows, wanted {n}", rows.len())
            })?;
            Ok((n, elapsed))
        })
    }
}

/// Checks what `bulk_create` yielded: every row, each with the id the server gave it.
fn check_stored(stored: &[BenchInsert], want: usize) -> Res<()> {
    ensure(
        stored.len() == want && stored.iter().all(|r| r.id.is_some()),
        || {
            format!(
                "bulk_create yielded {} rows ({} without an id), wanted {want}",
                stored.len(),
                stored.iter().filter(|r| r.id.is_none()).count()
            )
        },
    )
}

async fn smol_query(db: &surql_smol::Surreal, sql: &str, n: usize) -> Res<Vec<QueryRow>> {
    let mut r = db.query(sql).bind(("n", n as i64)).await?;
    Ok(r.take(0)?)
}

async fn smol_round_trip(db: &surql_smol::Surreal, x: i64) -> Res<()> {
    let mut r = db.query(ROUND_TRIP_SQL).bind(("x", x)).await?;
    let got: i64 = r.take(0)?;
    ensure(got == x, || format!("RETURN $x gave {got}, wanted {x}"))
}

/// surql-blocking.
struct Blocking(surql_blocking::Surreal);

impl Blocking {
    fn connect(url: &str) -> Res<Blocking> {
        let db = surql_blocking::Surreal::connect(url)?;
        db.signin(&Credentials::root(ROOT_USER, ROOT_PASS))?;
        db.use_ns_db(NS, DB)?;
        Ok(Blocking(db))
    }
}

impl Contender for Blocking {
    fn round_trips(&mut self, n: usize) -> Run {
        let start = Instant::now();
        for i in 0..n {
            blocking_round_trip(&self.0, i as i64)?;
        }
        Ok((n, start.elapsed()))
    }

    /// 32 threads sharing one client.
    fn concurrent(&mut self, per_caller: usize) -> Run {
        let db = &self.0;
        run_threads(0..CONCURRENCY, |c| {
            for i in 0..per_caller {
                blocking_round_trip(db, (c * per_caller + i) as i64)?;
            }
            Ok(per_caller)
        })
    }

    fn insert(&mut self, table: &str, rows: &[NewRow]) -> Run {
        let sql = insert_sql(table);
        let start = Instant::now();
        for chunk in rows.chunks(BATCH) {
            self.0
                .query(sql.as_str())
                .bind(("rows", chunk))
                .run()?
                .check()?;
        }
        Ok((rows.len(), start.elapsed()))
    }

    fn select(&mut self, n: usize) -> Run {
        let start = Instant::now();
        let rows: Vec<Row> = self.0.select(SELECT_TABLE)?;
        let elapsed = start.elapsed();
        ensure(rows.len() == n, || {
            format!("select gave {} rows, wanted {n}", rows.len())
        })?;
        Ok((n, elapsed))
    }

    fn query(&mut self, n: usize) -> Run {
        let start = Instant::now();
        let rows = blocking_query(&self.0, QUERY_SQL, n)?;
        let elapsed = start.elapsed();
        ensure(rows.len() == n, || {
            format!("query gave {} rows, wanted {n}", rows.len())
        })?;
        Ok((n, elapsed))
    }

    fn model_insert(&mut self, rows: &[BenchInsert]) -> Run {
        let start = Instant::now();
        let stored =
            <BenchInsert as surql_blocking::ModelExt>::bulk_create(&self.0, rows, MODEL_BULK)?;
        let elapsed = start.elapsed();
        check_stored(&stored, rows.len())?;
        Ok((rows.len(), elapsed))
    }

    fn model_all(&mut self, n: usize) -> Run {
        let start = Instant::now();
        let rows = surql_blocking::ModelQuerySetExt::all(&BenchPerson::objects(), &self.0)?;
        let elapsed = start.elapsed();
        ensure(rows.len() == n, || {
            format!("model all gave {} rows, wanted {n}", rows.len())
        })?;
        Ok((n, elapsed))
    }
}

fn blocking_query(db: &surql_blocking::Surreal, sql: &str, n: usize) -> Res<Vec<QueryRow>> {
    let mut r = db.query(sql).bind(("n", n as i64)).run()?;
    Ok(r.take(0)?)
}

fn blocking_round_trip(db: &surql_blocking::Surreal, x: i64) -> Res<()> {
    let mut r = db.query(ROUND_TRIP_SQL).bind(("x", x)).run()?;
    let got: i64 = r.take(0)?;
    ensure(got == x, || format!("RETURN $x gave {got}, wanted {x}"))
}

// --- measuring -----------------------------------------------------------------------------

/// The floor and the two drivers on one transport.
struct Transport {
    name: &'static str,
    /// floor, smol, blocking
    contenders: [Box<dyn Contender>; 3],
}

const CONTENDER_NAMES: [&str; 3] = ["floor", "smol", "blocking"];

/// The median of `samples` (the mean of the middle two for an even count); 0 for none.
fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    let n = samples.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => samples[n / 2],
        _ => (samples[n / 2 - 1] + samples[n / 2]) / 2.0,
    }
}

/// The order of the contenders in repetition `rep`: rotated by one each time, so over the
/// repetitions each runs first, second and third alike and none always follows the same
/// one. (A fixed order can favour or penalise a contender by its place: the same thread
/// runs all three, and what one leaves behind, such as the scheduler's view of that thread,
/// may colour the next; `benches/README.md` has the comparison.)
fn rotation<const N: usize>(rep: usize) -> [usize; N] {
    std::array::from_fn(|k| (k + rep) % N)
}

/// Slices per repetition of the sequential rows (see [`sliced_round_trips`]).
const SLICES: usize = 10;

/// One repetition of the sequential row for `N` contenders, taken in [`SLICES`] slices of
/// `n / SLICES` calls each, the contenders interleaved slice by slice (order rotated per
/// slice); returns each contender's calls/s over its slices. A repetition of 2,000 calls
/// takes about half a second per contender, and this host's load changes on that scale:
/// run whole, one contender could get a quiet half second and the next a busy one. In
/// slices of ~50 ms all of them see the same conditions.
fn sliced_round_trips<const N: usize>(
    rep: usize,
    n: usize,
    mut run: impl FnMut(usize, usize) -> Run,
) -> Res<[f64; N]> {
    let per = (n / SLICES).max(1);
    let mut total = [(0usize, Duration::ZERO); N];
    for slice in 0..SLICES {
        for i in rotation::<N>(rep * SLICES + slice) {
            let (ops, took) = run(i, per)?;
            total[i].0 += ops;
            total[i].1 += took;
        }
    }
    Ok(total.map(rate))
}

/// Measures every contender of `t`, interleaved: each repetition runs the floor and both
/// drivers back to back (in the order [`rotation`] gives), so a burst of load from elsewhere
/// hits all three alike; the sequential row goes in slices ([`sliced_round_trips`]). Each
/// rate is the median of the repetitions.
fn measure(t: &mut Transport, w: &Workload, admin: &Admin) -> Res<([Rates; 3], Paired)> {
    // samples[contender][workload]
    let mut samples: [[Vec<f64>; 7]; 3] = Default::default();
    for c in t.contenders.iter_mut() {
        c.round_trips(200)?; // warm-up
        c.select(w.select_rows)?;
        if w.enabled[QUERY] {
            c.query(w.query_rows)?;
        }
        if w.enabled[MODEL_ALL] {
            c.model_all(w.select_rows)?;
        }
    }
    let tables = CONTENDER_NAMES.map(|c| format!("ins_{}_{c}", t.name));
    // The 32-caller and `query` rows take three times the repetitions: one repetition of
    // either is a single measurement of ~0.1-1 s per contender, and on this host a run's
    // median of 9 of them scattered 77-114 % of the floor from run to run (27: 86-95 %).
    let reps = |k: usize| match k {
        _ if !w.enabled[k] => 0,
        CONCURRENT | QUERY => w.reps * 3,
        _ => w.reps,
    };
    let model_table = BenchInsert::META.table;
    // The sequential row, interleaved in slices.
    for rep in 0..reps(0) {
        let rates =
            sliced_round_trips::<3>(rep, w.round_trips, |i, n| t.contenders[i].round_trips(n))?;
        for (i, r) in rates.into_iter().enumerate() {
            samples[i][0].push(r);
        }
    }
    for k in 1..samples[0].len() {
        for rep in 0..reps(k) {
            for i in rotation::<3>(rep) {
                let c = &mut t.contenders[i];
                let r = match k {
                    1 => rate(c.concurrent(w.per_caller)?),
                    2 => {
                        admin.reset_table(&tables[i])?;
                        let r = rate(c.insert(&tables[i], &w.insert_rows)?);
                        // A failing statement must not pass for a fast one.
                        admin.expect_rows(&tables[i], w.insert_rows.len())?;
                        r
                    }
                    3 => rate(c.select(w.select_rows)?),
                    QUERY => rate(c.query(w.query_rows)?),
                    MODEL_INSERT => {
                        // One table for every contender (the model's table is fixed at
                        // compile time), emptied before each and its row count checked after.
                        admin.reset_table(model_table)?;
                        let r = rate(c.model_insert(&w.model_rows)?);
                        admin.expect_rows(model_table, w.model_rows.len())?;
                        r
                    }
                    MODEL_ALL => rate(c.model_all(w.select_rows)?),
                    _ => unreachable!("six more timed workloads"),
                };
                samples[i][k].push(r);
            }
        }
    }
    for table in &tables {
        admin.reset_table(table)?;
    }
    admin.reset_table(model_table)?;
    let paired =
        [1, 2].map(|i| std::array::from_fn(|k| paired_ratio(&samples[i][k], &samples[0][k])));
    let rates = samples.map(
        |[rt, conc, insert, select, query, model_insert, model_all]| Rates {
            round_trip: median(rt),
            concurrent: median(conc),
            insert: median(insert),
            select: median(select),
            query: median(query),
            model_insert: median(model_insert),
            model_all: median(model_all),
        },
    );
    Ok((rates, paired))
}

/// Per workload (in table order), smol's and blocking's paired ratio to the floor (see
/// [`paired_ratio`]); NaN for a workload not run.
type Paired = [[f64; 7]; 2];

/// The median over the repetitions of `driver`'s rate over `floor`'s in the SAME repetition
/// (NaN without samples). The table's ratio is of the two medians, which pairs nothing: a
/// repetition on a busy second of this host counts against the floor in one sample and
/// against a driver in another. Printed beside it to read a miss against.
fn paired_ratio(driver: &[f64], floor: &[f64]) -> f64 {
    if driver.is_empty() {
        return f64::NAN;
    }
    median(
        driver
            .iter()
            .zip(floor)
            .map(|(d, f)| d / f.max(f64::MIN_POSITIVE))
            .collect(),
    )
}

/// The paired ratios' line under the table (see [`paired_ratio`]).
fn paired_line(results: &[(&str, Paired)]) -> String {
    const NAMES: [&str; 7] = [
        "sequential",
        "32 callers",
        "insert",
        "select",
        "query + take",
        "bulk_create",
        "objects().all()",
    ];
    let per_transport: Vec<String> = results
        .iter()
        .map(|(transport, [smol, blocking])| {
            let cells: Vec<String> = NAMES
                .iter()
                .enumerate()
                .filter(|(k, _)| !smol[*k].is_nan())
                .map(|(k, name)| {
                    format!(
                        "{name} {:.0} / {:.0}%",
                        smol[k] * 100.0,
                        blocking[k] * 100.0
                    )
                })
                .collect();
            format!("{transport}: {}", cells.join(", "))
        })
        .collect();
    format!(
        "paired ratios, smol / blocking (each repetition's driver rate over the floor's in the \
         same repetition, median over the repetitions; the table gives the ratio of the \
         medians): {}.\n",
        per_transport.join("; ")
    )
}

// --- memory: one child process per client --------------------------------------------------

/// A `/proc/self/status` figure in KiB (`VmHWM` = peak RSS, `VmRSS` = current RSS).
fn proc_status_kib(field: &str) -> Res<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().strip_suffix("kB")?.trim().parse().ok())
        .ok_or_else(|| format!("no {field} in /proc/self/status").into())
}

/// The child side of `mem`: `e2e --rss-child <floor|smol|blocking> <ws|http> <addr> <rows>`.
/// Reads `rows` rows through `query` (the floor: only the reply), then prints its peak RSS
/// before verifying anything, so the check's own allocations are not counted.
fn rss_child(args: &[String]) -> Res<()> {
    let [client, transport, addr, rows] = args else {
        return Err(format!(
            "{RSS_CHILD_FLAG} wants <client> <transport> <addr> <rows>, got {args:?}"
        )
        .into());
    };
    let n: usize = rows
        .parse()
        .map_err(|_| format!("bad row count {rows:?}"))?;
    let url = format!("{transport}://{addr}");
    let before = proc_status_kib("VmRSS")?;
    let report = |got: usize| -> Res<()> {
        let peak = proc_status_kib("VmHWM")?;
        println!("rss-child before_kib={before} peak_kib={peak}");
        ensure(got == n, || {
            format!("the {client} child read {got} rows, wanted {n}")
        })
    };
    match (client.as_str(), transport.as_str()) {
        ("floor", "ws") => {
            let mut raw = RawWs::connect(addr)?;
            let f = raw.frame(&query_request(MEM_SQL, n));
            let reply = raw.call(&f)?;
            let peak = proc_status_kib("VmHWM")?;
            let got = query_reply_rows(&reply, "query")?;
            println!("rss-child before_kib={before} peak_kib={peak}");
            ensure(got == n, || {
                format!("the floor child read {got} rows, wanted {n}")
            })
        }
        ("floor", "http") => {
            let mut floor = FloorHttp::connect(addr)?;
            let req = http_bytes(&floor.session, &floor.addr, &query_request(MEM_SQL, n))?;
            let status = floor.raw.exchange(&req)?;
            let peak = proc_status_kib("VmHWM")?;
            ensure(status == 200, || {
                format!("query over HTTP answered {status}")
            })?;
            let got = query_reply_rows(&floor.raw.body, "query over HTTP")?;
            println!("rss-child before_kib={before} peak_kib={peak}");
            ensure(got == n, || {
                format!("the floor child read {got} rows, wanted {n}")
            })
        }
        ("smol", _) => {
            let db = Smol::connect(&url)?;
            let rows = async_io::block_on(smol_query(&db.0, MEM_SQL, n))?;
            report(rows.len())
        }
        ("blocking", _) => {
            let db = Blocking::connect(&url)?;
            let rows = blocking_query(&db.0, MEM_SQL, n)?;
            report(rows.len())
        }
        _ => Err(format!("{RSS_CHILD_FLAG}: unknown client/transport {client}/{transport}").into()),
    }
}

/// Peak RSS of one child (`client` on `transport`) reading `rows` rows, in KiB, and its RSS
/// before the query.
fn child_peak(client: &str, transport: &str, addr: &str, rows: usize) -> Res<(u64, u64)> {
    let exe = std::env::current_exe()?;
    let out = Command::new(exe)
        .args([RSS_CHILD_FLAG, client, transport, addr, &rows.to_string()])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure(out.status.success(), || {
        format!(
            "the {client}/{transport} memory child failed ({}): {stdout}",
            out.status
        )
    })?;
    let field = |name: &str| -> Option<u64> {
        stdout
            .split_whitespace()
            .find_map(|w| w.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
    };
    match (field("peak_kib"), field("before_kib")) {
        (Some(peak), Some(before)) => Ok((peak, before)),
        _ => Err(
            format!("the {client}/{transport} memory child printed no figures: {stdout:?}").into(),
        ),
    }
}

/// The `mem` table: each client's peak RSS per transport, one child at a time.
fn memory_table(addr: &str, rows: usize) -> Res<String> {
    let mut out = format!(
        "| {rows} rows via `query` into `Vec<QueryRow>` | transport | peak RSS | RSS before the query | peak / floor peak |\n\
         |---|---|---:|---:|---:|\n"
    );
    for transport in ["ws", "http"] {
        let mut floor = 0;
        for client in CONTENDER_NAMES {
            let (peak, before) = child_peak(client, transport, addr, rows)?;
            if client == "floor" {
                floor = peak;
            }
            let mib = |k: u64| format!("{:.1} MiB", k as f64 / 1024.0);
            out.push_str(&format!(
                "| {} | {transport} | {} | {} | {:.2} |\n",
                if client == "floor" {
                    "floor (reads the reply only)"
                } else {
                    client
                },
                mib(peak),
                mib(before),
                peak as f64 / floor.max(1) as f64
            ));
        }
    }
    Ok(out)
}

// --- report --------------------------------------------------------------------------------

fn fmt_rate(r: f64) -> String {
    let s = (r.round() as u64).to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The Markdown table: one line per operation and transport; `results` holds the rates of
/// floor, smol and blocking per transport name.
fn table(results: &[(&str, [Rates; 3])], w: &Workload) -> String {
    type Pick = fn(&Rates) -> f64;
    let ops: [(String, Pick, f64); 7] = [
        (
            format!("{} sequential `RETURN $x` (calls/s)", w.round_trips),
            |r| r.round_trip,
            0.90,
        ),
        (
            format!(
                "{CONCURRENCY} concurrent callers × {} `RETURN $x` (calls/s)",
                w.per_caller
            ),
            |r| r.concurrent,
            0.90,
        ),
        (
            format!(
                "insert {} rows, batches of {BATCH} (rows/s)",
                w.insert_rows.len()
            ),
            |r| r.insert,
            0.90,
        ),
        (
            format!("select {} rows into `Vec<Row>` (rows/s)", w.select_rows),
            |r| r.select,
            0.75,
        ),
        (
            format!(
                "query `{QUERY_SQL}` ($n = {}) + `take::<Vec<QueryRow>>(0)` (rows/s)",
                w.query_rows
            ),
            |r| r.query,
            0.85,
        ),
        (
            format!(
                "`BenchInsert::bulk_create` {} rows, batches of {BATCH}, stored rows decoded (rows/s)",
                w.model_rows.len()
            ),
            |r| r.model_insert,
            0.90,
        ),
        (
            format!(
                "`BenchPerson::objects().all()`, {} rows (rows/s)",
                w.select_rows
            ),
            |r| r.model_all,
            0.75,
        ),
    ];
    let mut out = String::from(
        "| operation | transport | floor | surql-smol | smol/floor | surql-blocking | blocking/floor | target |\n\
         |---|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for ((name, pick, target), _) in ops.iter().zip(w.enabled).filter(|(_, on)| *on) {
        for (transport, [floor, smol, blocking]) in results {
            let floor = pick(floor);
            let ratio = |r: &Rates| {
                let x = pick(r) / floor.max(1e-9);
                let mark = if x >= *target { "" } else { " ✗" };
                format!("{:.0}%{mark}", x * 100.0)
            };
            out.push_str(&format!(
                "| {name} | {transport} | {} | {} | {} | {} | {} | ≥ {:.0}% |\n",
                fmt_rate(floor),
                fmt_rate(pick(smol)),
                ratio(smol),
                fmt_rate(pick(blocking)),
                ratio(blocking),
                target * 100.0
            ));
        }
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(RSS_CHILD_FLAG) {
        if let Err(e) = rss_child(&args[1..]) {
            eprintln!("e2e {RSS_CHILD_FLAG}: {e}");
            std::process::exit(1);
        }
        return;
    }
    if let Err(e) = run() {
        eprintln!("e2e: {e}");
        std::process::exit(1);
    }
}

fn run() -> Res<()> {
    let began = Instant::now();
    let w = Workload::from_env()?;
    check_model_floors(&w)?;
    let started;
    let addr = match std::env::var("SURREAL_URL") {
        Ok(_) => {
            started = None;
            Server::shared().addr.clone()
        }
        Err(_) => {
            eprintln!("e2e: starting an in-memory SurrealDB server…");
            let s = Server::start(&Storage::Memory, None)?;
            let addr = s.addr.clone();
            started = Some(s);
            addr
        }
    };
    let ws_url = format!("ws://{addr}");
    let http_url = format!("http://{addr}");
    let admin = Admin::connect(&ws_url)?;
    eprintln!(
        "e2e: server at {addr}; filling `{SELECT_TABLE}` with {} rows…",
        w.select_rows
    );
    admin.fill_select_table(w.select_rows)?;
    for (on, table, n) in [
        (w.enabled[QUERY], QUERY_TABLE, w.query_rows),
        (w.enabled[MEM], MEM_TABLE, w.mem_rows),
    ] {
        if on {
            eprintln!("e2e: filling `{table}` with {n} rows…");
            admin.fill(table, &query_rows(table, n))?;
        }
    }

    let mut results = Vec::new();
    let mut paired = Vec::new();
    let transports = [
        Transport {
            name: "ws",
            contenders: [
                Box::new(FloorWs(RawWs::connect(&addr)?)),
                Box::new(Smol::connect(&ws_url)?),
                Box::new(Blocking::connect(&ws_url)?),
            ],
        },
        Transport {
            name: "http",
            contenders: [
                Box::new(FloorHttp::connect(&addr)?),
                Box::new(Smol::connect(&http_url)?),
                Box::new(Blocking::connect(&http_url)?),
            ],
        },
    ];
    let timed = w.enabled[..MEM].iter().any(|on| *on);
    for mut t in transports {
        if !timed {
            break;
        }
        let start = Instant::now();
        let (rates, pairs) = measure(&mut t, &w, &admin)?;
        eprintln!(
            "e2e: {} measured in {:.1}s",
            t.name,
            start.elapsed().as_secs_f64()
        );
        results.push((t.name, rates));
        paired.push((t.name, pairs));
    }
    let reference = if w.enabled[0] {
        eprintln!("e2e: async reference…");
        Some(async_reference(&addr, &ws_url, &w)?)
    } else {
        None
    };
    let threads = if w.enabled[CONCURRENT] {
        eprintln!("e2e: threads reference…");
        Some(threads_reference(&addr, &ws_url, &w)?)
    } else {
        None
    };
    let memory = if w.enabled[MEM] {
        eprintln!("e2e: memory children, {} rows each…", w.mem_rows);
        Some(memory_table(&addr, w.mem_rows)?)
    } else {
        None
    };
    admin.reset_table(SELECT_TABLE)?;
    admin.reset_table(QUERY_TABLE)?;
    admin.reset_table(MEM_TABLE)?;
    admin.reset_table(BenchInsert::META.table)?;
    drop(admin);
    drop(started);
    println!(
        "\nsurql end-to-end vs raw floor, SurrealDB 3.3.5 in-memory at {addr}, median of {} \
         interleaved runs after warm-up ({} for the 32-caller and `query` rows; {:.0}s total; \
         load average at the end: {})\n",
        w.reps,
        w.reps * 3,
        began.elapsed().as_secs_f64(),
        std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|l| l.rsplitn(3, ' ').nth(2).map(str::to_owned))
            .unwrap_or_else(|| "unknown".into())
    );
    if timed {
        println!("{}", table(&results, &w));
        println!(
            "floor = pre-encoded CBOR frames on a bare socket, replies read but not decoded \
             (ws: tungstenite, 32 requests pipelined for the concurrency row; http: keep-alive \
             POST /rpc, one connection per concurrent caller). ✗ = below target.\n"
        );
        println!("{}", paired_line(&paired));
    }
    if let Some(r) = reference {
        println!("{r}");
    }
    if let Some(r) = threads {
        println!("{r}");
    }
    if let Some(m) = memory {
        println!("{m}");
        println!(
            "peak RSS = VmHWM of a child process that connects, runs the query and reads the \
             rows (the floor child only reads the reply frame)."
        );
    }
    Ok(())
}
