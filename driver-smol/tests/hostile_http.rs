//! The HTTP transport against a hostile or broken peer (a scripted fake server, not
//! SurrealDB): every failure is the right kind of error, comes within a bound derived from
//! `Options`, never sends a request twice, and leaves the handle usable for the next call.

use std::time::{Duration, Instant};

use futures_lite::future::block_on;
use surql::TlsOptions;
use surql_conformance::fake_http::{tls, Act, FakeHttp, VERSION};
use surql_smol::{Options, Surreal};

const TIMEOUT: Duration = Duration::from_millis(300);
/// Far above `TIMEOUT`, far below the defaults (a missing bound would take 30 s or hang).
const BOUND: Duration = Duration::from_secs(2);

fn options() -> Options {
    Options::default()
        .request_timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
}

fn connect(server: &FakeHttp) -> Surreal {
    block_on(Surreal::connect_with(&server.url, options())).expect("connect")
}

/// The error in the shared `surql::Error` shape (the identity once the driver's error is
/// `surql::Error`).
#[allow(clippy::useless_conversion)]
fn shared(e: surql_smol::Error) -> surql::Error {
    surql::Error::from(e)
}

/// Runs `f`, checks it failed within [`BOUND`], and returns the error.
fn fails_fast<T: std::fmt::Debug>(
    f: impl std::future::Future<Output = surql_smol::Result<T>>,
) -> surql::Error {
    let start = Instant::now();
    let result = block_on(f);
    let took = start.elapsed();
    assert!(took < BOUND, "took {took:?}");
    shared(result.expect_err("the hostile exchange must fail"))
}

/// The next call on the same handle gets the fake server's proper answer.
fn next_call_works(db: &Surreal) {
    assert_eq!(block_on(db.version()).expect("the next call"), VERSION);
}

#[test]
fn a_silent_server_times_out_within_the_request_timeout() {
    let server = FakeHttp::start(vec![Act::Silent]);
    let db = connect(&server);
    let e = fails_fast(db.ping());
    assert!(
        matches!(&e, surql::Error::Timeout { after, .. } if *after == TIMEOUT),
        "{e:?}"
    );
    assert!(e.is_timeout());
    assert_eq!(server.count(), 1, "sent once");
    next_call_works(&db);
    assert_eq!(server.count(), 2);
}

#[test]
fn a_hang_up_before_the_reply_is_disconnected_and_never_resent() {
    // On a fresh connection, then on a pooled (kept-alive, still open) one.
    let server = FakeHttp::start(vec![Act::Close, Act::Reply, Act::Close]);
    let db = connect(&server);
    let data = [("name", "x")];
    let e = fails_fast(db.create::<surql::Value>("person", data));
    assert!(
        matches!(&e, surql::Error::Disconnected { method, .. } if method == "create"),
        "{e:?}"
    );
    assert!(e.to_string().contains("may or may not have run"), "{e}");
    assert_eq!(server.count(), 1, "the create was sent again");
    next_call_works(&db);
    let e = fails_fast(db.create::<surql::Value>("person", data));
    assert!(e.is_disconnected(), "{e:?}");
    assert_eq!(
        server.count(),
        3,
        "the create was sent again on a new connection"
    );
    next_call_works(&db);
    assert_eq!(server.count(), 4);
}

#[test]
fn a_trickling_answer_is_cut_at_the_request_timeout() {
    // A valid answer, one byte a millisecond: it would take over a minute.
    let mut reply = b"HTTP/1.1 200 OK\r\nContent-Length: 65536\r\n\r\n".to_vec();
    reply.resize(reply.len() + 65536, 0xf6);
    let server = FakeHttp::start(vec![Act::Drip(reply)]);
    let db = connect(&server);
    let e = fails_fast(db.ping());
    assert!(e.is_timeout(), "{e:?}");
    assert_eq!(server.count(), 1);
    next_call_works(&db);
}

#[test]
fn a_garbage_status_line_is_an_http_error() {
    let server = FakeHttp::start(vec![Act::Raw(b"SSH-2.0-OpenSSH_9.6\r\n\r\n".to_vec())]);
    let db = connect(&server);
    let e = fails_fast(db.ping());
    assert!(matches!(&e, surql::Error::Http { status: 0, .. }), "{e:?}");
    assert_eq!(server.count(), 1);
    next_call_works(&db);
}

#[test]
fn a_chunked_body_drip_fed_byte_by_byte_is_read() {
    let body = surql_conformance::fake_http::cbor_result(VERSION);
    let mut reply = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for b in &body {
        reply.extend(b"1\r\n");
        reply.push(*b);
        reply.extend(b"\r\n");
    }
    reply.extend(b"0\r\n\r\n");
    let server = FakeHttp::start(vec![Act::Drip(reply)]);
    let db = block_on(Surreal::connect_with(
        &server.url,
        Options::default().request_timeout(Duration::from_secs(20)),
    ))
    .expect("connect");
    assert_eq!(block_on(db.version()).expect("drip-fed answer"), VERSION);
    // The connection was kept and serves the next call.
    next_call_works(&db);
    assert_eq!(server.count(), 2);
}

#[test]
fn an_overflowing_chunk_size_is_a_clean_error() {
    let reply = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nabc";
    let server = FakeHttp::start(vec![Act::Raw(reply.to_vec())]);
    let db = connect(&server);
    let e = fails_fast(db.ping());
    assert!(
        matches!(&e, surql::Error::Http { status: 200, .. }),
        "{e:?}"
    );
    assert_eq!(server.count(), 1);
    next_call_works(&db);
}

#[test]
fn an_endless_header_line_fails_fast_without_buffering_it() {
    let server = FakeHttp::start(vec![Act::Endless(
        b"HTTP/1.1 200 OK\r\nX-Endless: ".to_vec(),
    )]);
    let db = connect(&server);
    let e = fails_fast(db.ping());
    match &e {
        surql::Error::Http { message, .. } => assert!(message.contains("longer than"), "{message}"),
        other => panic!("expected an HTTP error, got {other:?}"),
    }
    assert_eq!(server.count(), 1);
    next_call_works(&db);
}

#[test]
fn a_content_length_over_the_limit_is_refused_before_allocating() {
    // 1 TiB: allocating it would abort the test process.
    let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 1099511627776\r\n\r\nabc".to_vec();
    let server = FakeHttp::start(vec![Act::Raw(reply)]);
    let db = connect(&server);
    let e = fails_fast(db.ping());
    match &e {
        surql::Error::Http {
            status: 200,
            message,
        } => {
            assert!(message.contains("limit"), "{message}")
        }
        other => panic!("expected an HTTP error, got {other:?}"),
    }
    assert_eq!(server.count(), 1);
    next_call_works(&db);
}

#[test]
fn an_idle_connection_closed_by_the_server_is_replaced_transparently() {
    let server = FakeHttp::start(vec![Act::ReplyThenClose]);
    let db = connect(&server);
    next_call_works(&db);
    // Let the server's close reach the pooled connection.
    std::thread::sleep(Duration::from_millis(200));
    let start = Instant::now();
    next_call_works(&db);
    assert!(start.elapsed() < BOUND);
    assert_eq!(server.count(), 2, "one request each, none lost or doubled");
}

#[test]
fn a_namespace_with_a_line_break_is_refused_and_nothing_is_sent() {
    let server = FakeHttp::start(vec![]);
    let db = connect(&server);
    let e = shared(block_on(db.use_ns("app\r\nX-Injected: 1")).expect_err("refused"));
    match &e {
        surql::Error::Invalid { what, .. } => assert!(what.contains("namespace"), "{what}"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_eq!(server.count(), 0, "something was sent");
    next_call_works(&db);
    let heads: Vec<String> = server
        .requests()
        .iter()
        .map(|r| {
            String::from_utf8_lossy(r)
                .split("\r\n\r\n")
                .next()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    assert!(heads.iter().all(|h| !h.contains("X-Injected")), "{heads:?}");
}

#[test]
fn health_is_bounded_by_the_options() {
    let server = FakeHttp::start(vec![Act::Silent]);
    let db = connect(&server);
    let e = fails_fast(db.health());
    assert!(e.is_timeout(), "{e:?}");
}

#[test]
fn an_ipv6_host_is_bracketed_in_the_host_header() {
    let server = FakeHttp::start_on("[::1]:0", vec![]);
    assert!(server.url.starts_with("http://[::1]:"), "{}", server.url);
    let db = block_on(Surreal::connect_with(&server.url, options())).expect("connect");
    next_call_works(&db);
    let head = String::from_utf8_lossy(&server.requests()[0]).to_ascii_lowercase();
    let authority = server.url.trim_start_matches("http://");
    assert!(
        head.contains(&format!("\r\nhost: {authority}\r\n")),
        "{head}"
    );
}

#[test]
fn https_trusts_the_extra_root_and_presents_the_client_certificate() {
    let server = FakeHttp::start_https(vec![], true);
    let trust = TlsOptions::default()
        .only_extra_roots()
        .add_root_pem(tls::CA)
        .client_cert(tls::CLIENT_CERT, tls::CLIENT_KEY);
    let db = block_on(Surreal::connect_with(&server.url, options().tls(trust))).expect("connect");
    next_call_works(&db);
    next_call_works(&db);
    assert_eq!(server.count(), 2);
}

#[test]
fn https_refuses_an_unknown_issuer_and_a_missing_client_certificate() {
    let server = FakeHttp::start_https(vec![], true);
    // The public roots do not know the test CA.
    let db = connect(&server);
    let e = fails_fast(db.version());
    match &e {
        surql::Error::Connect { reason, .. } => {
            assert!(reason.to_lowercase().contains("certificate"), "{reason}")
        }
        other => panic!("expected a connect error, got {other:?}"),
    }
    // Trusting the CA but presenting no client certificate: the server refuses.
    let trust = TlsOptions::default()
        .only_extra_roots()
        .add_root_pem(tls::CA);
    let db = block_on(Surreal::connect_with(&server.url, options().tls(trust))).expect("connect");
    let e = fails_fast(db.version());
    // With TLS 1.3 the refusal arrives after the client has sent its request.
    assert!(
        matches!(
            &e,
            surql::Error::Disconnected { .. } | surql::Error::Connect { .. }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("Certificate"), "{e}");
    assert_eq!(server.count(), 0, "no request may get through");
}
