//! JSON ⇄ MessagePack for the command line, where people type and read JSON.
//!
//! JSON has no binary type, so MessagePack `bin` prints as an array of byte
//! values (which `list<u8>` parameters accept back). Non-finite floats print
//! as the strings `"NaN"`, `"Infinity"` and `"-Infinity"`. Map keys that are
//! not strings print as their JSON text.

use rmpv::Value;
use serde_json::Value as Json;

/// Converts a JSON value to MessagePack: integers stay integers, other
/// numbers become 64-bit floats.
pub fn to_msgpack(json: &Json) -> Value {
    match json {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                Value::F64(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Json::String(s) => Value::from(s.as_str()),
        Json::Array(items) => Value::Array(items.iter().map(to_msgpack).collect()),
        Json::Object(map) => Value::Map(
            map.iter()
                .map(|(k, v)| (Value::from(k.as_str()), to_msgpack(v)))
                .collect(),
        ),
    }
}

/// Converts a MessagePack value to JSON for printing.
pub fn from_msgpack(value: &Value) -> Json {
    match value {
        Value::Nil => Json::Null,
        Value::Boolean(b) => Json::Bool(*b),
        Value::Integer(i) => match (i.as_i64(), i.as_u64()) {
            (Some(v), _) => Json::from(v),
            (None, Some(v)) => Json::from(v),
            (None, None) => Json::Null,
        },
        Value::F32(f) => float(f64::from(*f)),
        Value::F64(f) => float(*f),
        Value::String(s) => Json::String(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        Value::Binary(b) => Json::Array(b.iter().map(|b| Json::from(*b)).collect()),
        Value::Array(items) => Json::Array(items.iter().map(from_msgpack).collect()),
        Value::Map(entries) => Json::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    let key = match k.as_str() {
                        Some(k) => k.to_owned(),
                        None => from_msgpack(k).to_string(),
                    };
                    (key, from_msgpack(v))
                })
                .collect(),
        ),
        Value::Ext(t, data) => serde_json::json!({"ext": t, "data": data}),
    }
}

fn float(f: f64) -> Json {
    if f.is_nan() {
        Json::from("NaN")
    } else if f.is_infinite() {
        Json::from(if f > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_json_shapes() {
        let original = json!({"a": [1, -2, 2.5, "x", null, true], "b": {"c": u64::MAX}});
        assert_eq!(from_msgpack(&to_msgpack(&original)), original);
    }

    #[test]
    fn binary_and_odd_floats_print_readably() {
        assert_eq!(from_msgpack(&Value::Binary(vec![1, 255])), json!([1, 255]));
        assert_eq!(from_msgpack(&Value::F64(f64::NAN)), json!("NaN"));
        assert_eq!(
            from_msgpack(&Value::F32(f32::NEG_INFINITY)),
            json!("-Infinity")
        );
        assert_eq!(to_msgpack(&json!(1.5)), Value::F64(1.5));
        assert_eq!(to_msgpack(&json!(3)), Value::from(3));
    }
}
