"""TF ``DataType`` enum values (``types.proto``) <-> numpy dtypes.

Quantized types read as their storage integers; bfloat16, float8, int4 and friends as
``ml_dtypes`` types (the same numpy types JAX and TF use). Strings read as object
arrays of ``bytes``, as ``tf.train.load_checkpoint`` returns them.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

from jslim.checkpoints.tf_format.errors import UnsupportedCheckpointError

DT_STRING = 7
DT_BFLOAT16 = 14
DT_HALF = 19
_STRING = np.dtype(object)

# enum value -> (TF name, numpy dtype in little-endian byte order)
_TYPES: dict[int, tuple[str, np.dtype]] = {
    1: ("float32", np.dtype("<f4")),
    2: ("float64", np.dtype("<f8")),
    3: ("int32", np.dtype("<i4")),
    4: ("uint8", np.dtype("u1")),
    5: ("int16", np.dtype("<i2")),
    6: ("int8", np.dtype("i1")),
    DT_STRING: ("string", _STRING),
    8: ("complex64", np.dtype("<c8")),
    9: ("int64", np.dtype("<i8")),
    10: ("bool", np.dtype("?")),
    11: ("qint8", np.dtype("i1")),
    12: ("quint8", np.dtype("u1")),
    13: ("qint32", np.dtype("<i4")),
    DT_BFLOAT16: ("bfloat16", np.dtype(ml_dtypes.bfloat16)),
    15: ("qint16", np.dtype("<i2")),
    16: ("quint16", np.dtype("<u2")),
    17: ("uint16", np.dtype("<u2")),
    18: ("complex128", np.dtype("<c16")),
    DT_HALF: ("float16", np.dtype("<f2")),
    22: ("uint32", np.dtype("<u4")),
    23: ("uint64", np.dtype("<u8")),
    24: ("float8_e5m2", np.dtype(ml_dtypes.float8_e5m2)),
    25: ("float8_e4m3fn", np.dtype(ml_dtypes.float8_e4m3fn)),
    26: ("float8_e4m3fnuz", np.dtype(ml_dtypes.float8_e4m3fnuz)),
    27: ("float8_e4m3b11fnuz", np.dtype(ml_dtypes.float8_e4m3b11fnuz)),
    28: ("float8_e5m2fnuz", np.dtype(ml_dtypes.float8_e5m2fnuz)),
    29: ("int4", np.dtype(ml_dtypes.int4)),
    30: ("uint4", np.dtype(ml_dtypes.uint4)),
}
_UNSUPPORTED = {20: "resource", 21: "variant"}
_QUANTIZED = {11, 12, 13, 15, 16}
# numpy dtype -> enum, for writing (quantized types are never chosen).
_ENUM_OF = {dtype: enum for enum, (_, dtype) in _TYPES.items() if enum not in _QUANTIZED}


def numpy_dtype(enum: int, where: str) -> np.dtype:
    """The numpy dtype of TF ``DataType`` ``enum``; ``where`` names the tensor for errors."""
    if enum in _TYPES:
        return _TYPES[enum][1]
    name = _UNSUPPORTED.get(enum, f"unknown DataType {enum}")
    raise UnsupportedCheckpointError(
        f"{where}: dtype {name} cannot be read without TensorFlow; "
        "exclude this tensor or convert the checkpoint with TF first")


def tf_name(enum: int) -> str:
    """TF's short name of ``enum`` ('float32', 'string', ...)."""
    return _TYPES[enum][0] if enum in _TYPES else _UNSUPPORTED.get(enum, f"DataType({enum})")


def enum_of(dtype: np.dtype, where: str) -> int:
    """The TF ``DataType`` to store numpy ``dtype`` as (strings: kinds S, U and O)."""
    dtype = np.dtype(dtype)
    if dtype.kind in "SUO":
        return DT_STRING
    enum = _ENUM_OF.get(dtype.newbyteorder("<") if dtype.byteorder == ">" else dtype)
    if enum is None:
        raise UnsupportedCheckpointError(
            f"{where}: numpy dtype {dtype} has no TF DataType; cast it (e.g. to float32)")
    return enum


def is_string(dtype: np.dtype) -> bool:
    """Whether tensors of ``dtype`` are read as object arrays of bytes."""
    return dtype == _STRING
