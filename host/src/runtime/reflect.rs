//! Reflecting a component's exports into node descriptions.

use serde::Serialize;
use wasmtime::Engine;
use wasmtime::component::types::{ComponentFunc, ComponentItem, Type};
use wasmtime::component::{Component, ComponentExportIndex};

use super::wit_docs::WitWorld;
use super::{schema, streaming, wit_type};
use crate::proto::{NodeInfo, NodeKind, ParamInfo};

/// One exported function of a component: the node as callers see it, and
/// whether it can be called at all.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeDesc {
    /// The node's description, as the catalog shows it.
    pub info: NodeInfo,
    /// `None` when the node can be called; otherwise why it cannot be (it
    /// takes or returns a resource handle, or is async).
    pub not_callable: Option<String>,
}

impl NodeDesc {
    /// The node's name inside its plugin: `f` for a top-level export,
    /// `iface/f` for function `f` of exported interface `iface`.
    pub fn name(&self) -> &str {
        self.info.name()
    }

    /// How the node answers a call.
    pub fn kind(&self) -> NodeKind {
        self.info.kind
    }

    /// The signature as WIT, e.g. `add: func(a: s64, b: s64) -> s64`.
    pub fn signature(&self) -> String {
        let params: Vec<String> = self
            .info
            .params
            .iter()
            .map(|p| format!("{}: {}", p.name, p.ty))
            .collect();
        let name = self.name();
        let short = name.rsplit('/').next().unwrap_or(name);
        match &self.info.result {
            Some(r) => format!("{short}: func({}) -> {r}", params.join(", ")),
            None => format!("{short}: func({})", params.join(", ")),
        }
    }
}

/// One import of a component, as `warden check` shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ImportDesc {
    /// The import's name, e.g. `wasi:cli/stderr@0.2.6` or `warden:node/log@0.1.0`.
    pub name: String,
    /// `interface`, `function`, `type`, `module` or `component`.
    pub kind: &'static str,
    /// Whether this host provides it (a `warden:node` interface may still
    /// need a grant).
    pub provided: bool,
    /// The manifest line that makes it work, for imports that need a grant
    /// (`kv = true`, `http = [...]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant: Option<&'static str>,
    /// For an import this host does not provide: what would fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
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
    /// Set for `(list<N>) -> list<N>` nodes of one number type: called
    /// through typed bindings too (see `numbers`).
    pub(crate) numbers: Option<super::numbers::NumberKind>,
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

/// Every exported function of `component` (plugin `plugin`), top level and
/// one interface deep, sorted by name, with docs and type names from `wit`.
/// Resource methods and toolchain-internal exports are not nodes.
pub(crate) fn nodes(
    engine: &Engine,
    component: &Component,
    plugin: &str,
    wit: Option<&WitWorld>,
) -> Vec<NodeEntry> {
    let ty = component.component_type();
    let mut out = Vec::new();
    for (name, ext) in ty.exports(engine) {
        match ext.ty {
            ComponentItem::ComponentFunc(func) => {
                if let Some(export) = component.get_export_index(None, name) {
                    out.push(entry(plugin, name.to_owned(), &func, export));
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
                if is_toolchain_internal(name, &funcs) {
                    continue;
                }
                for (fname, func, export) in &funcs {
                    if is_resource_function(fname) {
                        continue;
                    }
                    let mut node = entry(plugin, format!("{prefix}/{fname}"), func, *export);
                    if let Some(Type::Own(resource)) = node.result.clone() {
                        streaming::attach(&mut node, &resource, &funcs);
                    }
                    out.push(node);
                }
            }
            _ => {}
        }
    }
    if let Some(wit) = wit {
        for node in &mut out {
            annotate(node, wit);
        }
    }
    out.sort_by(|a, b| a.desc.info.node.cmp(&b.desc.info.node));
    out
}

/// `[method]r.f`, `[constructor]r`, `[static]r.f`: called through a node
/// that returns the resource, never on their own.
fn is_resource_function(name: &str) -> bool {
    name.starts_with('[')
}

/// Exports a toolchain adds for itself: componentize-py's interface
/// `exports` with `init(app-name, symbols, stub-wasi)`, run once when the
/// component is built.
fn is_toolchain_internal(
    export: &str,
    funcs: &[(&str, ComponentFunc, ComponentExportIndex)],
) -> bool {
    match funcs {
        [(name, func, _)] if export == "exports" && *name == "init" => func
            .params()
            .map(|(p, _)| p)
            .eq(["app-name", "symbols", "stub-wasi"]),
        _ => false,
    }
}

/// Docs, named types and schema titles from the component's WIT.
fn annotate(node: &mut NodeEntry, wit: &WitWorld) {
    let names: Vec<String> = node.params.iter().map(|(n, _)| n.clone()).collect();
    let Some(fw) = wit.describe(node.desc.name(), &names) else {
        return;
    };
    let info = &mut node.desc.info;
    info.docs = fw.docs();
    for (i, param) in info.params.iter_mut().enumerate() {
        if let Some(ty) = fw.param(i) {
            param.ty = ty.render();
            ty.annotate(&mut param.schema);
            if let Some(s) = info
                .params_schema
                .pointer_mut(&format!("/properties/{}", param.name))
            {
                ty.annotate(s);
            }
        }
    }
    match info.kind {
        NodeKind::Call => {
            let result = fw.result();
            info.result = result.map(|t| t.render());
            if let Some(ok) = fw.result_ok() {
                ok.annotate(&mut info.result_schema);
            } else if let Some(t) = result
                && !matches!(node.result, Some(Type::Result(_)))
            {
                t.annotate(&mut info.result_schema);
            }
        }
        NodeKind::Stream => {
            if let Some(item) = fw.stream_item() {
                info.result = Some(format!("stream<{}>", item.render()));
                info.item = Some(item.render());
                if let Some(s) = info.item_schema.as_mut() {
                    item.annotate(s);
                }
            }
        }
        NodeKind::Channel => {
            if let Some((input, item)) = fw.channel_types() {
                info.result = Some(format!("channel<{}, {}>", input.render(), item.render()));
                info.item = Some(item.render());
                info.input = Some(input.render());
                if let Some(s) = info.item_schema.as_mut() {
                    item.annotate(s);
                }
                if let Some(s) = info.input_schema.as_mut() {
                    input.annotate(s);
                }
            }
        }
    }
}

/// Every import of `component`.
pub(crate) fn imports(engine: &Engine, component: &Component) -> Vec<ImportDesc> {
    component
        .component_type()
        .imports(engine)
        .map(|(name, ext)| {
            // An interface of types only (records, enums, ...) asks nothing
            // of the host.
            let provided = super::imports::is_provided(name)
                || match &ext.ty {
                    ComponentItem::ComponentInstance(instance) => instance
                        .exports(engine)
                        .all(|(_, e)| matches!(e.ty, ComponentItem::Type(_))),
                    ComponentItem::Type(_) => true,
                    _ => false,
                };
            (name, ext, provided)
        })
        .map(|(name, ext, provided)| ImportDesc {
            name: name.to_owned(),
            provided,
            grant: super::imports::grant_line(name),
            fix: (!provided).then(|| super::imports::fix_hint(name)),
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

fn entry(
    plugin: &str,
    name: String,
    func: &ComponentFunc,
    export: ComponentExportIndex,
) -> NodeEntry {
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
            info: NodeInfo {
                node: format!("{plugin}/{name}"),
                plugin: plugin.to_owned(),
                params: params
                    .iter()
                    .map(|(n, t)| ParamInfo {
                        name: n.clone(),
                        ty: wit_type::render(t),
                        schema: schema::of(t),
                    })
                    .collect(),
                result: result.as_ref().map(wit_type::render),
                docs: None,
                params_schema: schema::of_params(&params),
                result_schema,
                kind: NodeKind::Call,
                item: None,
                item_schema: None,
                input: None,
                input_schema: None,
            },
            not_callable,
        },
        export,
        bytes: bytes_shape(&params, result.as_ref()),
        numbers: super::numbers::shape(&params, result.as_ref()),
        params,
        result,
        shape: Shape::Call,
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
