"""A small MessagePack codec (the values `invoke` passes), standard library only.

`packb` takes None, bool, int (-2**63 .. 2**64-1), float, str, bytes,
list/tuple and dict; `unpackb` gives those back (arrays as lists). Extension
types are refused.
"""

import struct

__all__ = ["packb", "unpackb"]


def packb(value):
    """`value` encoded as MessagePack bytes."""
    out = bytearray()
    _pack(value, out, 0)
    return bytes(out)


def _pack(v, out, depth):
    if depth > 512:
        raise ValueError("msgpack: value nested too deeply")
    if v is None:
        out.append(0xC0)
    elif v is True:
        out.append(0xC3)
    elif v is False:
        out.append(0xC2)
    elif isinstance(v, int):
        _pack_int(v, out)
    elif isinstance(v, float):
        out.append(0xCB)
        out += struct.pack(">d", v)
    elif isinstance(v, str):
        data = v.encode("utf-8")
        n = len(data)
        if n < 32:
            out.append(0xA0 | n)
        else:
            _head(out, n, 0xD9, 0xDA, 0xDB)
        out += data
    elif isinstance(v, (bytes, bytearray, memoryview)):
        data = bytes(v)
        _head(out, len(data), 0xC4, 0xC5, 0xC6)
        out += data
    elif isinstance(v, (list, tuple)):
        n = len(v)
        if n < 16:
            out.append(0x90 | n)
        else:
            _head(out, n, None, 0xDC, 0xDD)
        for item in v:
            _pack(item, out, depth + 1)
    elif isinstance(v, dict):
        n = len(v)
        if n < 16:
            out.append(0x80 | n)
        else:
            _head(out, n, None, 0xDE, 0xDF)
        for key, item in v.items():
            _pack(key, out, depth + 1)
            _pack(item, out, depth + 1)
    else:
        raise TypeError(f"msgpack cannot encode {type(v).__name__}")


def _head(out, n, c8, c16, c32):
    if c8 is not None and n < 0x100:
        out.append(c8)
        out.append(n)
    elif n < 0x10000:
        out.append(c16)
        out += struct.pack(">H", n)
    elif n < 0x100000000:
        out.append(c32)
        out += struct.pack(">I", n)
    else:
        raise ValueError("msgpack: too long")


def _pack_int(v, out):
    if 0 <= v < 0x80:
        out.append(v)
    elif -32 <= v < 0:
        out.append(v & 0xFF)
    elif 0 <= v <= 0xFF:
        out += b"\xcc" + struct.pack(">B", v)
    elif 0 <= v <= 0xFFFF:
        out += b"\xcd" + struct.pack(">H", v)
    elif 0 <= v <= 0xFFFFFFFF:
        out += b"\xce" + struct.pack(">I", v)
    elif 0 <= v <= 0xFFFFFFFFFFFFFFFF:
        out += b"\xcf" + struct.pack(">Q", v)
    elif -0x80 <= v < 0:
        out += b"\xd0" + struct.pack(">b", v)
    elif -0x8000 <= v < 0:
        out += b"\xd1" + struct.pack(">h", v)
    elif -0x80000000 <= v < 0:
        out += b"\xd2" + struct.pack(">i", v)
    elif -0x8000000000000000 <= v < 0:
        out += b"\xd3" + struct.pack(">q", v)
    else:
        raise OverflowError(f"msgpack: integer {v} does not fit 64 bits")


def unpackb(data):
    """The value MessagePack `data` holds (exactly one)."""
    data = bytes(data)
    value, end = _unpack(data, 0, 0)
    if end != len(data):
        raise ValueError(f"msgpack: {len(data) - end} extra bytes after the value")
    return value


_FIXED = {
    0xCC: ">B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q",
    0xD0: ">b", 0xD1: ">h", 0xD2: ">i", 0xD3: ">q",
    0xCA: ">f", 0xCB: ">d",
}


def _take(data, pos, n):
    if pos + n > len(data):
        raise ValueError("msgpack: truncated data")
    return data[pos:pos + n], pos + n


def _unpack(data, pos, depth):
    if depth > 512:
        raise ValueError("msgpack: value nested too deeply")
    (b,), pos = _take(data, pos, 1)
    if b < 0x80:
        return b, pos
    if b >= 0xE0:
        return b - 0x100, pos
    if 0x80 <= b <= 0x8F:
        return _map(data, pos, b & 0x0F, depth)
    if 0x90 <= b <= 0x9F:
        return _array(data, pos, b & 0x0F, depth)
    if 0xA0 <= b <= 0xBF:
        raw, pos = _take(data, pos, b & 0x1F)
        return raw.decode("utf-8"), pos
    if b == 0xC0:
        return None, pos
    if b == 0xC2:
        return False, pos
    if b == 0xC3:
        return True, pos
    if b in _FIXED:
        fmt = _FIXED[b]
        raw, pos = _take(data, pos, struct.calcsize(fmt))
        return struct.unpack(fmt, raw)[0], pos
    lengths = {0xC4: 1, 0xC5: 2, 0xC6: 4, 0xD9: 1, 0xDA: 2, 0xDB: 4,
               0xDC: 2, 0xDD: 4, 0xDE: 2, 0xDF: 4}
    if b in lengths:
        raw, pos = _take(data, pos, lengths[b])
        n = int.from_bytes(raw, "big")
        if b in (0xC4, 0xC5, 0xC6):
            return _take(data, pos, n)
        if b in (0xD9, 0xDA, 0xDB):
            raw, pos = _take(data, pos, n)
            return raw.decode("utf-8"), pos
        if b in (0xDC, 0xDD):
            return _array(data, pos, n, depth)
        return _map(data, pos, n, depth)
    raise ValueError(f"msgpack: unsupported type byte 0x{b:02x}")


def _array(data, pos, n, depth):
    items = []
    for _ in range(n):
        item, pos = _unpack(data, pos, depth + 1)
        items.append(item)
    return items, pos


def _map(data, pos, n, depth):
    out = {}
    for _ in range(n):
        key, pos = _unpack(data, pos, depth + 1)
        if isinstance(key, list):
            key = tuple(key)
        out[key], pos = _unpack(data, pos, depth + 1)
    return out, pos
