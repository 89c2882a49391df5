//! The `__NAME__` plugin: each `pub fn` below is a node callers reach as
//! `__NAME__/FUNCTION` (snake_case becomes kebab-case).
//!
//! Build and check it with `warden build`, serve it while you edit with
//! `warden dev`.

#[warden_guest::plugin]
mod __MODULE__ {
    /// Says hello to `name`.
    pub fn hello(name: String) -> String {
        format!("Hello, {name}!")
    }

    /// Adds two integers (wrapping on overflow).
    pub fn add(a: i64, b: i64) -> i64 {
        a.wrapping_add(b)
    }
}
