//! The `surql` binary as a user runs it: spawned, against a real server, checking output
//! and exit codes (0 ok, 1 failure, 2 usage).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use surql_conformance::server::Server;

struct Cli {
    url: String,
    ns: String,
    dir: PathBuf,
}

impl Cli {
    fn new(name: &str) -> Cli {
        let server = Server::shared();
        let dir = std::env::temp_dir().join(format!("surql-cli-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Cli {
            url: server.ws_url(),
            ns: format!("cli_{}_{name}", std::process::id()),
            dir,
        }
    }

    fn file(&self, name: &str, text: &str) {
        std::fs::write(self.dir.join(name), text).unwrap();
    }

    fn run_with(&self, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_surql"));
        cmd.args(["--url", &self.url, "--dir"])
            .arg(&self.dir)
            .args(args)
            .env("SURREAL_NS", &self.ns)
            .env("SURREAL_DB", "main")
            .env("SURREAL_USER", "root")
            .env("SURREAL_PASS", "root")
            // the shell's history stays in this test's directory
            .env("SURQL_HISTORY", self.dir.join("history"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn surql");
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
        drop(input);
        let Output {
            status,
            stdout,
            stderr,
        } = child.wait_with_output().unwrap();
        (
            status.code().unwrap_or(-1),
            String::from_utf8_lossy(&stdout).into_owned(),
            String::from_utf8_lossy(&stderr).into_owned(),
        )
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        self.run_with(args, None)
    }
}

#[test]
fn migrate_status_sqlmigrate_rollback() {
    let cli = Cli::new("flow");
    cli.file(
        "0001_initial.surql",
        "-- up\nDEFINE TABLE person TYPE NORMAL SCHEMAFULL;\nDEFINE FIELD name ON person TYPE string;\n-- down\nREMOVE TABLE person;\n",
    );
    cli.file(
        "0002_email.surql",
        "-- up\nDEFINE FIELD email ON person TYPE option<string>;\n-- down\nREMOVE FIELD email ON person;\n",
    );
    assert_eq!(
        cli.run(&["status"]),
        (
            0,
            "[ ] 0001_initial\n[ ] 0002_email\n".into(),
            String::new()
        )
    );
    assert_eq!(
        cli.run(&["sqlmigrate", "0002"]),
        (
            0,
            "DEFINE FIELD email ON person TYPE option<string>;\n".into(),
            String::new()
        )
    );
    assert_eq!(
        cli.run(&["sqlmigrate", "0002_email", "--down"]).1,
        "REMOVE FIELD email ON person;\n"
    );
    assert_eq!(cli.run(&["migrate", "0001"]).1, "applied 0001_initial\n");
    assert_eq!(cli.run(&["migrate"]).1, "applied 0002_email\n");
    assert_eq!(cli.run(&["status"]).1, "[X] 0001_initial\n[X] 0002_email\n");
    assert_eq!(
        cli.run(&["schemadiff", "--check"]),
        (0, "-- in sync\n".into(), String::new())
    );
    let (code, out, _) = cli.run(&["inspectdb"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("#[surql(table = \"person\", schemafull)]\npub struct Person {"),
        "{out}"
    );
    let (code, out, _) = cli.run_with(
        &["shell"],
        Some("CREATE person:ada SET name = 'Ada'\nSELECT VALUE name FROM person\nexit\n"),
    );
    assert_eq!(code, 0);
    assert!(out.ends_with("['Ada']\n"), "{out}");
    // history: kept across runs, listed by `\history`, re-run by `!N` and `!!`
    let (code, out, _) = cli.run_with(&["shell"], Some("\\history\n!2\n!!\n!99\nexit\n"));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(
            "    1  CREATE person:ada SET name = 'Ada'\n    2  SELECT VALUE name FROM person\n"
        ),
        "{out}"
    );
    assert_eq!(
        out.matches("SELECT VALUE name FROM person\n['Ada']\n")
            .count(),
        2,
        "{out}"
    );
    assert!(out.contains("error: no history entry `!99`"), "{out}");
    assert_eq!(cli.run(&["rollback", "0001"]).1, "rolled back 0002_email\n");
    assert_eq!(
        cli.run(&["rollback", "zero"]).1,
        "rolled back 0001_initial\n"
    );
    assert_eq!(cli.run(&["status"]).1, "[ ] 0001_initial\n[ ] 0002_email\n");
}

#[test]
fn failures_exit_1_and_usage_errors_exit_2() {
    let cli = Cli::new("fail");
    cli.file(
        "0001_bad.surql",
        "-- up\nDEFINE TABLE t TYPE NORMAL SCHEMAFULL;\nDEFINE FIELD n ON t TYPE int;\nCREATE t:1 SET n = 'x';\n",
    );
    let (code, out, err) = cli.run(&["migrate"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.starts_with("surql: error: migration 0001_bad: applying: statement `CREATE t:1 SET n = 'x'` failed: "),
        "{err}"
    );
    assert_eq!(cli.run(&["status"]).1, "[ ] 0001_bad (irreversible)\n");
    assert_eq!(cli.run(&["sqlmigrate", "0042"]).0, 1);
    let (code, _, err) = cli.run(&["frobnicate"]);
    assert_eq!(code, 2);
    assert!(
        err.starts_with("surql: unknown command `frobnicate`"),
        "{err}"
    );
    assert_eq!(cli.run(&["rollback"]).0, 2);
    assert_eq!(cli.run(&["migrate", "--bogus"]).0, 2);
    assert_eq!(cli.run(&["makemigrations"]).0, 2);
    // Every command has help.
    for cmd in [
        "migrate",
        "rollback",
        "status",
        "sqlmigrate",
        "schemadiff",
        "inspectdb",
        "shell",
        "export",
        "import",
        "makemigrations",
    ] {
        let (code, out, _) = cli.run(&[cmd, "--help"]);
        assert_eq!(code, 0);
        assert!(out.starts_with(&format!("surql {cmd}")), "{out}");
    }
    let (code, out, _) = cli.run(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("EXIT CODES: 0 ok, 1 failure, 2 usage error"));
    // A server that is not there: a failure, not a usage error.
    let (code, _, err) = Command::new(env!("CARGO_BIN_EXE_surql"))
        .args([
            "--url",
            "ws://127.0.0.1:9",
            "--ns",
            "a",
            "--db",
            "b",
            "status",
        ])
        .output()
        .map(|o| {
            (
                o.status.code(),
                o.stdout,
                String::from_utf8_lossy(&o.stderr).into_owned(),
            )
        })
        .unwrap();
    assert_eq!(code, Some(1));
    assert!(
        err.starts_with("surql: error: cannot connect to ws://127.0.0.1:9"),
        "{err}"
    );
}

#[test]
fn export_then_import_into_another_database() {
    let cli = Cli::new("export");
    let (code, _, err) = cli.run_with(
        &["shell"],
        Some("DEFINE TABLE person SCHEMALESS\nDEFINE INDEX by_name ON person FIELDS name\nCREATE person:ada SET name = 'Ada'\nexit\n"),
    );
    assert_eq!(code, 0, "{err}");
    let dump = cli.dir.join("dump.surql");
    let dump = dump.to_str().unwrap();
    let (code, out, err) = cli.run(&["export", dump]);
    assert_eq!(code, 0, "{err}");
    let size = std::fs::metadata(dump).unwrap().len();
    assert_eq!(out, format!("exported {size} bytes to {dump}\n"));
    let text = std::fs::read_to_string(dump).unwrap();
    assert!(text.contains("DEFINE INDEX by_name"), "{text}");
    let (code, out, err) = cli.run(&["--db", "copy", "import", dump]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("imported {size} bytes from {dump}\n"));
    let (code, out, _) = cli.run_with(
        &["--db", "copy", "shell"],
        Some("SELECT VALUE name FROM person\n(INFO FOR TABLE person).indexes.keys()\nexit\n"),
    );
    assert_eq!(code, 0);
    assert!(
        out.contains("['Ada']") && out.contains("['by_name']"),
        "{out}"
    );
    // Importing again: the records exist, each failure is named, exit code 1.
    let (code, _, err) = cli.run(&["--db", "copy", "import", dump]);
    assert_eq!(code, 1);
    assert!(
        err.contains("did not apply") && err.contains("person:ada"),
        "{err}"
    );
    // Usage errors: exit 2.
    assert_eq!(cli.run(&["export"]).0, 2);
    assert_eq!(cli.run(&["import", "a", "b"]).0, 2);
}
