//! Nodes that take one list of numbers and return a list of the same
//! numbers, `(list<N>) -> list<N>` for N one of `s8`, `u16`, `s16`, `u32`,
//! `s32`, `u64`, `s64`, `f32`, `f64` (`list<u8>` is the bytes path's):
//! called through typed bindings, so the numbers are copied in and out of
//! the guest's memory as one block instead of becoming one `Val` each.
//!
//! The values mean exactly what the general path makes of them (integers
//! range-checked, floats from numbers or `"NaN"`, `"Infinity"`,
//! `"-Infinity"`); anything the fast path does not take, including every
//! value the general path would refuse, goes the general way, so errors
//! read the same.

use rmpv::Value;
use wasmtime::Store;
use wasmtime::component::Func;
use wasmtime::component::types::Type;

use super::convert::{TooLarge, float, int};
use super::msgpack as wire;
use super::store::CallState;

macro_rules! numbers {
    ($($case:ident: $ty:ty, $wit:ident, $from:expr, $to:expr, $read:expr, $write:expr;)*) => {
        /// The element type of a numbers node's list.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum NumberKind {
            $(
                #[doc = concat!("`list<", stringify!($wit), ">`")]
                $case,
            )*
        }

        /// A list of numbers of one type.
        #[derive(Debug, Clone, PartialEq)]
        pub(crate) enum Numbers {
            $(
                #[doc = concat!("`list<", stringify!($wit), ">`")]
                $case(Vec<$ty>),
            )*
        }

        impl NumberKind {
            fn of(ty: &Type) -> Option<NumberKind> {
                match ty {
                    $(Type::$wit => Some(NumberKind::$case),)*
                    _ => None,
                }
            }

            fn wit(self) -> Type {
                match self {
                    $(NumberKind::$case => Type::$wit,)*
                }
            }
        }

        impl Numbers {
            /// `items` as a list of `kind`, or `None` when one does not fit
            /// (the general path then says which).
            pub(crate) fn take(kind: NumberKind, items: &[Value]) -> Option<Numbers> {
                let ty = kind.wit();
                match kind {
                    $(NumberKind::$case => {
                        let convert: fn(&Type, &Value) -> Option<$ty> = $from;
                        let mut out = Vec::with_capacity(items.len());
                        for item in items {
                            out.push(convert(&ty, item)?);
                        }
                        Some(Numbers::$case(out))
                    })*
                }
            }

            /// The list in a call's MessagePack arguments (`[list]`, or
            /// `{param: list}`), read without a `Value` per element; `None`
            /// when they are not that or an element does not fit (the
            /// general path then says which).
            pub(crate) fn decode(kind: NumberKind, param: &str, args: &[u8]) -> Option<Numbers> {
                let (mut reader, len) = wire::list_in_args(args, param)?;
                let numbers = match kind {
                    $(NumberKind::$case => {
                        let read: fn(wire::Num) -> Option<$ty> = $read;
                        let mut out = Vec::with_capacity(len);
                        for _ in 0..len {
                            out.push(read(reader.num()?)?);
                        }
                        Numbers::$case(out)
                    })*
                };
                (reader.remaining() == 0).then_some(numbers)
            }

            /// The list as MessagePack, within `budget` as
            /// [`Numbers::into_value`] counts it.
            pub(crate) fn encode(&self, budget: usize) -> Result<Vec<u8>, TooLarge> {
                let len = match self {
                    $(Numbers::$case(list) => list.len(),)*
                };
                let most = len.saturating_mul(9).saturating_add(5);
                if most > budget {
                    return Err(TooLarge);
                }
                let mut out = Vec::with_capacity(most);
                wire::put_array_len(&mut out, len);
                match self {
                    $(Numbers::$case(list) => {
                        let write: fn(&mut Vec<u8>, $ty) = $write;
                        for &v in list {
                            write(&mut out, v);
                        }
                    })*
                }
                Ok(out)
            }

            /// Calls `func` (a numbers node of this kind) with the list;
            /// the list it returns.
            pub(crate) async fn call(
                self,
                func: Func,
                store: &mut Store<CallState>,
            ) -> wasmtime::Result<Numbers> {
                Ok(match self {
                    $(Numbers::$case(list) => {
                        let typed = func.typed::<(&[$ty],), (Vec<$ty>,)>(&*store)?;
                        Numbers::$case(typed.call_async(&mut *store, (&list,)).await?.0)
                    })*
                })
            }

            /// The list as a MessagePack array, counting at most 9 bytes a
            /// number against `budget`, as the general path does.
            pub(crate) fn into_value(self, budget: usize) -> Result<Value, TooLarge> {
                let len = match &self {
                    $(Numbers::$case(list) => list.len(),)*
                };
                if len.saturating_mul(9).saturating_add(5) > budget {
                    return Err(TooLarge);
                }
                Ok(Value::Array(match self {
                    $(Numbers::$case(list) => {
                        let to: fn($ty) -> Value = $to;
                        list.into_iter().map(to).collect()
                    })*
                }))
            }
        }
    };
}

numbers! {
    S8: i8, S8, |t, v| int(t, v).ok(), Value::from, wire::Num::int,
        |out, v| wire::put_int(out, v.into());
    U16: u16, U16, |t, v| int(t, v).ok(), Value::from, wire::Num::int,
        |out, v| wire::put_uint(out, v.into());
    S16: i16, S16, |t, v| int(t, v).ok(), Value::from, wire::Num::int,
        |out, v| wire::put_int(out, v.into());
    U32: u32, U32, |t, v| int(t, v).ok(), Value::from, wire::Num::int,
        |out, v| wire::put_uint(out, v.into());
    S32: i32, S32, |t, v| int(t, v).ok(), Value::from, wire::Num::int,
        |out, v| wire::put_int(out, v.into());
    U64: u64, U64, |t, v| int(t, v).ok(), Value::from, wire::Num::int, wire::put_uint;
    S64: i64, S64, |t, v| int(t, v).ok(), Value::from, wire::Num::int, wire::put_int;
    F32: f32, Float32, |t, v| float(t, v).ok().map(|f| f as f32), Value::F32,
        |n| Some(n.float() as f32), wire::put_f32;
    F64: f64, Float64, |t, v| float(t, v).ok(), Value::F64, |n| Some(n.float()), wire::put_f64;
}

/// The kind of a `(list<N>) -> list<N>` node, if `params` and `result`
/// make one.
pub(crate) fn shape(params: &[(String, Type)], result: Option<&Type>) -> Option<NumberKind> {
    let [(_, Type::List(param))] = params else {
        return None;
    };
    let Some(Type::List(result)) = result else {
        return None;
    };
    let kind = NumberKind::of(&param.ty())?;
    (result.ty() == param.ty()).then_some(kind)
}

#[cfg(test)]
mod tests {
    use super::super::msgpack::tests::encoded;
    use super::*;

    #[test]
    fn numbers_are_taken_as_the_general_path_takes_them() {
        let items = [Value::from(1), Value::from(-2), Value::from(300)];
        assert_eq!(
            Numbers::take(NumberKind::S32, &items),
            Some(Numbers::S32(vec![1, -2, 300]))
        );
        // Out of range, or not a number: the general path answers.
        assert_eq!(Numbers::take(NumberKind::S8, &items), None);
        assert_eq!(Numbers::take(NumberKind::U32, &items), None);
        assert_eq!(Numbers::take(NumberKind::S32, &[Value::from("1")]), None);
        // Floats: ints and the names JSON uses for what it cannot write.
        let floats = [Value::from(2), Value::F64(0.5), Value::from("-Infinity")];
        assert_eq!(
            Numbers::take(NumberKind::F64, &floats),
            Some(Numbers::F64(vec![2.0, 0.5, f64::NEG_INFINITY]))
        );
    }

    #[test]
    fn encoded_arguments_read_as_their_values_do() {
        let cases: Vec<(NumberKind, Vec<Value>)> = vec![
            (
                NumberKind::S32,
                vec![1.into(), (-2).into(), 300.into(), i32::MIN.into()],
            ),
            (NumberKind::S8, vec![(-128).into(), 127.into()]),
            (NumberKind::S8, vec![128.into()]),
            (NumberKind::U32, vec![(-1).into()]),
            (NumberKind::U64, vec![u64::MAX.into(), 0.into()]),
            (NumberKind::S64, vec![u64::MAX.into()]),
            (NumberKind::S32, vec![Value::from("1")]),
            (NumberKind::S32, vec![Value::F64(1.0)]),
            (
                NumberKind::F32,
                vec![2.into(), Value::F32(0.5), Value::F64(1e40)],
            ),
            (
                NumberKind::F64,
                vec![u64::MAX.into(), (-3).into(), Value::F64(0.1)],
            ),
            // Strings are left to the general path.
            (NumberKind::F64, vec![Value::from("NaN")]),
            (NumberKind::U16, vec![]),
        ];
        for (kind, items) in cases {
            let list = Value::Array(items.clone());
            let want = Numbers::take(kind, &items).filter(|_| !items.iter().any(Value::is_str));
            let by_position = encoded(&Value::Array(vec![list.clone()]));
            assert_eq!(
                Numbers::decode(kind, "xs", &by_position),
                want,
                "{kind:?} {items:?}"
            );
            let by_name = encoded(&Value::Map(vec![("xs".into(), list)]));
            assert_eq!(
                Numbers::decode(kind, "xs", &by_name),
                want,
                "{kind:?} {items:?}"
            );
            // What is encoded back is what the general path would write.
            if let Some(numbers) = want {
                let value = numbers.clone().into_value(usize::MAX).unwrap();
                assert_eq!(numbers.encode(usize::MAX).unwrap(), encoded(&value));
            }
        }
        // Trailing or missing bytes.
        let mut long = encoded(&Value::Array(vec![Value::Array(vec![1.into()])]));
        long.push(0);
        assert_eq!(Numbers::decode(NumberKind::S32, "xs", &long), None);
        assert_eq!(Numbers::decode(NumberKind::S32, "xs", &long[..2]), None);
        assert_eq!(Numbers::U16(vec![1, 2, 3]).encode(31), Err(TooLarge));
    }

    #[test]
    fn results_count_against_the_cap() {
        let list = Numbers::U16(vec![1, 2, 3]);
        assert_eq!(
            list.clone().into_value(100),
            Ok(Value::Array(vec![1.into(), 2.into(), 3.into()]))
        );
        assert_eq!(list.into_value(31), Err(TooLarge));
    }
}
