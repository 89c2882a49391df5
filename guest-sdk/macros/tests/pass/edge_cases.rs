//! Corners of the attribute that must compile: a module named `types`,
//! streams without derived types, a fallible stream with a derived error,
//! channels of containers, `Result<(), E>`, keywords as names.

#[warden_guest::plugin]
mod types {
    use warden_guest::Channel;

    /// An error.
    #[derive(warden_guest::Type, Debug)]
    pub enum Oops {
        /// Bad input.
        Bad(String),
        /// Too late.
        Late,
    }

    /// A record whose field is a keyword in Rust and in WIT.
    #[derive(warden_guest::Type, Debug)]
    pub struct Tagged {
        /// The kind of thing.
        pub r#type: String,
        /// Nested options and results.
        pub outcome: Option<Result<(), Oops>>,
    }

    /// Fails or not.
    pub fn check(ok: bool) -> Result<(), Oops> {
        if ok { Ok(()) } else { Err(Oops::Late) }
    }

    /// A stream that ends with a derived error.
    pub fn tries(n: u32) -> impl Iterator<Item = Result<Tagged, Oops>> {
        (0..n).map(|i| {
            if i < 2 {
                Ok(Tagged {
                    r#type: format!("t{i}"),
                    outcome: None,
                })
            } else {
                Err(Oops::Bad(format!("at {i}")))
            }
        })
    }

    /// A boxed stream.
    pub fn boxed(up: bool) -> Box<dyn Iterator<Item = u8>> {
        if up {
            Box::new(0..3)
        } else {
            Box::new((0..3).rev())
        }
    }

    /// A channel of containers.
    pub fn pack() -> Channel<Vec<u8>, Option<(u8, Oops)>> {
        Channel::new(|bytes: Vec<u8>| bytes.into_iter().map(|b| Some((b, Oops::Late))).collect())
    }

    /// A function named like a WIT keyword.
    pub fn r#type(r#static: String) -> String {
        r#static
    }
}

#[warden_guest::plugin]
mod plain_streams {
    /// Only a stream, no derived types.
    pub fn count(n: u64) -> impl Iterator<Item = u64> + Send + 'static {
        0..n
    }
}

fn main() {
    assert!(types::check(true).is_ok());
    assert_eq!(types::tries(3).filter(Result::is_err).count(), 1);
    assert_eq!(types::boxed(false).next(), Some(2));
    assert_eq!(types::pack().send(vec![1, 2]).len(), 2);
    assert_eq!(types::r#type("x".into()), "x");
    assert_eq!(plain_streams::count(3).sum::<u64>(), 3);
}
