//! Who is calling: `Authorization: Bearer TOKEN` (or, for WebSockets,
//! which browsers open without headers, an `access_token` query
//! parameter), checked against the same callers as on QUIC.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Query};
use axum::http::header;
use axum::http::request::Parts;

use super::AppState;
use super::problem::Problem;
use crate::access::Identity;
use crate::proto::ErrorKind;

/// The caller of a request.
pub(super) struct Caller(pub(super) Identity);

impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let host = &state.host;
        let token = match parts.headers.get(header::AUTHORIZATION) {
            Some(value) => {
                let value = value.to_str().map_err(|_| bad_header())?;
                let (scheme, token) = value.split_once(' ').ok_or_else(bad_header)?;
                if !scheme.eq_ignore_ascii_case("bearer") {
                    return Err(bad_header());
                }
                Some(token.trim().to_owned())
            }
            None => query_token(&parts.uri),
        };
        match token {
            Some(token) => host.identify(&token).map(Caller).map_err(Problem),
            None => Ok(Caller(host.anonymous())),
        }
    }
}

fn bad_header() -> Problem {
    Problem::new(
        ErrorKind::Unauthenticated,
        "the Authorization header must be `Bearer TOKEN`",
    )
}

/// The `access_token` query parameter, if there is one.
fn query_token(uri: &axum::http::Uri) -> Option<String> {
    let Query(params) = Query::<HashMap<String, String>>::try_from_uri(uri).ok()?;
    params.get("access_token").cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_tokens_are_found_and_decoded() {
        let uri = "/v1/channel/x?args=%5B%5D&access_token=wdn_a%2Bb"
            .parse()
            .unwrap();
        assert_eq!(query_token(&uri).as_deref(), Some("wdn_a+b"));
        let uri = "/v1/channel/x?args=1".parse().unwrap();
        assert_eq!(query_token(&uri), None);
    }
}
