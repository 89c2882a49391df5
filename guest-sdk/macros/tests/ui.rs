//! The attribute's errors as a plugin author sees them (`tests/ui/*.rs`,
//! with the compiler's output in `*.stderr`), and a plugin that compiles
//! and whose functions still work as plain Rust (`tests/pass`).
//!
//! `TRYBUILD=overwrite cargo test -p warden-guest-macros --test ui`
//! rewrites the `.stderr` files after a deliberate change.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/pass/*.rs");
}
