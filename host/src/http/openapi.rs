//! `GET /v1/openapi.json`: an OpenAPI 3.1 document of the gateway for the
//! caller asking: one operation per node it may call (its parameters'
//! JSON Schema as the request body, its result's as the response, its
//! docs as the description), as a call, as a job and, for channel nodes,
//! as a WebSocket; and the fixed endpoints.

use std::collections::HashSet;

use axum::extract::State;
use serde_json::{Map, Value as Json, json};

use super::AppState;
use super::auth::Caller;
use crate::proto::{NodeInfo, NodeKind};

pub(super) async fn document(
    State(state): State<AppState>,
    Caller(who): Caller,
) -> axum::Json<Json> {
    axum::Json(for_caller(&state.host, &who))
}

/// The document `who` gets from `host`'s gateway.
pub(super) fn for_caller(host: &crate::host::Host, who: &crate::access::Identity) -> Json {
    let nodes = host.catalog(who);
    let descriptions = host
        .plugins()
        .snapshot()
        .served()
        .map(|s| (s.plugin.name().to_owned(), s.description.clone()))
        .collect::<Vec<_>>();
    build(&nodes, &descriptions, host.has_access_control())
}

/// The document for `nodes`; `plugins` gives each plugin's description.
pub(super) fn build(
    nodes: &[NodeInfo],
    plugins: &[(String, Option<String>)],
    tokens: bool,
) -> Json {
    let mut paths = fixed_paths();
    let mut ids = OperationIds::default();
    let mut tags: Vec<Json> = vec![json!({
        "name": "warden",
        "description": "The gateway's own endpoints: what is served, jobs, blobs, metrics.",
    })];
    let mut tagged = HashSet::new();
    for node in nodes {
        if tagged.insert(node.plugin.clone()) {
            let mut tag = json!({"name": node.plugin});
            if let Some(Some(description)) = plugins
                .iter()
                .find(|(name, _)| *name == node.plugin)
                .map(|(_, d)| d)
            {
                tag["description"] = json!(description);
            }
            tags.push(tag);
        }
        match node.kind {
            NodeKind::Channel => {
                paths.insert(
                    format!("/v1/channel/{}", node.node),
                    json!({"get": channel_operation(node, ids.next("channel", &node.node))}),
                );
            }
            NodeKind::Call | NodeKind::Stream => {
                paths.insert(
                    format!("/v1/call/{}", node.node),
                    json!({"post": call_operation(node, ids.next("call", &node.node))}),
                );
            }
        }
        if node.kind != NodeKind::Channel {
            paths.insert(
                format!("/v1/jobs/{}", node.node),
                json!({"post": job_operation(node, ids.next("submit", &node.node))}),
            );
        }
    }
    let mut document = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Warden",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Nodes of the WebAssembly plugins this host serves, callable over \
                            HTTP. Errors are RFC 9457 problem details with the error `kind`.",
        },
        "tags": tags,
        "paths": paths,
        "components": components(),
    });
    if tokens {
        document["components"]["securitySchemes"] =
            json!({"token": {"type": "http", "scheme": "bearer"}});
        // A token is optional: callers without one get what `anonymous`
        // may call.
        document["security"] = json!([{}, {"token": []}]);
    }
    document
}

/// Unique operation ids made of letters, digits and `_`.
#[derive(Default)]
struct OperationIds(HashSet<String>);

impl OperationIds {
    fn next(&mut self, verb: &str, node: &str) -> String {
        let base: String = format!("{verb}_{node}")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let mut id = base.clone();
        let mut n = 2;
        while !self.0.insert(id.clone()) {
            id = format!("{base}_{n}");
            n += 1;
        }
        id
    }
}

/// The node's signature, as `warden nodes` prints it.
fn signature(node: &NodeInfo) -> String {
    let params: Vec<String> = node
        .params
        .iter()
        .map(|p| format!("{}: {}", p.name, p.ty))
        .collect();
    match &node.result {
        Some(result) => format!("{}({}) -> {result}", node.node, params.join(", ")),
        None => format!("{}({})", node.node, params.join(", ")),
    }
}

fn description(node: &NodeInfo) -> String {
    let signature = format!("`{}`", signature(node));
    match &node.docs {
        Some(docs) => format!("{docs}\n\n{signature}"),
        None => signature,
    }
}

fn request_body(node: &NodeInfo) -> Json {
    json!({
        "required": !node.params.is_empty(),
        "description": "The arguments: an object by parameter name (as here) or an array in \
                        parameter order.",
        "content": {"application/json": {"schema": node.params_schema}},
    })
}

fn errors() -> Json {
    json!({
        "description": "The call was refused or failed: the `kind` says how.",
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    })
}

fn call_operation(node: &NodeInfo, id: String) -> Json {
    let mut ok = Map::new();
    let mut answer = "The result.".to_owned();
    match node.kind {
        NodeKind::Stream => {
            let item = node.item_schema.clone().unwrap_or(json!({}));
            answer = "The items: one JSON value per line (NDJSON), or Server-Sent Events \
                           with `Accept: text/event-stream`."
                .into();
            ok.insert("application/x-ndjson".into(), json!({"schema": item}));
        }
        _ => {
            ok.insert(
                "application/json".into(),
                json!({"schema": node.result_schema}),
            );
        }
    }
    ok.insert(
        "text/event-stream".into(),
        json!({"schema": {"type": "string", "description": "`progress`, `log` and `item` events, then `result` or `error`."}}),
    );
    json!({
        "operationId": id,
        "summary": node.node,
        "description": description(node),
        "tags": [node.plugin],
        "parameters": [timeout_header()],
        "requestBody": request_body(node),
        "responses": {
            "200": {"description": answer, "content": ok},
            "default": errors(),
        },
    })
}

fn timeout_header() -> Json {
    json!({
        "name": "Warden-Timeout-Ms",
        "in": "header",
        "required": false,
        "description": "How long the caller waits, in milliseconds; the plugin's own timeout \
                        applies as well.",
        "schema": {"type": "integer", "minimum": 0},
    })
}

fn job_operation(node: &NodeInfo, id: String) -> Json {
    json!({
        "operationId": id,
        "summary": format!("{} as a job", node.node),
        "description": format!(
            "{}\n\nQueued at once (`202`); fetch the outcome from `Location`.",
            description(node)
        ),
        "tags": [node.plugin],
        "parameters": [
            {
                "name": "callback",
                "in": "query",
                "required": false,
                "description": "A node to call with the outcome.",
                "schema": {"type": "string"},
            },
            {
                "name": "Warden-Callback-URL",
                "in": "header",
                "required": false,
                "description": "An allow-listed URL the host POSTs the finished job's record \
                                to, signed (`Warden-Signature`).",
                "schema": {"type": "string", "format": "uri"},
            },
        ],
        "requestBody": request_body(node),
        "responses": {
            "202": {
                "description": "Queued.",
                "headers": {"Location": {"schema": {"type": "string"}, "description": "The job's URL."}},
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}},
            },
            "default": errors(),
        },
    })
}

fn channel_operation(node: &NodeInfo, id: String) -> Json {
    let input = node.input_schema.clone().unwrap_or(json!({}));
    let item = node.item_schema.clone().unwrap_or(json!({}));
    json!({
        "operationId": id,
        "summary": format!("{} (WebSocket)", node.node),
        "description": format!(
            "{}\n\nUpgrade to a WebSocket; send one JSON text message per input (schema: \
             `{input}`), an empty message to end the input; receive `{{\"type\": \"item\", \
             \"value\": ..}}` messages (schema of a value: `{item}`), then `result` or `error`.",
            description(node)
        ),
        "tags": [node.plugin],
        "parameters": [
            {
                "name": "args",
                "in": "query",
                "required": false,
                "description": "The arguments as JSON.",
                "content": {"application/json": {"schema": node.params_schema}},
            },
            {
                "name": "access_token",
                "in": "query",
                "required": false,
                "description": "The caller token, for clients that cannot send headers.",
                "schema": {"type": "string"},
            },
        ],
        "responses": {
            "101": {"description": "Switched to the WebSocket protocol."},
            "default": errors(),
        },
    })
}

fn json_response(description: &str, schema: Json) -> Json {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

fn fixed(summary: &str, id: &str, responses: Json) -> Json {
    json!({"operationId": id, "summary": summary, "tags": ["warden"], "responses": responses})
}

/// The endpoints every gateway has.
fn fixed_paths() -> Map<String, Json> {
    let node_param = json!({
        "name": "node", "in": "path", "required": true,
        "description": "The node's full name, e.g. `math/add`.",
        "schema": {"type": "string"},
    });
    let id_param = json!({
        "name": "id", "in": "path", "required": true,
        "description": "The job's id.", "schema": {"type": "string"},
    });
    let job = || json!({"$ref": "#/components/schemas/Job"});
    let mut paths = Map::new();
    paths.insert(
        "/v1/nodes".into(),
        json!({"get": fixed("The nodes you may call", "list_nodes", json!({
            "200": json_response("Their descriptions.", json!({"type": "array", "items": {"$ref": "#/components/schemas/Node"}})),
            "default": errors(),
        }))}),
    );
    let mut describe = fixed(
        "One node",
        "describe_node",
        json!({
            "200": json_response("Its description.", json!({"$ref": "#/components/schemas/Node"})),
            "default": errors(),
        }),
    );
    describe["parameters"] = json!([node_param]);
    paths.insert("/v1/nodes/{node}".into(), json!({"get": describe}));
    paths.insert(
        "/v1/status".into(),
        json!({"get": fixed("Every plugin's state", "status", json!({
            "200": json_response("Plugins and cache counters.", json!({"type": "object"})),
            "default": errors(),
        }))}),
    );
    paths.insert(
        "/v1/events".into(),
        json!({"get": fixed("The status, again on every change", "events", json!({
            "200": {"description": "`status` events (Server-Sent Events).", "content": {"text/event-stream": {"schema": {"type": "string"}}}},
            "default": errors(),
        }))}),
    );
    paths.insert(
        "/v1/jobs".into(),
        json!({"get": fixed("Your jobs, newest first", "list_jobs", json!({
            "200": json_response("Their records.", json!({"type": "array", "items": job()})),
            "default": errors(),
        }))}),
    );
    let mut fetch = fixed(
        "A job, waiting for it to finish",
        "get_job",
        json!({"200": json_response("Its record.", job()), "default": errors()}),
    );
    fetch["parameters"] = json!([
        id_param,
        {"name": "wait", "in": "query", "required": false, "description": "Seconds to wait for it to finish (at most 300).", "schema": {"type": "number", "minimum": 0}},
        {"name": "keep", "in": "query", "required": false, "description": "Keep a finished job (it is removed once fetched otherwise).", "schema": {"type": "boolean"}},
    ]);
    let mut cancel = fixed(
        "Cancel a job",
        "cancel_job",
        json!({"200": json_response("Its record now.", job()), "default": errors()}),
    );
    cancel["parameters"] = json!([id_param]);
    paths.insert(
        "/v1/jobs/{id}".into(),
        json!({"get": fetch, "delete": cancel}),
    );
    let mut upload = fixed(
        "Upload a blob",
        "put_blob",
        json!({
            "201": json_response("Its reference and size.", json!({"$ref": "#/components/schemas/Blob"})),
            "default": errors(),
        }),
    );
    upload["requestBody"] = json!({
        "required": true,
        "content": {"application/octet-stream": {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}}},
    });
    paths.insert("/v1/blobs".into(), json!({"put": upload}));
    let mut download = fixed(
        "Download a blob",
        "get_blob",
        json!({
            "200": {"description": "Its bytes; `ETag` is its reference.", "content": {"application/octet-stream": {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}}}},
            "206": {"description": "The bytes of the `Range` asked for.", "content": {"application/octet-stream": {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}}}},
            "default": errors(),
        }),
    );
    download["parameters"] = json!([{
        "name": "reference", "in": "path", "required": true,
        "description": "`blake3:` and 64 hex digits.", "schema": {"type": "string"},
    }]);
    paths.insert("/v1/blobs/{reference}".into(), json!({"get": download}));
    paths.insert(
        "/metrics".into(),
        json!({"get": fixed("Prometheus metrics", "metrics", json!({
            "200": {"description": "The text format.", "content": {"text/plain": {"schema": {"type": "string"}}}},
            "default": errors(),
        }))}),
    );
    paths
}

fn components() -> Json {
    json!({"schemas": {
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details.",
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "kind": {"type": "string", "enum": crate::proto::ErrorKind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>()},
                "details": {},
            },
            "required": ["type", "title", "status", "detail", "kind"],
        },
        "Job": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "node": {"type": "string"},
                "args": {},
                "caller": {"type": "string"},
                "state": {"type": "string", "enum": ["queued", "running", "done", "failed", "cancelled"]},
                "result": {},
                "error_kind": {"type": ["string", "null"]},
                "error": {"type": ["string", "null"]},
                "callback": {"type": ["string", "null"]},
                "callback_error": {"type": ["string", "null"]},
                "created_ms": {"type": "integer"},
                "finished_ms": {"type": ["integer", "null"]},
            },
            "required": ["id", "node", "state"],
        },
        "Node": {
            "type": "object",
            "properties": {
                "node": {"type": "string"},
                "plugin": {"type": "string"},
                "kind": {"type": "string", "enum": ["call", "stream", "channel"]},
                "params": {"type": "array", "items": {"type": "object"}},
                "result": {"type": ["string", "null"]},
                "docs": {"type": ["string", "null"]},
                "params_schema": {},
                "result_schema": {},
            },
            "required": ["node", "plugin", "kind"],
        },
        "Blob": {
            "type": "object",
            "properties": {"ref": {"type": "string"}, "size": {"type": "integer"}},
            "required": ["ref", "size"],
        },
    }})
}
