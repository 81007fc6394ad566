//! Finding, building, starting and stopping a REAL SurrealDB server for tests, benches and the demo.
//!
//! Lookup order: `SURREAL_URL` (a server somebody else runs, e.g. the official Docker image via
//! `docker-compose.yml`) → `SURREAL_BIN` (a `surreal` binary to start) → the cached build of
//! `conformance/server` (the official server from crates.io, pinned), built once with
//! `cargo install` into a cache directory outside the clone when it is missing.
//!
//! A started server never outlives the process that started it: it runs under a tiny `sh`
//! wrapper that reads the wrapper's stdin, a pipe held by this process. When this process exits
//! for any reason (even `SIGKILL`), the pipe closes, the wrapper's `read` returns and it kills
//! the server. No `Drop` on a `static` is needed (it would never run).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The pinned server version, also the name of the cache directory.
pub const SERVER_VERSION: &str = "3.3.5";
/// Root credentials every started server is given.
pub const ROOT_USER: &str = "root";
/// Root password every started server is given.
pub const ROOT_PASS: &str = "root";

/// Where the server comes from and where it listens.
#[derive(Debug)]
pub struct Server {
    /// `host:port` of the server.
    pub addr: String,
    process: Option<Process>,
}

#[derive(Debug)]
struct Process {
    child: Child,
    stdin: Option<ChildStdin>,
}

/// Storage for a started server.
#[derive(Debug, Clone)]
pub enum Storage {
    /// In-memory: data is gone when the server stops.
    Memory,
    /// On-disk SurrealKV at this directory: data and definitions survive a restart.
    SurrealKv(PathBuf),
}

impl Server {
    /// The process-wide shared server, started (and built, if needed) on first use.
    ///
    /// Panics with a message that says what to do if no server can be found, built or started:
    /// this is test support, and a test without a server cannot say anything useful.
    pub fn shared() -> &'static Server {
        static SHARED: OnceLock<Server> = OnceLock::new();
        SHARED.get_or_init(|| {
            if let Ok(url) = std::env::var("SURREAL_URL") {
                let addr = url
                    .trim_start_matches("ws://")
                    .trim_start_matches("http://")
                    .trim_end_matches('/')
                    .trim_end_matches("/rpc")
                    .to_owned();
                return Server {
                    addr,
                    process: None,
                };
            }
            Server::start(&Storage::Memory, None)
                .unwrap_or_else(|e| panic!("could not start a SurrealDB server: {e}"))
        })
    }

    /// Starts a new server of our own with `storage`, on `port` (a free one if `None`).
    pub fn start(storage: &Storage, port: Option<u16>) -> Result<Server, String> {
        let bin = server_binary()?;
        let port = match port {
            Some(p) => p,
            None => free_port()?,
        };
        let addr = format!("127.0.0.1:{port}");
        let path = match storage {
            Storage::Memory => "memory".to_owned(),
            Storage::SurrealKv(dir) => format!("surrealkv://{}", dir.display()),
        };
        // The wrapper starts the server in the background and waits for its own stdin to
        // close (this process exiting), then stops the server: SIGTERM, and SIGKILL if it
        // is still there 10 s later (some versions wait for open client connections).
        let script = r#""$@" </dev/null & pid=$!; read _ignored; kill -TERM $pid 2>/dev/null; i=0; while kill -0 $pid 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; kill -KILL $pid 2>/dev/null; wait $pid"#;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("surreal-wrapper")
            .arg(&bin)
            .args([
                "start", "--log", "warn", "--user", ROOT_USER, "--pass", ROOT_PASS,
            ])
            .args(["--bind", &addr, "--no-banner", &path])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let stdin = child.stdin.take();
        let mut server = Server {
            addr,
            process: Some(Process { child, stdin }),
        };
        server.wait_healthy(Duration::from_secs(60))?;
        Ok(server)
    }

    /// Stops a server this process started, and waits until it has exited.
    pub fn stop(&mut self) {
        if let Some(mut p) = self.process.take() {
            drop(p.stdin.take()); // the wrapper reads EOF and stops the server
                                  // Bounded: the wrapper escalates to SIGKILL after 10 s; should even that not
                                  // happen, the wrapper itself is killed rather than waited on forever.
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                match p.child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() >= deadline => {
                        // The exit status of a server we are abandoning carries no information.
                        let _ = p.child.kill();
                        let _ = p.child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        }
    }

    /// `ws://host:port` for this server.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// `http://host:port` for this server.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn wait_healthy(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            if http_get_status(&self.addr, "/health").ok() == Some(200) {
                return Ok(());
            }
            if let Some(p) = self.process.as_mut() {
                if let Ok(Some(status)) = p.child.try_wait() {
                    return Err(format!(
                        "the server on {} exited during start-up ({status})",
                        self.addr
                    ));
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the server on {} did not answer /health within {timeout:?}",
                    self.addr
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A free loopback TCP port (bound and released; a tiny race is acceptable for tests).
pub fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// The status code of `GET path` on `addr`, with a raw HTTP/1.0 request (no client dependency).
pub fn http_get_status(addr: &str, path: &str) -> std::io::Result<u16> {
    let sock: SocketAddr = addr
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{e}")))?;
    let mut s = TcpStream::connect_timeout(&sock, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf)?;
    let head = String::from_utf8_lossy(&buf[..n]);
    head.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP reply: {head:?}")))
}

/// The cache directory holding the server build (outside any clone).
pub fn cache_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("SURQL_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| "/tmp".to_owned());
    Path::new(&home).join(".cache").join("surql")
}

/// The `surreal` binary: `SURREAL_BIN`, else the cached build (built now if missing).
pub fn server_binary() -> Result<PathBuf, String> {
    if let Ok(bin) = std::env::var("SURREAL_BIN") {
        return Ok(PathBuf::from(bin));
    }
    let root = cache_dir().join(format!("surreal-{SERVER_VERSION}"));
    let bin = root.join("bin").join("surreal");
    if bin.is_file() {
        return Ok(bin);
    }
    build_server(&root)?;
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "the server build finished but {} is missing",
            bin.display()
        ))
    }
}

/// Builds `conformance/server` into `root` with `cargo install`, showing cargo's progress.
/// Concurrent callers (parallel test processes) wait for one build instead of racing.
pub fn build_server(root: &Path) -> Result<(), String> {
    let cache = cache_dir();
    std::fs::create_dir_all(&cache)
        .map_err(|e| format!("cannot create {}: {e}", cache.display()))?;
    let lock = cache.join("build.lock");
    let _guard = DirLock::acquire(&lock)?;
    if root.join("bin").join("surreal").is_file() {
        return Ok(()); // someone else built it while we waited
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("server");
    eprintln!(
        "surql: building the SurrealDB {SERVER_VERSION} server from crates.io into {} \
         (first run only: about 46 CPU-minutes, roughly 25-30 minutes on an idle 2-core machine)...",
        root.display()
    );
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .args(["install", "--locked", "--path"])
        .arg(&src)
        .arg("--root")
        .arg(root)
        .arg("--target-dir")
        .arg(cache.join("server-target"))
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!(
            "building the server failed ({status}); see cargo's output above"
        ));
    }
    Ok(())
}

/// A cross-process lock made of a directory (creation is atomic); stale after an hour.
struct DirLock(PathBuf);

impl DirLock {
    fn acquire(path: &Path) -> Result<DirLock, String> {
        let start = Instant::now();
        loop {
            match std::fs::create_dir(path) {
                Ok(()) => return Ok(DirLock(path.to_owned())),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let stale = std::fs::metadata(path)
                        .and_then(|m| m.modified())
                        .map(|t| t.elapsed().unwrap_or_default() > Duration::from_secs(3600))
                        .unwrap_or(false);
                    if stale {
                        let _ = std::fs::remove_dir(path); // retried by the loop either way
                        continue;
                    }
                    if start.elapsed() > Duration::from_secs(3600) {
                        return Err(format!(
                            "timed out waiting for the build lock {}",
                            path.display()
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(500));
                }
                Err(e) => return Err(format!("cannot create lock {}: {e}", path.display())),
            }
        }
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0); // a leftover lock goes stale after an hour
    }
}
