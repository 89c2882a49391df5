//! Caller identities and the per-call permission check.

use std::sync::Arc;

use serde::Deserialize;

use crate::caps::BlobsGrant;
use crate::pattern::{any_matches, pattern_matches};
use crate::proto::{CallError, ErrorKind};

/// The `[access]` table of the host config.
///
/// ```toml
/// [access]
/// anonymous = ["math/*"]            # nodes callers without a token may call
///
/// [[access.callers]]
/// name = "alice"
/// token_sha256 = "9f86d0…"          # `warden token alice` prints this
/// nodes = ["*"]
/// blobs = "read-write"              # may upload and download blobs
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessConfig {
    /// Node patterns a connection without a token may call. Default: none.
    #[serde(default)]
    pub anonymous: Vec<String>,
    /// The known callers.
    #[serde(default)]
    pub callers: Vec<CallerConfig>,
}

/// One caller in the host config.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallerConfig {
    /// The caller's name, matched by manifests' `access.callers`.
    pub name: String,
    /// SHA-256 of the caller's token, 64 hex digits. The token itself is
    /// never stored.
    pub token_sha256: String,
    /// Node patterns the caller may call, e.g. `"math/*"` or `"*"`.
    #[serde(default)]
    pub nodes: Vec<String>,
    /// Whether the caller may download (`"read"`) or also upload
    /// (`"read-write"`) blobs. Default: neither.
    pub blobs: Option<BlobsGrant>,
}

impl AccessConfig {
    /// Checks names, hashes and patterns; the message names the caller.
    ///
    /// # Errors
    ///
    /// A message saying which entry is wrong and what is expected.
    pub fn validate(&self) -> Result<(), String> {
        let mut names = std::collections::HashSet::new();
        for caller in &self.callers {
            let name = &caller.name;
            if name.is_empty() || name == "anonymous" {
                return Err(format!(
                    "`access.callers`: `{name}` cannot be a caller name; pick another"
                ));
            }
            if !names.insert(name.as_str()) {
                return Err(format!("`access.callers`: caller `{name}` is listed twice"));
            }
            let hash = &caller.token_sha256;
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!(
                    "`access.callers`: caller `{name}`: `token_sha256` must be 64 hex digits \
                     (`warden token {name}` prints a token and its hash)"
                ));
            }
        }
        Ok(())
    }

    /// The caller whose token is `token`. Every caller's hash is compared,
    /// each in constant time, so how long it takes says nothing about which
    /// (or how much of one) matched.
    pub fn caller_for(&self, token: &str) -> Option<Caller> {
        let hash = hash_token(token);
        let mut found = None;
        for caller in &self.callers {
            let known = caller.token_sha256.to_ascii_lowercase();
            if constant_time_eq(known.as_bytes(), hash.as_bytes()) && found.is_none() {
                found = Some(caller);
            }
        }
        found.map(CallerConfig::caller)
    }

    /// The caller named `name`.
    pub fn caller_named(&self, name: &str) -> Option<Caller> {
        self.callers
            .iter()
            .find(|c| c.name == name)
            .map(CallerConfig::caller)
    }
}

impl CallerConfig {
    fn caller(&self) -> Caller {
        Caller {
            name: self.name.clone(),
            nodes: self.nodes.clone(),
            blobs: self.blobs,
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The caller's name.
    pub name: String,
    /// Node patterns it may call.
    pub nodes: Vec<String>,
    /// Its blob permission.
    pub blobs: Option<BlobsGrant>,
}

/// Who is on the other end of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// The host has no access config: everyone may call every public node.
    Open,
    /// No token presented (yet); the `anonymous` patterns apply.
    Anonymous(Arc<Vec<String>>),
    /// A caller that presented its token.
    Caller(Arc<Caller>),
}

impl Identity {
    /// The name of every caller without a token.
    pub const ANONYMOUS: &'static str = "anonymous";

    /// The name manifests' `access.callers` match against.
    pub fn name(&self) -> &str {
        match self {
            Identity::Caller(c) => &c.name,
            _ => Self::ANONYMOUS,
        }
    }

    /// Whether this identity's own patterns allow node `full` (before the
    /// plugin's restrictions).
    pub fn may_call(&self, full: &str) -> bool {
        let patterns = match self {
            Identity::Open => return true,
            Identity::Anonymous(p) => p.as_slice(),
            Identity::Caller(c) => c.nodes.as_slice(),
        };
        any_matches(patterns, full)
    }

    /// Checks a call of `full` on a plugin whose manifest lets only
    /// `plugin_callers` call it (`None`: whoever the host allows).
    ///
    /// # Errors
    ///
    /// `unauthenticated` for an anonymous caller that needs a token,
    /// `denied` naming the caller and what it may call otherwise.
    pub fn authorize(
        &self,
        full: &str,
        plugin_callers: Option<&[String]>,
    ) -> Result<(), CallError> {
        if !self.may_call(full) {
            return Err(match self {
                Identity::Caller(c) => CallError::new(
                    ErrorKind::Denied,
                    format!(
                        "caller `{}` may not call `{full}`; its token allows: {}",
                        c.name,
                        list(&c.nodes)
                    ),
                ),
                _ => CallError::new(
                    ErrorKind::Unauthenticated,
                    format!(
                        "calling `{full}` needs a caller token: pass `--token` (or set \
                         WARDEN_TOKEN) with `warden call`, or a token in the client's options"
                    ),
                ),
            });
        }
        if let Some(allowed) = plugin_callers {
            let name = self.name();
            if !allowed.iter().any(|p| pattern_matches(p, name)) {
                let (plugin, _) = full.split_once('/').unwrap_or((full, ""));
                return Err(CallError::new(
                    ErrorKind::Denied,
                    format!(
                        "plugin `{plugin}` takes calls only from callers {}; this connection is \
                         `{name}`",
                        list(allowed)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Whether this identity may download (`write == false`) or upload blobs.
    ///
    /// # Errors
    ///
    /// `unauthenticated` or `denied`, saying what is needed.
    pub fn authorize_blobs(&self, write: bool) -> Result<(), CallError> {
        let what = if write { "upload" } else { "download" };
        match self {
            Identity::Open => Ok(()),
            Identity::Anonymous(_) => Err(CallError::new(
                ErrorKind::Unauthenticated,
                format!("to {what} blobs, present a caller token first"),
            )),
            Identity::Caller(c) => match (c.blobs, write) {
                (Some(BlobsGrant::ReadWrite), _) | (Some(BlobsGrant::Read), false) => Ok(()),
                _ => Err(CallError::new(
                    ErrorKind::Denied,
                    format!(
                        "caller `{}` may not {what} blobs; its `[[access.callers]]` entry needs \
                         `blobs = \"{}\"`",
                        c.name,
                        if write { "read-write" } else { "read" }
                    ),
                )),
            },
        }
    }
}

fn list(patterns: &[String]) -> String {
    if patterns.is_empty() {
        return "nothing".into();
    }
    patterns
        .iter()
        .map(|p| format!("`{p}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether `a` and `b` are equal, taking the same time whichever bytes
/// differ (the lengths of token hashes are public: 64 hex digits).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// SHA-256 of a token, as 64 lowercase hex digits.
pub fn hash_token(token: &str) -> String {
    crate::digest::sha256_hex(token.as_bytes())
}

/// A new random token: `wdn_` and 64 hex digits.
///
/// # Errors
///
/// When the system's random number generator fails.
pub fn new_token() -> Result<String, String> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| "the system random number generator failed".to_owned())?;
    Ok(format!("wdn_{}", crate::digest::hex(&bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AccessConfig {
        AccessConfig {
            anonymous: vec!["math/*".into()],
            callers: vec![CallerConfig {
                name: "alice".into(),
                token_sha256: hash_token("secret"),
                nodes: vec!["text/*".into()],
                blobs: Some(BlobsGrant::Read),
            }],
        }
    }

    #[test]
    fn tokens_find_their_caller_and_patterns_decide() {
        let config = config();
        config.validate().unwrap();
        assert_eq!(config.caller_for("wrong"), None);
        let alice = Identity::Caller(Arc::new(config.caller_for("secret").unwrap()));
        let anon = Identity::Anonymous(Arc::new(config.anonymous.clone()));
        assert!(alice.authorize("text/upper", None).is_ok());
        let denied = alice.authorize("math/add", None).unwrap_err();
        assert_eq!(denied.kind, ErrorKind::Denied);
        assert!(denied.message.contains("`text/*`"), "{}", denied.message);
        assert!(anon.authorize("math/add", None).is_ok());
        let anon_err = anon.authorize("text/upper", None).unwrap_err();
        assert_eq!(anon_err.kind, ErrorKind::Unauthenticated);
        let only_bob = ["bob".to_owned()];
        let restricted = alice
            .authorize("text/upper", Some(&only_bob[..]))
            .unwrap_err();
        assert!(
            restricted.message.contains("`bob`"),
            "{}",
            restricted.message
        );
        assert!(alice.authorize_blobs(false).is_ok());
        assert_eq!(
            alice.authorize_blobs(true).unwrap_err().kind,
            ErrorKind::Denied
        );
        assert_eq!(
            anon.authorize_blobs(false).unwrap_err().kind,
            ErrorKind::Unauthenticated
        );
    }

    #[test]
    fn hashes_compare_whole() {
        assert!(constant_time_eq(b"abcd", b"abcd"));
        assert!(!constant_time_eq(b"abcd", b"abce"));
        assert!(!constant_time_eq(b"abcd", b"xbcd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        // An upper-case hash in the config matches too.
        let mut config = config();
        config.callers[0].token_sha256 = config.callers[0].token_sha256.to_ascii_uppercase();
        assert_eq!(
            config.caller_for("secret").map(|c| c.name),
            Some("alice".into())
        );
    }

    #[test]
    fn bad_hashes_and_duplicate_names_are_refused() {
        let mut config = config();
        config.callers[0].token_sha256 = "abc".into();
        assert!(config.validate().unwrap_err().contains("64 hex digits"));
        let mut config = self::tests::config();
        config.callers.push(config.callers[0].clone());
        assert!(config.validate().unwrap_err().contains("twice"));
        assert!(new_token().unwrap().starts_with("wdn_"));
    }
}
