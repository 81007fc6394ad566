//! `export` / `import` streaming against a fake server: a dump much larger than the buffer
//! moves in bounded chunks (never whole), and a stalled server fails the call in time.

use std::io::{Read, Write};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use surql_blocking::{Options, Surreal};
use surql_conformance::fake_transfer::{FakeTransfer, Script};

const TOTAL: u64 = 16 << 20;

/// A writer that keeps only the size of the largest write and the total.
#[derive(Default)]
struct Sizes {
    largest: usize,
    total: u64,
}

impl Write for Sizes {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.largest = self.largest.max(buf.len());
        self.total += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A reader producing `left` bytes of SurrealQL without holding them, recording the
/// largest read asked for.
struct Generated {
    left: u64,
    largest: usize,
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.largest = self.largest.max(buf.len());
        let n = (buf.len() as u64).min(self.left) as usize;
        buf[..n].fill(b' ');
        self.left -= n as u64;
        Ok(n)
    }
}

fn client(url: &str, timeout: Duration) -> Surreal {
    let options = Options::default()
        .request_timeout(timeout)
        .connect_timeout(timeout);
    let db = Surreal::connect_with(url, options).expect("connect");
    db.use_ns_db("n", "d").expect("use");
    db
}

#[test]
fn a_large_dump_streams_through_bounded_chunks() {
    let server = FakeTransfer::start(Script::Stream {
        total: TOTAL,
        chunk: 1 << 20,
    });
    let db = client(&server.url, Duration::from_secs(10));
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
        .run()
        .expect("export");
    assert_eq!((n, sizes.total, last), (TOTAL, TOTAL, TOTAL));
    assert!(
        sizes.largest <= surql_blocking::export::CHUNK,
        "{}",
        sizes.largest
    );
    assert!(calls >= TOTAL / surql_blocking::export::CHUNK as u64);

    let mut input = Generated {
        left: TOTAL,
        largest: 0,
    };
    let sent = db.import(&mut input).run().expect("import");
    assert_eq!(sent, TOTAL);
    assert_eq!(server.received.load(Ordering::SeqCst), TOTAL);
    assert!(
        input.largest <= surql_blocking::export::CHUNK,
        "{}",
        input.largest
    );
}

#[test]
fn a_stalled_server_fails_the_transfer_in_time() {
    let server = FakeTransfer::start(Script::Stall);
    let db = client(&server.url, Duration::from_millis(500));
    let started = Instant::now();
    let e = db
        .export(std::io::sink())
        .run()
        .expect_err("stalled export");
    assert!(e.is_timeout(), "{e:?}");
    let e = db
        .import(&b"OPTION IMPORT;"[..])
        .run()
        .expect_err("stalled import");
    assert!(e.is_timeout(), "{e:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}
