//! WIT values straight from and to MessagePack, for a front end that
//! speaks it ([`Args::Encoded`](super::Args::Encoded) in,
//! [`Reply::Encoded`](super::Reply::Encoded) out): a call's arguments read
//! into `Val`s and its result written from its `Val`, with no
//! `rmpv::Value` in between.
//!
//! The meaning is the value mapping's (`convert`). Reading takes only what
//! the general path takes with the same meaning; anything else (every value
//! it refuses, a repeated key, an extension type) returns `None` and goes
//! the general way, so errors read the same. Writing produces, byte for
//! byte, what the general path writes, within the same result budget.

use wasmtime::component::Val;
use wasmtime::component::types::Type;

use super::convert::TooLarge;
use super::msgpack::{self as wire, Reader, is_bin, is_str};
use super::reflect::NodeEntry;

/// The parameter values of a call of `node` from its encoded arguments
/// (an array in order, a map by parameter name, or nil for none), or
/// `None` for the general path.
pub(super) fn read_args(node: &NodeEntry, bytes: &[u8]) -> Option<Vec<Val>> {
    let mut r = Reader::new(bytes);
    let params = &node.params;
    let vals = match r.peek()? {
        0xc0 if params.is_empty() => {
            r.nil();
            Vec::new()
        }
        0x90..=0x9f | 0xdc | 0xdd => {
            if r.array_len()? != params.len() {
                return None;
            }
            let mut vals = Vec::with_capacity(params.len());
            for (_, ty) in params {
                vals.push(read(&mut r, ty)?);
            }
            vals
        }
        0x80..=0x8f | 0xde | 0xdf => {
            let len = r.map_len()?;
            let mut slots = vec![None; params.len()];
            for _ in 0..len {
                let key = r.str()?;
                let i = params.iter().position(|(n, _)| n.as_bytes() == key)?;
                if slots[i].is_some() {
                    return None;
                }
                slots[i] = Some(read(&mut r, &params[i].1)?);
            }
            let mut vals = Vec::with_capacity(params.len());
            for ((_, ty), slot) in params.iter().zip(slots) {
                vals.push(match slot {
                    Some(val) => val,
                    // An omitted optional parameter is `none`.
                    None if matches!(ty, Type::Option(_)) => Val::Option(None),
                    None => return None,
                });
            }
            vals
        }
        _ => return None,
    };
    (r.remaining() == 0).then_some(vals)
}

/// One value of type `ty`.
fn read(r: &mut Reader<'_>, ty: &Type) -> Option<Val> {
    Some(match ty {
        Type::Bool => Val::Bool(r.bool()?),
        Type::S8 => Val::S8(r.num()?.int()?),
        Type::U8 => Val::U8(r.num()?.int()?),
        Type::S16 => Val::S16(r.num()?.int()?),
        Type::U16 => Val::U16(r.num()?.int()?),
        Type::S32 => Val::S32(r.num()?.int()?),
        Type::U32 => Val::U32(r.num()?.int()?),
        Type::S64 => Val::S64(r.num()?.int()?),
        Type::U64 => Val::U64(r.num()?.int()?),
        Type::Float32 => Val::Float32(float(r)? as f32),
        Type::Float64 => Val::Float64(float(r)?),
        Type::Char => {
            let mut chars = text(r)?.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Val::Char(c),
                _ => return None,
            }
        }
        Type::String => Val::String(text(r)?.to_owned()),
        Type::List(list) => {
            let elem = list.ty();
            if matches!(elem, Type::U8) && is_bin(r.peek()?) {
                Val::List(r.bin()?.iter().map(|&b| Val::U8(b)).collect())
            } else {
                Val::List(elements(r, &elem, None)?)
            }
        }
        Type::FixedLengthList(list) => {
            let len = usize::try_from(list.len()).ok()?;
            Val::FixedLengthList(elements(r, &list.ty(), Some(len))?)
        }
        Type::Map(map) => {
            let len = r.map_len()?;
            // Each entry takes two bytes at least: nothing is reserved for
            // entries that are not there.
            if len > r.remaining() / 2 {
                return None;
            }
            let (kt, vt) = (map.key(), map.value());
            let mut out = Vec::with_capacity(len);
            for _ in 0..len {
                let k = read(r, &kt)?;
                out.push((k, read(r, &vt)?));
            }
            Val::Map(out)
        }
        Type::Tuple(tuple) => {
            if r.array_len()? != tuple.types().len() {
                return None;
            }
            let mut out = Vec::with_capacity(tuple.types().len());
            for t in tuple.types() {
                out.push(read(r, &t)?);
            }
            Val::Tuple(out)
        }
        Type::Record(record) => {
            // Every field once: as many entries as fields, none repeated,
            // none unknown.
            if r.map_len()? != record.fields().len() {
                return None;
            }
            let mut slots = vec![None; record.fields().len()];
            for _ in 0..slots.len() {
                let key = r.str()?;
                let (i, field) = record
                    .fields()
                    .enumerate()
                    .find(|(_, f)| f.name.as_bytes() == key)?;
                if slots[i].is_some() {
                    return None;
                }
                slots[i] = Some(read(r, &field.ty)?);
            }
            let mut out = Vec::with_capacity(slots.len());
            for (field, slot) in record.fields().zip(slots) {
                out.push((field.name.to_owned(), slot?));
            }
            Val::Record(out)
        }
        Type::Variant(variant) => {
            let (case, has_payload) = case_of(r)?;
            let c = variant.cases().find(|c| c.name == case)?;
            let payload = payload(r, c.ty.as_ref(), has_payload)?;
            Val::Variant(case.to_owned(), payload)
        }
        Type::Enum(e) => {
            let name = text(r)?;
            if !e.names().any(|n| n == name) {
                return None;
            }
            Val::Enum(name.to_owned())
        }
        Type::Option(option) => {
            if r.nil() {
                return Some(Val::Option(None));
            }
            let inner = option.ty();
            // `some(x)` of a nested option is the one-element array `[x]`.
            if matches!(inner, Type::Option(_)) && r.array_len()? != 1 {
                return None;
            }
            Val::Option(Some(Box::new(read(r, &inner)?)))
        }
        Type::Result(result) => {
            let (case, has_payload) = case_of(r)?;
            let slot = match case {
                "ok" => result.ok(),
                "err" => result.err(),
                _ => return None,
            };
            let payload = payload(r, slot.as_ref(), has_payload)?;
            Val::Result(if case == "ok" {
                Ok(payload)
            } else {
                Err(payload)
            })
        }
        Type::Flags(flags) => {
            let len = r.array_len()?;
            if len > r.remaining() {
                return None;
            }
            let mut out: Vec<String> = Vec::with_capacity(len);
            for _ in 0..len {
                let name = text(r)?;
                if !flags.names().any(|n| n == name) {
                    return None;
                }
                if !out.iter().any(|n| n == name) {
                    out.push(name.to_owned());
                }
            }
            Val::Flags(out)
        }
        Type::Own(_) | Type::Borrow(_) | Type::Future(_) | Type::Stream(_) | Type::ErrorContext => {
            return None;
        }
    })
}

/// An array's elements, `len` of them if given.
fn elements(r: &mut Reader<'_>, elem: &Type, len: Option<usize>) -> Option<Vec<Val>> {
    let n = r.array_len()?;
    // Each element takes a byte at least.
    if len.is_some_and(|len| len != n) || n > r.remaining() {
        return None;
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(read(r, elem)?);
    }
    Some(out)
}

/// A string that is valid UTF-8.
fn text<'a>(r: &mut Reader<'a>) -> Option<&'a str> {
    std::str::from_utf8(r.str()?).ok()
}

/// A float: a number, or `"NaN"`, `"Infinity"` or `"-Infinity"`.
fn float(r: &mut Reader<'_>) -> Option<f64> {
    if !is_str(r.peek()?) {
        return Some(r.num()?.float());
    }
    match text(r)? {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

/// A case's name, `"case"` or the key of `{"case": payload}`, and whether
/// a payload follows.
fn case_of<'a>(r: &mut Reader<'a>) -> Option<(&'a str, bool)> {
    if is_str(r.peek()?) {
        return Some((text(r)?, false));
    }
    if r.map_len()? != 1 {
        return None;
    }
    Some((text(r)?, true))
}

/// A case's payload of type `ty`: none is nil or absent; one must be there.
fn payload(r: &mut Reader<'_>, ty: Option<&Type>, has_payload: bool) -> Option<Option<Box<Val>>> {
    match (ty, has_payload) {
        (None, false) => Some(None),
        (None, true) => r.nil().then_some(None),
        (Some(_), false) => None,
        (Some(t), true) => Some(Some(Box::new(read(r, t)?))),
    }
}

/// Appends `val` (of type `ty`) as MessagePack, spending from `budget`
/// what `convert::from_val` spends for it.
pub(super) fn write(
    ty: &Type,
    val: &Val,
    budget: &mut usize,
    out: &mut Vec<u8>,
) -> Result<(), TooLarge> {
    fn spend(budget: &mut usize, n: usize) -> Result<(), TooLarge> {
        *budget = budget.checked_sub(n).ok_or(TooLarge)?;
        Ok(())
    }
    // Scalars cost 9 bytes of the budget, headers 5; strings and binaries
    // their length plus a header.
    match (ty, val) {
        (_, Val::Bool(b)) => {
            spend(budget, 1)?;
            out.push(if *b { 0xc3 } else { 0xc2 });
        }
        (_, Val::S8(v)) => int(budget, out, (*v).into())?,
        (_, Val::S16(v)) => int(budget, out, (*v).into())?,
        (_, Val::S32(v)) => int(budget, out, (*v).into())?,
        (_, Val::S64(v)) => int(budget, out, *v)?,
        (_, Val::U8(v)) => uint(budget, out, (*v).into())?,
        (_, Val::U16(v)) => uint(budget, out, (*v).into())?,
        (_, Val::U32(v)) => uint(budget, out, (*v).into())?,
        (_, Val::U64(v)) => uint(budget, out, *v)?,
        (_, Val::Float32(v)) => {
            spend(budget, 9)?;
            wire::put_f32(out, *v);
        }
        (_, Val::Float64(v)) => {
            spend(budget, 9)?;
            wire::put_f64(out, *v);
        }
        (_, Val::Char(c)) => {
            spend(budget, 5)?;
            wire::put_str(out, c.encode_utf8(&mut [0; 4]));
        }
        (_, Val::String(s)) => {
            spend(budget, s.len() + 5)?;
            wire::put_str(out, s);
        }
        (Type::List(list), Val::List(items)) => {
            let elem = list.ty();
            if matches!(elem, Type::U8) {
                spend(budget, items.len() + 5)?;
                wire::put_bin_len(out, items.len());
                out.extend(items.iter().map(|v| match v {
                    Val::U8(b) => *b,
                    _ => 0,
                }));
            } else {
                spend(budget, 5)?;
                array(&elem, items, budget, out)?;
            }
        }
        (Type::FixedLengthList(list), Val::FixedLengthList(items)) => {
            spend(budget, 5)?;
            array(&list.ty(), items, budget, out)?;
        }
        (Type::Map(map), Val::Map(entries)) => {
            spend(budget, 5)?;
            let (kt, vt) = (map.key(), map.value());
            wire::put_map_len(out, entries.len());
            for (k, v) in entries {
                write(&kt, k, budget, out)?;
                write(&vt, v, budget, out)?;
            }
        }
        (Type::Tuple(tuple), Val::Tuple(items)) => {
            spend(budget, 5)?;
            wire::put_array_len(out, tuple.types().len().min(items.len()));
            for (t, v) in tuple.types().zip(items) {
                write(&t, v, budget, out)?;
            }
        }
        (Type::Record(record), Val::Record(fields)) => {
            spend(budget, 5)?;
            wire::put_map_len(out, record.fields().len().min(fields.len()));
            for (field, (name, v)) in record.fields().zip(fields) {
                spend(budget, name.len() + 1)?;
                wire::put_str(out, name);
                write(&field.ty, v, budget, out)?;
            }
        }
        (Type::Variant(variant), Val::Variant(case, payload)) => {
            spend(budget, case.len() + 6)?;
            let payload_ty = variant.cases().find(|c| c.name == case).and_then(|c| c.ty);
            match (payload_ty, payload) {
                (Some(t), Some(p)) => {
                    wire::put_map_len(out, 1);
                    wire::put_str(out, case);
                    write(&t, p, budget, out)?;
                }
                _ => wire::put_str(out, case),
            }
        }
        (_, Val::Enum(case)) => {
            spend(budget, case.len() + 5)?;
            wire::put_str(out, case);
        }
        (Type::Option(option), Val::Option(v)) => match v {
            None => {
                spend(budget, 1)?;
                out.push(0xc0);
            }
            Some(v) => {
                let inner = option.ty();
                if matches!(inner, Type::Option(_)) {
                    spend(budget, 1)?;
                    wire::put_array_len(out, 1);
                }
                write(&inner, v, budget, out)?;
            }
        },
        (Type::Result(result), Val::Result(r)) => {
            spend(budget, 8)?;
            let (case, slot, payload) = match r {
                Ok(p) => ("ok", result.ok(), p),
                Err(p) => ("err", result.err(), p),
            };
            wire::put_map_len(out, 1);
            wire::put_str(out, case);
            match (slot, payload) {
                (Some(t), Some(p)) => write(&t, p, budget, out)?,
                _ => out.push(0xc0),
            }
        }
        (_, Val::Flags(names)) => {
            spend(budget, 5)?;
            wire::put_array_len(out, names.len());
            for n in names {
                spend(budget, n.len() + 5)?;
                wire::put_str(out, n);
            }
        }
        // What cannot come out of a node (see `convert::from_val`).
        _ => out.push(0xc0),
    }
    Ok(())
}

fn int(budget: &mut usize, out: &mut Vec<u8>, v: i64) -> Result<(), TooLarge> {
    *budget = budget.checked_sub(9).ok_or(TooLarge)?;
    wire::put_int(out, v);
    Ok(())
}

fn uint(budget: &mut usize, out: &mut Vec<u8>, v: u64) -> Result<(), TooLarge> {
    *budget = budget.checked_sub(9).ok_or(TooLarge)?;
    wire::put_uint(out, v);
    Ok(())
}

fn array(
    elem: &Type,
    items: &[Val],
    budget: &mut usize,
    out: &mut Vec<u8>,
) -> Result<(), TooLarge> {
    wire::put_array_len(out, items.len());
    for v in items {
        write(elem, v, budget, out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use rmpv::Value;
    use wasmtime::component::types::ComponentItem;

    use super::super::convert::{from_val, to_val};
    use super::super::msgpack::tests::encoded;
    use super::*;

    /// The type of parameter `v` of each function `f<i>: func(v: T)` for
    /// the WIT types `tys` (with `defs` declaring named ones), from a
    /// component made from that WIT.
    fn types(defs: &str, tys: &[&str]) -> Vec<Type> {
        let funcs: String = tys
            .iter()
            .enumerate()
            .map(|(i, ty)| format!("  f{i}: func(v: {ty});\n"))
            .collect();
        let wit = format!(
            "package t:t;\ninterface i {{\n{defs}\n{funcs}}}\nworld w {{\n  export i;\n}}\n"
        );
        let mut resolve = wit_parser::Resolve::default();
        let pkg = resolve.push_str("t.wit", &wit).unwrap();
        let world = resolve.select_world(&[pkg], Some("w")).unwrap();
        let mut module =
            wit_component::dummy_module(&resolve, world, wit_parser::ManglingAndAbi::Standard32);
        wit_component::embed_component_metadata(
            &mut module,
            &resolve,
            world,
            wit_component::StringEncoding::UTF8,
        )
        .unwrap();
        let bytes = wit_component::ComponentEncoder::default()
            .module(&module)
            .unwrap()
            .encode()
            .unwrap();
        let engine = wasmtime::Engine::default();
        let component = wasmtime::component::Component::new(&engine, &bytes).unwrap();
        let ty = component.component_type();
        let (_, export) = ty.exports(&engine).next().unwrap();
        let ComponentItem::ComponentInstance(iface) = export.ty else {
            panic!("no interface");
        };
        (0..tys.len())
            .map(|i| {
                let export = iface.get_export(&engine, &format!("f{i}")).unwrap();
                let ComponentItem::ComponentFunc(f) = export.ty else {
                    panic!("no f{i}");
                };
                f.params().next().unwrap().1
            })
            .collect()
    }

    /// What reading `value` as `ty` gives, if it takes all of its bytes.
    fn read_all(ty: &Type, value: &Value) -> Option<Val> {
        let bytes = encoded(value);
        let mut r = Reader::new(&bytes);
        let val = read(&mut r, ty)?;
        (r.remaining() == 0).then_some(val)
    }

    /// Named types the cases use.
    const DEFS: &str = "record point { x: s32, y: s32 }\n\
                        variant shape { circle(f64), rect(point), empty }\n\
                        enum color { red, green }\n\
                        flags perms { read, write }";

    /// Reads `value` as `ty` both ways, and writes what was read both ways;
    /// what the general path read, or where the two differ.
    fn compare(ty: &Type, value: &Value) -> Result<Option<Val>, String> {
        let general = to_val(ty, value).ok();
        let straight = read_all(ty, value);
        if straight != general {
            return Err(format!("read {straight:?}, the general path {general:?}"));
        }
        if let Some(val) = &general {
            let mut budget = usize::MAX;
            let want = encoded(&from_val(ty, val, &mut budget).unwrap());
            let (mut spent, mut out) = (usize::MAX, Vec::new());
            write(ty, val, &mut spent, &mut out).unwrap();
            if (&out, spent) != (&want, budget) {
                return Err(format!(
                    "wrote {out:?} leaving {spent}, the general path {want:?} leaving {budget}"
                ));
            }
        }
        Ok(general)
    }

    #[test]
    fn values_read_and_write_as_the_general_path_makes_them() {
        let tys = types(
            DEFS,
            &[
                "bool",
                "s8",
                "u64",
                "f32",
                "f64",
                "char",
                "string",
                "list<u8>",
                "list<string>",
                "tuple<string, u8>",
                "point",
                "shape",
                "color",
                "perms",
                "option<option<s32>>",
                "result<string, u32>",
                "result",
                "list<option<list<tuple<point, option<shape>>>>>",
            ],
        );
        let point =
            |x: i64, y: i64| Value::Map(vec![("x".into(), x.into()), ("y".into(), y.into())]);
        // (type index, value, whether the general path takes it)
        let cases: Vec<(usize, Value, bool)> = vec![
            (0, true.into(), true),
            (0, 1.into(), false),
            (1, (-128).into(), true),
            (1, 128.into(), false),
            (1, Value::F64(1.0), false),
            (2, u64::MAX.into(), true),
            (2, (-1).into(), false),
            (3, Value::F64(0.5), true),
            (3, 3.into(), true),
            (4, "-Infinity".into(), true),
            (4, "1.5".into(), false),
            (4, Value::F32(2.5), true),
            (5, "é".into(), true),
            (5, "ab".into(), false),
            (6, "héllo".into(), true),
            (6, "x".repeat(300).into(), true),
            (6, Value::Binary(vec![1]), false),
            (7, Value::Binary(vec![1, 2, 3]), true),
            (7, Value::Array(vec![1.into(), 255.into()]), true),
            (7, Value::Array(vec![256.into()]), false),
            (7, "ab".into(), false),
            (8, Value::Array(vec!["a".into(), "b".into()]), true),
            (8, Value::Array(vec!["a".into(), 1.into()]), false),
            (9, Value::Array(vec!["a".into(), 1.into()]), true),
            (9, Value::Array(vec!["a".into()]), false),
            (10, point(1, -2), true),
            (
                10,
                Value::Map(vec![("y".into(), 2.into()), ("x".into(), 1.into())]),
                true,
            ),
            (10, Value::Map(vec![("x".into(), 1.into())]), false),
            (
                10,
                Value::Map(vec![
                    ("x".into(), 1.into()),
                    ("y".into(), 2.into()),
                    ("z".into(), 3.into()),
                ]),
                false,
            ),
            (11, "empty".into(), true),
            (11, Value::Map(vec![("empty".into(), Value::Nil)]), true),
            (
                11,
                Value::Map(vec![("circle".into(), Value::F64(1.5))]),
                true,
            ),
            (11, Value::Map(vec![("rect".into(), point(3, 4))]), true),
            (11, "circle".into(), false),
            (11, "square".into(), false),
            (11, Value::Map(vec![("empty".into(), 1.into())]), false),
            (12, "green".into(), true),
            (12, "blue".into(), false),
            (
                13,
                Value::Array(vec!["write".into(), "read".into(), "write".into()]),
                true,
            ),
            (13, Value::Array(vec!["exec".into()]), false),
            (14, Value::Nil, true),
            (14, Value::Array(vec![Value::Nil]), true),
            (14, Value::Array(vec![5.into()]), true),
            (14, 5.into(), false),
            (15, Value::Map(vec![("ok".into(), "fine".into())]), true),
            (15, Value::Map(vec![("err".into(), 7.into())]), true),
            (15, Value::Map(vec![("maybe".into(), 7.into())]), false),
            (16, Value::Map(vec![("ok".into(), Value::Nil)]), true),
            (16, "ok".into(), true),
            (16, Value::Map(vec![("err".into(), 1.into())]), false),
            (
                17,
                Value::Array(vec![
                    Value::Nil,
                    Value::Array(vec![Value::Array(vec![point(1, 2), Value::Nil])]),
                    Value::Array(vec![Value::Array(vec![
                        point(3, 4),
                        Value::Map(vec![("rect".into(), point(5, 6))]),
                    ])]),
                ]),
                true,
            ),
        ];
        for (i, value, takes) in cases {
            let ty = &tys[i];
            let general =
                compare(ty, &value).unwrap_or_else(|e| panic!("{value} as type {i}: {e}"));
            assert_eq!(general.is_some(), takes, "{value} as type {i}");
            // Over its budget by one byte, writing fails as the general
            // path's conversion does.
            if let Some(val) = general {
                let mut budget = usize::MAX;
                from_val(ty, &val, &mut budget).unwrap();
                let mut tight = usize::MAX - budget - 1;
                assert_eq!(
                    write(ty, &val, &mut tight, &mut Vec::new()),
                    Err(TooLarge),
                    "{value} as type {i} over its budget"
                );
            }
        }
    }

    #[test]
    fn counts_past_the_bytes_are_refused_before_allocating() {
        let tys = types("", &["list<u32>", "list<list<u8>>", "list<string>"]);
        // Headers claiming 2^32 - 1 elements in a few bytes.
        for (ty, bytes) in [
            (&tys[0], vec![0xdd, 0xff, 0xff, 0xff, 0xff, 1]),
            (&tys[1], vec![0x91, 0xdd, 0xff, 0xff, 0xff, 0xff, 0xc4, 0]),
            (&tys[2], vec![0xdd, 0xff, 0xff, 0xff, 0xff]),
        ] {
            assert_eq!(read(&mut Reader::new(&bytes), ty), None);
        }
        // Truncated.
        let full = encoded(&Value::Array(vec![1.into(), 2.into()]));
        assert_eq!(read(&mut Reader::new(&full[..2]), &tys[0]), None);
    }

    /// Random values of every MessagePack shape, with the names the types
    /// below use, maps without repeated keys, and no NaN (which equals
    /// nothing).
    fn value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let names = prop::sample::select(vec![
            "x", "y", "red", "green", "circle", "rect", "empty", "ok", "err", "read", "write",
            "Infinity", "é", "ab",
        ]);
        let leaf = prop_oneof![
            Just(Value::Nil),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            (-300i64..300).prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-1e6f64..1e6).prop_map(Value::F64),
            (-1e3f32..1e3).prop_map(Value::F32),
            names.clone().prop_map(Value::from),
            prop::collection::vec(any::<u8>(), 0..4).prop_map(Value::Binary),
        ];
        leaf.prop_recursive(4, 24, 4, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((names.clone(), inner), 0..4).prop_map(|entries| {
                    let mut seen = Vec::new();
                    Value::Map(
                        entries
                            .into_iter()
                            .filter(|(k, _)| {
                                let new = !seen.contains(k);
                                seen.push(*k);
                                new
                            })
                            .map(|(k, v)| (Value::from(k), v))
                            .collect(),
                    )
                }),
            ]
        })
    }

    #[test]
    fn random_values_read_and_write_as_the_general_path_makes_them() {
        use proptest::test_runner::{Config, TestRunner};
        let tys = types(
            DEFS,
            &[
                "bool",
                "s8",
                "u16",
                "s64",
                "u64",
                "f32",
                "f64",
                "char",
                "string",
                "list<u8>",
                "list<s32>",
                "tuple<string, u8>",
                "point",
                "shape",
                "color",
                "perms",
                "option<s32>",
                "option<option<point>>",
                "result<string, u32>",
                "result",
                "list<option<list<tuple<point, option<shape>>>>>",
            ],
        );
        let mut runner = TestRunner::new(Config {
            cases: 3000,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(&value(), |value| {
                for (i, ty) in tys.iter().enumerate() {
                    if let Err(e) = compare(ty, &value) {
                        return Err(proptest::test_runner::TestCaseError::fail(format!(
                            "{value} as type {i}: {e}"
                        )));
                    }
                }
                Ok(())
            })
            .unwrap();
    }
}
