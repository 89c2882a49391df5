//! The dashboard (`/`) and the API docs (`/docs`): plain HTML, CSS and
//! JavaScript compiled into the binary, so they work with no network.

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::problem::Problem;
use crate::proto::ErrorKind;

/// The files under `/assets/`, with their media types.
const FILES: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("assets/app.css"),
    ),
    (
        "common.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/common.js"),
    ),
    (
        "dashboard.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/dashboard.js"),
    ),
    (
        "docs.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/docs.js"),
    ),
];

/// Scripts and styles only from this server; no inline code.
const CSP: &str = "default-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; \
                   frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

fn page(media: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

pub(super) async fn dashboard() -> Response {
    page(
        "text/html; charset=utf-8",
        include_str!("assets/dashboard.html"),
    )
}

pub(super) async fn docs() -> Response {
    page("text/html; charset=utf-8", include_str!("assets/docs.html"))
}

pub(super) async fn file(Path(name): Path<String>) -> Result<Response, Problem> {
    FILES
        .iter()
        .find(|(file, _, _)| *file == name)
        .map(|(_, media, body)| page(media, body))
        .ok_or_else(|| Problem::new(ErrorKind::NotFound, format!("no asset `{name}`")))
}
