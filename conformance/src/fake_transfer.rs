//! A fake server for the streaming tests of `export` / `import`: answers `/rpc` calls (so a
//! client can `use` a namespace/database) with an empty CBOR result, and `/export` /
//! `/import` as scripted: a long chunked dump, a stall, or a count of the bytes received.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What the fake does on `/export` and `/import`.
#[derive(Clone, Copy, Debug)]
pub enum Script {
    /// `/export` sends `total` bytes of SurrealQL in chunks of `chunk`; `/import` reads the
    /// whole chunked body and answers `[]`.
    Stream {
        /// Bytes of the dump.
        total: u64,
        /// Bytes per HTTP chunk.
        chunk: usize,
    },
    /// Answers the head (200, chunked), sends one chunk, then stalls (the socket stays open).
    Stall,
}

/// A running fake; `received` counts the import body bytes it read.
pub struct FakeTransfer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Import body bytes received (decoded).
    pub received: Arc<AtomicU64>,
}

impl FakeTransfer {
    /// Starts the fake on a free port (a thread per connection; it lives as long as the
    /// test process).
    pub fn start(script: Script) -> FakeTransfer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(AtomicU64::new(0));
        let count = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let count = count.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, script, &count);
                });
            }
        });
        FakeTransfer { url, received }
    }
}

fn serve(stream: TcpStream, script: Script, count: &AtomicU64) -> std::io::Result<()> {
    let mut out = stream.try_clone()?;
    let mut r = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
        let (mut length, mut chunked) = (0usize, false);
        loop {
            let mut h = String::new();
            r.read_line(&mut h)?;
            let h = h.trim_end().to_ascii_lowercase();
            if h.is_empty() {
                break;
            }
            if let Some(v) = h.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            if h.starts_with("transfer-encoding:") && h.contains("chunked") {
                chunked = true;
            }
        }
        let mut body = vec![0u8; length];
        r.read_exact(&mut body)?;
        if chunked {
            loop {
                let mut size = String::new();
                r.read_line(&mut size)?;
                let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                let mut data = vec![0u8; n + 2];
                r.read_exact(&mut data)?;
                if n == 0 {
                    break;
                }
                count.fetch_add(n as u64, Ordering::SeqCst);
            }
        }
        match (path.as_str(), script) {
            ("/rpc", _) => {
                // `{"result": NONE}` in CBOR: map(1), "result", tag 6 (NONE) of null.
                let answer = [0xa1, 0x66, b'r', b'e', b's', b'u', b'l', b't', 0xc6, 0xf6];
                write!(
                    out,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                    answer.len()
                )?;
                out.write_all(&answer)?;
            }
            ("/export", Script::Stream { total, chunk }) => {
                out.write_all(
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
                )?;
                let line = b"CREATE thing SET n = 1;\n";
                let mut sent = 0u64;
                while sent < total {
                    let n = (chunk as u64).min(total - sent) as usize;
                    let data: Vec<u8> = line.iter().copied().cycle().take(n).collect();
                    write!(out, "{n:x}\r\n")?;
                    out.write_all(&data)?;
                    out.write_all(b"\r\n")?;
                    sent += n as u64;
                }
                out.write_all(b"0\r\n\r\n")?;
                return Ok(());
            }
            ("/import", Script::Stream { .. }) => {
                out.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/cbor\r\nContent-Length: 1\r\nConnection: close\r\n\r\n\x80")?;
                return Ok(());
            }
            (_, Script::Stall) => {
                if path == "/export" {
                    out.write_all(
                        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nOPTIO\r\n",
                    )?;
                }
                // `/import`: the body was read; no answer ever comes.
                std::thread::sleep(Duration::from_secs(30));
                return Ok(());
            }
            _ => return Ok(()),
        }
    }
}
