//! Jobs over HTTP: `POST /v1/jobs/{node}` answers `202 Accepted` with the
//! job's record and its `Location`; `GET /v1/jobs/{id}[?wait=S&keep=true]`
//! fetches it (a finished job is removed once fetched, unless `keep`);
//! `DELETE /v1/jobs/{id}` cancels it; `GET /v1/jobs` lists the caller's.
//! A job's callback is a node or an allow-listed URL (`?callback=`, or the
//! `Warden-Callback-URL` header on a call or a submit).

use std::collections::HashMap;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::auth::Caller;
use super::calls::read_args;
use super::problem::Problem;
use crate::access::Identity;
use crate::host::Origin;
use crate::proto::{ErrorKind, JobInfo};

/// The header naming a URL to send a call's outcome to.
pub(super) const CALLBACK_HEADER: &str = "warden-callback-url";

/// Waits longer than this are cut to it.
const MAX_WAIT: Duration = Duration::from_secs(300);

fn record(job: &JobInfo) -> serde_json::Value {
    crate::json::from_msgpack(&job.to_value())
}

/// The callback URL a request's headers ask for, if any.
pub(super) fn callback_from_headers(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    match headers.get(CALLBACK_HEADER) {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .map(|v| Some(v.trim().to_owned()))
            .map_err(|_| {
                Problem::new(
                    ErrorKind::BadRequest,
                    "`Warden-Callback-URL` must be a URL in plain ASCII",
                )
            }),
    }
}

/// Submits a job and answers `202 Accepted` with its record.
pub(super) fn submit_as_job(
    state: &AppState,
    who: &Identity,
    node: &str,
    args: rmpv::Value,
    callback: Option<String>,
    trace: Option<crate::proto::TraceContext>,
) -> Result<Response, Problem> {
    let job = state.host.submit_traced(who, node, args, callback, trace)?;
    let location = format!("/v1/jobs/{}", job.id);
    let mut response = (StatusCode::ACCEPTED, Json(record(&job))).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

pub(super) async fn submit(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(node): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    // Who may submit is checked before the body is read.
    state.host.check(Origin::Caller(&who), &node)?;
    let args = read_args(&state, body).await?;
    let callback = match (query.get("callback"), callback_from_headers(&headers)?) {
        (Some(_), Some(_)) => {
            return Err(Problem::new(
                ErrorKind::BadRequest,
                "give the callback once: `?callback=` or `Warden-Callback-URL`",
            ));
        }
        (Some(node), None) => Some(node.clone()),
        (None, url) => url,
    };
    let trace = super::calls::trace(&headers);
    submit_as_job(&state, &who, &node, args, callback, trace)
}

pub(super) async fn fetch(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Problem> {
    let wait = match query.get("wait") {
        None => None,
        Some(secs) => {
            let secs: f64 = secs
                .parse()
                .ok()
                .filter(|s: &f64| s.is_finite() && *s >= 0.0)
                .ok_or_else(|| {
                    Problem::new(ErrorKind::BadRequest, "`wait` must be a number of seconds")
                })?;
            Some(Duration::from_secs_f64(secs.min(MAX_WAIT.as_secs_f64())))
        }
    };
    let keep = matches!(query.get("keep").map(String::as_str), Some("true" | "1"));
    let job = state.host.job(&who, &id, wait, keep).await?;
    Ok(Json(record(&job)).into_response())
}

pub(super) async fn cancel(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let job = state.host.cancel(&who, &id)?;
    Ok(Json(record(&job)).into_response())
}

pub(super) async fn list(
    State(state): State<AppState>,
    Caller(who): Caller,
) -> Result<Response, Problem> {
    // Every caller without a token is `anonymous`: listing would show them
    // each other's jobs.
    if matches!(who, Identity::Anonymous(_)) {
        return Err(Problem::new(
            ErrorKind::Unauthenticated,
            "listing jobs needs a caller token (`Authorization: Bearer TOKEN`)",
        ));
    }
    let host = state.host.clone();
    let jobs = tokio::task::spawn_blocking(move || host.jobs_of(&who))
        .await
        .map_err(|e| Problem::new(ErrorKind::Internal, format!("listing jobs failed: {e}")))??;
    let records: Vec<serde_json::Value> = jobs.iter().map(record).collect();
    Ok(Json(records).into_response())
}
