//! JSON Schemas for node parameters and results, derived from the WIT types
//! with the same rules as the value mapping (see the `convert` module).
//!
//! The schema describes the JSON form of a value (what `warden run` and
//! `warden call` accept and print); `list<u8>` is an array of bytes there and
//! MessagePack `bin` on the wire.

use serde_json::{Value as Json, json};
use wasmtime::component::types::Type;

/// The schema of one value of type `ty`.
pub(crate) fn of(ty: &Type) -> Json {
    match ty {
        Type::Bool => json!({"type": "boolean"}),
        Type::S8 => int(i8::MIN as i64, i8::MAX as u64),
        Type::U8 => int(0, u8::MAX as u64),
        Type::S16 => int(i16::MIN as i64, i16::MAX as u64),
        Type::U16 => int(0, u16::MAX as u64),
        Type::S32 => int(i32::MIN as i64, i32::MAX as u64),
        Type::U32 => int(0, u32::MAX as u64),
        Type::S64 => int(i64::MIN, i64::MAX as u64),
        Type::U64 => int(0, u64::MAX),
        // JSON has no NaN or infinities; they travel as these strings.
        Type::Float32 | Type::Float64 => json!({
            "anyOf": [{"type": "number"}, {"enum": ["NaN", "Infinity", "-Infinity"]}]
        }),
        Type::Char => json!({"type": "string", "minLength": 1, "maxLength": 1}),
        Type::String => json!({"type": "string"}),
        Type::List(list) => {
            let elem = list.ty();
            let mut schema = json!({"type": "array", "items": of(&elem)});
            if matches!(elem, Type::U8) {
                schema["x-msgpack"] = json!("bin");
            }
            schema
        }
        Type::FixedLengthList(list) => json!({
            "type": "array", "items": of(&list.ty()),
            "minItems": list.len(), "maxItems": list.len(),
        }),
        Type::Map(map) => json!({
            "type": "object",
            "additionalProperties": of(&map.value()),
            "x-key": of(&map.key()),
        }),
        Type::Tuple(tuple) => {
            let items: Vec<Json> = tuple.types().map(|t| of(&t)).collect();
            let n = items.len();
            json!({"type": "array", "prefixItems": items, "minItems": n, "maxItems": n})
        }
        Type::Record(record) => {
            let mut properties = serde_json::Map::new();
            let mut required = Vec::new();
            for f in record.fields() {
                properties.insert(f.name.to_owned(), of(&f.ty));
                required.push(json!(f.name));
            }
            json!({
                "type": "object", "properties": properties,
                "required": required, "additionalProperties": false,
            })
        }
        Type::Variant(variant) => {
            let cases: Vec<Json> = variant
                .cases()
                .map(|c| match &c.ty {
                    None => json!({"const": c.name}),
                    Some(t) => single_key(c.name, of(t)),
                })
                .collect();
            json!({"oneOf": cases})
        }
        Type::Enum(e) => json!({"type": "string", "enum": e.names().collect::<Vec<_>>()}),
        Type::Flags(f) => json!({
            "type": "array", "uniqueItems": true,
            "items": {"type": "string", "enum": f.names().collect::<Vec<_>>()},
        }),
        Type::Option(option) => {
            let inner = option.ty();
            let some = if matches!(inner, Type::Option(_)) {
                json!({"type": "array", "prefixItems": [of(&inner)], "minItems": 1, "maxItems": 1})
            } else {
                of(&inner)
            };
            json!({"anyOf": [{"type": "null"}, some]})
        }
        Type::Result(result) => {
            let slot = |t: Option<Type>| t.map_or(json!({"type": "null"}), |t| of(&t));
            json!({"oneOf": [single_key("ok", slot(result.ok())), single_key("err", slot(result.err()))]})
        }
        Type::Own(_) | Type::Borrow(_) | Type::Future(_) | Type::Stream(_) | Type::ErrorContext => {
            json!(false)
        }
    }
}

/// The schema of a node's arguments in their map form.
pub(crate) fn of_params(params: &[(String, Type)]) -> Json {
    let mut properties = serde_json::Map::new();
    let mut required = Vec::new();
    for (name, ty) in params {
        properties.insert(name.clone(), of(ty));
        if !matches!(ty, Type::Option(_)) {
            required.push(json!(name));
        }
    }
    json!({
        "type": "object", "properties": properties,
        "required": required, "additionalProperties": false,
    })
}

fn int(min: i64, max: u64) -> Json {
    json!({"type": "integer", "minimum": min, "maximum": max})
}

fn single_key(name: &str, schema: Json) -> Json {
    json!({
        "type": "object", "properties": {name: schema},
        "required": [name], "additionalProperties": false,
    })
}
