//! Node descriptions: what `catalog` and `describe` return for each node,
//! and what the runtime reflects out of a component.

use rmpv::Value;
use serde_json::Value as Json;

use super::record::{MapIn, MapOut, ProtoError, schema};

/// How a node answers a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
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

    /// The kind named `name`, if it is one.
    pub fn parse(name: &str) -> Option<NodeKind> {
        [NodeKind::Call, NodeKind::Stream, NodeKind::Channel]
            .into_iter()
            .find(|k| k.as_str() == name)
    }
}

/// One node: its full name, signature, docs and JSON Schemas.
///
/// On the wire (and in `warden nodes --json`) it is a map with the keys
/// below, in this order; see PROTOCOL.md.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeInfo {
    /// The full name, e.g. `math/add` or `text/strings/upper`.
    pub node: String,
    /// The plugin that serves it.
    pub plugin: String,
    /// The parameters in order.
    pub params: Vec<ParamInfo>,
    /// The result type as WIT, or `None` for a function without a result. A
    /// stream node's reads `stream<T>`, a channel node's `channel<I, O>`.
    pub result: Option<String>,
    /// Documentation, when the component carries it.
    pub docs: Option<String>,
    /// JSON Schema of the arguments in their map form.
    pub params_schema: Json,
    /// JSON Schema of a successful result. For a top-level `result<T, E>`
    /// that is `T`; `E` arrives as a `node-error`.
    pub result_schema: Json,
    /// How the node answers.
    pub kind: NodeKind,
    /// For `stream` and `channel` nodes: the WIT type of each item sent back.
    pub item: Option<String>,
    /// JSON Schema of one item.
    pub item_schema: Option<Json>,
    /// For `channel` nodes: the WIT type of each message the caller sends.
    pub input: Option<String>,
    /// JSON Schema of one input message.
    pub input_schema: Option<Json>,
}

/// One parameter of a node.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamInfo {
    /// The WIT name (kebab-case).
    pub name: String,
    /// The WIT type, e.g. `list<string>`.
    pub ty: String,
    /// JSON Schema of the parameter's values.
    pub schema: Json,
}

impl NodeInfo {
    /// The node's name inside its plugin: `add` for `math/add`.
    pub fn name(&self) -> &str {
        self.node
            .strip_prefix(self.plugin.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
            .unwrap_or(&self.node)
    }

    /// The signature as WIT, e.g. `math/add: func(a: s64, b: s64) -> s64`.
    pub fn signature(&self) -> String {
        let params: Vec<String> = self
            .params
            .iter()
            .map(|p| format!("{}: {}", p.name, p.ty))
            .collect();
        match &self.result {
            Some(r) => format!("{}: func({}) -> {r}", self.node, params.join(", ")),
            None => format!("{}: func({})", self.node, params.join(", ")),
        }
    }

    /// The entry as a MessagePack map.
    pub fn to_value(&self) -> Value {
        MapOut::new()
            .put("node", self.node.as_str())
            .put("plugin", self.plugin.as_str())
            .put(
                "params",
                Value::Array(self.params.iter().map(ParamInfo::to_value).collect()),
            )
            .opt("result", self.result.as_deref())
            .opt("docs", self.docs.as_deref())
            .put("params_schema", schema(&self.params_schema))
            .put("result_schema", schema(&self.result_schema))
            .put("kind", self.kind.as_str())
            .opt("item", self.item.as_deref())
            .opt("item_schema", self.item_schema.as_ref().map(schema))
            .opt("input", self.input.as_deref())
            .opt("input_schema", self.input_schema.as_ref().map(schema))
            .build()
    }

    /// Reads an entry.
    ///
    /// # Errors
    ///
    /// [`ProtoError`] naming the field that is missing or of the wrong type.
    pub fn from_value(value: Value) -> Result<NodeInfo, ProtoError> {
        let mut map = MapIn::new(value, "node entry")?;
        Ok(NodeInfo {
            node: map.str("node")?,
            plugin: map.str("plugin")?,
            params: map.list("params", ParamInfo::from_value)?,
            result: map.opt_str("result")?,
            docs: map.opt_str("docs")?,
            params_schema: map.schema("params_schema")?.unwrap_or(Json::Bool(true)),
            result_schema: map.schema("result_schema")?.unwrap_or(Json::Bool(true)),
            kind: map.name("kind", NodeKind::parse, "`call`, `stream` or `channel`")?,
            item: map.opt_str("item")?,
            item_schema: map.schema("item_schema")?,
            input: map.opt_str("input")?,
            input_schema: map.schema("input_schema")?,
        })
    }
}

impl ParamInfo {
    /// The parameter as a MessagePack map: `{"name", "type", "schema"}`.
    pub fn to_value(&self) -> Value {
        MapOut::new()
            .put("name", self.name.as_str())
            .put("type", self.ty.as_str())
            .put("schema", schema(&self.schema))
            .build()
    }

    /// Reads a parameter.
    ///
    /// # Errors
    ///
    /// [`ProtoError`] naming the field that is missing or of the wrong type.
    pub fn from_value(value: Value) -> Result<ParamInfo, ProtoError> {
        let mut map = MapIn::new(value, "parameter")?;
        Ok(ParamInfo {
            name: map.str("name")?,
            ty: map.str("type")?,
            schema: map.schema("schema")?.unwrap_or(Json::Bool(true)),
        })
    }
}
