//! Runs the checked-in seed corpus of the `http_response` fuzz target
//! (`fuzz/corpus/http_response/`) through `surql_smol::internal::fuzz_http_response`, the
//! same body the libFuzzer target calls, on stable, as a plain test.

use std::path::PathBuf;

#[test]
fn http_response_corpus() {
    let dir: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "fuzz",
        "corpus",
        "http_response",
    ]
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
    for p in files {
        let bytes =
            std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
        // Any bytes must be read to a response or an error, never a panic.
        surql_smol::internal::fuzz_http_response(&bytes);
    }
}
