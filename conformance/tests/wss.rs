//! Both drivers over `wss://` against a fake TLS WebSocket server with the test PKI of
//! `fake_http::tls` (not SurrealDB: its TLS set-up is not part of the harness). The upgrade
//! runs over TLS with a client certificate, frames of every length encoding go both ways
//! through TLS records, a ping from the server is answered with its pong, and a server whose
//! issuer is not trusted is refused at connect.

// tungstenite fixes the handshake callback's error type (a whole HTTP response).
#![allow(clippy::result_large_err)]

use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use surql::value::{Object, Value};
use surql::TlsOptions;
use surql_conformance::fake_http::tls;
use tungstenite::handshake::server::{Request, Response};
use tungstenite::http::HeaderValue;
use tungstenite::Message;

const VERSION: &str = "surrealdb-fake-wss";
const PING: &[u8] = b"are you there";

/// What the fake server saw.
#[derive(Default, Debug)]
struct Log {
    methods: Vec<String>,
    pongs: Vec<Vec<u8>>,
}

struct FakeWss {
    url: String,
    log: Arc<Mutex<Log>>,
}

impl FakeWss {
    /// A server on 127.0.0.1 that requires a client certificate from the test CA.
    fn start() -> FakeWss {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("wss://{}", listener.local_addr().expect("address"));
        let config = Arc::new(tls::server_config(true));
        let log = Arc::new(Mutex::new(Log::default()));
        let shared = log.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let (config, log) = (config.clone(), shared.clone());
                thread::spawn(move || serve(stream, config, &log));
            }
        });
        FakeWss { url, log }
    }
}

/// Serves one connection: pings once before the first answer, answers `version` with
/// [`VERSION`] and `query` with its bound `$x` as the one statement's result.
fn serve(stream: TcpStream, config: Arc<rustls::ServerConfig>, log: &Mutex<Log>) {
    if stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .is_err()
    {
        return;
    }
    let Ok(conn) = rustls::ServerConnection::new(config) else {
        return;
    };
    let callback = |_: &Request, mut resp: Response| {
        resp.headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("cbor"));
        Ok(resp)
    };
    let Ok(mut ws) = tungstenite::accept_hdr(rustls::StreamOwned::new(conn, stream), callback)
    else {
        return;
    };
    let mut pinged = false;
    loop {
        let bytes = match ws.read() {
            Ok(Message::Binary(bytes)) => bytes,
            Ok(Message::Pong(p)) => {
                log.lock().unwrap().pongs.push(p.to_vec());
                continue;
            }
            Ok(Message::Close(_)) | Err(_) => return,
            Ok(_) => continue,
        };
        let Ok(Value::Object(req)) = surql::cbor::decode(&bytes) else {
            return;
        };
        let method = match req.get("method") {
            Some(Value::String(m)) => m.clone(),
            _ => return,
        };
        log.lock().unwrap().methods.push(method.clone());
        let result = match method.as_str() {
            "version" => Value::from(VERSION),
            "query" => {
                let x = match req.get("params") {
                    Some(Value::Array(p)) => match p.get(1) {
                        Some(Value::Object(vars)) => vars.get("x").cloned().unwrap_or(Value::None),
                        _ => Value::None,
                    },
                    _ => Value::None,
                };
                let mut statement = Object::new();
                statement.insert("status".into(), Value::from("OK"));
                statement.insert("time".into(), Value::from("1ms"));
                statement.insert("result".into(), x);
                Value::Array(vec![Value::Object(statement)])
            }
            _ => Value::None,
        };
        if !pinged {
            pinged = true;
            if ws.send(Message::Ping(PING.to_vec().into())).is_err() {
                return;
            }
        }
        let mut reply = Object::new();
        reply.insert("id".into(), req.get("id").cloned().unwrap_or(Value::None));
        reply.insert("result".into(), result);
        if ws
            .send(Message::Binary(
                surql::cbor::encode(&Value::Object(reply)).into(),
            ))
            .is_err()
        {
            return;
        }
    }
}

fn trust() -> TlsOptions {
    TlsOptions::default()
        .only_extra_roots()
        .add_root_pem(tls::CA)
        .client_cert(tls::CLIENT_CERT, tls::CLIENT_KEY)
}

/// Payloads whose frames take each length encoding both ways (7-bit, 16-bit, 64-bit).
fn texts() -> Vec<String> {
    [10usize, 300, 70_000, 300_000]
        .iter()
        .map(|n| (0..*n).map(|i| char::from(b'a' + (i % 26) as u8)).collect())
        .collect()
}

/// The server saw every request once and got the pong for its ping.
fn check_log(server: &FakeWss, queries: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let log = server.log.lock().unwrap();
        if !log.pongs.is_empty() || Instant::now() > deadline {
            assert_eq!(log.pongs, [PING.to_vec()], "{log:?}");
            let mut want = vec!["version".to_owned(); 2];
            want.extend(std::iter::repeat_n("query".to_owned(), queries));
            assert_eq!(log.methods, want);
            return;
        }
        drop(log);
        thread::sleep(Duration::from_millis(10));
    }
}

fn options() -> surql::Options {
    surql::Options::default()
        .connect_timeout(Duration::from_secs(5))
        .request_timeout(Duration::from_secs(5))
}

#[test]
fn blocking_speaks_wss_with_a_client_certificate() {
    let server = FakeWss::start();
    let db = surql_blocking::Surreal::connect_with(&server.url, options().tls(trust()))
        .expect("connect over wss");
    assert_eq!(db.version().expect("version"), VERSION);
    assert_eq!(db.version().expect("version again"), VERSION);
    let texts = texts();
    for text in &texts {
        let mut r = db
            .query("RETURN $x")
            .bind(("x", text.as_str()))
            .run()
            .expect("query");
        let got: String = r.take(0).expect("take");
        assert_eq!(&got, text, "{} bytes", text.len());
    }
    check_log(&server, texts.len());
}

#[test]
fn smol_speaks_wss_with_a_client_certificate() {
    let server = FakeWss::start();
    futures_lite::future::block_on(async {
        let db = surql_smol::Surreal::connect_with(&server.url, options().tls(trust()))
            .await
            .expect("connect over wss");
        assert_eq!(db.version().await.expect("version"), VERSION);
        assert_eq!(db.version().await.expect("version again"), VERSION);
        let texts = texts();
        for text in &texts {
            let mut r = db
                .query("RETURN $x")
                .bind(("x", text.as_str()))
                .await
                .expect("query");
            let got: String = r.take(0).expect("take");
            assert_eq!(&got, text, "{} bytes", text.len());
        }
        check_log(&server, texts.len());
    });
}

#[test]
fn both_drivers_refuse_a_server_whose_issuer_is_not_trusted() {
    let server = FakeWss::start();
    let reason = |e: surql::Error| match e {
        surql::Error::Connect { reason, .. } => reason,
        other => panic!("expected a connect error, got {other:?}"),
    };
    let e = surql_blocking::Surreal::connect_with(&server.url, options())
        .expect_err("the public roots do not know the test CA");
    let why = reason(e);
    assert!(why.to_lowercase().contains("certificate"), "{why}");
    let e =
        futures_lite::future::block_on(surql_smol::Surreal::connect_with(&server.url, options()))
            .expect_err("the public roots do not know the test CA");
    let why = reason(e);
    assert!(why.to_lowercase().contains("certificate"), "{why}");
    assert!(server.log.lock().unwrap().methods.is_empty());
}
