//! Python values ⇄ MessagePack values, as the README's value table shows
//! them: `None` ⇄ nil, `bool`, `int` (i64 or u64), `float`, `str`, `bytes`
//! ⇄ bin, `list` ⇄ array, `dict` ⇄ map. Tuples and sets go out as arrays,
//! `bytearray` and `memoryview` as bin.

use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyFrozenSet, PyInt, PyList, PyMemoryView, PySet,
    PyString, PyTuple,
};
use pyo3::{IntoPyObjectExt, intern};
use rmpv::Value;

/// How deep values may nest (arrays and maps), as on the wire.
pub(crate) const MAX_DEPTH: usize = warden_host::proto::MAX_DEPTH;

/// Converts a Python value to a MessagePack value.
///
/// # Errors
///
/// `TypeError` for a type with no MessagePack form, `OverflowError` for an
/// `int` outside i64 ∪ u64, `ValueError` past [`MAX_DEPTH`] (a list that
/// contains itself ends here too), `UnicodeEncodeError` for a `str` with
/// lone surrogates.
pub(crate) fn to_value(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    to_value_at(obj, 0)
}

fn to_value_at(obj: &Bound<'_, PyAny>, depth: usize) -> PyResult<Value> {
    if obj.is_none() {
        return Ok(Value::Nil);
    }
    // `bool` before `int`: it is a subclass.
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Boolean(b.is_true()));
    }
    if let Ok(i) = obj.cast::<PyInt>() {
        return int_value(i);
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Ok(Value::F64(f.value()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(s.to_cow()?.into_owned().into()));
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Value::Binary(b.as_bytes().to_vec()));
    }
    if depth >= MAX_DEPTH {
        return Err(PyValueError::new_err(format!(
            "the value nests deeper than {MAX_DEPTH} lists and dicts"
        )));
    }
    if let Ok(list) = obj.cast::<PyList>() {
        let mut out = Vec::with_capacity(list.len());
        for item in list.iter() {
            out.push(to_value_at(&item, depth + 1)?);
        }
        return Ok(Value::Array(out));
    }
    if let Ok(tuple) = obj.cast::<PyTuple>() {
        let mut out = Vec::with_capacity(tuple.len());
        for item in tuple.iter() {
            out.push(to_value_at(&item, depth + 1)?);
        }
        return Ok(Value::Array(out));
    }
    if let Ok(dict) = obj.cast::<PyDict>() {
        let mut out = Vec::with_capacity(dict.len());
        for (key, value) in dict.iter() {
            out.push((
                to_value_at(&key, depth + 1)?,
                to_value_at(&value, depth + 1)?,
            ));
        }
        return Ok(Value::Map(out));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(Value::Binary(b.to_vec()));
    }
    if obj.cast::<PyMemoryView>().is_ok() {
        let bytes = obj.py().get_type::<PyBytes>().call1((obj,))?;
        return Ok(Value::Binary(bytes.cast::<PyBytes>()?.as_bytes().to_vec()));
    }
    if obj.cast::<PySet>().is_ok() || obj.cast::<PyFrozenSet>().is_ok() {
        let mut out = Vec::new();
        for item in obj.try_iter()? {
            out.push(to_value_at(&item?, depth + 1)?);
        }
        return Ok(Value::Array(out));
    }
    // Integers and floats of other libraries (numpy's, `decimal` is not one).
    if obj.hasattr(intern!(obj.py(), "__index__"))? {
        let index = obj.call_method0(intern!(obj.py(), "__index__"))?;
        if let Ok(i) = index.cast::<PyInt>() {
            return int_value(i);
        }
    }
    let type_name = obj.get_type().name()?;
    Err(PyTypeError::new_err(format!(
        "cannot send a `{type_name}`: arguments are None, bool, int, float, str, bytes, \
         lists, tuples and dicts of these"
    )))
}

fn int_value(i: &Bound<'_, PyInt>) -> PyResult<Value> {
    if let Ok(v) = i.extract::<i64>() {
        return Ok(Value::from(v));
    }
    if let Ok(v) = i.extract::<u64>() {
        return Ok(Value::from(v));
    }
    Err(PyOverflowError::new_err(format!(
        "{i} does not fit in 64 bits (the widest WIT integers are s64 and u64)"
    )))
}

/// Converts a MessagePack value to a Python value.
///
/// # Errors
///
/// `warden.ProtocolError` for a MessagePack extension value (never part of
/// the protocol); `TypeError` for a map key Python cannot hash (a list).
pub(crate) fn to_py(py: Python<'_>, value: Value) -> PyResult<Bound<'_, PyAny>> {
    Ok(match value {
        Value::Nil => py.None().into_bound(py),
        Value::Boolean(b) => PyBool::new(py, b).to_owned().into_any(),
        Value::Integer(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_bound_py_any(py)?,
            (None, Some(u)) => u.into_bound_py_any(py)?,
            // rmpv integers are i64 or u64: one of the two holds.
            (None, None) => py.None().into_bound(py),
        },
        Value::F32(f) => PyFloat::new(py, f64::from(f)).into_any(),
        Value::F64(f) => PyFloat::new(py, f).into_any(),
        Value::String(s) => match s.as_str() {
            Some(text) => PyString::new(py, text).into_any(),
            // The frame decoder refuses invalid UTF-8; keep the bytes if one
            // ever gets through.
            None => PyBytes::new(py, s.as_bytes()).into_any(),
        },
        Value::Binary(b) => PyBytes::new(py, &b).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Map(entries) => {
            let dict = PyDict::new(py);
            for (key, value) in entries {
                let key = to_py(py, key)?;
                // Lists cannot be dict keys; tuples can.
                let key = match key.cast::<PyList>() {
                    Ok(list) => list.to_tuple().into_any(),
                    Err(_) => key,
                };
                dict.set_item(key, to_py(py, value)?)?;
            }
            dict.into_any()
        }
        Value::Ext(kind, _) => {
            return Err(crate::errors::protocol_error(
                py,
                format!("the server sent a MessagePack extension value (type {kind})"),
            ));
        }
    })
}
