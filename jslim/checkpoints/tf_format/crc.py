"""CRC32C as TF stores it: masked, so that a CRC of data holding CRCs stays well mixed.

Uses the C-backed ``crc32c`` package (hardware instructions where the CPU has them).
"""

from __future__ import annotations

import crc32c as _crc32c

_MASK_DELTA = 0xA282EAD8
_U32 = 0xFFFFFFFF


def value(data, crc: int = 0) -> int:
    """CRC32C of the bytes-like ``data``, extending a previous ``crc``."""
    return _crc32c.crc32c(data, crc)


def mask(crc: int) -> int:
    """TF's ``crc32c::Mask``: rotate right by 15 bits, add a constant."""
    return ((((crc >> 15) | (crc << 17)) & _U32) + _MASK_DELTA) & _U32


def unmask(masked: int) -> int:
    """Inverse of ``mask``."""
    rot = (masked - _MASK_DELTA) & _U32
    return ((rot >> 17) | (rot << 15)) & _U32
