//! The HTTP gateway: a second front end over the host service, with the
//! same admission, callers and limits as QUIC.
//!
//! - `POST /v1/call/{node}`: JSON in, JSON out; `text/event-stream` for
//!   progress, logs and items; NDJSON for stream nodes otherwise;
//! - `GET /v1/channel/{node}`: a channel node over a WebSocket;
//! - `/v1/jobs`: submit (`202`), fetch, cancel, list; callbacks to nodes
//!   or allow-listed URLs;
//! - `/v1/blobs`: streamed upload and download (`ETag`, ranges);
//! - `/v1/nodes`, `/v1/status`, `/v1/events` (live status over SSE);
//! - `/v1/openapi.json` (per caller), `/docs`, the dashboard at `/`, and
//!   `/metrics` (Prometheus).
//!
//! Errors are RFC 9457 problem JSON (`problem.rs`).

mod assets;
mod auth;
mod blobs;
mod calls;
mod channel;
mod jobs;
mod nodes;
mod openapi;
mod origin;
mod output;
mod problem;
mod serve;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use tokio::sync::watch;

use crate::host::Host;

pub use serve::{HttpConfig, HttpError, HttpServer};

/// The OpenAPI 3.1 document of the gateway of `host` as caller `who` gets
/// it at `/v1/openapi.json`.
pub fn openapi_document(host: &Host, who: &crate::access::Identity) -> serde_json::Value {
    openapi::for_caller(host, who)
}

/// What every handler gets.
#[derive(Clone)]
struct AppState {
    host: Host,
    /// Becomes `true` when the server shuts down: open event streams end.
    stopping: watch::Receiver<bool>,
    /// The largest request body outside blob uploads.
    max_body: usize,
    /// The most memory a request's arguments may take once decoded.
    max_decoded: usize,
}

/// The gateway's routes over `state`.
fn router(state: AppState) -> Router {
    let max_body = state.max_body;
    let api = Router::new()
        .route("/v1/status", get(nodes::status))
        .route("/v1/events", get(nodes::events))
        .route("/v1/nodes", get(nodes::catalog))
        .route("/v1/nodes/{*node}", get(nodes::describe))
        .route("/v1/call/{*node}", post(calls::call))
        .route("/v1/channel/{*node}", get(channel::open))
        .route("/v1/jobs", get(jobs::list))
        .route(
            "/v1/jobs/{*rest}",
            post(jobs::submit).get(jobs::fetch).delete(jobs::cancel),
        )
        .route("/v1/blobs/{reference}", get(blobs::download))
        .route("/v1/openapi.json", get(openapi::document))
        .route("/metrics", get(nodes::metrics))
        .route("/", get(assets::dashboard))
        .route("/docs", get(assets::docs))
        .route("/assets/{file}", get(assets::file))
        .layer(DefaultBodyLimit::max(max_body));
    // Uploads are streamed to disk and bounded by the blob limits.
    let uploads = Router::new()
        .route("/v1/blobs", put(blobs::upload))
        .layer(DefaultBodyLimit::disable());
    api.merge(uploads)
        .fallback(|| async {
            problem::Problem::new(
                crate::proto::ErrorKind::NotFound,
                "no such endpoint; `/v1/openapi.json` lists them, `/docs` shows them",
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            origin::check,
        ))
        .with_state(state)
}
