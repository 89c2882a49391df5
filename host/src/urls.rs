//! URL patterns operators write to say where the host may send requests:
//! `[callbacks] allow` and a plugin's `http` grant. The scheme, host, port
//! and path are compared separately, so no path, user name or query can
//! lead to another host.

/// A URL pattern, as `[callbacks] allow` and the `http` grant write them: a scheme, a host (exact, or `*.` and a
/// domain for its subdomains), a port (the scheme's by default) and a path
/// pattern (`*` matches anything; `/*` when absent). The host and port are
/// compared apart from the path, so no path can reach another host.
#[derive(Debug)]
pub(crate) struct UrlPattern<'a> {
    scheme: &'a str,
    host: &'a str,
    port: Option<u16>,
    path: &'a str,
}

impl<'a> UrlPattern<'a> {
    /// Reads `scheme://host[:port][/path]`.
    ///
    /// # Errors
    ///
    /// What is wrong with the pattern.
    pub(crate) fn parse(pattern: &'a str) -> Result<UrlPattern<'a>, String> {
        let bad = |why: &str| format!("`{pattern}`: {why}");
        let (scheme, rest) = pattern
            .split_once("://")
            .ok_or_else(|| bad("write `https://host[:port]/path`"))?;
        if !matches!(scheme, "http" | "https") {
            return Err(bad("the scheme must be `http` or `https`"));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, "/*"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !port.is_empty() && !host.ends_with(':') => {
                let port = port
                    .parse::<u16>()
                    .map_err(|_| bad("the port must be a number"))?;
                (host, Some(port))
            }
            _ => (authority, None),
        };
        let name = host.strip_prefix("*.").unwrap_or(host);
        let any = host == "*";
        if !any && (name.is_empty() || name.contains('*') || name.contains('@')) {
            return Err(bad(
                "the host must be a name or an address, or `*.` and a domain for its subdomains",
            ));
        }
        Ok(UrlPattern {
            scheme,
            host,
            port,
            path,
        })
    }

    /// Whether the pattern names one host exactly (no `*`).
    pub(crate) fn is_exact_host(&self) -> bool {
        !self.host.contains('*')
    }

    /// Whether `url` is one this pattern allows.
    pub(crate) fn allows(&self, url: &reqwest::Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let host_ok = self.host == "*"
            || match self.host.strip_prefix("*.") {
                Some(domain) => {
                    host.len() > domain.len() + 1
                        && host
                            .to_ascii_lowercase()
                            .ends_with(&format!(".{}", domain.to_ascii_lowercase()))
                }
                None => host.eq_ignore_ascii_case(self.host),
            };
        let port = self.port.or(match self.scheme {
            "https" => Some(443),
            _ => Some(80),
        });
        url.scheme() == self.scheme
            && host_ok
            && url.port_or_known_default() == port
            && crate::pattern::pattern_matches(self.path, url.path())
    }
}
