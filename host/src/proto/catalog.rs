//! Catalog entries: what `catalog` and `describe` return for each node.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// One node as the catalog describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// The full name, e.g. `math/add` or `text/strings/upper`.
    pub node: String,
    /// The plugin that serves it.
    pub plugin: String,
    /// The parameters in order.
    pub params: Vec<ParamInfo>,
    /// The result type as WIT, or nil for a function without a result.
    pub result: Option<String>,
    /// Documentation, when the component carries it.
    pub docs: Option<String>,
    /// JSON Schema of the arguments in their map form.
    pub params_schema: Json,
    /// JSON Schema of a successful result.
    pub result_schema: Json,
    /// `call` (one result), `stream` (items, then the result) or `channel`
    /// (the caller sends items too). Absent in older servers: `call`.
    #[serde(default = "call_kind")]
    pub kind: String,
    /// For `stream` and `channel` nodes: the WIT type of each item sent back.
    #[serde(default)]
    pub item: Option<String>,
    /// JSON Schema of one item.
    #[serde(default)]
    pub item_schema: Option<Json>,
    /// For `channel` nodes: the WIT type of each message the caller sends.
    #[serde(default)]
    pub input: Option<String>,
    /// JSON Schema of one input message.
    #[serde(default)]
    pub input_schema: Option<Json>,
}

fn call_kind() -> String {
    "call".into()
}

/// One parameter of a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamInfo {
    /// The WIT name.
    pub name: String,
    /// The WIT type.
    #[serde(rename = "type")]
    pub ty: String,
    /// JSON Schema of the parameter.
    pub schema: Json,
}

impl NodeInfo {
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

    /// Encodes the entry as MessagePack.
    pub fn to_value(&self) -> rmpv::Value {
        rmpv::ext::to_value(self).unwrap_or(rmpv::Value::Nil)
    }

    /// Decodes an entry.
    ///
    /// # Errors
    ///
    /// When the value does not have the entry's fields.
    pub fn from_value(value: rmpv::Value) -> Result<NodeInfo, super::ProtoError> {
        rmpv::ext::from_value(value)
            .map_err(|e| super::ProtoError(format!("malformed catalog entry: {e}")))
    }
}
