//! Reflecting a component's exports into node descriptions.

use serde::Serialize;
use serde_json::Value as Json;
use wasmtime::Engine;
use wasmtime::component::types::{ComponentFunc, ComponentItem, Type};
use wasmtime::component::{Component, ComponentExportIndex};

use super::{schema, streaming, wit_type};

/// What a caller needs to know about one node: its name, signature, docs and
/// JSON Schemas.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NodeDesc {
    /// The node's name inside its plugin: `f` for a top-level export, `iface/f`
    /// for function `f` of exported interface `iface`.
    pub name: String,
    /// The parameters in order.
    pub params: Vec<ParamDesc>,
    /// The result type as WIT, or `None` for a function without a result.
    pub result: Option<String>,
    /// Documentation from the WIT, when the component carries it.
    pub docs: Option<String>,
    /// JSON Schema of the arguments in their map form.
    pub params_schema: Json,
    /// JSON Schema of the value a successful call returns. For a top-level
    /// `result<T, E>` that is `T`; `E` arrives as a `node-error`.
    pub result_schema: Json,
    /// `None` when the node can be called; otherwise why it cannot be.
    pub not_callable: Option<String>,
    /// How the node answers: one result, a stream of items, or a channel.
    pub kind: NodeKind,
    /// For `stream` and `channel` nodes: the WIT type of each item it sends.
    pub item: Option<String>,
    /// JSON Schema of one item.
    pub item_schema: Option<Json>,
    /// For `channel` nodes: the WIT type of each message it receives.
    pub input: Option<String>,
    /// JSON Schema of one input message.
    pub input_schema: Option<Json>,
}

/// How a node answers a call.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    /// One result (`ok`) per call.
    #[default]
    Call,
    /// A sequence of `item`s, then `ok`: the function returns a resource
    /// with `next: func() -> option<T>` (or `result<option<T>, E>`).
    Stream,
    /// Items both ways: the function returns a resource with
    /// `send: func(msg: I) -> list<O>` and optionally `finish: func() -> list<O>`.
    Channel,
}

impl NodeKind {
    /// `call`, `stream` or `channel`.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Call => "call",
            NodeKind::Stream => "stream",
            NodeKind::Channel => "channel",
        }
    }
}

/// One parameter of a node.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ParamDesc {
    /// The WIT name (kebab-case).
    pub name: String,
    /// The WIT type, e.g. `list<string>`.
    #[serde(rename = "type")]
    pub ty: String,
    /// JSON Schema of the parameter's values.
    pub schema: Json,
}

/// One import of a component, as `warden check` shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ImportDesc {
    /// The import's name, e.g. `wasi:cli/stderr@0.2.6` or `warden:node/log@0.1.0`.
    pub name: String,
    /// `interface`, `function`, `type`, `module` or `component`.
    pub kind: &'static str,
}

/// A node plus what the runtime needs to call it.
pub(crate) struct NodeEntry {
    pub(crate) desc: NodeDesc,
    pub(crate) export: ComponentExportIndex,
    pub(crate) params: Vec<(String, Type)>,
    pub(crate) result: Option<Type>,
    pub(crate) shape: Shape,
    /// Set for `(list<u8>) -> list<u8>` and `(list<u8>) -> result<list<u8>,
    /// string>` nodes, which are called through typed bindings: bytes are
    /// copied in and out instead of becoming one `Val` each.
    pub(crate) bytes: Option<BytesResult>,
}

/// The result of a bytes-in, bytes-out node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BytesResult {
    /// `list<u8>`
    Bytes,
    /// `result<list<u8>, string>`
    BytesOrError,
}

fn is_bytes(ty: &Type) -> bool {
    matches!(ty, Type::List(l) if l.ty() == Type::U8)
}

fn bytes_shape(params: &[(String, Type)], result: Option<&Type>) -> Option<BytesResult> {
    let [(_, param)] = params else {
        return None;
    };
    if !is_bytes(param) {
        return None;
    }
    match result? {
        t if is_bytes(t) => Some(BytesResult::Bytes),
        Type::Result(r)
            if r.ok().as_ref().is_some_and(is_bytes) && r.err() == Some(Type::String) =>
        {
            Some(BytesResult::BytesOrError)
        }
        _ => None,
    }
}

/// What calling a node involves besides its export.
pub(crate) enum Shape {
    /// Call once, convert the result.
    Call,
    /// Call, then `next` on the returned resource until it says `none`.
    Stream {
        next: ComponentExportIndex,
        /// The `option<T>` (or `result<option<T>, E>`) that `next` returns.
        returns: Type,
    },
    /// Call, then `send` each input to the returned resource; `finish` at the end.
    Channel {
        send: ComponentExportIndex,
        finish: Option<ComponentExportIndex>,
        /// The type of `send`'s message parameter.
        input: Type,
        /// The `list<O>` that `send` and `finish` return.
        output: Type,
    },
}

impl NodeEntry {
    /// Whether a top-level `result<T, E>` turns `err` into a `node-error`.
    pub(crate) fn unwraps_result(&self) -> bool {
        matches!(self.result, Some(Type::Result(_)))
    }
}

/// Every exported function of `component`, top level and one interface deep.
pub(crate) fn nodes(engine: &Engine, component: &Component) -> Vec<NodeEntry> {
    let ty = component.component_type();
    let mut out = Vec::new();
    for (name, ext) in ty.exports(engine) {
        match ext.ty {
            ComponentItem::ComponentFunc(func) => {
                if let Some(export) = component.get_export_index(None, name) {
                    out.push(entry(name.to_owned(), &func, export));
                }
            }
            ComponentItem::ComponentInstance(instance) => {
                let Some(instance_index) = component.get_export_index(None, name) else {
                    continue;
                };
                let prefix = short_interface_name(name);
                let funcs: Vec<(&str, ComponentFunc, ComponentExportIndex)> = instance
                    .exports(engine)
                    .filter_map(|(fname, fext)| match fext.ty {
                        ComponentItem::ComponentFunc(func) => component
                            .get_export_index(Some(&instance_index), fname)
                            .map(|export| (fname, func, export)),
                        _ => None,
                    })
                    .collect();
                for (fname, func, export) in &funcs {
                    let mut node = entry(format!("{prefix}/{fname}"), func, *export);
                    if let Some(Type::Own(resource)) = node.result.clone() {
                        streaming::attach(&mut node, &resource, &funcs);
                    }
                    out.push(node);
                }
            }
            _ => {}
        }
    }
    out.sort_by(|a, b| a.desc.name.cmp(&b.desc.name));
    out
}

/// Every import of `component`.
pub(crate) fn imports(engine: &Engine, component: &Component) -> Vec<ImportDesc> {
    component
        .component_type()
        .imports(engine)
        .map(|(name, ext)| ImportDesc {
            name: name.to_owned(),
            kind: match ext.ty {
                ComponentItem::ComponentInstance(_) => "interface",
                ComponentItem::ComponentFunc(_) | ComponentItem::CoreFunc(_) => "function",
                ComponentItem::Module(_) => "module",
                ComponentItem::Component(_) => "component",
                _ => "type",
            },
        })
        .collect()
}

/// `example:text/strings@1.0.0` → `strings`; a plain name stays as it is.
fn short_interface_name(name: &str) -> &str {
    let tail = name.rsplit_once('/').map_or(name, |(_, tail)| tail);
    tail.split_once('@').map_or(tail, |(head, _)| head)
}

fn entry(name: String, func: &ComponentFunc, export: ComponentExportIndex) -> NodeEntry {
    let params: Vec<(String, Type)> = func.params().map(|(n, t)| (n.to_owned(), t)).collect();
    let result = func.results().next();
    let mut not_callable = None;
    if func.async_() {
        not_callable = Some("async (component-model async) functions are not supported yet".into());
    }
    for (pname, ty) in &params {
        if not_callable.is_none()
            && let Some(why) = wit_type::not_callable_reason(ty)
        {
            not_callable = Some(format!("parameter `{pname}` cannot be sent: {why}"));
        }
    }
    if not_callable.is_none()
        && let Some(why) = result.as_ref().and_then(wit_type::not_callable_reason)
    {
        not_callable = Some(format!("the result cannot be returned: {why}"));
    }
    let result_schema = match &result {
        None => serde_json::json!({"type": "null"}),
        Some(Type::Result(r)) => r
            .ok()
            .map_or(serde_json::json!({"type": "null"}), |t| schema::of(&t)),
        Some(t) => schema::of(t),
    };
    NodeEntry {
        desc: NodeDesc {
            name,
            params: params
                .iter()
                .map(|(n, t)| ParamDesc {
                    name: n.clone(),
                    ty: wit_type::render(t),
                    schema: schema::of(t),
                })
                .collect(),
            result: result.as_ref().map(wit_type::render),
            docs: None,
            params_schema: schema::of_params(&params),
            result_schema,
            not_callable,
            kind: NodeKind::Call,
            item: None,
            item_schema: None,
            input: None,
            input_schema: None,
        },
        export,
        bytes: bytes_shape(&params, result.as_ref()),
        params,
        result,
        shape: Shape::Call,
    }
}

impl NodeDesc {
    /// The signature as WIT, e.g. `add: func(a: s64, b: s64) -> s64`.
    pub fn signature(&self) -> String {
        let params: Vec<String> = self
            .params
            .iter()
            .map(|p| format!("{}: {}", p.name, p.ty))
            .collect();
        let short = self.name.rsplit('/').next().unwrap_or(&self.name);
        match &self.result {
            Some(r) => format!("{short}: func({}) -> {r}", params.join(", ")),
            None => format!("{short}: func({})", params.join(", ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_are_shortened() {
        assert_eq!(
            short_interface_name("example:text/strings@1.0.0"),
            "strings"
        );
        assert_eq!(short_interface_name("example:text/strings"), "strings");
        assert_eq!(short_interface_name("strings"), "strings");
    }
}
