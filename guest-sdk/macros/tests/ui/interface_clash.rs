#[warden_guest::plugin]
mod text {
    /// Counts the words of `s`.
    pub fn strings(s: String) -> u32 {
        s.split_whitespace().count() as u32
    }

    /// String functions: the interface `strings`, like the function.
    pub mod strings {
        pub fn upper(s: String) -> String {
            s.to_uppercase()
        }
    }

    /// The interface of the derived types is `types`.
    pub mod types {
        pub fn lower(s: String) -> String {
            s.to_lowercase()
        }
    }
}

fn main() {}
