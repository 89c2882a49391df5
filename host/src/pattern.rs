//! Name patterns, as operators write them in manifests and the host config:
//! `*` matches any run of characters (`/` included), everything else
//! itself. `text/*` matches `text/strings/upper`; `*` matches everything.

/// Whether `pattern` matches `name`, in time proportional to their lengths'
/// product at worst (no backtracking beyond the last `*`).
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    let (p, n) = (pattern.as_bytes(), name.as_bytes());
    let (mut pi, mut ni) = (0, 0);
    // Where the last `*` was, and where in `name` it currently ends.
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ni));
            pi += 1;
        } else if pi < p.len() && p[pi] == n[ni] {
            pi += 1;
            ni += 1;
        } else if let Some((sp, sn)) = star {
            // Let the last `*` take one more byte and try again after it.
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
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
        assert!(pattern_matches("*/*/upper", "text/strings/upper"));
        assert!(!pattern_matches("*/*/upper", "text/upper"));
        assert!(pattern_matches("é*", "été"));
        assert!(pattern_matches("", ""));
        assert!(!pattern_matches("", "x"));
        assert!(pattern_matches("**", ""));
    }

    /// A long name against a pattern of many stars that cannot match ends
    /// quickly (the old backtracking matcher took exponential time).
    #[test]
    fn many_stars_do_not_blow_up() {
        let name = "a".repeat(10_000);
        assert!(!pattern_matches("*a*a*a*a*a*a*a*a*b", &name));
    }
}
