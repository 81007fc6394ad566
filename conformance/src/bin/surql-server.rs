//! `surql-server build` builds (or finds) the cached SurrealDB server and prints its path;
//! `surql-server start [port]` runs one in the foreground until Ctrl-C (handy for examples).

use std::process::ExitCode;

use surql_conformance::server::{server_binary, Server, Storage};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("build") | None => match server_binary() {
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
            match Server::start(&Storage::Memory, port) {
                Ok(server) => {
                    println!(
                        "SurrealDB {} listening on ws://{} (root/root); Ctrl-C stops it",
                        surql_conformance::server::SERVER_VERSION,
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
        Some(other) => {
            eprintln!("surql-server: unknown command {other:?}; use `build` or `start [port]`");
            ExitCode::FAILURE
        }
    }
}
