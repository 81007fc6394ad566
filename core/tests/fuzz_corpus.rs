//! Runs the checked-in fuzz seed corpus (`fuzz/corpus/<target>/`) through the same
//! `surql::internal` bodies the libFuzzer targets call, on stable, as a plain test.
//!
//! Seed names carry an expectation: `bad_*` and `truncated_*` must be rejected, every
//! other seed must be accepted, so the corpus also pins what the decoders accept.

use std::path::{Path, PathBuf};

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "fuzz", "corpus", target]
        .iter()
        .collect();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read corpus {}: {e}", dir.display()))
        .map(|entry| {
            entry
                .unwrap_or_else(|e| panic!("bad entry in {}: {e}", dir.display()))
                .path()
        })
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(
        files.len() >= 10,
        "corpus {} has only {} seeds",
        dir.display(),
        files.len()
    );
    files
        .into_iter()
        .map(|p: PathBuf| {
            let name = file_stem(&p);
            let bytes =
                std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
            (name, bytes)
        })
        .collect()
}

fn file_stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn expect_rejected(name: &str) -> bool {
    name.starts_with("bad_") || name.starts_with("truncated_")
}

#[test]
fn cbor_decode_corpus() {
    for (name, bytes) in corpus("cbor_decode") {
        surql::internal::fuzz_cbor_decode(&bytes);
        let result = surql::cbor::decode(&bytes);
        assert_eq!(
            result.is_err(),
            expect_rejected(&name),
            "seed {name}: decode gave {result:?}"
        );
    }
}

#[test]
fn record_id_parse_corpus() {
    for (name, bytes) in corpus("record_id_parse") {
        surql::internal::fuzz_record_id_parse(&bytes);
        let text =
            String::from_utf8(bytes).unwrap_or_else(|e| panic!("seed {name} is not UTF-8: {e}"));
        let result = surql::escape::parse_record_id(&text);
        assert_eq!(
            result.is_err(),
            expect_rejected(&name),
            "seed {name} ({text:?}): parse gave {result:?}"
        );
    }
}

#[test]
fn rpc_incoming_corpus() {
    for (name, bytes) in corpus("rpc_incoming") {
        surql::internal::fuzz_rpc_incoming(&bytes);
        let result = surql::rpc::decode_incoming(&bytes);
        assert_eq!(
            result.is_err(),
            expect_rejected(&name),
            "seed {name}: decode_incoming gave {result:?}"
        );
    }
}

#[test]
fn connection_ops_corpus() {
    let start = std::time::Instant::now();
    for (_name, bytes) in corpus("connection_ops") {
        // Any script must run to the end without a panic; the body asserts its own invariants.
        surql::internal::fuzz_connection_ops(&bytes, start);
    }
}

#[test]
fn cbor_typed_corpus() {
    for (name, bytes) in corpus("cbor_typed") {
        // The body panics on any broken oracle; the seed name says which type must accept it.
        let accepted = surql::internal::fuzz_cbor_typed(&bytes);
        if expect_rejected(&name) {
            assert!(
                accepted.is_empty(),
                "seed {name} must be refused by every type, accepted by {accepted:?}"
            );
        } else {
            // The type is the seed name up to its first `_` (the whole name if it has none).
            let ty = name.split_once('_').map_or(name.as_str(), |(ty, _)| ty);
            assert!(
                accepted.contains(&ty),
                "seed {name} must decode as `{ty}`, decoded as {accepted:?}"
            );
        }
    }
}

#[test]
fn connection_outcomes_corpus() {
    let start = std::time::Instant::now();
    for (_name, bytes) in corpus("connection_outcomes") {
        // The body asserts exactly one outcome per request and one end per live handle.
        surql::internal::fuzz_connection_outcomes(&bytes, start);
    }
}
