//! `GET /v1/channel/{node}?args=JSON`: a channel node over a WebSocket.
//! The call is admitted before the upgrade (a refusal is an ordinary
//! problem response). Each text message from the client is one JSON input;
//! an empty text message (or closing) ends the input. The server sends
//! `{"type": "item", "value": ..}`, `{"type": "progress", ..}`,
//! `{"type": "log", ..}`, then `{"type": "result", "value": ..}` or
//! `{"type": "error", ..problem}`, and closes.

use std::collections::HashMap;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use rmpv::Value;
use serde_json::json;
use tokio::sync::mpsc;

use super::AppState;
use super::auth::Caller;
use super::calls::deadline;
use super::output::{self, Out};
use super::problem::{Problem, problem_json};
use crate::host::{Origin, Wait};
use crate::proto::{ErrorKind, NodeKind};

/// Inputs waiting for the node, at most.
const INPUT_BUFFER: usize = 16;

pub(super) async fn open(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(node): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Result<Response, Problem> {
    let args = match query.get("args") {
        None => Value::Nil,
        Some(text) => {
            let json: serde_json::Value = serde_json::from_str(text).map_err(|e| {
                Problem::new(ErrorKind::BadRequest, format!("`args` is not JSON: {e}"))
            })?;
            crate::json::to_msgpack(&json)
        }
    };
    let admitted = state
        .host
        .admit(Origin::Caller(&who), &node, deadline(&headers)?, Wait::No)
        .await?
        .with_trace(super::calls::trace(&headers));
    if admitted.kind() != NodeKind::Channel {
        return Err(Problem::new(
            ErrorKind::BadRequest,
            format!("`{node}` is not a channel node: call it with `POST /v1/call/{node}`"),
        ));
    }
    // Checked before the upgrade, so bad arguments are a 422, not a close
    // (a node on another host checks them there, and the call ends with it).
    if let Some(plugin) = admitted.plugin() {
        plugin.check_args(&node_name(&node), &args)?;
    }
    let max = state.max_body;
    let max_decoded = state.max_decoded;
    Ok(upgrade
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| async move {
            let (inputs_tx, inputs_rx) = mpsc::channel(INPUT_BUFFER);
            let running = output::start(admitted, args, Some(inputs_rx));
            converse(socket, running, inputs_tx, state.stopping, max_decoded).await;
        }))
}

/// The node's name inside its plugin (`text/strings/upper` → `strings/upper`).
fn node_name(full: &str) -> String {
    full.split_once('/').map_or(full, |(_, n)| n).to_owned()
}

fn text(value: serde_json::Value) -> Message {
    Message::Text(Utf8Bytes::from(value.to_string()))
}

/// Completes once the server is stopping.
pub(super) async fn stopped(stopping: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stopping.wait_for(|s| *s).await;
}

/// How long the client may take to take one message.
const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

async fn send(socket: &mut WebSocket, message: Message) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, socket.send(message)).await,
        Ok(Ok(()))
    )
}

fn bad(message: impl Into<String>) -> crate::proto::CallError {
    crate::proto::CallError::new(ErrorKind::BadRequest, message)
}

/// Passes the client's messages to the node and the node's output to the
/// client until the call ends, the client goes away or the server stops.
/// One input waits for room in the node's queue at a time; meanwhile the
/// node's output keeps flowing, so neither side can block the other.
async fn converse(
    mut socket: WebSocket,
    mut running: output::Running,
    inputs: mpsc::Sender<Value>,
    mut stopping: tokio::sync::watch::Receiver<bool>,
    max_decoded: usize,
) {
    let mut inputs = Some(inputs);
    let mut pending: Option<Value> = None;
    let outcome = loop {
        let queue = inputs.clone();
        tokio::select! {
            out = running.next() => match out {
                Some(Out::Event(event)) => {
                    let (name, data) = output::event_json(&event);
                    let message = match name {
                        "item" => json!({"type": "item", "value": data}),
                        _ => {
                            let mut data = data;
                            if let Some(map) = data.as_object_mut() {
                                map.insert("type".into(), json!(name));
                            }
                            data
                        }
                    };
                    if !send(&mut socket, text(message)).await {
                        return;
                    }
                }
                Some(Out::Done(result)) => break result,
                None => return,
            },
            permit = async move { queue?.reserve_owned().await.ok() }, if pending.is_some() => {
                match (permit, pending.take()) {
                    (Some(permit), Some(value)) => {
                        permit.send(value);
                    }
                    // The node takes no more input; it ends on its own.
                    _ => inputs = None,
                }
            }
            message = socket.recv(), if pending.is_none() => match message {
                // An empty message ends the input; closing is still read.
                Some(Ok(Message::Text(t))) if t.as_str().trim().is_empty() => inputs = None,
                Some(Ok(Message::Text(_))) if inputs.is_none() => {}
                Some(Ok(Message::Text(t))) => {
                    let estimate = super::calls::decoded_estimate(t.as_bytes());
                    if estimate > max_decoded {
                        break Err(crate::proto::CallError::new(
                            ErrorKind::ResourceLimit,
                            format!(
                                "a message would take about {estimate} bytes once decoded; \
                                 this gateway allows {max_decoded}"
                            ),
                        ));
                    }
                    match serde_json::from_str::<serde_json::Value>(t.as_str()) {
                        Ok(json) => pending = Some(crate::json::to_msgpack(&json)),
                        Err(e) => break Err(bad(format!("a message is not JSON: {e}"))),
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    break Err(bad("send inputs as JSON text messages"));
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                // Closed or gone: the call is cancelled.
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
            },
            _ = stopped(&mut stopping) => {
                break Err(crate::proto::CallError::new(
                    ErrorKind::Cancelled,
                    "the server is shutting down",
                ));
            }
        }
    };
    let last = match outcome {
        Ok(value) => json!({"type": "result", "value": crate::json::from_msgpack(&value)}),
        Err(e) => {
            let mut problem = problem_json(&e);
            if let Some(map) = problem.as_object_mut() {
                map.insert("type".into(), json!("error"));
            }
            problem
        }
    };
    if send(&mut socket, text(last)).await {
        let close = Message::Close(Some(CloseFrame {
            code: axum::extract::ws::close_code::NORMAL,
            reason: Utf8Bytes::from_static("done"),
        }));
        let _ = send(&mut socket, close).await;
    }
}
