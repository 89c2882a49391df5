//! Rendering wasmtime's reflected types as WIT text, and finding the types a
//! node cannot have.

use wasmtime::component::types::Type;

/// Writes `ty` as WIT. Records, variants, enums and flags are shown
/// structurally (`record { x: s32 }`) since component types carry no names.
pub(crate) fn render(ty: &Type) -> String {
    let mut out = String::new();
    write(ty, &mut out);
    out
}

fn write(ty: &Type, out: &mut String) {
    match ty {
        Type::Bool => out.push_str("bool"),
        Type::S8 => out.push_str("s8"),
        Type::U8 => out.push_str("u8"),
        Type::S16 => out.push_str("s16"),
        Type::U16 => out.push_str("u16"),
        Type::S32 => out.push_str("s32"),
        Type::U32 => out.push_str("u32"),
        Type::S64 => out.push_str("s64"),
        Type::U64 => out.push_str("u64"),
        Type::Float32 => out.push_str("f32"),
        Type::Float64 => out.push_str("f64"),
        Type::Char => out.push_str("char"),
        Type::String => out.push_str("string"),
        Type::List(l) => {
            out.push_str("list<");
            write(&l.ty(), out);
            out.push('>');
        }
        Type::FixedLengthList(l) => {
            out.push_str("list<");
            write(&l.ty(), out);
            out.push_str(&format!(", {}>", l.len()));
        }
        Type::Map(m) => {
            out.push_str("map<");
            write(&m.key(), out);
            out.push_str(", ");
            write(&m.value(), out);
            out.push('>');
        }
        Type::Record(r) => {
            out.push_str("record { ");
            for (i, f) in r.fields().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(f.name);
                out.push_str(": ");
                write(&f.ty, out);
            }
            out.push_str(" }");
        }
        Type::Tuple(t) => {
            out.push_str("tuple<");
            for (i, t) in t.types().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write(&t, out);
            }
            out.push('>');
        }
        Type::Variant(v) => {
            out.push_str("variant { ");
            for (i, c) in v.cases().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(c.name);
                if let Some(t) = &c.ty {
                    out.push('(');
                    write(t, out);
                    out.push(')');
                }
            }
            out.push_str(" }");
        }
        Type::Enum(e) => {
            out.push_str("enum { ");
            out.push_str(&e.names().collect::<Vec<_>>().join(", "));
            out.push_str(" }");
        }
        Type::Flags(f) => {
            out.push_str("flags { ");
            out.push_str(&f.names().collect::<Vec<_>>().join(", "));
            out.push_str(" }");
        }
        Type::Option(o) => {
            out.push_str("option<");
            write(&o.ty(), out);
            out.push('>');
        }
        Type::Result(r) => match (r.ok(), r.err()) {
            (None, None) => out.push_str("result"),
            (Some(ok), None) => {
                out.push_str("result<");
                write(&ok, out);
                out.push('>');
            }
            (ok, Some(err)) => {
                out.push_str("result<");
                match ok {
                    Some(ok) => write(&ok, out),
                    None => out.push('_'),
                }
                out.push_str(", ");
                write(&err, out);
                out.push('>');
            }
        },
        Type::Own(_) => out.push_str("own<resource>"),
        Type::Borrow(_) => out.push_str("borrow<resource>"),
        Type::Future(_) => out.push_str("future"),
        Type::Stream(_) => out.push_str("stream"),
        Type::ErrorContext => out.push_str("error-context"),
    }
}

/// Returns why a value of `ty` cannot travel over the wire, if it cannot:
/// resources, futures, streams and error contexts are handles into one
/// instance, which ends with the call.
pub(crate) fn not_callable_reason(ty: &Type) -> Option<&'static str> {
    match ty {
        Type::Own(_) | Type::Borrow(_) => Some("resource handles live only inside one instance"),
        Type::Future(_) | Type::Stream(_) | Type::ErrorContext => {
            Some("futures, streams and error contexts are not supported yet")
        }
        Type::List(l) => not_callable_reason(&l.ty()),
        Type::FixedLengthList(l) => not_callable_reason(&l.ty()),
        Type::Map(m) => not_callable_reason(&m.key()).or_else(|| not_callable_reason(&m.value())),
        Type::Record(r) => r.fields().find_map(|f| not_callable_reason(&f.ty)),
        Type::Tuple(t) => t.types().find_map(|t| not_callable_reason(&t)),
        Type::Variant(v) => v
            .cases()
            .find_map(|c| c.ty.as_ref().and_then(not_callable_reason)),
        Type::Option(o) => not_callable_reason(&o.ty()),
        Type::Result(r) => r
            .ok()
            .as_ref()
            .and_then(not_callable_reason)
            .or_else(|| r.err().as_ref().and_then(not_callable_reason)),
        _ => None,
    }
}
