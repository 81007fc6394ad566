//! The transport against peers that are NOT SurrealDB: a wrong subprotocol, a non-HTTP
//! listener, garbage frames, a peer that hangs up. These check the driver's own error
//! paths (clear errors, no panic, no hang); SurrealDB behaviour is tested against the real
//! server in `smoke.rs`.

// tungstenite fixes the handshake callback's error type (a whole HTTP response).
#![allow(clippy::result_large_err)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use surql_blocking::{ConnectionEvent, Error, Options, Surreal};
use tungstenite::handshake::server::{Request, Response};
use tungstenite::http::HeaderValue;
use tungstenite::Message;

fn listener() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}", l.local_addr().unwrap());
    (l, url)
}

/// Accepts one WebSocket, answering with `protocol` (if any), then runs `then` on it.
fn serve_one(
    l: TcpListener,
    protocol: Option<&'static str>,
    then: impl FnOnce(&mut tungstenite::WebSocket<std::net::TcpStream>) + Send + 'static,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let (stream, _) = l.accept().unwrap();
        let callback = move |_req: &Request, mut resp: Response| {
            if let Some(p) = protocol {
                resp.headers_mut()
                    .insert("Sec-WebSocket-Protocol", HeaderValue::from_static(p));
            }
            Ok(resp)
        };
        if let Ok(mut ws) = tungstenite::accept_hdr(stream, callback) {
            then(&mut ws);
        }
    })
}

fn no_reconnect() -> Options {
    Options::default()
        .reconnect(false)
        .connect_timeout(Duration::from_secs(5))
        .request_timeout(Duration::from_secs(5))
}

#[test]
fn a_peer_without_the_cbor_subprotocol_is_refused() {
    let (l, url) = listener();
    let peer = serve_one(l, None, |_| {});
    match Surreal::connect_with(&url, no_reconnect()) {
        Err(Error::Connect { reason, .. }) => assert!(reason.contains("cbor"), "{reason}"),
        other => panic!("expected a connect error, got {other:?}"),
    }
    peer.join().unwrap();
}

#[test]
fn a_peer_that_is_not_http_is_a_connect_error() {
    let (l, url) = listener();
    let peer = thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf);
        let _ = s.write_all(b"SSH-2.0-OpenSSH\r\n");
    });
    let e = Surreal::connect_with(&url, no_reconnect()).unwrap_err();
    assert!(matches!(e, Error::Connect { .. }), "{e:?}");
    assert!(e.to_string().contains("handshake"), "{e}");
    peer.join().unwrap();
}

#[test]
fn garbage_frames_are_reported_and_a_hang_up_fails_pending_calls() {
    let (l, url) = listener();
    let (got_request, request_seen) = mpsc::channel();
    let peer = serve_one(l, Some("cbor"), move |ws| {
        // Wait for the client's request, answer garbage, then hang up.
        if let Ok(Message::Binary(b)) = ws.read() {
            got_request.send(b.to_vec()).unwrap();
        }
        ws.send(Message::Binary(vec![0xff, 0x00, 0x13].into()))
            .unwrap();
        thread::sleep(Duration::from_millis(100));
    });
    let db = Surreal::connect_with(&url, no_reconnect()).unwrap();
    let events = db.events().unwrap();
    let e = db.ping().unwrap_err();
    // The ping went out as one CBOR map naming the method.
    let sent = request_seen.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(sent.windows(4).any(|w| w == b"ping"), "{sent:?}");
    assert!(
        matches!(e, Error::Disconnected { .. } | Error::Closed),
        "the peer hung up without answering: {e:?}"
    );
    let mut seen = Vec::new();
    while let Ok(ev) = events.recv_timeout(Duration::from_secs(5)) {
        let closed = ev == ConnectionEvent::Closed;
        seen.push(ev);
        if closed {
            break;
        }
    }
    assert!(
        seen.iter().any(|e| matches!(e, ConnectionEvent::Error(_))),
        "the garbage frame was not reported: {seen:?}"
    );
    assert!(seen.contains(&ConnectionEvent::Closed), "{seen:?}");
    // Without reconnecting, the connection is closed for good.
    assert!(db.ping().unwrap_err().is_closed());
    peer.join().unwrap();
}
