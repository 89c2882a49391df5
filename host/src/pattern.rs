//! Name patterns, as operators write them in manifests and the host config:
//! `*` matches any run of characters (`/` included), everything else
//! itself. `text/*` matches `text/strings/upper`; `*` matches everything.

/// Whether `pattern` matches `name`.
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => {
            let Some(rest) = name.strip_prefix(head) else {
                return false;
            };
            (0..=rest.len())
                .filter(|&i| rest.is_char_boundary(i))
                .any(|i| pattern_matches(tail, &rest[i..]))
        }
    }
}

/// Whether one of `patterns` matches `name`.
pub fn any_matches(patterns: &[String], name: &str) -> bool {
    patterns.iter().any(|p| pattern_matches(p, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_stars_anywhere() {
        assert!(pattern_matches("text/*", "text/strings/upper"));
        assert!(pattern_matches("*", "anything"));
        assert!(pattern_matches("a*c", "abbbc"));
        assert!(!pattern_matches("text/*", "math/add"));
        assert!(pattern_matches("math/add", "math/add"));
        assert!(!pattern_matches("math/add", "math/addition"));
        assert!(any_matches(&["x".into(), "m*".into()], "math/add"));
        assert!(!any_matches(&[], "math/add"));
    }
}
