//! What a browser may not do: reach a gateway without access control
//! through another host name (DNS rebinding), or send it requests from
//! another site's page (cross-site requests and WebSockets). Scripts and
//! command-line clients send no `Origin` and are not affected.

use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::problem::Problem;
use crate::proto::ErrorKind;

/// The host name of a `Host` value (`localhost:8080`, `[::1]:8080`).
fn host_name(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    authority
        .rsplit_once(':')
        .map_or(authority, |(name, _)| name)
}

fn is_loopback_name(name: &str) -> bool {
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

pub(super) async fn check(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let authority = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.as_str().to_owned()))
        .unwrap_or_default();
    // Without access control everything is callable, so only the loopback
    // names may reach it: a page that rebinds its own name to 127.0.0.1
    // is turned away.
    if !state.host.has_access_control() && !is_loopback_name(host_name(&authority)) {
        return Problem::new(
            ErrorKind::Denied,
            format!(
                "this gateway has no access control and answers only to loopback host names \
                 (localhost, 127.0.0.1, [::1]), not `{}`",
                crate::proto::shorten(&authority)
            ),
        )
        .into_response();
    }
    let changes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let upgrade = request.headers().contains_key(header::UPGRADE);
    if (changes || upgrade)
        && let Some(origin) = request.headers().get(header::ORIGIN)
    {
        let same = origin
            .to_str()
            .ok()
            .and_then(|o| o.split_once("://"))
            .is_some_and(|(_, origin_authority)| origin_authority.eq_ignore_ascii_case(&authority));
        if !same {
            return Problem::new(
                ErrorKind::Denied,
                "requests from another site's pages are refused (their `Origin` is not this \
                 gateway)",
            )
            .into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_and_loopback() {
        assert_eq!(host_name("localhost:8080"), "localhost");
        assert_eq!(host_name("[::1]:8080"), "::1");
        assert_eq!(host_name("127.0.0.1"), "127.0.0.1");
        assert!(is_loopback_name("LOCALHOST"));
        assert!(is_loopback_name("::1"));
        assert!(is_loopback_name("127.0.0.2"));
        assert!(!is_loopback_name("evil.example"));
        assert!(!is_loopback_name("10.0.0.1"));
    }
}
