"""TF's OrderedCode key of a tensor slice (``EncodeTensorNameSlice``).

A partitioned tensor's slices are stored under keys that sort in (name, slice) order:
``NumIncreasing(0) String(name) NumIncreasing(rank)`` then, per dimension,
``SignedNumIncreasing(start) SignedNumIncreasing(length)`` (a full extent is start 0,
length -1).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_ESCAPES = {b"\x00": b"\x00\xff", b"\xff": b"\xff\x00"}


def num_increasing(value: int) -> bytes:
    """A length byte, then ``value`` big-endian with leading zero bytes dropped."""
    payload = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return bytes([len(payload)]) + payload


def string(value: bytes) -> bytes:
    """``value`` with 0x00 -> 00 FF and 0xFF -> FF 00 escaped, then the separator 00 01."""
    return re.sub(rb"[\x00\xff]", lambda m: _ESCAPES[m.group()], value) + b"\x00\x01"


def signed_num_increasing(value: int) -> bytes:
    """Sign bit, a run of length bits, then the two's-complement payload, big-endian.

    ``n`` bytes hold ``[-2**(7n-1), 2**(7n-1))``; the top ``n`` bits carry the length.
    """
    magnitude = ~value if value < 0 else value
    length = magnitude.bit_length() // 7 + 1
    raw = value & ((1 << (8 * length)) - 1)
    header = ((1 << length) - 1) << (7 * length)
    return (raw ^ header).to_bytes(length, "big")


def tensor_slice_key(name: str, starts: Sequence[int], lengths: Sequence[int | None]) -> bytes:
    """The table key of slice (``starts``, ``lengths``; ``None`` = full) of tensor ``name``."""
    out = [num_increasing(0), string(name.encode("utf-8", "surrogateescape")),
           num_increasing(len(starts))]
    for start, length in zip(starts, lengths):
        out.append(signed_num_increasing(start if length is not None else 0))
        out.append(signed_num_increasing(-1 if length is None else length))
    return b"".join(out)
