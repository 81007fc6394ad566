//! Runs the checked-in seed corpora of the driver-side fuzz targets (`http_response`,
//! `ws_frames`: `fuzz/corpus/<target>/`) through the same bodies the libFuzzer targets call
//! (`surql_smol::internal`), on stable, as plain tests.

use std::path::PathBuf;

/// The seeds of `target`'s corpus, in file-name order (at least ten).
fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "fuzz", "corpus", target]
        .iter()
        .collect();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
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
        .iter()
        .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display())))
        .collect()
}

#[test]
fn http_response_corpus() {
    for bytes in corpus("http_response") {
        // Any bytes must be read to a response or an error, never a panic.
        surql_smol::internal::fuzz_http_response(&bytes);
    }
}

#[test]
fn ws_frames_corpus() {
    for bytes in corpus("ws_frames") {
        // Any bytes must be read to messages and an end, the same however they are cut into
        // reads, never a panic.
        surql_smol::internal::fuzz_ws_frames(&bytes);
    }
}
