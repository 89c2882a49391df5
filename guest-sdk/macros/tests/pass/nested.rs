//! `pub mod`s of a plugin module are interfaces: plain, stream and channel
//! nodes inside them, types declared in one module and used in another,
//! and a `pub mod` that only holds types.

/// Text.
#[warden_guest::plugin]
mod text {
    use warden_guest::Type;

    /// Letter case.
    #[derive(Type, Debug, Clone, Copy, PartialEq)]
    pub enum LetterCase {
        /// ABC.
        Upper,
        /// abc.
        Lower,
    }

    /// String functions: nodes `text/strings/...`.
    pub mod strings {
        //! More docs, written inside.
        use super::LetterCase;
        use warden_guest::{Channel, Type};

        /// Where a word is.
        #[derive(Type, Debug, PartialEq)]
        pub struct Span {
            /// Its first byte.
            pub start: u32,
            /// After its last byte.
            pub(super) end: u32,
        }

        /// Rewrites `s` in `case`.
        pub fn recase(s: &str, case: LetterCase) -> String {
            match case {
                LetterCase::Upper => s.to_uppercase(),
                LetterCase::Lower => s.to_lowercase(),
            }
        }

        /// The words of `s`, one at a time.
        pub fn spans(s: String) -> impl Iterator<Item = Span> {
            let mut at = 0;
            s.split(' ')
                .map(|w| {
                    let span = Span {
                        start: at,
                        end: at + w.len() as u32,
                    };
                    at = span.end + 1;
                    span
                })
                .collect::<Vec<_>>()
                .into_iter()
        }

        /// Upper-cases each message.
        pub fn shout() -> Channel<String, String> {
            Channel::new(|m: String| vec![helper(&m)])
        }

        fn helper(m: &str) -> String {
            m.to_uppercase()
        }
    }

    /// Only types: not an interface.
    pub mod model {
        /// A count.
        #[derive(warden_guest::Type, Debug, PartialEq)]
        pub struct Count {
            /// How many.
            pub n: u32,
        }
    }

    /// The first word of `s` (a type of `pub mod strings`).
    pub fn first(s: String) -> Option<strings::Span> {
        strings::spans(s).next()
    }

    /// How many words `s` has (a type of `pub mod model`).
    pub fn count(s: String) -> model::Count {
        model::Count {
            n: s.split_whitespace().count() as u32,
        }
    }
}

fn main() {
    use text::{LetterCase, strings};
    assert_eq!(strings::recase("ab", LetterCase::Upper), "AB");
    assert_eq!(strings::spans("a bc".into()).count(), 2);
    assert_eq!(strings::shout().send("hi".into()), ["HI"]);
    assert_eq!(text::first("ab c".into()).map(|s| s.start), Some(0));
    assert_eq!(text::count("a b".into()).n, 2);
}
