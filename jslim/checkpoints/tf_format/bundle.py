"""Reader of TF's V2 checkpoints (tensor bundles): ``PREFIX.index`` + ``PREFIX.data-*``.

The index is a table (see ``table.py``) whose entry "" is a ``BundleHeaderProto``
(shard count, endianness, version) and whose other entries map tensor names to a
``BundleEntryProto``: dtype, shape, shard, byte offset and size in that shard's data
file, and the masked CRC32C of those bytes. A partitioned tensor's entry lists its
slices instead, each stored under its own OrderedCode key (see ``ordered_code.py``).

Numeric tensors are stored raw (C order, the writer's byte order). A string tensor is
``varint64 length * n``, the masked CRC32C of the lengths (each as a uint32, or a uint64
when longer than 4 GiB), then the bytes of every string.
"""

from __future__ import annotations

import numpy as np

from jslim.checkpoints.tf_format import crc, dtypes, protos, wire
from jslim.checkpoints.tf_format.errors import (
    CheckpointError, CorruptCheckpointError, UnsupportedCheckpointError)
from jslim.checkpoints.tf_format.mapped_file import map_file
from jslim.checkpoints.tf_format.slices import TensorSlice, assemble
from jslim.checkpoints.tf_format.table import Table
from jslim.checkpoints.tf_format.tensor_reader import TensorInfo, TensorReader

# Versions of the bundle format this reader understands (TF's kTensorBundleVersion).
FORMAT_VERSION = 1
_U32_MAX = 0xFFFFFFFF


def data_filename(prefix: str, shard: int, num_shards: int) -> str:
    """TF's name of data shard ``shard`` of ``num_shards``."""
    return f"{prefix}.data-{shard:05d}-of-{num_shards:05d}"


def check_version(version: dict, where: str) -> None:
    """Refuses files whose ``VersionDef`` says this reader is too old."""
    if version.get("min_consumer", 0) > FORMAT_VERSION or FORMAT_VERSION in version.get(
            "bad_consumers", ()):
        raise UnsupportedCheckpointError(
            f"{where}: written by a newer TensorFlow format (version {version}) than jslim "
            f"reads (version {FORMAT_VERSION})")


def decode_entry(value, schema: wire.Schema, where: str) -> dict:
    """Decodes an index or V1 table value, naming the file and key when it is malformed."""
    try:
        return wire.decode(schema, value)
    except wire.DecodeError as err:
        raise CorruptCheckpointError(f"{where}: {err}") from err


def tensor_info(dtype_enum: int, shape_proto: dict | None, where: str) -> TensorInfo:
    """Checked ``TensorInfo`` from a ``DataType`` and a decoded ``TensorShapeProto``."""
    shape = protos.shape_of(shape_proto)
    if (shape_proto or {}).get("unknown_rank") or any(size < 0 for size in shape):
        raise CorruptCheckpointError(f"{where}: invalid shape {shape_proto}")
    return TensorInfo(shape, dtypes.numpy_dtype(dtype_enum, where))


def from_raw(raw: memoryview, info: TensorInfo, big_endian: bool) -> np.ndarray:
    """Views raw tensor bytes as an array (copies only to fix a foreign byte order)."""
    dtype = info.dtype
    array = np.frombuffer(raw, dtype, count=info.size).reshape(info.shape)
    unit = dtype.itemsize // 2 if dtype.kind == "c" else dtype.itemsize
    if not big_endian or unit == 1:
        return array
    words = array.view(f"u{unit}") if array.ndim else array.reshape(1).view(f"u{unit}")
    return words.byteswap().view(dtype).reshape(info.shape)


class BundleReader(TensorReader):
    """A V2 checkpoint. Prefer ``open_tf_checkpoint``, which finds the files for you.

    Args:
      prefix: the checkpoint prefix (``PREFIX.index`` must exist).
      verify_checksums: check the CRC32C of every tensor and index block read.
    """

    format = "V2"

    def __init__(self, prefix: str, *, verify_checksums: bool = True):
        self._verify = verify_checksums
        self._index_path = prefix + ".index"
        table = Table(self._index_path, "V2 checkpoint index", verify_checksums=verify_checksums)
        entries = table.items()
        first = next(entries, None)
        if first is None or first[0] != b"":
            raise CorruptCheckpointError(
                f"{self._index_path}: the index has no header entry; it is not a V2 index")
        header = self._decode_header(first[1])
        self._num_shards = header.get("num_shards", 0)
        if self._num_shards < 1:
            raise CorruptCheckpointError(
                f"{self._index_path}: header claims {self._num_shards} data shards")
        self._big_endian = header.get("endianness", 0) == protos.BIG_ENDIAN
        self._entries: dict[str, dict] = {}
        self._slice_values: dict[bytes, memoryview] = {}
        infos = {}
        for key, value in entries:
            if key.startswith(b"\x00"):
                self._slice_values[key] = value
                continue
            name = key.decode("utf-8", "surrogateescape")
            where = f"{self._index_path}: tensor {name!r}"
            entry = decode_entry(value, protos.BUNDLE_ENTRY, where)
            infos[name] = tensor_info(entry.get("dtype", 0), entry.get("shape"), where)
            self._entries[name] = entry
        self._shards: dict[int, memoryview] = {}
        super().__init__(prefix, infos)

    def _decode_header(self, value: memoryview) -> dict:
        try:
            header = wire.decode(protos.BUNDLE_HEADER, value)
        except wire.DecodeError as err:
            try:
                is_v1 = "meta" in wire.decode(protos.SAVED_TENSOR_SLICES, value)
            except wire.DecodeError:
                is_v1 = False
            if is_v1:
                raise CheckpointError(
                    f"{self._index_path}: this is a V1 checkpoint file (SavedTensorSlices), "
                    "not a V2 .index; rename it without '.index' and pass its path") from err
            raise CorruptCheckpointError(f"{self._index_path}: bad V2 header: {err}") from err
        check_version(header.get("version", {}), self._index_path)
        return header

    def _shard(self, shard: int, name: str) -> tuple[str, memoryview]:
        path = data_filename(self.path, shard, self._num_shards)
        if not 0 <= shard < self._num_shards:
            raise CorruptCheckpointError(
                f"{self._index_path}: tensor {name!r} is in shard {shard}, but the "
                f"checkpoint has {self._num_shards} shards")
        if shard not in self._shards:
            try:
                self._shards[shard] = map_file(path, f"data shard {shard} of {self._num_shards}")
            except CheckpointError as err:
                raise type(err)(f"{err}; it holds tensor {name!r}. A V2 checkpoint needs its "
                                "'.index' and every '.data-?????-of-?????' file") from err
        return path, self._shards[shard]

    def _stored_bytes(self, name: str) -> int:
        entry = self._entries[name]
        if not entry.get("slices"):
            return entry.get("size", 0)
        return sum(self._slice_entry(name, s).get("size", 0) for s in self._slices(name))

    def _slices(self, name: str) -> list[TensorSlice]:
        return [TensorSlice.from_proto(s) for s in self._entries[name]["slices"]]

    def _slice_entry(self, name: str, tensor_slice: TensorSlice) -> dict:
        value = self._slice_values.get(tensor_slice.key(name))
        where = f"{self._index_path}: tensor {name!r} slice {tensor_slice}"
        if value is None:
            raise CorruptCheckpointError(f"{where}: listed, but the index has no entry for it")
        return decode_entry(value, protos.BUNDLE_ENTRY, where)

    def _read(self, name: str) -> np.ndarray:
        info = self._infos[name]
        entry = self._entries[name]
        if not entry.get("slices"):
            return self._read_entry(name, entry, info)
        slices = self._slices(name)

        def read_slice(i: int, shape: tuple[int, ...]) -> np.ndarray:
            slice_entry = self._slice_entry(name, slices[i])
            if slice_entry.get("dtype") != entry.get("dtype"):
                raise CorruptCheckpointError(
                    f"{self._index_path}: tensor {name!r} has slices of another dtype")
            return self._read_entry(name, slice_entry, TensorInfo(shape, info.dtype))

        return assemble(info.shape, info.dtype, slices, read_slice,
                        f"{self._index_path}: tensor {name!r}")

    def _read_entry(self, name: str, entry: dict, info: TensorInfo) -> np.ndarray:
        if protos.shape_of(entry.get("shape")) != info.shape:
            raise CorruptCheckpointError(
                f"{self._index_path}: tensor {name!r} has a slice whose shape "
                f"{protos.shape_of(entry.get('shape'))} is not its extent {info.shape}")
        path, data = self._shard(entry.get("shard_id", 0), name)
        offset, size = entry.get("offset", 0), entry.get("size", 0)
        where = f"{path}: tensor {name!r} (bytes [{offset}, {offset + size}))"
        if offset < 0 or size < 0 or offset + size > len(data):
            raise CorruptCheckpointError(
                f"{where} lies past the end of the {len(data)}-byte file: the data file is "
                "truncated or does not belong to this index")
        raw = data[offset:offset + size]
        if dtypes.is_string(info.dtype):
            array, checksum = self._strings(raw, info, where)
        elif size != info.size * info.dtype.itemsize:
            raise CorruptCheckpointError(
                f"{where}: {size} bytes stored for {info.size} {info.dtype} values")
        else:
            array, checksum = from_raw(raw, info, self._big_endian), None
        if self._verify and crc.unmask(entry.get("crc32c", 0)) != (
                crc.value(raw) if checksum is None else checksum):
            raise CorruptCheckpointError(
                f"{where} fails its CRC32C check: the file is corrupt. Re-download or "
                "re-save it (verify_checksums=False reads the damaged bytes anyway)")
        return array

    def _strings(self, raw: memoryview, info: TensorInfo,
                 where: str) -> tuple[np.ndarray, int]:
        """Decodes a string tensor; returns it and the CRC32C TF computes over it."""
        if not raw and info.size == 0:
            return np.empty(info.shape, object), 0
        order = "big" if self._big_endian else "little"
        lengths, pos, checksum = [], 0, 0
        try:
            for _ in range(info.size):
                length, pos = wire.read_varint(raw, pos)
                lengths.append(length)
                width = 4 if length <= _U32_MAX else 8
                checksum = crc.value(length.to_bytes(width, order), checksum)
        except wire.DecodeError as err:
            raise CorruptCheckpointError(f"{where}: string lengths: {err}") from err
        stored = raw[pos:pos + 4]
        if len(stored) < 4 or pos + 4 + sum(lengths) != len(raw):
            raise CorruptCheckpointError(f"{where}: string lengths do not add up to the size")
        if self._verify and crc.unmask(int.from_bytes(stored, order)) != checksum:
            raise CorruptCheckpointError(f"{where}: string lengths fail their CRC32C check")
        checksum = crc.value(raw[pos:], checksum)
        out = np.empty(info.size, object)
        pos += 4
        for i, length in enumerate(lengths):
            out[i] = bytes(raw[pos:pos + length])
            pos += length
        return out.reshape(info.shape), checksum
