//! The WIT ⇄ MessagePack value mapping of `DESIGN.md`, in both directions.
//!
//! | WIT | MessagePack |
//! |---|---|
//! | bool | bool |
//! | s8..s64, u8..u64 | int, range-checked |
//! | f32, f64 | float (an int, and the strings `NaN`, `Infinity`, `-Infinity`, are accepted) |
//! | char | str of exactly one Unicode scalar value |
//! | string | str |
//! | `list<u8>` | bin (an array of ints is accepted on input) |
//! | `list<T>`, `list<T, N>` | array (of exactly N) |
//! | tuple | array of exactly that length |
//! | record | map keyed by field name; missing or unknown fields are errors |
//! | variant | `"case"` without payload, `{"case": payload}` with one |
//! | enum | str |
//! | `option<T>` | nil or the value; `some(x)` is `[x]` when T is itself an option |
//! | `result<T, E>` | `{"ok": T}` or `{"err": E}`, nil for a missing type |
//! | flags | array of the set flag names |
//! | `map<K, V>` | map |

use rmpv::Value;
use wasmtime::component::Val;
use wasmtime::component::types::Type;

use super::wit_type;

/// A value that does not fit the WIT type it is meant for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConvError {
    /// Where inside the value, outermost first (`.field`, `[3]`).
    pub(crate) path: String,
    /// The WIT type that was expected there.
    pub(crate) expected: String,
    /// What was found instead, or why it does not fit.
    pub(crate) got: String,
}

impl ConvError {
    fn new(ty: &Type, got: impl Into<String>) -> Self {
        ConvError {
            path: String::new(),
            expected: abbreviate(wit_type::render(ty)),
            got: got.into(),
        }
    }

    fn mismatch(ty: &Type, value: &Value) -> Self {
        Self::new(ty, describe(value))
    }

    /// Prefixes a path segment while the error travels outwards.
    fn at(mut self, segment: impl std::fmt::Display) -> Self {
        self.path = format!("{segment}{}", self.path);
        self
    }
}

fn abbreviate(text: String) -> String {
    crate::text::shorten(text, 120)
}

/// Describes a MessagePack value briefly, for error messages.
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Nil => "nil".into(),
        Value::Boolean(b) => format!("bool {b}"),
        Value::Integer(i) => format!("integer {i}"),
        Value::F32(f) => format!("float {f}"),
        Value::F64(f) => format!("float {f}"),
        Value::String(s) => match s.as_str() {
            Some(s) => abbreviate(format!("string {s:?}")),
            None => "string with invalid UTF-8".into(),
        },
        Value::Binary(b) => format!("binary of {} bytes", b.len()),
        Value::Array(a) => format!("array of {} elements", a.len()),
        Value::Map(m) => format!("map of {} entries", m.len()),
        Value::Ext(t, _) => format!("extension type {t}"),
    }
}

/// Converts `value` to a WIT value of type `ty`.
pub(crate) fn to_val(ty: &Type, value: &Value) -> Result<Val, ConvError> {
    Ok(match ty {
        Type::Bool => match value {
            Value::Boolean(b) => Val::Bool(*b),
            _ => return Err(ConvError::mismatch(ty, value)),
        },
        Type::S8 => Val::S8(int(ty, value)?),
        Type::U8 => Val::U8(int(ty, value)?),
        Type::S16 => Val::S16(int(ty, value)?),
        Type::U16 => Val::U16(int(ty, value)?),
        Type::S32 => Val::S32(int(ty, value)?),
        Type::U32 => Val::U32(int(ty, value)?),
        Type::S64 => Val::S64(int(ty, value)?),
        Type::U64 => Val::U64(int(ty, value)?),
        Type::Float32 => Val::Float32(float(ty, value)? as f32),
        Type::Float64 => Val::Float64(float(ty, value)?),
        Type::Char => {
            let s = string(ty, value)?;
            let mut chars = s.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Val::Char(c),
                _ => {
                    return Err(ConvError::new(
                        ty,
                        format!("string of {} characters", s.chars().count()),
                    ));
                }
            }
        }
        Type::String => Val::String(string(ty, value)?.to_owned()),
        Type::List(list) => {
            let elem = list.ty();
            match (value, &elem) {
                (Value::Binary(bytes), Type::U8) => {
                    Val::List(bytes.iter().map(|b| Val::U8(*b)).collect())
                }
                (Value::Array(items), _) => Val::List(elements(&elem, items)?),
                _ => return Err(ConvError::mismatch(ty, value)),
            }
        }
        Type::FixedLengthList(list) => {
            let items = array_of_len(ty, value, list.len() as usize)?;
            Val::FixedLengthList(elements(&list.ty(), items)?)
        }
        Type::Map(map) => {
            let Value::Map(entries) = value else {
                return Err(ConvError::mismatch(ty, value));
            };
            let (kt, vt) = (map.key(), map.value());
            let mut out = Vec::with_capacity(entries.len());
            for (i, (k, v)) in entries.iter().enumerate() {
                let k = to_val(&kt, k).map_err(|e| e.at(format_args!("<key {i}>")))?;
                let v = to_val(&vt, v).map_err(|e| e.at(format_args!("<value {i}>")))?;
                out.push((k, v));
            }
            Val::Map(out)
        }
        Type::Tuple(tuple) => {
            let items = array_of_len(ty, value, tuple.types().len())?;
            let mut out = Vec::with_capacity(items.len());
            for (i, (t, item)) in tuple.types().zip(items).enumerate() {
                out.push(to_val(&t, item).map_err(|e| e.at(format_args!("[{i}]")))?);
            }
            Val::Tuple(out)
        }
        Type::Record(record) => {
            let Value::Map(entries) = value else {
                return Err(ConvError::mismatch(ty, value));
            };
            for (k, _) in entries {
                let known = k
                    .as_str()
                    .is_some_and(|k| record.fields().any(|f| f.name == k));
                if !known {
                    return Err(ConvError::new(ty, format!("unknown field {}", key_text(k))));
                }
            }
            let mut out = Vec::with_capacity(record.fields().len());
            for field in record.fields() {
                let Some(v) = lookup(entries, field.name) else {
                    return Err(ConvError::new(
                        ty,
                        format!("a map without field `{}`", field.name),
                    ));
                };
                let v = to_val(&field.ty, v).map_err(|e| e.at(format_args!(".{}", field.name)))?;
                out.push((field.name.to_owned(), v));
            }
            Val::Record(out)
        }
        Type::Variant(variant) => {
            let (case, payload) = case_of(ty, value)?;
            let Some(c) = variant.cases().find(|c| c.name == case) else {
                return Err(ConvError::new(ty, format!("unknown case `{case}`")));
            };
            let payload = match (&c.ty, payload) {
                (None, None | Some(Value::Nil)) => None,
                (None, Some(p)) => {
                    return Err(ConvError::new(
                        ty,
                        format!(
                            "case `{case}` with a payload ({}) it does not take",
                            describe(p)
                        ),
                    ));
                }
                (Some(_), None) => {
                    return Err(ConvError::new(
                        ty,
                        format!("case `{case}` without its payload"),
                    ));
                }
                (Some(t), Some(p)) => Some(Box::new(
                    to_val(t, p).map_err(|e| e.at(format_args!(".{case}")))?,
                )),
            };
            Val::Variant(case.to_owned(), payload)
        }
        Type::Enum(e) => {
            let name = string(ty, value)?;
            if !e.names().any(|n| n == name) {
                return Err(ConvError::new(ty, format!("unknown case `{name}`")));
            }
            Val::Enum(name.to_owned())
        }
        Type::Option(option) => {
            let inner = option.ty();
            match value {
                Value::Nil => Val::Option(None),
                _ if matches!(inner, Type::Option(_)) => {
                    // `some(x)` of a nested option is the one-element array `[x]`,
                    // so `some(none)` (`[nil]`) differs from `none` (`nil`).
                    let items = array_of_len(ty, value, 1)?;
                    Val::Option(Some(Box::new(
                        to_val(&inner, &items[0]).map_err(|e| e.at("[0]"))?,
                    )))
                }
                _ => Val::Option(Some(Box::new(to_val(&inner, value)?))),
            }
        }
        Type::Result(result) => {
            let (case, payload) = case_of(ty, value)?;
            let (slot, is_ok) = match case {
                "ok" => (result.ok(), true),
                "err" => (result.err(), false),
                other => {
                    return Err(ConvError::new(
                        ty,
                        format!(
                            "case `{other}` (a result is `{{\"ok\": ..}}` or `{{\"err\": ..}}`)"
                        ),
                    ));
                }
            };
            let payload = match (slot, payload) {
                (None, None | Some(Value::Nil)) => None,
                (None, Some(p)) => {
                    return Err(ConvError::new(
                        ty,
                        format!("`{case}` with a payload ({}) it does not take", describe(p)),
                    ));
                }
                (Some(t), Some(p)) => Some(Box::new(
                    to_val(&t, p).map_err(|e| e.at(format_args!(".{case}")))?,
                )),
                (Some(_), None) => {
                    return Err(ConvError::new(ty, format!("`{case}` without its payload")));
                }
            };
            Val::Result(if is_ok { Ok(payload) } else { Err(payload) })
        }
        Type::Flags(flags) => {
            let Value::Array(items) = value else {
                return Err(ConvError::mismatch(ty, value));
            };
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let Some(name) = item.as_str() else {
                    return Err(ConvError::mismatch(ty, item).at(format_args!("[{i}]")));
                };
                if !flags.names().any(|n| n == name) {
                    return Err(ConvError::new(ty, format!("unknown flag `{name}`")));
                }
                if !out.iter().any(|n: &String| n == name) {
                    out.push(name.to_owned());
                }
            }
            Val::Flags(out)
        }
        Type::Own(_) | Type::Borrow(_) | Type::Future(_) | Type::Stream(_) | Type::ErrorContext => {
            return Err(ConvError::new(
                ty,
                "a value (this type cannot be sent by callers)",
            ));
        }
    })
}

fn elements(elem: &Type, items: &[Value]) -> Result<Vec<Val>, ConvError> {
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        out.push(to_val(elem, item).map_err(|e| e.at(format_args!("[{i}]")))?);
    }
    Ok(out)
}

pub(super) fn int<T: TryFrom<i64> + TryFrom<u64>>(
    ty: &Type,
    value: &Value,
) -> Result<T, ConvError> {
    let Value::Integer(i) = value else {
        return Err(ConvError::mismatch(ty, value));
    };
    let converted = match i.as_i64() {
        Some(v) => T::try_from(v).ok(),
        None => i.as_u64().and_then(|v| T::try_from(v).ok()),
    };
    converted.ok_or_else(|| ConvError::new(ty, format!("integer {i}, which is out of range")))
}

pub(super) fn float(ty: &Type, value: &Value) -> Result<f64, ConvError> {
    match value {
        Value::F64(f) => Ok(*f),
        Value::F32(f) => Ok(f64::from(*f)),
        Value::Integer(i) => match (i.as_i64(), i.as_u64()) {
            (Some(v), _) => Ok(v as f64),
            (None, Some(v)) => Ok(v as f64),
            (None, None) => Err(ConvError::mismatch(ty, value)),
        },
        // How JSON writes the floats it has no numbers for (and how the
        // CLI prints them), so they round-trip through JSON.
        Value::String(s) => match s.as_str() {
            Some("NaN") => Ok(f64::NAN),
            Some("Infinity") => Ok(f64::INFINITY),
            Some("-Infinity") => Ok(f64::NEG_INFINITY),
            _ => Err(ConvError::new(
                ty,
                format!(
                    "{} (a float is a number, or \"NaN\", \"Infinity\" or \"-Infinity\")",
                    describe(value)
                ),
            )),
        },
        _ => Err(ConvError::mismatch(ty, value)),
    }
}

fn string<'v>(ty: &Type, value: &'v Value) -> Result<&'v str, ConvError> {
    match value {
        Value::String(s) => s
            .as_str()
            .ok_or_else(|| ConvError::new(ty, "a string with invalid UTF-8")),
        _ => Err(ConvError::mismatch(ty, value)),
    }
}

fn array_of_len<'v>(ty: &Type, value: &'v Value, len: usize) -> Result<&'v [Value], ConvError> {
    match value {
        Value::Array(items) if items.len() == len => Ok(items),
        _ => Err(ConvError::mismatch(ty, value)),
    }
}

fn lookup<'v>(entries: &'v [(Value, Value)], name: &str) -> Option<&'v Value> {
    entries
        .iter()
        .find(|(k, _)| k.as_str() == Some(name))
        .map(|(_, v)| v)
}

fn key_text(key: &Value) -> String {
    match key.as_str() {
        Some(k) => format!("`{k}`"),
        None => describe(key),
    }
}

/// Splits `"case"` or `{"case": payload}`.
fn case_of<'v>(ty: &Type, value: &'v Value) -> Result<(&'v str, Option<&'v Value>), ConvError> {
    match value {
        Value::String(_) => Ok((string(ty, value)?, None)),
        Value::Map(entries) if entries.len() == 1 => match entries[0].0.as_str() {
            Some(case) => Ok((case, Some(&entries[0].1))),
            None => Err(ConvError::new(
                ty,
                format!("a map keyed by {}", describe(&entries[0].0)),
            )),
        },
        _ => Err(ConvError::mismatch(ty, value)),
    }
}

/// The result was larger than the caller's cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooLarge;

/// Converts a WIT value of type `ty` to MessagePack, spending at most
/// `budget` bytes of (estimated) encoded size.
pub(crate) fn from_val(ty: &Type, val: &Val, budget: &mut usize) -> Result<Value, TooLarge> {
    fn spend(budget: &mut usize, n: usize) -> Result<(), TooLarge> {
        *budget = budget.checked_sub(n).ok_or(TooLarge)?;
        Ok(())
    }
    // Scalars cost at most 9 bytes, headers at most 5; strings and binaries
    // their length plus a header.
    Ok(match (ty, val) {
        (_, Val::Bool(b)) => {
            spend(budget, 1)?;
            Value::Boolean(*b)
        }
        (_, Val::S8(v)) => scalar(budget, Value::from(*v))?,
        (_, Val::U8(v)) => scalar(budget, Value::from(*v))?,
        (_, Val::S16(v)) => scalar(budget, Value::from(*v))?,
        (_, Val::U16(v)) => scalar(budget, Value::from(*v))?,
        (_, Val::S32(v)) => scalar(budget, Value::from(*v))?,
        (_, Val::U32(v)) => scalar(budget, Value::from(*v))?,
        (_, Val::S64(v)) => scalar(budget, Value::from(*v))?,
        (_, Val::U64(v)) => scalar(budget, Value::from(*v))?,
        (_, Val::Float32(v)) => scalar(budget, Value::F32(*v))?,
        (_, Val::Float64(v)) => scalar(budget, Value::F64(*v))?,
        (_, Val::Char(c)) => {
            spend(budget, 5)?;
            Value::from(c.to_string())
        }
        (_, Val::String(s)) => {
            spend(budget, s.len() + 5)?;
            Value::from(s.as_str())
        }
        (Type::List(list), Val::List(items)) => {
            let elem = list.ty();
            if matches!(elem, Type::U8) {
                spend(budget, items.len() + 5)?;
                let bytes = items
                    .iter()
                    .map(|v| match v {
                        Val::U8(b) => *b,
                        _ => 0,
                    })
                    .collect();
                Value::Binary(bytes)
            } else {
                spend(budget, 5)?;
                array_from(&elem, items, budget)?
            }
        }
        (Type::FixedLengthList(list), Val::FixedLengthList(items)) => {
            spend(budget, 5)?;
            array_from(&list.ty(), items, budget)?
        }
        (Type::Map(map), Val::Map(entries)) => {
            spend(budget, 5)?;
            let (kt, vt) = (map.key(), map.value());
            let mut out = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                out.push((from_val(&kt, k, budget)?, from_val(&vt, v, budget)?));
            }
            Value::Map(out)
        }
        (Type::Tuple(tuple), Val::Tuple(items)) => {
            spend(budget, 5)?;
            let mut out = Vec::with_capacity(items.len());
            for (t, v) in tuple.types().zip(items) {
                out.push(from_val(&t, v, budget)?);
            }
            Value::Array(out)
        }
        (Type::Record(record), Val::Record(fields)) => {
            spend(budget, 5)?;
            let mut out = Vec::with_capacity(fields.len());
            for (field, (name, v)) in record.fields().zip(fields) {
                spend(budget, name.len() + 1)?;
                out.push((Value::from(name.as_str()), from_val(&field.ty, v, budget)?));
            }
            Value::Map(out)
        }
        (Type::Variant(variant), Val::Variant(case, payload)) => {
            spend(budget, case.len() + 6)?;
            let payload_ty = variant.cases().find(|c| c.name == case).and_then(|c| c.ty);
            match (payload_ty, payload) {
                (Some(t), Some(p)) => {
                    Value::Map(vec![(Value::from(case.as_str()), from_val(&t, p, budget)?)])
                }
                _ => Value::from(case.as_str()),
            }
        }
        (_, Val::Enum(case)) => {
            spend(budget, case.len() + 5)?;
            Value::from(case.as_str())
        }
        (Type::Option(option), Val::Option(v)) => match v {
            None => {
                spend(budget, 1)?;
                Value::Nil
            }
            Some(v) => {
                let inner = option.ty();
                let converted = from_val(&inner, v, budget)?;
                if matches!(inner, Type::Option(_)) {
                    spend(budget, 1)?;
                    Value::Array(vec![converted])
                } else {
                    converted
                }
            }
        },
        (Type::Result(result), Val::Result(r)) => {
            spend(budget, 8)?;
            let (case, slot, payload) = match r {
                Ok(p) => ("ok", result.ok(), p),
                Err(p) => ("err", result.err(), p),
            };
            let payload = match (slot, payload) {
                (Some(t), Some(p)) => from_val(&t, p, budget)?,
                _ => Value::Nil,
            };
            Value::Map(vec![(Value::from(case), payload)])
        }
        (_, Val::Flags(names)) => {
            spend(budget, 5)?;
            let mut out = Vec::with_capacity(names.len());
            for n in names {
                spend(budget, n.len() + 5)?;
                out.push(Value::from(n.as_str()));
            }
            Value::Array(out)
        }
        // The remaining shapes (resources, futures, streams, or a value that
        // does not match its type) cannot come out of a node: functions with
        // such types are not nodes, and wasmtime type-checks lifted values.
        _ => Value::Nil,
    })
}

fn scalar(budget: &mut usize, value: Value) -> Result<Value, TooLarge> {
    *budget = budget.checked_sub(9).ok_or(TooLarge)?;
    Ok(value)
}

fn array_from(elem: &Type, items: &[Val], budget: &mut usize) -> Result<Value, TooLarge> {
    let mut out = Vec::with_capacity(items.len());
    for v in items {
        out.push(from_val(elem, v, budget)?);
    }
    Ok(Value::Array(out))
}
