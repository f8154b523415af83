"""Protocol-buffer wire format: varints, and messages decoded by a small field schema.

Only what TF checkpoints use. A ``Schema`` names each field number, its kind and
whether it repeats; ``decode`` turns bytes into a dict holding the fields present
(absent scalars are left out, so presence -- needed for ``TensorSliceProto``'s oneof --
is visible), and ``encode`` turns such a dict back into bytes (proto3: defaults skipped).
Bytes fields decode to ``memoryview`` slices of the input, never copies.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from jslim.checkpoints.tf_format.errors import CorruptCheckpointError

VARINT, FIXED64, LENGTH_DELIMITED, FIXED32 = 0, 1, 2, 5
_MAX_VARINT_BYTES = 10
_U64 = (1 << 64) - 1

# Scalar kinds and the wire type each is stored with. "float", "double" and
# "varints" are repeated numeric kinds (TensorProto's *_val fields), packed or not.
_WIRE_TYPE = {
    "int64": VARINT, "int32": VARINT, "uint64": VARINT, "bool": VARINT, "enum": VARINT,
    "fixed32": FIXED32, "float": FIXED32, "double": FIXED64, "varints": VARINT,
    "bytes": LENGTH_DELIMITED, "string": LENGTH_DELIMITED, "message": LENGTH_DELIMITED,
}
_NUMERIC_ARRAYS = {"float": np.dtype("<f4"), "double": np.dtype("<f8"), "varints": None}


class DecodeError(CorruptCheckpointError):
    """Bytes that are not a valid message of the expected schema (no file context yet)."""


@dataclasses.dataclass(frozen=True)
class Field:
    """One field of a message schema.

    Attributes:
      name: key of the field in decoded dicts.
      kind: one of the keys of ``_WIRE_TYPE``.
      repeated: whether the field repeats (decoded as a list, or an array for
        numeric kinds).
      message: the schema of a ``message`` field.
    """

    name: str
    kind: str
    repeated: bool = False
    message: Schema | None = None


@dataclasses.dataclass(frozen=True)
class Schema:
    """A message type: its name (for errors) and its fields by number."""

    name: str
    fields: Mapping[int, Field]


def read_varint(buf: memoryview, pos: int) -> tuple[int, int]:
    """Decodes the varint at ``buf[pos:]``; returns ``(value, next_pos)``."""
    result = 0
    for i in range(_MAX_VARINT_BYTES):
        if pos + i >= len(buf):
            raise DecodeError(f"truncated varint at byte {pos}")
        byte = buf[pos + i]
        result |= (byte & 0x7F) << (7 * i)
        if byte < 0x80:
            return result & _U64, pos + i + 1
    raise DecodeError(f"varint longer than {_MAX_VARINT_BYTES} bytes at byte {pos}")


def encode_varint(value: int) -> bytes:
    """Encodes a non-negative int (or a negative one as 64-bit two's complement)."""
    value &= _U64
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def decode_varint_array(buf: memoryview | bytes) -> np.ndarray:
    """Decodes back-to-back varints with numpy; returns a ``uint64`` array."""
    data = np.frombuffer(buf, np.uint8)
    if data.size == 0:
        return np.zeros(0, np.uint64)
    ends = np.flatnonzero(data < 0x80)
    if ends.size == 0 or ends[-1] != data.size - 1:
        raise DecodeError("truncated packed varints")
    starts = np.concatenate([[0], ends[:-1] + 1])
    if np.any(ends - starts >= _MAX_VARINT_BYTES):
        raise DecodeError(f"varint longer than {_MAX_VARINT_BYTES} bytes in a packed field")
    position = np.arange(data.size) - np.repeat(starts, ends - starts + 1)
    parts = (data & 0x7F).astype(np.uint64) << (7 * position).astype(np.uint64)
    return np.bitwise_or.reduceat(parts, starts)


def iter_fields(buf: memoryview) -> Iterator[tuple[int, int, Any]]:
    """Yields ``(field_number, wire_type, raw_value)`` for each field in ``buf``.

    ``raw_value`` is an int for varints and a memoryview for the other wire types.
    """
    pos = 0
    while pos < len(buf):
        tag, pos = read_varint(buf, pos)
        number, wire_type = tag >> 3, tag & 7
        if number == 0:
            raise DecodeError(f"field number 0 at byte {pos}")
        if wire_type == VARINT:
            value, pos = read_varint(buf, pos)
        elif wire_type in (FIXED64, FIXED32, LENGTH_DELIMITED):
            if wire_type == LENGTH_DELIMITED:
                size, pos = read_varint(buf, pos)
            else:
                size = 8 if wire_type == FIXED64 else 4
            if pos + size > len(buf):
                raise DecodeError(f"field {number} runs past the end of its message")
            value, pos = buf[pos:pos + size], pos + size
        else:
            raise DecodeError(f"unsupported wire type {wire_type} (field {number})")
        yield number, wire_type, value


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _scalar(field: Field, wire_type: int, raw: Any) -> Any:
    kind = field.kind
    if kind in ("int64", "enum", "int32"):
        return _signed(raw, 64 if kind == "int64" else 32)
    if kind == "uint64":
        return raw
    if kind == "bool":
        return raw != 0
    if kind == "fixed32":
        return int.from_bytes(raw, "little")
    if kind == "string":
        return bytes(raw).decode("utf-8", "surrogateescape")
    if kind == "message":
        return decode(field.message, raw)
    return raw  # bytes


def _numeric_chunk(field: Field, wire_type: int, raw: Any) -> np.ndarray:
    dtype = _NUMERIC_ARRAYS[field.kind]
    if dtype is None:
        if wire_type == LENGTH_DELIMITED:
            return decode_varint_array(raw)
        return np.array([raw], np.uint64)
    if len(raw) % dtype.itemsize:
        raise DecodeError(f"packed {field.name} of {len(raw)} bytes is not a whole number of values")
    return np.frombuffer(raw, dtype)


def decode(schema: Schema, buf: memoryview | bytes) -> dict[str, Any]:
    """Decodes the message ``buf`` of type ``schema`` into a dict of the fields present.

    Repeated numeric kinds decode to one numpy array (a zero-copy view of ``buf`` when
    stored as a single packed run of fixed-width values).

    Raises:
      DecodeError: on malformed bytes or a field whose wire type does not match the
        schema (e.g. a V1 ``SavedTensorSlices`` read as a V2 ``BundleHeaderProto``).
    """
    buf = memoryview(buf)
    out: dict[str, Any] = {}
    chunks: dict[str, list[np.ndarray]] = {}
    for number, wire_type, raw in iter_fields(buf):
        field = schema.fields.get(number)
        if field is None:
            continue  # unknown field: skipped, as protobuf does
        expected = _WIRE_TYPE[field.kind]
        numeric = field.kind in _NUMERIC_ARRAYS
        if wire_type != expected and not (numeric and wire_type == LENGTH_DELIMITED):
            raise DecodeError(
                f"field {number} ({field.name}) of {schema.name} has wire type {wire_type}, "
                f"expected {expected}: these bytes are not a {schema.name}")
        if numeric:
            chunks.setdefault(field.name, []).append(_numeric_chunk(field, wire_type, raw))
        elif field.repeated:
            out.setdefault(field.name, []).append(_scalar(field, wire_type, raw))
        else:
            out[field.name] = _scalar(field, wire_type, raw)
    for name, parts in chunks.items():
        out[name] = parts[0] if len(parts) == 1 else np.concatenate(parts)
    return out


def _encode_scalar(field: Field, value: Any) -> bytes | None:
    kind = field.kind
    if kind == "message":
        data = encode(field.message, value)
        return encode_varint(len(data)) + data
    if kind in ("bytes", "string"):
        data = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else bytes(value)
        return encode_varint(len(data)) + data
    if kind == "fixed32":
        return int(value).to_bytes(4, "little")
    return encode_varint(int(value))


def encode(schema: Schema, values: Mapping[str, Any]) -> bytes:
    """Encodes a dict as ``decode`` returns it (scalar and message fields only).

    Scalars equal to their proto3 default are skipped; repeated messages are always
    written, even when empty (an empty ``Dim`` is a dimension of size 0).
    """
    out = bytearray()
    for number, field in sorted(schema.fields.items()):
        value = values.get(field.name)
        items = value if field.repeated else [value]
        for item in items or ():
            if item is None or (not field.repeated and field.kind != "message" and not item):
                continue
            out += encode_varint((number << 3) | _WIRE_TYPE[field.kind])
            out += _encode_scalar(field, item)
    return bytes(out)
