"""Reader of TF's V1 checkpoints (``SavedTensorSlices``): one file, or ``-?????-of-?????`` shards.

Each file is a table (see ``table.py``). Its entry "" is a ``SavedTensorSlices`` whose
``meta`` lists every tensor (name, shape, dtype) with the slices this file holds; each
slice is stored under its OrderedCode key as a ``SavedTensorSlices`` whose ``data`` is a
``SavedSlice`` carrying the values in a ``TensorProto`` (typed ``*_val`` fields).
"""

from __future__ import annotations

import math

import numpy as np

from jslim.checkpoints.tf_format import dtypes, protos, wire
from jslim.checkpoints.tf_format.bundle import check_version, decode_entry, tensor_info
from jslim.checkpoints.tf_format.errors import CheckpointError, CorruptCheckpointError
from jslim.checkpoints.tf_format.slices import TensorSlice, assemble
from jslim.checkpoints.tf_format.table import Table
from jslim.checkpoints.tf_format.tensor_reader import TensorInfo, TensorReader

# TensorProto field holding the values of each dtype (by numpy name), when the
# values are not in tensor_content.
_VALUE_FIELDS = {
    "float32": "float_val", "float64": "double_val", "int64": "int64_val", "bool": "bool_val",
    "complex64": "scomplex_val", "complex128": "dcomplex_val", "float16": "half_val",
    "bfloat16": "half_val", "uint32": "uint32_val", "uint64": "uint64_val",
    "int32": "int_val", "int16": "int_val", "int8": "int_val", "uint8": "int_val",
    "uint16": "int_val",
}


def tensor_proto_values(proto: dict, dtype: np.dtype, count: int, where: str) -> np.ndarray:
    """The ``count`` values of a decoded ``TensorProto`` as a flat array of ``dtype``."""
    if "tensor_content" in proto and not dtypes.is_string(dtype):
        content = proto["tensor_content"]
        if len(content) != count * dtype.itemsize:
            raise CorruptCheckpointError(
                f"{where}: {len(content)} bytes stored for {count} {dtype} values")
        values = np.frombuffer(content, dtype)
    elif dtypes.is_string(dtype):
        values = np.empty(len(proto.get("string_val", ())), object)
        values[:] = [bytes(item) for item in proto.get("string_val", ())]
    elif dtype.name in _VALUE_FIELDS:
        values = _typed_values(proto.get(_VALUE_FIELDS[dtype.name]), dtype, where)
    else:
        raise CorruptCheckpointError(f"{where}: no values of dtype {dtype} in a V1 slice")
    if values.size != count:
        raise CorruptCheckpointError(f"{where}: {values.size} values stored, {count} expected")
    return values


def _typed_values(stored: np.ndarray | None, dtype: np.dtype, where: str) -> np.ndarray:
    if stored is None:
        return np.zeros(0, dtype)
    if dtype.kind == "c":
        if stored.size % 2:
            raise CorruptCheckpointError(f"{where}: an odd number of complex components")
        return stored.view(dtype)
    if stored.dtype.kind == "f":
        return stored.astype(dtype, copy=False)
    if dtype.itemsize == 2 and dtype.kind == "f" or dtype.name == "bfloat16":
        return stored.astype(np.uint16).view(dtype)  # half_val holds the raw bits
    if dtype.kind == "b":
        return stored != 0
    return stored.view(np.int64).astype(dtype) if dtype.kind == "i" else stored.astype(dtype)


class SavedSlicesReader(TensorReader):
    """A V1 checkpoint. Prefer ``open_tf_checkpoint``, which finds the files for you.

    Args:
      path: the checkpoint as the user named it (a file or a shard pattern).
      files: every file of the checkpoint (one, or all shards).
      verify_checksums: check the CRC32C of every table block read.
    """

    format = "V1"

    def __init__(self, path: str, files: list[str], *, verify_checksums: bool = True):
        self._slices: dict[str, list[tuple[Table, TensorSlice]]] = {}
        self._dtype_enums: dict[str, int] = {}
        infos: dict[str, TensorInfo] = {}
        for file in files:
            table = Table(file, "V1 checkpoint", verify_checksums=verify_checksums)
            for meta in self._read_meta(table):
                name = meta.get("name", "")
                where = f"{file}: tensor {name!r}"
                info = tensor_info(meta.get("type", 0), meta.get("shape"), where)
                if infos.setdefault(name, info) != info:
                    raise CorruptCheckpointError(
                        f"{where}: shape/dtype {info} disagree with another shard's {infos[name]}")
                self._dtype_enums[name] = meta.get("type", 0)
                self._slices.setdefault(name, []).extend(
                    (table, TensorSlice.from_proto(s)) for s in meta.get("slice", ()))
        super().__init__(path, infos)

    @staticmethod
    def _read_meta(table: Table) -> list[dict]:
        value = table.get(b"")
        try:
            meta = wire.decode(protos.SAVED_TENSOR_SLICES, value).get("meta") if value else None
        except wire.DecodeError:
            meta = None
        if meta is None:
            if value is not None and _is_bundle_header(value):
                raise CheckpointError(
                    f"{table.path}: this is a V2 checkpoint index (BundleHeaderProto), not a "
                    "V1 checkpoint file; name it PREFIX.index, with its PREFIX.data-* files "
                    "beside it, and pass PREFIX")
            raise CorruptCheckpointError(
                f"{table.path}: no SavedTensorSlices metadata; not a V1 checkpoint file")
        check_version(meta.get("versions", {}), table.path)
        return meta.get("tensor", [])

    def _stored_bytes(self, name: str) -> int:
        return sum(len(self._slice_value(name, table, s)) for table, s in self._slices[name])

    def _slice_value(self, name: str, table: Table, tensor_slice: TensorSlice) -> memoryview:
        try:
            value = table.get(tensor_slice.key(name))
        except CorruptCheckpointError as err:
            raise CorruptCheckpointError(f"reading tensor {name!r}: {err}") from err
        if value is None:
            raise CorruptCheckpointError(
                f"{table.path}: tensor {name!r} slice {tensor_slice} is listed in the "
                "metadata but not stored")
        return value

    def _read(self, name: str) -> np.ndarray:
        info = self._infos[name]
        parts = self._slices[name]

        def read_slice(i: int, shape: tuple[int, ...]) -> np.ndarray:
            table, tensor_slice = parts[i]
            where = f"{table.path}: tensor {name!r} slice {tensor_slice}"
            value = self._slice_value(name, table, tensor_slice)
            saved = decode_entry(value, protos.SAVED_TENSOR_SLICES, where).get("data") or {}
            if saved.get("name") != name:
                raise CorruptCheckpointError(f"{where}: the stored slice is of {saved.get('name')!r}")
            data = saved.get("data") or {}
            values = tensor_proto_values(data, info.dtype, math.prod(shape), where)
            return values.reshape(shape)

        return assemble(info.shape, info.dtype, [s for _, s in parts], read_slice,
                        f"{parts[0][0].path if parts else self.path}: tensor {name!r}")


def _is_bundle_header(value: memoryview) -> bool:
    try:
        return "num_shards" in wire.decode(protos.BUNDLE_HEADER, value)
    except wire.DecodeError:
        return False
