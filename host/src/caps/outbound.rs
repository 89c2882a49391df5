//! Outgoing HTTP (`wasi:http/outgoing-handler`): a plugin may send requests
//! only to the destinations its `http` grant lists, e.g.
//!
//! ```toml
//! [grants]
//! http = ["https://api.example.com/*", "http://127.0.0.1:9000"]
//! ```
//!
//! Every request is checked; a refused one is the guest's
//! `http-request-denied` error, never a trap. A destination matched only
//! through a wildcard (`*`, `*.example.com`) may not resolve to a private,
//! loopback or link-local address: the address is checked after the name
//! is resolved, where the connection is made, so a name that resolves
//! differently later cannot slip through. Private addresses are reachable
//! only through a grant that names their host exactly. Redirects are not
//! followed, responses are bounded in size and time, and every request is
//! logged in the call's log.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures::StreamExt;
use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use super::EventSink;
use crate::proto::{CallEvent, LogLevel};
use crate::urls::UrlPattern;

/// The largest response body a plugin may read.
pub const MAX_RESPONSE_BYTES: u64 = 16 << 20;
/// The longest a request may take, within the call's deadline.
const MAX_REQUEST_TIME: Duration = Duration::from_secs(30);

/// Whether `ip` is a public address (not loopback, private, link-local,
/// shared, unique-local, multicast or unspecified).
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// Resolves names to public addresses only.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| is_public(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!(
                    "`{host}` resolves to no public address (private, loopback and link-local \
                     ones are reachable only through a grant that names the host exactly)"
                )
                .into());
            }
            Ok(Box::new(found.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The two clients: one that reaches public addresses only, one that may
/// reach any (for hosts a grant names exactly).
fn clients() -> &'static (reqwest::Client, reqwest::Client) {
    static CLIENTS: OnceLock<(reqwest::Client, reqwest::Client)> = OnceLock::new();
    CLIENTS.get_or_init(|| {
        let base = || {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .connect_timeout(Duration::from_secs(10))
        };
        let public = base()
            .dns_resolver(Arc::new(PublicOnly))
            .build()
            .unwrap_or_default();
        let any = base().build().unwrap_or_default();
        (public, any)
    })
}

/// Where a request may go: refused (why), or allowed, with private
/// addresses or not.
fn decide(grant: &[String], url: &reqwest::Url) -> Result<bool, String> {
    if !url.username().is_empty() || url.password().is_some() {
        return Err("a URL with a user name or password".into());
    }
    let matching: Vec<UrlPattern<'_>> = grant
        .iter()
        .filter_map(|p| UrlPattern::parse(p).ok())
        .filter(|p| p.allows(url))
        .collect();
    if matching.is_empty() {
        return Err("not a destination of the plugin's `http` grant".into());
    }
    let exact = matching.iter().any(UrlPattern::is_exact_host);
    let literal = url
        .host_str()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
        .and_then(|h| h.parse::<IpAddr>().ok());
    if let Some(ip) = literal
        && !exact
        && !is_public(ip)
    {
        return Err(format!(
            "{ip} is a private address, reachable only through a grant that names it exactly"
        ));
    }
    Ok(exact)
}

/// An error with its causes, `outer: inner: innermost`.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The `wasi:http` side of one plugin's calls.
#[derive(Clone)]
pub(crate) struct OutboundHttp {
    /// The plugin's `http` grant.
    pub(crate) grant: Arc<Vec<String>>,
    /// The plugin and node, for the log.
    pub(crate) plugin: Arc<str>,
    pub(crate) node: Arc<str>,
    /// The call's events, for the log line of each request.
    pub(crate) events: Option<EventSink>,
    /// When the call must end; requests end by then too.
    pub(crate) deadline: Instant,
}

impl OutboundHttp {
    fn log(&self, level: LogLevel, message: String) {
        let (plugin, node) = (&*self.plugin, &*self.node);
        match level {
            LogLevel::Warn => tracing::warn!(target: "warden::guest", plugin, node, "{message}"),
            _ => tracing::info!(target: "warden::guest", plugin, node, "{message}"),
        }
        if let Some(events) = &self.events {
            events(CallEvent::Log { level, message });
        }
    }
}

type SendFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), Error>> + Send>,
                ),
                Error,
            >,
        > + Send,
>;

impl WasiHttpHooks for OutboundHttp {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> SendFuture {
        let this = self.clone();
        Box::new(async move {
            let method = request.method().clone();
            let shown = crate::proto::shorten(&request.uri().to_string());
            let url = match reqwest::Url::parse(&request.uri().to_string()) {
                Ok(url) => url,
                Err(_) => return Err(Error::HttpRequestUriInvalid),
            };
            let private_ok = match decide(&this.grant, &url) {
                Ok(private_ok) => private_ok,
                Err(why) => {
                    this.log(
                        LogLevel::Warn,
                        format!("http {method} {shown} refused: {why}"),
                    );
                    return Err(Error::HttpRequestDenied);
                }
            };
            let left = this.deadline.saturating_duration_since(Instant::now());
            let timeout = options
                .and_then(|o| o.first_byte_timeout)
                .unwrap_or(MAX_REQUEST_TIME)
                .min(MAX_REQUEST_TIME)
                .min(left);
            let (clients_public, clients_any) = clients();
            let client = if private_ok {
                clients_any
            } else {
                clients_public
            };
            let (parts, body) = request.into_parts();
            let body = reqwest::Body::wrap_stream(
                body.into_data_stream()
                    .map(|chunk| chunk.map_err(std::io::Error::other)),
            );
            let started = Instant::now();
            let sent = client
                .request(parts.method, url)
                .headers(parts.headers)
                .body(body)
                .timeout(timeout)
                .send()
                .await;
            let answer = match sent {
                Ok(answer) => answer,
                Err(e) => {
                    this.log(
                        LogLevel::Warn,
                        format!("http {method} {shown} failed: {}", chain(&e)),
                    );
                    return Err(if e.is_timeout() {
                        Error::ConnectionTimeout
                    } else if e.is_connect() {
                        Error::DestinationUnavailable
                    } else {
                        Error::HttpProtocolError
                    });
                }
            };
            this.log(
                LogLevel::Info,
                format!(
                    "http {method} {shown}: {} ({} ms)",
                    answer.status(),
                    started.elapsed().as_millis()
                ),
            );
            let mut response = http::Response::builder().status(answer.status());
            if let Some(headers) = response.headers_mut() {
                *headers = answer.headers().clone();
            }
            let mut read = 0u64;
            let frames = answer.bytes_stream().map(move |chunk| match chunk {
                Ok(bytes) => {
                    read += bytes.len() as u64;
                    if read > MAX_RESPONSE_BYTES {
                        Err(Error::HttpResponseBodySize(Some(MAX_RESPONSE_BYTES)))
                    } else {
                        Ok(http_body::Frame::data(bytes))
                    }
                }
                Err(e) if e.is_timeout() => Err(Error::ConnectionReadTimeout),
                Err(_) => Err(Error::HttpResponseIncomplete),
            });
            let body: WasiBody = http_body_util::StreamBody::new(frames).boxed_unsync();
            let response = response
                .body(body)
                .map_err(|e| Error::InternalError(Some(e.to_string())))?;
            let io: Box<dyn Future<Output = Result<(), Error>> + Send> = Box::new(async { Ok(()) });
            Ok((response, io))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_addresses_are_told_from_private_ones() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "2606:4700::1111", "8.8.8.8"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn destinations_follow_the_grant_and_wildcards_never_reach_private_ones() {
        let grant = vec![
            "https://api.example.com/*".to_owned(),
            "http://127.0.0.1:9000".to_owned(),
            "http://*:8080".to_owned(),
        ];
        let url = |u: &str| reqwest::Url::parse(u).unwrap();
        assert_eq!(decide(&grant, &url("https://api.example.com/v1")), Ok(true));
        assert_eq!(decide(&grant, &url("http://127.0.0.1:9000/x")), Ok(true));
        assert_eq!(decide(&grant, &url("http://example.net:8080/")), Ok(false));
        assert!(decide(&grant, &url("http://127.0.0.1:8080/")).is_err());
        assert!(decide(&grant, &url("http://10.0.0.1:8080/")).is_err());
        assert!(decide(&grant, &url("https://api.example.com.evil.net/")).is_err());
        assert!(decide(&grant, &url("http://user@127.0.0.1:9000/")).is_err());
        assert!(decide(&[], &url("https://api.example.com/")).is_err());
    }
}
