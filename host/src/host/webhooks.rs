//! Callbacks to URLs: when a job whose callback is a URL ends, the host
//! POSTs its record there, signed, retrying with backoff. Only URLs the
//! operator allowed (`[callbacks] allow`) are accepted, and redirects are
//! not followed, so a caller cannot make the host reach anything else.
//!
//! ```toml
//! [callbacks]
//! allow = ["https://hooks.example.com/*", "http://127.0.0.1:9000/*"]
//! secret = "a long random string"   # absent: STATE/callbacks.key, generated
//! attempts = 5
//! timeout = "10s"                    # per attempt
//! ```
//!
//! The signature: `Warden-Signature: t=UNIX_SECONDS,v1=HEX` where `HEX` is
//! the HMAC-SHA256, keyed with the secret, of `UNIX_SECONDS.BODY`.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::proto::{CallError, ErrorKind, JobInfo};

/// The `[callbacks]` table of the host config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallbackSettings {
    /// URL patterns (`*` matches anything) callbacks may go to. Empty (the
    /// default): no URL callbacks.
    #[serde(default)]
    pub allow: Vec<String>,
    /// The key the host signs callbacks with. Absent: a random key kept in
    /// `STATE/callbacks.key`.
    pub secret: Option<String>,
    /// Attempts per callback. Default: 5.
    pub attempts: Option<u32>,
    /// How long one attempt may take. Default: 10 s.
    #[serde(default, deserialize_with = "crate::units::duration")]
    pub timeout: Option<Duration>,
}

impl CallbackSettings {
    pub(super) fn validate(&self) -> Result<(), String> {
        for pattern in &self.allow {
            crate::urls::UrlPattern::parse(pattern)
                .map_err(|why| format!("`callbacks.allow`: {why}"))?;
        }
        if self.secret.as_deref().is_some_and(|s| s.len() < 16) {
            return Err("`callbacks.secret` must have at least 16 characters".into());
        }
        crate::units::in_range("callbacks.attempts", self.attempts, 1, 20, |n| {
            n.to_string()
        })?;
        crate::units::in_range(
            "callbacks.timeout",
            self.timeout,
            Duration::from_millis(100),
            Duration::from_secs(300),
            crate::text::duration_text,
        )
    }
}

/// Checks a URL callback's method and key (neither without a URL).
pub(super) fn check_delivery(
    url: bool,
    options: &crate::jobs::JobOptions,
) -> Result<(), CallError> {
    let bad = |m: &str| Err(CallError::new(ErrorKind::BadRequest, m));
    if !url && (options.callback_method.is_some() || options.callback_key.is_some()) {
        return bad("a callback method or key goes with a callback URL");
    }
    if let Some(method) = &options.callback_method
        && !matches!(method.as_str(), "POST" | "PUT")
    {
        return bad("a callback's method is `POST` or `PUT`");
    }
    if let Some(key) = &options.callback_key
        && (key.is_empty() || key.len() > 256)
    {
        return bad("a callback's key has 1 to 256 characters");
    }
    Ok(())
}

/// Whether `callback` names a URL rather than a node.
pub(crate) fn is_url(callback: &str) -> bool {
    callback.contains("://")
}

/// The host's callback sender.
pub(crate) struct Webhooks {
    client: reqwest::Client,
    /// Deliveries in progress at once, host-wide.
    sending: std::sync::Arc<tokio::sync::Semaphore>,
    allow: Vec<String>,
    secret: Vec<u8>,
    attempts: u32,
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhooks")
            .field("allow", &self.allow)
            .finish_non_exhaustive()
    }
}

/// Deliveries in progress at once; more wait their turn.
const MAX_SENDING: usize = 32;

/// The name of the generated key in the state directory.
const KEY_FILE: &str = "callbacks.key";

impl Webhooks {
    /// The sender for `settings`, its key from the settings, from
    /// `state_dir` (generated there the first time) or, without either,
    /// random for this run.
    pub(super) fn new(
        settings: &CallbackSettings,
        state_dir: Option<&Path>,
    ) -> Result<Webhooks, String> {
        let secret = match (&settings.secret, state_dir) {
            (Some(secret), _) => secret.as_bytes().to_vec(),
            (None, Some(dir)) => load_or_generate_key(&dir.join(KEY_FILE))?,
            (None, None) => random_key()?.into_bytes(),
        };
        let timeout = settings.timeout.unwrap_or(Duration::from_secs(10));
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // A redirect could lead anywhere: not followed.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("warden/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot make the callback client: {e}"))?;
        Ok(Webhooks {
            client,
            sending: std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_SENDING)),
            allow: settings.allow.clone(),
            secret,
            attempts: settings.attempts.unwrap_or(5),
        })
    }

    /// Checks that `url` is a callback destination the operator allowed.
    ///
    /// # Errors
    ///
    /// `bad-args` for something that is not an http(s) URL, `denied` for a
    /// URL outside `[callbacks] allow`.
    pub(crate) fn check(&self, url: &str) -> Result<(), CallError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| {
            CallError::new(
                ErrorKind::BadArgs,
                format!(
                    "callback `{}` is not a URL: {e}",
                    crate::proto::shorten(url)
                ),
            )
        })?;
        let userinfo = !parsed.username().is_empty() || parsed.password().is_some();
        if !matches!(parsed.scheme(), "http" | "https") || userinfo {
            return Err(CallError::new(
                ErrorKind::BadArgs,
                "a callback URL is `http://` or `https://`, without a user name or password",
            ));
        }
        let allowed = self
            .allow
            .iter()
            .filter_map(|p| crate::urls::UrlPattern::parse(p).ok())
            .any(|d| d.allows(&parsed));
        if !allowed {
            return Err(CallError::new(
                ErrorKind::Denied,
                format!(
                    "callbacks may not go to `{}`: the host config's `[callbacks] allow` lists \
                     where they may",
                    crate::proto::shorten(url)
                ),
            ));
        }
        Ok(())
    }

    /// The signature header's value for `body` sent at `unix` seconds.
    pub(crate) fn signature(&self, unix: u64, body: &[u8]) -> String {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &self.secret);
        let mut context = ring::hmac::Context::with_key(&key);
        context.update(unix.to_string().as_bytes());
        context.update(b".");
        context.update(body);
        let tag = context.sign();
        let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        format!("t={unix},v1={hex}")
    }

    /// Sends `job`'s record to `url`, retrying failures (network errors,
    /// 429 and 5xx answers) with backoff.
    ///
    /// # Errors
    ///
    /// Why the last attempt failed.
    pub(crate) async fn deliver(&self, url: &str, job: &JobInfo) -> Result<(), String> {
        // Checked at submit; checked again in case the config changed.
        self.check(url).map_err(|e| e.message)?;
        let _sending = self
            .sending
            .acquire()
            .await
            .map_err(|_| "the host is shutting down".to_owned())?;
        let record = crate::json::from_msgpack(&job.to_value());
        let body = match &job.callback_key {
            Some(key) => serde_json::json!({ key.as_str(): record }),
            None => record,
        }
        .to_string();
        let put = job.callback_method.as_deref() == Some("PUT");
        let mut backoff = Duration::from_millis(500);
        let mut last = String::new();
        for attempt in 1..=self.attempts {
            let unix = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let request = if put {
                self.client.put(url)
            } else {
                self.client.post(url)
            };
            let sent = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header("Warden-Signature", self.signature(unix, body.as_bytes()))
                .header("Warden-Job", job.id.as_str())
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(answer) if answer.status().is_success() => return Ok(()),
                Ok(answer) => {
                    let status = answer.status();
                    last = format!("{url} answered {status}");
                    let retry = status.is_server_error() || status.as_u16() == 429;
                    if !retry {
                        break;
                    }
                }
                Err(e) => last = format!("sending to {url} failed: {e}"),
            }
            if attempt < self.attempts {
                tracing::debug!(job = %job.id, attempt, "callback failed, retrying: {last}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
        Err(last)
    }
}

fn random_key() -> Result<String, String> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| "the system random number generator failed".to_owned())?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The key in `path`, or a new one written there (readable by the owner
/// only).
fn load_or_generate_key(path: &Path) -> Result<Vec<u8>, String> {
    if let Ok(key) = std::fs::read_to_string(path) {
        let key = key.trim();
        if key.len() >= 16 {
            return Ok(key.as_bytes().to_vec());
        }
    }
    let key = random_key()?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    use std::io::Write;
    options
        .open(path)
        .and_then(|mut f| f.write_all(key.as_bytes()))
        .map_err(|e| format!("cannot write the callback key `{}`: {e}", path.display()))?;
    tracing::info!(file = %path.display(), "generated the key callbacks are signed with");
    Ok(key.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hooks(allow: &[&str]) -> Webhooks {
        let settings = CallbackSettings {
            allow: allow.iter().map(|s| (*s).to_owned()).collect(),
            secret: Some("0123456789abcdef-secret".into()),
            ..CallbackSettings::default()
        };
        Webhooks::new(&settings, None).unwrap()
    }

    #[test]
    fn only_allowed_http_urls_are_accepted() {
        let none = hooks(&[]);
        let hooks = hooks(&["http://127.0.0.1:9000/hooks/*"]);
        assert!(hooks.check("http://127.0.0.1:9000/hooks/done").is_ok());
        let denied = hooks.check("http://127.0.0.1:9001/hooks/done").unwrap_err();
        assert_eq!(denied.kind, ErrorKind::Denied);
        assert_eq!(
            hooks.check("file:///etc/passwd").unwrap_err().kind,
            ErrorKind::BadArgs
        );
        assert_eq!(
            hooks
                .check("http://user@127.0.0.1:9000/hooks/x")
                .unwrap_err()
                .kind,
            ErrorKind::BadArgs
        );
        assert_eq!(
            hooks.check("not a url").unwrap_err().kind,
            ErrorKind::BadArgs
        );
        assert_eq!(
            hooks
                .check("http://:x@127.0.0.1:9000/hooks/x")
                .unwrap_err()
                .kind,
            ErrorKind::BadArgs
        );
        // The host and port are compared apart from the path.
        let wild = super::tests::hooks(&["https://*.example.com/*"]);
        assert!(wild.check("https://hooks.example.com/done").is_ok());
        assert!(wild.check("https://a.b.example.com/x?y=1").is_ok());
        for bad in [
            "https://evil.net/.example.com/",
            "https://example.com/",
            "https://evil.net/?.example.com",
            "https://evil.net#.example.com",
            "https://hooks.example.com:8443/done",
            "http://hooks.example.com/done",
            "https://hooks.example.com.evil.net/",
        ] {
            assert!(wild.check(bad).is_err(), "{bad} was allowed");
        }
        let exact = super::tests::hooks(&["http://127.0.0.1:9000"]);
        assert!(exact.check("http://127.0.0.1:9000/anything").is_ok());
        assert!(exact.check("http://127.0.0.1:9001/").is_err());
        assert!(
            CallbackSettings {
                allow: vec!["https://a*b.example.com/x".into()],
                ..CallbackSettings::default()
            }
            .validate()
            .is_err()
        );
        assert_eq!(
            none.check("http://127.0.0.1:9000/hooks/done")
                .unwrap_err()
                .kind,
            ErrorKind::Denied,
            "nothing is allowed by default"
        );
    }

    #[test]
    fn signatures_are_hmac_sha256_of_time_and_body() {
        let hooks = hooks(&[]);
        let sig = hooks.signature(1_700_000_000, b"{}");
        // HMAC-SHA256("0123456789abcdef-secret", "1700000000.{}"), computed
        // independently with Python's hmac module.
        assert_eq!(
            sig,
            "t=1700000000,v1=98c46143285b7e2a97edce2d3e564546f46c6b7f6d8479418b7a0ce3c456a915"
        );
    }
}
