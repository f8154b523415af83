"""Schemas of the TensorFlow protos found in checkpoints (field numbers from TF's .proto files).

- ``tensor_shape.proto``: ``TensorShapeProto``; ``tensor_slice.proto``: ``TensorSliceProto``;
  ``versions.proto``: ``VersionDef``; ``tensor.proto``: ``TensorProto``.
- ``tensor_bundle.proto`` (V2): ``BundleHeaderProto``, ``BundleEntryProto``.
- ``saved_tensor_slice.proto`` (V1): ``SavedSliceMeta``, ``SavedTensorSliceMeta``,
  ``SavedSlice``, ``SavedTensorSlices``.
"""

from __future__ import annotations

from jslim.checkpoints.tf_format.wire import Field, Schema

VERSION_DEF = Schema("VersionDef", {
    1: Field("producer", "int32"),
    2: Field("min_consumer", "int32"),
    3: Field("bad_consumers", "int32", repeated=True),
})

_DIM = Schema("TensorShapeProto.Dim", {1: Field("size", "int64"), 2: Field("name", "string")})
TENSOR_SHAPE = Schema("TensorShapeProto", {
    2: Field("dim", "message", repeated=True, message=_DIM),
    3: Field("unknown_rank", "bool"),
})

# An extent without "length" covers its whole dimension (TensorSlice's kFullExtent).
_EXTENT = Schema("TensorSliceProto.Extent", {1: Field("start", "int64"), 2: Field("length", "int64")})
TENSOR_SLICE = Schema("TensorSliceProto", {
    1: Field("extent", "message", repeated=True, message=_EXTENT),
})

BUNDLE_HEADER = Schema("BundleHeaderProto", {
    1: Field("num_shards", "int32"),
    2: Field("endianness", "enum"),  # LITTLE = 0, BIG = 1
    3: Field("version", "message", message=VERSION_DEF),
})
BIG_ENDIAN = 1

BUNDLE_ENTRY = Schema("BundleEntryProto", {
    1: Field("dtype", "enum"),
    2: Field("shape", "message", message=TENSOR_SHAPE),
    3: Field("shard_id", "int32"),
    4: Field("offset", "int64"),
    5: Field("size", "int64"),
    6: Field("crc32c", "fixed32"),
    7: Field("slices", "message", repeated=True, message=TENSOR_SLICE),
})

TENSOR = Schema("TensorProto", {
    1: Field("dtype", "enum"),
    2: Field("tensor_shape", "message", message=TENSOR_SHAPE),
    4: Field("tensor_content", "bytes"),
    5: Field("float_val", "float", repeated=True),
    6: Field("double_val", "double", repeated=True),
    7: Field("int_val", "varints", repeated=True),
    8: Field("string_val", "bytes", repeated=True),
    9: Field("scomplex_val", "float", repeated=True),
    10: Field("int64_val", "varints", repeated=True),
    11: Field("bool_val", "varints", repeated=True),
    12: Field("dcomplex_val", "double", repeated=True),
    13: Field("half_val", "varints", repeated=True),
    16: Field("uint32_val", "varints", repeated=True),
    17: Field("uint64_val", "varints", repeated=True),
})

SAVED_SLICE_META = Schema("SavedSliceMeta", {
    1: Field("name", "string"),
    2: Field("shape", "message", message=TENSOR_SHAPE),
    3: Field("type", "enum"),
    4: Field("slice", "message", repeated=True, message=TENSOR_SLICE),
})
SAVED_TENSOR_SLICE_META = Schema("SavedTensorSliceMeta", {
    1: Field("tensor", "message", repeated=True, message=SAVED_SLICE_META),
    2: Field("versions", "message", message=VERSION_DEF),
})
SAVED_SLICE = Schema("SavedSlice", {
    1: Field("name", "string"),
    2: Field("slice", "message", message=TENSOR_SLICE),
    3: Field("data", "message", message=TENSOR),
})
SAVED_TENSOR_SLICES = Schema("SavedTensorSlices", {
    1: Field("meta", "message", message=SAVED_TENSOR_SLICE_META),
    2: Field("data", "message", message=SAVED_SLICE),
})


def shape_of(shape_proto: dict | None) -> tuple[int, ...]:
    """The dims of a decoded ``TensorShapeProto`` (``None``: a scalar)."""
    return tuple(dim.get("size", 0) for dim in (shape_proto or {}).get("dim", ()))


def shape_proto(shape: tuple[int, ...]) -> dict:
    """A ``TensorShapeProto`` dict for ``shape``."""
    return {"dim": [{"size": int(size)} for size in shape]}
