//! Flat arguments and results straight from and to MessagePack, without
//! `rmpv::Value`s: a numbers node's list (no `Value` per element) and a
//! bytes node's bytes (no copy), from what a front end that speaks
//! MessagePack hands over ([`Args::Encoded`](super::Args::Encoded)), and a
//! numbers node's answer ([`Reply::Encoded`](super::Reply::Encoded)).
//!
//! Only the shapes the general path would take with the same meaning are
//! read here (integers in range for an integer list; integers and floats
//! for a float list; `bin` for bytes); anything else, including `"NaN"`
//! written as a string and every value the general path refuses, returns
//! `None` and goes the general way, so errors read the same.

/// A number as MessagePack wrote it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Num {
    /// A signed integer (MessagePack `int` or a negative fixint).
    I(i64),
    /// An unsigned integer (MessagePack `uint` or a positive fixint).
    U(u64),
    /// `float 32`.
    F32(f32),
    /// `float 64`.
    F64(f64),
}

/// Reads MessagePack from a slice, refusing (with `None`) anything past
/// its end.
pub(super) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    /// Bytes not read yet.
    pub(super) fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// The next byte (the next value's marker), without reading it.
    pub(super) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// Reads a nil if one is next.
    pub(super) fn nil(&mut self) -> bool {
        let next = self.peek() == Some(0xc0);
        self.pos += usize::from(next);
        next
    }

    /// A bool.
    pub(super) fn bool(&mut self) -> Option<bool> {
        match self.peek()? {
            0xc2 => self.byte().map(|_| false),
            0xc3 => self.byte().map(|_| true),
            _ => None,
        }
    }

    /// A `bin`'s bytes.
    pub(super) fn bin(&mut self) -> Option<&'a [u8]> {
        let len = match self.peek()? {
            0xc4..=0xc6 => match self.byte()? {
                0xc4 => usize::from(self.byte()?),
                0xc5 => usize::from(u16::from_be_bytes(self.take()?)),
                _ => usize::try_from(u32::from_be_bytes(self.take()?)).ok()?,
            },
            _ => return None,
        };
        self.slice(len)
    }

    fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let end = self.pos.checked_add(N)?;
        let out = self.bytes.get(self.pos..end)?.try_into().ok()?;
        self.pos = end;
        Some(out)
    }

    fn slice(&mut self, len: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(len)?;
        let out = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(out)
    }

    /// An array header's length.
    pub(super) fn array_len(&mut self) -> Option<usize> {
        match self.byte()? {
            b @ 0x90..=0x9f => Some(usize::from(b & 0x0f)),
            0xdc => Some(usize::from(u16::from_be_bytes(self.take()?))),
            0xdd => usize::try_from(u32::from_be_bytes(self.take()?)).ok(),
            _ => None,
        }
    }

    /// A map header's length.
    pub(super) fn map_len(&mut self) -> Option<usize> {
        match self.byte()? {
            b @ 0x80..=0x8f => Some(usize::from(b & 0x0f)),
            0xde => Some(usize::from(u16::from_be_bytes(self.take()?))),
            0xdf => usize::try_from(u32::from_be_bytes(self.take()?)).ok(),
            _ => None,
        }
    }

    /// A string's bytes (leaving a value that is not a string unread).
    pub(super) fn str(&mut self) -> Option<&'a [u8]> {
        if !is_str(self.peek()?) {
            return None;
        }
        let len = match self.byte()? {
            b @ 0xa0..=0xbf => usize::from(b & 0x1f),
            0xd9 => usize::from(self.byte()?),
            0xda => usize::from(u16::from_be_bytes(self.take()?)),
            _ => usize::try_from(u32::from_be_bytes(self.take()?)).ok()?,
        };
        self.slice(len)
    }

    /// A number.
    #[inline(always)]
    pub(super) fn num(&mut self) -> Option<Num> {
        // One match on the next bytes: the per-element cost of a list.
        let (num, used) = match *self.bytes.get(self.pos..)? {
            [b @ 0x00..=0x7f, ..] => (Num::U(u64::from(b)), 1),
            [b @ 0xe0..=0xff, ..] => (Num::I(i64::from(b as i8)), 1),
            [0xcc, b, ..] => (Num::U(u64::from(b)), 2),
            [0xcd, a, b, ..] => (Num::U(u64::from(u16::from_be_bytes([a, b]))), 3),
            [0xce, a, b, c, d, ..] => (Num::U(u64::from(u32::from_be_bytes([a, b, c, d]))), 5),
            [0xcf, a, b, c, d, e, f, g, h, ..] => {
                (Num::U(u64::from_be_bytes([a, b, c, d, e, f, g, h])), 9)
            }
            [0xd0, b, ..] => (Num::I(i64::from(b as i8)), 2),
            [0xd1, a, b, ..] => (Num::I(i64::from(i16::from_be_bytes([a, b]))), 3),
            [0xd2, a, b, c, d, ..] => (Num::I(i64::from(i32::from_be_bytes([a, b, c, d]))), 5),
            [0xd3, a, b, c, d, e, f, g, h, ..] => {
                (Num::I(i64::from_be_bytes([a, b, c, d, e, f, g, h])), 9)
            }
            [0xca, a, b, c, d, ..] => (Num::F32(f32::from_be_bytes([a, b, c, d])), 5),
            [0xcb, a, b, c, d, e, f, g, h, ..] => {
                (Num::F64(f64::from_be_bytes([a, b, c, d, e, f, g, h])), 9)
            }
            _ => return None,
        };
        self.pos += used;
        Some(num)
    }
}

/// Whether a value with this marker is a string.
pub(super) fn is_str(marker: u8) -> bool {
    matches!(marker, 0xa0..=0xbf | 0xd9..=0xdb)
}

/// Whether a value with this marker is a `bin`.
pub(super) fn is_bin(marker: u8) -> bool {
    matches!(marker, 0xc4..=0xc6)
}

impl Num {
    /// The integer, if it is one that fits `T` (as the general path's
    /// `int` takes it).
    #[inline(always)]
    pub(super) fn int<T: TryFrom<i64> + TryFrom<u64>>(self) -> Option<T> {
        match self {
            Num::I(i) => T::try_from(i).ok(),
            Num::U(u) => T::try_from(u).ok(),
            Num::F32(_) | Num::F64(_) => None,
        }
    }

    /// The number as a float (as the general path's `float` takes it).
    pub(super) fn float(self) -> f64 {
        match self {
            Num::I(i) => i as f64,
            Num::U(u) => u as f64,
            Num::F32(f) => f64::from(f),
            Num::F64(f) => f,
        }
    }
}

/// A reader at the one argument inside a call's encoded arguments,
/// `[arg]` or `{param: arg}`.
fn only_arg<'a>(bytes: &'a [u8], param: &str) -> Option<Reader<'a>> {
    let mut r = Reader::new(bytes);
    match bytes.first()? {
        0x90..=0x9f | 0xdc | 0xdd => {
            if r.array_len()? != 1 {
                return None;
            }
        }
        _ => {
            if r.map_len()? != 1 || r.str()? != param.as_bytes() {
                return None;
            }
        }
    }
    Some(r)
}

/// The list inside a call's encoded arguments, `[list]` or `{param: list}`:
/// a reader at its first element and the element count, checked against
/// the bytes left (each element takes one at least) so nothing is
/// allocated for elements that are not there.
pub(super) fn list_in_args<'a>(bytes: &'a [u8], param: &str) -> Option<(Reader<'a>, usize)> {
    let mut r = only_arg(bytes, param)?;
    let len = r.array_len()?;
    (len <= r.remaining()).then_some((r, len))
}

/// Where the `bin` inside a call's encoded arguments (`[bin]` or
/// `{param: bin}`) lies in `bytes`, when that is all they hold.
pub(super) fn bin_in_args(bytes: &[u8], param: &str) -> Option<std::ops::Range<usize>> {
    let mut r = only_arg(bytes, param)?;
    let len = r.bin()?.len();
    (r.remaining() == 0).then_some(r.pos - len..r.pos)
}

/// Appends an unsigned integer in its shortest form (as `rmpv` writes it).
#[inline(always)]
pub(super) fn put_uint(out: &mut Vec<u8>, v: u64) {
    if v < 0x80 {
        out.push(v as u8);
    } else if let Ok(v) = u8::try_from(v) {
        out.extend_from_slice(&[0xcc, v]);
    } else if let Ok(v) = u16::try_from(v) {
        let [a, b] = v.to_be_bytes();
        out.extend_from_slice(&[0xcd, a, b]);
    } else if let Ok(v) = u32::try_from(v) {
        let [a, b, c, d] = v.to_be_bytes();
        out.extend_from_slice(&[0xce, a, b, c, d]);
    } else {
        let [a, b, c, d, e, f, g, h] = v.to_be_bytes();
        out.extend_from_slice(&[0xcf, a, b, c, d, e, f, g, h]);
    }
}

/// Appends a signed integer in its shortest form (as `rmpv` writes it:
/// a non-negative one as unsigned).
#[inline(always)]
pub(super) fn put_int(out: &mut Vec<u8>, v: i64) {
    if let Ok(u) = u64::try_from(v) {
        put_uint(out, u);
    } else if v >= -32 {
        out.push(v as u8);
    } else if let Ok(v) = i8::try_from(v) {
        out.extend_from_slice(&[0xd0, v as u8]);
    } else if let Ok(v) = i16::try_from(v) {
        let [a, b] = v.to_be_bytes();
        out.extend_from_slice(&[0xd1, a, b]);
    } else if let Ok(v) = i32::try_from(v) {
        let [a, b, c, d] = v.to_be_bytes();
        out.extend_from_slice(&[0xd2, a, b, c, d]);
    } else {
        let [a, b, c, d, e, f, g, h] = v.to_be_bytes();
        out.extend_from_slice(&[0xd3, a, b, c, d, e, f, g, h]);
    }
}

/// Appends an array header.
pub(super) fn put_array_len(out: &mut Vec<u8>, len: usize) {
    if len < 16 {
        out.push(0x90 | len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(0xdc);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        // A result this long was refused by the budget long before 2^32.
        out.push(0xdd);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

/// Appends a map header.
pub(super) fn put_map_len(out: &mut Vec<u8>, len: usize) {
    if len < 16 {
        out.push(0x80 | len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(0xde);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(0xdf);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

/// Appends a string (as `rmpv` writes it: the shortest header).
pub(super) fn put_str(out: &mut Vec<u8>, s: &str) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if let Ok(len) = u8::try_from(len) {
        out.extend_from_slice(&[0xd9, len]);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(0xda);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s.as_bytes());
}

/// Appends a `bin` header for `len` bytes.
pub(super) fn put_bin_len(out: &mut Vec<u8>, len: usize) {
    if let Ok(len) = u8::try_from(len) {
        out.extend_from_slice(&[0xc4, len]);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(0xc5);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(0xc6);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

/// Appends a `float 32`.
pub(super) fn put_f32(out: &mut Vec<u8>, v: f32) {
    out.push(0xca);
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends a `float 64`.
pub(super) fn put_f64(out: &mut Vec<u8>, v: f64) {
    out.push(0xcb);
    out.extend_from_slice(&v.to_be_bytes());
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use rmpv::Value;

    /// `v` as MessagePack, as `rmpv` writes it.
    pub(in super::super) fn encoded(v: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, v).unwrap();
        out
    }

    #[test]
    fn integers_are_written_as_rmpv_writes_them_and_read_back() {
        let edges: Vec<i64> = vec![
            0,
            1,
            127,
            128,
            255,
            256,
            65_535,
            65_536,
            u32::MAX.into(),
            i64::from(u32::MAX) + 1,
            i64::MAX,
            -1,
            -32,
            -33,
            -128,
            -129,
            -32_768,
            -32_769,
            i32::MIN.into(),
            i64::from(i32::MIN) - 1,
            i64::MIN,
        ];
        for v in edges {
            let mut out = Vec::new();
            put_int(&mut out, v);
            assert_eq!(out, encoded(&Value::from(v)), "{v}");
            let read = Reader::new(&out).num().unwrap();
            assert_eq!(read.int::<i64>(), Some(v), "{v}");
        }
        let mut out = Vec::new();
        put_uint(&mut out, u64::MAX);
        assert_eq!(out, encoded(&Value::from(u64::MAX)));
        assert_eq!(
            Reader::new(&out).num().unwrap().int::<u64>(),
            Some(u64::MAX)
        );
        assert_eq!(Reader::new(&out).num().unwrap().int::<i64>(), None);
    }

    #[test]
    fn array_headers_and_floats_match_rmpv() {
        for len in [0usize, 15, 16, 65_535, 65_536] {
            let mut out = Vec::new();
            put_array_len(&mut out, len);
            let want = encoded(&Value::Array(vec![Value::Nil; len]));
            assert_eq!(out, want[..want.len() - len], "{len}");
            assert_eq!(Reader::new(&out).array_len(), Some(len));
        }
        let mut out = Vec::new();
        put_f32(&mut out, 1.5);
        put_f64(&mut out, -0.25);
        let mut want = encoded(&Value::F32(1.5));
        want.extend(encoded(&Value::F64(-0.25)));
        assert_eq!(out, want);
    }

    #[test]
    fn the_list_is_found_in_an_array_or_under_its_parameter_name() {
        let list = Value::Array(vec![1.into(), 2.into()]);
        let by_position = encoded(&Value::Array(vec![list.clone()]));
        let (mut r, len) = list_in_args(&by_position, "xs").unwrap();
        assert_eq!(len, 2);
        assert_eq!(r.num(), Some(Num::U(1)));
        let by_name = encoded(&Value::Map(vec![("xs".into(), list.clone())]));
        assert_eq!(list_in_args(&by_name, "xs").map(|(_, n)| n), Some(2));
        // Another name, two arguments, or a count the bytes cannot hold.
        assert!(list_in_args(&by_name, "ys").is_none());
        let two = encoded(&Value::Array(vec![list.clone(), list]));
        assert!(list_in_args(&two, "xs").is_none());
        assert!(list_in_args(&[0x91, 0xdd, 0xff, 0xff, 0xff, 0xff, 1], "xs").is_none());
        assert!(list_in_args(&[], "xs").is_none());
    }

    #[test]
    fn bytes_are_found_where_they_lie() {
        for len in [0usize, 5, 300, 70_000] {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let bin = Value::Binary(data.clone());
            let by_position = encoded(&Value::Array(vec![bin.clone()]));
            let range = bin_in_args(&by_position, "b").unwrap();
            assert_eq!(&by_position[range], &data[..]);
            let by_name = encoded(&Value::Map(vec![("b".into(), bin)]));
            let range = bin_in_args(&by_name, "b").unwrap();
            assert_eq!(&by_name[range], &data[..]);
            assert!(bin_in_args(&by_name, "c").is_none());
            assert!(bin_in_args(&by_position[..by_position.len() - 1], "b").is_none());
        }
        // A string, or something after the bytes, is not this shape.
        assert!(bin_in_args(&encoded(&Value::Array(vec!["ab".into()])), "b").is_none());
        let two = encoded(&Value::Array(vec![Value::Binary(vec![1]), Value::Nil]));
        assert!(bin_in_args(&two, "b").is_none());
    }
}
