#[warden_guest::plugin]
mod text {
    /// String functions.
    pub mod strings {
        /// Case functions: one level too deep.
        pub mod case {
            pub fn upper(s: String) -> String {
                s.to_uppercase()
            }
        }

        /// Reverses `s`.
        pub fn reverse(s: String) -> String {
            s.chars().rev().collect()
        }
    }
}

fn main() {}
