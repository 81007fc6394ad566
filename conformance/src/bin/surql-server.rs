//! `surql-server build [--version X]` builds (or finds) the cached SurrealDB server and prints
//! its path; `surql-server start [port] [--version X]` runs one in the foreground until Ctrl-C.
//!
//! Without `--version`, both use the pinned version (or `SURREAL_BIN`), exactly as the tests
//! do. With `--version X`, server X is built side by side into `<cache>/surreal-X`.

use std::process::ExitCode;

use surql_conformance::server::{server_binary, server_binary_for, Server, Storage};

const USAGE: &str = "usage: surql-server build [--version X] | start [port] [--version X]";

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let version = match args.iter().position(|a| a == "--version") {
        Some(i) => {
            if i + 1 >= args.len() {
                eprintln!("surql-server: --version needs a value\n{USAGE}");
                return ExitCode::FAILURE;
            }
            let v = args.remove(i + 1);
            args.remove(i);
            Some(v)
        }
        None => None,
    };
    let binary = || match &version {
        Some(v) => server_binary_for(v),
        None => server_binary(),
    };
    match args.first().map(String::as_str) {
        Some("build") | None => match binary() {
            Ok(bin) => {
                println!("{}", bin.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("surql-server: {e}");
                ExitCode::FAILURE
            }
        },
        Some("start") => {
            let port = match args.get(1).map(|p| p.parse::<u16>()) {
                None => None,
                Some(Ok(p)) => Some(p),
                Some(Err(_)) => {
                    eprintln!("surql-server: the port must be a number 0-65535");
                    return ExitCode::FAILURE;
                }
            };
            let started = binary().and_then(|bin| Server::start_bin(&bin, &Storage::Memory, port));
            match started {
                Ok(server) => {
                    println!(
                        "SurrealDB {} listening on ws://{} (root/root); Ctrl-C stops it",
                        version
                            .as_deref()
                            .unwrap_or(surql_conformance::server::SERVER_VERSION),
                        server.addr
                    );
                    loop {
                        std::thread::park();
                    }
                }
                Err(e) => {
                    eprintln!("surql-server: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("surql-server: unknown command {other:?}\n{USAGE}");
            ExitCode::FAILURE
        }
    }
}
