//! `POST /v1/call/{node}`: the arguments as a JSON body; the result as
//! JSON, or as Server-Sent Events (`Accept: text/event-stream`), or as
//! NDJSON for a stream node. Request headers can turn the call into a job
//! answered at a URL (`Warden-Callback-URL`).

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use rmpv::Value;

use super::auth::Caller;
use super::output::{self, Out};
use super::problem::{Problem, problem_json};
use super::{AppState, jobs};
use crate::host::{Origin, Wait};
use crate::proto::{ErrorKind, NodeKind};

/// The header that bounds a call's time, in milliseconds.
pub(super) const TIMEOUT_HEADER: &str = "warden-timeout-ms";

/// The caller's trace context (W3C `traceparent`), if it sent a valid one.
pub(super) fn trace(headers: &HeaderMap) -> Option<crate::proto::TraceContext> {
    headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .and_then(crate::proto::TraceContext::parse)
}

/// About how many bytes JSON `text` takes once decoded (as JSON values,
/// then MessagePack values): an upper bound on its values, counted from
/// its separators outside strings, at 128 bytes each, plus its length.
pub(super) fn decoded_estimate(text: &[u8]) -> usize {
    let mut values = 1usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in text {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b',' | b':' | b'[' | b'{' => values += 1,
            _ => {}
        }
    }
    values.saturating_mul(128).saturating_add(text.len())
}

/// Reads the body (at most `max_body` bytes) as call arguments: a JSON
/// array (in parameter order), an object (by name), `null` or nothing (no
/// arguments). Read only once the caller was admitted, and decoded only
/// within `max_decoded` bytes.
pub(super) async fn read_args(state: &AppState, body: Body) -> Result<Value, Problem> {
    let body = axum::body::to_bytes(body, state.max_body)
        .await
        .map_err(|e| {
            let too_big = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if too_big {
                Problem::new(
                    ErrorKind::ResourceLimit,
                    format!(
                        "the body is larger than this gateway's {} bytes; pass big data as a \
                         blob (`PUT /v1/blobs`) and its reference",
                        state.max_body
                    ),
                )
            } else {
                Problem::new(ErrorKind::BadRequest, format!("cannot read the body: {e}"))
            }
        })?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Nil);
    }
    let estimate = decoded_estimate(&body);
    if estimate > state.max_decoded {
        return Err(Problem::new(
            ErrorKind::ResourceLimit,
            format!(
                "the arguments would take about {estimate} bytes once decoded; this gateway \
                 allows {}",
                state.max_decoded
            ),
        ));
    }
    let json: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| Problem::new(ErrorKind::BadRequest, format!("the body is not JSON: {e}")))?;
    if !(json.is_array() || json.is_object() || json.is_null()) {
        return Err(Problem::new(
            ErrorKind::BadRequest,
            "the body must be the arguments: a JSON array (in parameter order) or an object \
             (by parameter name)",
        ));
    }
    Ok(crate::json::to_msgpack(&json))
}

/// The deadline a `Warden-Timeout-Ms` header asks for.
pub(super) fn deadline(headers: &HeaderMap) -> Result<Option<Instant>, Problem> {
    let Some(value) = headers.get(TIMEOUT_HEADER) else {
        return Ok(None);
    };
    let ms = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .ok_or_else(|| {
            Problem::new(
                ErrorKind::BadRequest,
                "`Warden-Timeout-Ms` must be a number of milliseconds",
            )
        })?;
    Ok(Instant::now().checked_add(Duration::from_millis(ms)))
}

fn wants_events(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"))
}

pub(super) async fn call(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(node): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    if jobs::asks_for_callback(&headers) {
        let options = jobs::options(&headers, None)?;
        state.host.check_job(&who, &node)?;
        let args = read_args(&state, body).await?;
        return jobs::submit_as_job(&state, &who, &node, args, options).await;
    }
    let deadline = deadline(&headers)?;
    // Admitted before the body is read: a caller that may not call costs
    // nothing more.
    let admitted = state
        .host
        .admit(Origin::Caller(&who), &node, deadline, Wait::No)
        .await?
        .with_trace(trace(&headers));
    let args = read_args(&state, body).await?;
    match (admitted.kind(), wants_events(&headers)) {
        (NodeKind::Channel, _) => Err(Problem::new(
            ErrorKind::BadRequest,
            format!(
                "`{node}` is a channel node: open a WebSocket at `/v1/channel/{node}` to send \
                 it messages"
            ),
        )),
        (_, true) => Ok(sse(output::start(admitted, args, None)).into_response()),
        (NodeKind::Stream, false) => Ok(ndjson(output::start(admitted, args, None))),
        (NodeKind::Call, false) => {
            let result = admitted.run(args, Default::default()).await?;
            Ok(Json(crate::json::from_msgpack(&result)).into_response())
        }
    }
}

/// The call's output as Server-Sent Events: `progress`, `log` and `item`
/// events, then one `result` or `error`.
fn sse(running: output::Running) -> Sse<impl futures::Stream<Item = Result<Event, Infallible>>> {
    let stream = futures::stream::unfold(Some(running), |running| async move {
        let mut running = running?;
        let event = match running.next().await? {
            Out::Event(event) => {
                let (name, data) = output::event_json(&event);
                let event = Event::default().event(name).data(data.to_string());
                return Some((Ok(event), Some(running)));
            }
            Out::Done(Ok(value)) => Event::default()
                .event("result")
                .data(crate::json::from_msgpack(&value).to_string()),
            Out::Done(Err(e)) => Event::default()
                .event("error")
                .data(problem_json(&e).to_string()),
        };
        // The final event: the stream ends after it.
        Some((Ok(event), None))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// A stream node's items as NDJSON, one JSON value per line. An error
/// after the items ends the body with a line `{"error": PROBLEM}`.
fn ndjson(running: output::Running) -> Response {
    let lines = futures::stream::unfold(Some(running), |running| async move {
        let mut running = running?;
        loop {
            match running.next().await? {
                Out::Event(crate::proto::CallEvent::Item(value)) => {
                    let mut line = crate::json::from_msgpack(&value).to_string();
                    line.push('\n');
                    return Some((Ok::<_, Infallible>(line), Some(running)));
                }
                // Progress and logs need SSE.
                Out::Event(_) => {}
                Out::Done(Ok(_)) => return None,
                Out::Done(Err(e)) => {
                    let line = format!("{}\n", serde_json::json!({ "error": problem_json(&e) }));
                    return Some((Ok(line), None));
                }
            }
        }
    });
    let mut response = Body::from_stream(lines).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoded_sizes_are_estimated_from_the_separators() {
        assert_eq!(decoded_estimate(b"[1, 2, 3]"), 4 * 128 + 9);
        // Separators inside strings do not count.
        let quoted = br#"["a,b:c[{", "q\",x"]"#;
        assert_eq!(decoded_estimate(quoted), 3 * 128 + quoted.len());
        let many = format!("[{}0]", "0,".repeat(1000));
        assert!(decoded_estimate(many.as_bytes()) > 1000 * 128);
    }
}
