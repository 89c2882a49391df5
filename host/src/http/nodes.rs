//! What is served: `GET /v1/nodes` (the caller's catalog),
//! `GET /v1/nodes/{node}`, `GET /v1/status`, `GET /v1/events` (the status
//! again whenever a plugin is added, replaced, removed or changes state,
//! as Server-Sent Events) and `GET /metrics`.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::auth::Caller;
use super::problem::{Problem, problem_json};
use crate::access::Identity;
use crate::proto::ErrorKind;

pub(super) async fn catalog(State(state): State<AppState>, Caller(who): Caller) -> Response {
    let nodes: Vec<serde_json::Value> = state
        .host
        .catalog(&who)
        .iter()
        .map(|n| crate::json::from_msgpack(&n.to_value()))
        .collect();
    Json(nodes).into_response()
}

pub(super) async fn describe(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(node): Path<String>,
) -> Result<Response, Problem> {
    let info = state.host.describe(&who, &node)?;
    Ok(Json(crate::json::from_msgpack(&info.to_value())).into_response())
}

fn status_json(state: &AppState, who: &Identity) -> Result<serde_json::Value, Problem> {
    let status = state.host.status(who)?;
    Ok(crate::json::from_msgpack(&status.to_value()))
}

pub(super) async fn status(
    State(state): State<AppState>,
    Caller(who): Caller,
) -> Result<Response, Problem> {
    Ok(Json(status_json(&state, &who)?).into_response())
}

/// At most this often a burst of changes (a directory of plugins
/// loading) is sent.
const EVENTS_EVERY: Duration = Duration::from_millis(200);

/// What the event stream keeps between events.
struct Watching {
    state: AppState,
    who: Identity,
    changes: tokio::sync::watch::Receiver<u64>,
    first: bool,
}

pub(super) async fn events(
    State(state): State<AppState>,
    Caller(who): Caller,
) -> Sse<impl futures::Stream<Item = Result<Event, Infallible>>> {
    let watching = Watching {
        changes: state.host.plugins().subscribe(),
        state,
        who,
        first: true,
    };
    let stream = futures::stream::unfold(Some(watching), |watching| async move {
        let mut w = watching?;
        if !w.first {
            let mut stopping = w.state.stopping.clone();
            tokio::select! {
                changed = w.changes.changed() => changed.ok()?,
                _ = stopping.wait_for(|s| *s) => return None,
            }
            // One event for a burst of changes.
            tokio::time::sleep(EVENTS_EVERY).await;
            w.changes.borrow_and_update();
        }
        w.first = false;
        match status_json(&w.state, &w.who) {
            Ok(status) => {
                let event = Event::default().event("status").data(status.to_string());
                Some((Ok(event), Some(w)))
            }
            // Not allowed to see it: say why, then end.
            Err(Problem(e)) => {
                let event = Event::default()
                    .event("error")
                    .data(problem_json(&e).to_string());
                Some((Ok(event), None))
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

pub(super) async fn metrics(
    State(state): State<AppState>,
    Caller(who): Caller,
) -> Result<Response, Problem> {
    // What is installed is for known callers only, as `status` is.
    if state.host.has_access_control() && matches!(who, Identity::Anonymous(_)) {
        return Err(Problem::new(
            ErrorKind::Unauthenticated,
            "the metrics need a caller token (`Authorization: Bearer TOKEN`)",
        ));
    }
    let host = state.host.clone();
    let text = tokio::task::spawn_blocking(move || host.metrics_text())
        .await
        .map_err(|e| {
            Problem::new(
                ErrorKind::Internal,
                format!("reading the metrics failed: {e}"),
            )
        })?;
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}
