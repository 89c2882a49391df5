//! Errors as RFC 9457 problem details (`application/problem+json`): the
//! host's typed [`CallError`] with an HTTP status per kind.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::proto::{CallError, ErrorKind};

/// The media type of a problem.
pub(super) const PROBLEM_JSON: &str = "application/problem+json";

/// A refused or failed request, answered as problem JSON.
#[derive(Debug)]
pub(super) struct Problem(pub(super) CallError);

impl From<CallError> for Problem {
    fn from(e: CallError) -> Self {
        Problem(e)
    }
}

impl Problem {
    /// A problem of `kind` saying `message`.
    pub(super) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Problem(CallError::new(kind, message))
    }

    /// The problem as the JSON object sent (also inside SSE `error` events
    /// and WebSocket messages).
    pub(super) fn to_json(&self) -> serde_json::Value {
        problem_json(&self.0)
    }
}

/// The HTTP status of an error kind.
pub(super) fn status(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::Denied => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::ResourceLimit => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::BadArgs | ErrorKind::NodeError => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::Overloaded => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Trap | ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorKind::Unavailable | ErrorKind::Cancelled => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
    }
}

/// A short title per kind.
fn title(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::NotFound => "No such node",
        ErrorKind::BadArgs => "The arguments do not fit the node",
        ErrorKind::Denied => "Not allowed",
        ErrorKind::Unauthenticated => "A caller token is needed",
        ErrorKind::Trap => "The node trapped",
        ErrorKind::Timeout => "The call took too long",
        ErrorKind::ResourceLimit => "A limit was exceeded",
        ErrorKind::NodeError => "The node returned an error",
        ErrorKind::Overloaded => "Too busy; retry later",
        ErrorKind::Cancelled => "Cancelled",
        ErrorKind::BadRequest => "Malformed request",
        ErrorKind::Unavailable => "Not available now",
        ErrorKind::Internal => "Internal error",
    }
}

/// `e` as a problem JSON object: `type`, `title`, `status`, `detail`,
/// `kind` and, when the error has them, `details`.
pub(super) fn problem_json(e: &CallError) -> serde_json::Value {
    let mut problem = json!({
        "type": format!("urn:warden:error:{}", e.kind.as_str()),
        "title": title(e.kind),
        "status": status(e.kind).as_u16(),
        "detail": e.message,
        "kind": e.kind.as_str(),
    });
    if let (Some(details), Some(map)) = (&e.details, problem.as_object_mut()) {
        map.insert("details".into(), crate::json::from_msgpack(details));
    }
    problem
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let kind = self.0.kind;
        let body = self.to_json().to_string();
        let mut response = (status(kind), body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if matches!(kind, ErrorKind::Overloaded | ErrorKind::Unavailable) {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if kind == ErrorKind::Unauthenticated {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"warden\""),
            );
        }
        response
    }
}
