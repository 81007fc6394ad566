//! Finding, building, starting and stopping a REAL SurrealDB server for tests, benches and the demo.
//!
//! Lookup order: `SURREAL_URL` (a server somebody else runs, e.g. the official Docker image via
//! `docker-compose.yml`) → `SURREAL_BIN` (a `surreal` binary to start) → the cached build of
//! `conformance/server` (the official server from crates.io, pinned), built once with
//! `cargo install` into a cache directory outside the clone when it is missing.
//!
//! Other server versions are built side by side on request ([`server_binary_for`],
//! `surql-server build --version X`): a copy of `conformance/server` is generated with the
//! version pinned ([`server_manifest`]) and installed into `<cache>/surreal-X`; the tests use
//! one through `SURREAL_BIN` (see `conformance/matrix.sh`).
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
        Server::start_bin(&server_binary()?, storage, port)
    }

    /// Starts the `surreal` binary `bin` with `storage`, on `port` (a free one if `None`).
    pub fn start_bin(bin: &Path, storage: &Storage, port: Option<u16>) -> Result<Server, String> {
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
            .arg(bin)
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

/// The `surreal` binary: `SURREAL_BIN`, else the cached build of the pinned
/// [`SERVER_VERSION`] (built now if missing).
pub fn server_binary() -> Result<PathBuf, String> {
    if let Ok(bin) = std::env::var("SURREAL_BIN") {
        return Ok(PathBuf::from(bin));
    }
    server_binary_for(SERVER_VERSION)
}

/// The cached `surreal` binary of server `version` (built now if missing), ignoring
/// `SURREAL_BIN`. Every version lives side by side in `<cache>/surreal-<version>`.
pub fn server_binary_for(version: &str) -> Result<PathBuf, String> {
    check_version(version)?;
    let root = cache_dir().join(format!("surreal-{version}"));
    let bin = root.join("bin").join("surreal");
    if bin.is_file() {
        return Ok(bin);
    }
    if version == SERVER_VERSION {
        build_server(&root)?;
    } else {
        build_server_version(version, &root)?;
    }
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "the server build finished but {} is missing",
            bin.display()
        ))
    }
}

/// Accepts `MAJOR.MINOR.PATCH` with an optional pre-release (`4.0.0-beta.1`): the version
/// becomes a directory name and an exact (`=`) requirement, so nothing else is let through.
pub fn check_version(version: &str) -> Result<(), String> {
    let (release, pre) = match version.split_once('-') {
        Some((r, p)) => (r, Some(p)),
        None => (version, None),
    };
    let parts: Vec<&str> = release.split('.').collect();
    let release_ok = parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let pre_ok = pre.is_none_or(|p| {
        !p.is_empty()
            && p.split('.').all(|id| {
                !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
    });
    if release_ok && pre_ok {
        Ok(())
    } else {
        Err(format!(
            "{version:?} is not a server version (expected e.g. 3.3.5 or 4.0.0-beta.1)"
        ))
    }
}

/// The server's own crates pinned to the server's exact version in a generated build:
/// `surrealdb-server =X` alone lets cargo resolve `surrealdb-core` (and the SDK) to the newest
/// compatible release, which does not compile against an older server (seen with 3.0.5).
/// Both crates exist under these names for every 3.x and 4.x release.
pub const PINNED_SIBLINGS: &[&str] = &["surrealdb-core", "surrealdb"];

/// Whether `version`'s `surrealdb-core` and `surrealdb-server` need `#![recursion_limit =
/// "256"]` added to their crate roots to compile with a current compiler ("queries overflow the
/// depth limit!", seen on 3.0.5: first in the core, then in the server's `src/dbs/mod.rs`).
/// Such builds patch in local copies of [`RECURSION_PATCHED`] with that one line added.
pub fn needs_recursion_patch(version: &str) -> bool {
    version.starts_with("3.0.")
}

/// The crates a [`needs_recursion_patch`] build patches in, each as `./<name>`.
pub const RECURSION_PATCHED: &[&str] = &["surrealdb-core", "surrealdb-server"];

/// The `Cargo.toml` of the generated server crate for `version`: `conformance/server`'s own
/// manifest with the exact pin changed, the server's sibling crates pinned to the same
/// version, and (when [`needs_recursion_patch`]) a `[patch.crates-io]` entry for the local,
/// patched copy of `surrealdb-core` in `./surrealdb-core`.
pub fn server_manifest(version: &str) -> Result<String, String> {
    check_version(version)?;
    const TEMPLATE: &str = include_str!("../server/Cargo.toml");
    let pin = format!("\"={SERVER_VERSION}\"");
    if TEMPLATE.matches(&pin).count() != 1 {
        return Err(format!(
            "conformance/server/Cargo.toml must pin surrealdb-server with {pin} exactly once"
        ));
    }
    let mut manifest = TEMPLATE.replace(&pin, &format!("\"={version}\""));
    let mut siblings = String::from(
        "# Generated by `surql-server build --version`: the server's own crates, same version.\n",
    );
    for name in PINNED_SIBLINGS {
        siblings.push_str(&format!(
            "{name} = {{ version = \"={version}\", default-features = false }}\n"
        ));
    }
    let at = manifest
        .find("\n[profile.release]")
        .ok_or("conformance/server/Cargo.toml has no [profile.release]")?;
    manifest.insert_str(at, &siblings);
    if needs_recursion_patch(version) {
        manifest.push_str(
            "\n# The server's crates of this version need #![recursion_limit = \"256\"] to compile today.\n\
             [patch.crates-io]\n",
        );
        for name in RECURSION_PATCHED {
            manifest.push_str(&format!("{name} = {{ path = \"{name}\" }}\n"));
        }
    }
    Ok(manifest)
}

/// Writes the generated server crate for `version` into `dir` (manifest, `src/main.rs`).
pub fn write_server_crate(version: &str, dir: &Path) -> Result<(), String> {
    const MAIN: &str = include_str!("../server/src/main.rs");
    let manifest = server_manifest(version)?;
    let src = dir.join("src");
    std::fs::create_dir_all(&src).map_err(|e| format!("cannot create {}: {e}", src.display()))?;
    let write = |path: PathBuf, text: &str| {
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    write(dir.join("Cargo.toml"), &manifest)?;
    write(src.join("main.rs"), MAIN)?;
    Ok(())
}

/// Inserts `#![recursion_limit = "256"]` after the leading inner doc comments and attributes
/// of a crate root (idempotent).
pub fn add_recursion_limit(lib_rs: &str) -> String {
    const ATTR: &str = "#![recursion_limit = \"256\"]";
    if lib_rs.contains("#![recursion_limit") {
        return lib_rs.to_owned();
    }
    format!("{ATTR}\n{lib_rs}")
}

/// Copies `name` `version` from cargo's registry sources (fetched by a throw-away crate
/// depending on it) into `dir/<name>`, with the recursion limit added to its crate root.
fn patch_crate(cargo: &str, name: &str, version: &str, dir: &Path) -> Result<(), String> {
    let dest = dir.join(name);
    if dest.join("Cargo.toml").is_file() {
        return Ok(());
    }
    // Fetch the registry copy: a throw-away crate depending on the unpatched crate alone.
    let probe = dir.join(format!("fetch-{name}"));
    std::fs::create_dir_all(probe.join("src")).map_err(|e| format!("{e}"))?;
    std::fs::write(
        probe.join("Cargo.toml"),
        format!(
            "[package]\nname = \"fetch-probe\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
             [dependencies]\n{name} = {{ version = \"={version}\", default-features = false }}\n[workspace]\n"
        ),
    )
    .map_err(|e| format!("{e}"))?;
    std::fs::write(probe.join("src/lib.rs"), "").map_err(|e| format!("{e}"))?;
    run(Command::new(cargo).arg("fetch").current_dir(&probe))?;
    let home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(&std::env::var("HOME").unwrap_or_default()).join(".cargo"));
    let registry = home.join("registry").join("src");
    let found = std::fs::read_dir(&registry)
        .map_err(|e| format!("cannot read {}: {e}", registry.display()))?
        .filter_map(Result::ok)
        .map(|d| d.path().join(format!("{name}-{version}")))
        .find(|p| p.join("Cargo.toml").is_file())
        .ok_or_else(|| format!("{name}-{version} not found under {}", registry.display()))?;
    run(Command::new("cp").arg("-r").arg(&found).arg(&dest))?;
    let lib = dest.join("src").join("lib.rs");
    let text = std::fs::read_to_string(&lib).map_err(|e| format!("{}: {e}", lib.display()))?;
    std::fs::write(&lib, add_recursion_limit(&text)).map_err(|e| format!("{}: {e}", lib.display()))
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let status = cmd
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed ({status}); see its output above"))
    }
}

/// Builds the server `version` (not the pinned one) into `root`: generates its crate into
/// `<cache>/src/surreal-<version>` and installs it from there. Its lock file is kept next to
/// the generated crate, so a rebuild resolves the same dependencies.
pub fn build_server_version(version: &str, root: &Path) -> Result<(), String> {
    check_version(version)?;
    let cache = cache_dir();
    std::fs::create_dir_all(&cache)
        .map_err(|e| format!("cannot create {}: {e}", cache.display()))?;
    let _guard = DirLock::acquire(&cache.join(format!("build-{version}.lock")))?;
    if root.join("bin").join("surreal").is_file() {
        return Ok(());
    }
    let dir = cache.join("src").join(format!("surreal-{version}"));
    write_server_crate(version, &dir)?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    if needs_recursion_patch(version) {
        for name in RECURSION_PATCHED {
            patch_crate(&cargo, name, version, &dir)?;
        }
    }
    eprintln!(
        "surql: building the SurrealDB {version} server from crates.io into {} \
         (crate generated in {}; roughly 25-30 minutes on an idle 2-core machine)...",
        root.display(),
        dir.display()
    );
    if !dir.join("Cargo.lock").is_file() {
        run(Command::new(&cargo)
            .arg("generate-lockfile")
            .current_dir(&dir))?;
    } else {
        // A kept lock file, brought up to date with the manifest (a patch added since it was
        // written) without re-resolving anything else; `install --locked` needs it current.
        run(Command::new(&cargo).arg("fetch").current_dir(&dir))?;
    }
    run(Command::new(&cargo)
        .args(["install", "--locked", "--path"])
        .arg(&dir)
        .arg("--root")
        .arg(root)
        .arg("--target-dir")
        .arg(cache.join("server-target"))
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit()))
}

/// Builds `conformance/server` (the pinned [`SERVER_VERSION`]) into `root` with
/// `cargo install --locked`, showing cargo's progress.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_checked() {
        for ok in ["3.3.5", "3.0.5", "4.0.0-beta.1", "10.20.30-rc.2"] {
            assert!(check_version(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "3.3",
            "3.3.5.1",
            "v3.3.5",
            "3.3.x",
            "3.3.5-",
            "3.3.5-beta..1",
            "../3.3.5",
            "3.3.5 ",
            "3.3.5\"",
            "3.3.5-a/b",
        ] {
            assert!(check_version(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_manifest_pins_the_server_and_its_siblings() {
        let m = server_manifest("4.0.0-beta.1").unwrap();
        assert!(
            m.contains("surrealdb-server = { version = \"=4.0.0-beta.1\""),
            "{m}"
        );
        assert!(!m.contains(SERVER_VERSION), "{m}");
        assert!(m.contains(
            "surrealdb-core = { version = \"=4.0.0-beta.1\", default-features = false }"
        ));
        assert!(m.contains("surrealdb = { version = \"=4.0.0-beta.1\", default-features = false }"));
        // The features, the profile and the stand-alone workspace are kept.
        assert!(m.contains("\"storage-mem\", \"storage-surrealkv\", \"graphql\""));
        assert!(m.contains("[profile.release]\nopt-level = 1"));
        assert!(m.contains("\n[workspace]"));
        // The pins are dependencies: they come before the next table.
        let deps = m.find("[dependencies]").unwrap();
        let core = m.find("surrealdb-core =").unwrap();
        let profile = m.find("[profile.release]").unwrap();
        assert!(deps < core && core < profile, "{m}");
        assert!(!m.contains("[patch"), "4.0 needs no patched core: {m}");
    }

    #[test]
    fn a_3_0_manifest_patches_in_the_local_core() {
        assert!(needs_recursion_patch("3.0.5"));
        assert!(!needs_recursion_patch("3.1.0"));
        assert!(!needs_recursion_patch("3.3.5"));
        let m = server_manifest("3.0.5").unwrap();
        assert!(m.contains(
            "[patch.crates-io]\nsurrealdb-core = { path = \"surrealdb-core\" }\n\
             surrealdb-server = { path = \"surrealdb-server\" }\n"
        ));
        assert!(m.contains("surrealdb-server = { version = \"=3.0.5\""));
    }

    #[test]
    fn the_pinned_version_regenerates_the_checked_in_manifest() {
        let m = server_manifest(SERVER_VERSION).unwrap();
        let original = include_str!("../server/Cargo.toml");
        let without_pins: String = m
            .lines()
            .filter(|l| {
                !PINNED_SIBLINGS
                    .iter()
                    .any(|s| l.starts_with(&format!("{s} =")))
            })
            .filter(|l| !l.starts_with("# Generated by"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(without_pins, original);
    }

    #[test]
    fn bad_versions_generate_nothing() {
        assert!(server_manifest("3.3").is_err());
        let dir = std::env::temp_dir().join(format!("surql-gen-{}", std::process::id()));
        assert!(write_server_crate("x", &dir).is_err());
        assert!(!dir.exists());
    }

    #[test]
    fn the_generated_crate_is_written() {
        let dir = std::env::temp_dir().join(format!("surql-gen-ok-{}", std::process::id()));
        write_server_crate("4.0.0-beta.1", &dir).unwrap();
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        assert_eq!(manifest, server_manifest("4.0.0-beta.1").unwrap());
        let main = std::fs::read_to_string(dir.join("src/main.rs")).unwrap();
        assert!(main.contains("surrealdb_server::init(CommunityComposer())"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_recursion_limit_is_added_once() {
        let lib = "//! docs\n#![doc(html_root_url = \"x\")]\npub mod a;\n";
        let patched = add_recursion_limit(lib);
        assert!(patched.starts_with("#![recursion_limit = \"256\"]\n"));
        assert!(patched.ends_with(lib));
        assert_eq!(add_recursion_limit(&patched), patched);
    }
}
