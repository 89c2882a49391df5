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
use crate::jobs::JobOptions;
use crate::proto::{ErrorKind, JobInfo};

/// The header naming a URL to send a call's outcome to.
pub(super) const CALLBACK_HEADER: &str = "warden-callback-url";

/// Waits longer than this are cut to it.
const MAX_WAIT: Duration = Duration::from_secs(300);

fn record(job: &JobInfo) -> serde_json::Value {
    crate::json::from_msgpack(&job.to_value())
}

fn header(headers: &HeaderMap, name: &str) -> Result<Option<String>, Problem> {
    match headers.get(name) {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .map(|v| Some(v.trim().to_owned()))
            .map_err(|_| Problem::new(ErrorKind::BadRequest, format!("`{name}` must be ASCII"))),
    }
}

/// Whether a call's headers turn it into a job answered at a URL.
pub(super) fn asks_for_callback(headers: &HeaderMap) -> bool {
    headers.contains_key(CALLBACK_HEADER)
}

/// The job options a request asks for: the callback (`?callback=` or
/// `Warden-Callback-URL`, with `Warden-Callback-Method` and
/// `Warden-Callback-Key`) and the caller's trace.
pub(super) fn options(
    headers: &HeaderMap,
    query_callback: Option<&String>,
) -> Result<JobOptions, Problem> {
    let url = header(headers, CALLBACK_HEADER)?;
    let callback = match (query_callback, url) {
        (Some(_), Some(_)) => {
            return Err(Problem::new(
                ErrorKind::BadRequest,
                "give the callback once: `?callback=` or `Warden-Callback-URL`",
            ));
        }
        (Some(node), None) => Some(node.clone()),
        (None, url) => url,
    };
    Ok(JobOptions {
        callback,
        callback_method: header(headers, "warden-callback-method")?.map(|m| m.to_ascii_uppercase()),
        callback_key: header(headers, "warden-callback-key")?,
        trace: super::calls::trace(headers),
    })
}

/// Submits a job and answers `202 Accepted` with its record.
pub(super) async fn submit_as_job(
    state: &AppState,
    who: &Identity,
    node: &str,
    args: rmpv::Value,
    options: JobOptions,
) -> Result<Response, Problem> {
    let job = state.host.submit_with(who, node, args, options).await?;
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
    let options = options(&headers, query.get("callback"))?;
    // Who may submit is checked before the body is read.
    state.host.check_job(&who, &node)?;
    let args = read_args(&state, body).await?;
    submit_as_job(&state, &who, &node, args, options).await
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
    let job = state.host.cancel(&who, &id).await?;
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
    let jobs = state.host.jobs_of(&who).await?;
    let records: Vec<serde_json::Value> = jobs.iter().map(record).collect();
    Ok(Json(records).into_response())
}
