//! Compile-time behaviour of `#[derive(Model)]`: the errors it reports (with their spans)
//! and the type errors its typed field handles give. Each `tests/ui/*.rs` must fail to
//! compile with exactly the `.stderr` beside it; `tests/ui/pass/*.rs` must compile without
//! warnings and run.
//!
//! Regenerate the expected output after a deliberate change with
//! `TRYBUILD=overwrite cargo test -p surql --test derive_ui`, then read every changed
//! `.stderr`. The messages of rustc's own type errors change between compiler versions:
//! these expectations were generated with rustc 1.95.

#[test]
fn derive_ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
