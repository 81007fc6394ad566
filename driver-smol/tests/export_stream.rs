//! `export` / `import` streaming against a fake server: a dump much larger than the buffer
//! moves in bounded chunks (never whole), and a stalled server fails the call in time.

use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_lite::future::block_on;
use futures_lite::io::{AsyncRead, AsyncWrite};
use surql_conformance::fake_transfer::{FakeTransfer, Script};
use surql_smol::{Options, Surreal};

const TOTAL: u64 = 16 << 20;

/// A writer that keeps only the size of the largest write and the total.
#[derive(Default)]
struct Sizes {
    largest: usize,
    total: u64,
}

impl AsyncWrite for Sizes {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.largest = self.largest.max(buf.len());
        self.total += buf.len() as u64;
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A reader producing `left` bytes without holding them, recording the largest read.
struct Generated {
    left: u64,
    largest: usize,
}

impl AsyncRead for Generated {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        self.largest = self.largest.max(buf.len());
        let n = (buf.len() as u64).min(self.left) as usize;
        buf[..n].fill(b' ');
        self.left -= n as u64;
        Poll::Ready(Ok(n))
    }
}

async fn client(url: &str, timeout: Duration) -> Surreal {
    let options = Options::default()
        .request_timeout(timeout)
        .connect_timeout(timeout);
    let db = Surreal::connect_with(url, options).await.expect("connect");
    db.use_ns_db("n", "d").await.expect("use");
    db
}

#[test]
fn a_large_dump_streams_through_bounded_chunks() {
    block_on(async {
        let server = FakeTransfer::start(Script::Stream {
            total: TOTAL,
            chunk: 1 << 20,
        });
        let db = client(&server.url, Duration::from_secs(10)).await;
        let mut sizes = Sizes::default();
        let mut calls = 0u64;
        let mut last = 0;
        let n = db
            .export(&mut sizes)
            .progress(|done| {
                calls += 1;
                assert!(done > last);
                last = done;
            })
            .await
            .expect("export");
        assert_eq!((n, sizes.total, last), (TOTAL, TOTAL, TOTAL));
        assert!(
            sizes.largest <= surql_smol::export::CHUNK,
            "{}",
            sizes.largest
        );
        assert!(calls >= TOTAL / surql_smol::export::CHUNK as u64);

        let mut input = Generated {
            left: TOTAL,
            largest: 0,
        };
        let sent = db.import(&mut input).await.expect("import");
        assert_eq!(sent, TOTAL);
        assert_eq!(server.received.load(Ordering::SeqCst), TOTAL);
        assert!(
            input.largest <= surql_smol::export::CHUNK,
            "{}",
            input.largest
        );
    })
}

#[test]
fn a_stalled_server_fails_the_transfer_in_time() {
    block_on(async {
        let server = FakeTransfer::start(Script::Stall);
        let db = client(&server.url, Duration::from_millis(500)).await;
        let started = Instant::now();
        let e = db
            .export(futures_lite::io::sink())
            .await
            .expect_err("stalled export");
        assert!(e.is_timeout(), "{e:?}");
        let e = db
            .import(&b"OPTION IMPORT;"[..])
            .await
            .expect_err("stalled import");
        assert!(e.is_timeout(), "{e:?}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    })
}
