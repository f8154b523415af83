"""Writer of TF V2 checkpoints that TensorFlow reads (``tf.train.load_checkpoint``, Saver).

Files appear atomically: data and index are written under temporary names and renamed,
the data file first, so a reader never sees an index without its data.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from typing import Any, BinaryIO

import numpy as np

from jslim.checkpoints.tf_format import crc, dtypes, paths, protos, wire
from jslim.checkpoints.tf_format.bundle import FORMAT_VERSION, data_filename
from jslim.checkpoints.tf_format.errors import CheckpointError
from jslim.checkpoints.tf_format.table import TableWriter

_CHUNK = 64 << 20  # bytes written (and checksummed) per call for big tensors


def _as_array(name: str, value: Any) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind == "U":
        array = np.vectorize(lambda s: s.encode("utf-8"), otypes=[object])(array)
    if not isinstance(name, str) or not name or name.startswith("\x00"):
        raise CheckpointError(f"invalid tensor name {name!r}: use a non-empty slim name")
    dtypes.enum_of(array.dtype, f"tensor {name!r}")
    return array


def _write_numeric(out: BinaryIO, array: np.ndarray, big_endian: bool) -> tuple[int, int]:
    """Writes raw bytes; returns (size, crc32c)."""
    dtype = array.dtype.newbyteorder("=") if array.dtype.byteorder in "<>" else array.dtype
    array = np.ascontiguousarray(array, dtype)
    if big_endian and array.dtype.itemsize > 1:
        unit = array.dtype.itemsize // (2 if array.dtype.kind == "c" else 1)
        array = array.reshape(-1).view(f"u{unit}").byteswap()
    raw = array.reshape(-1).view(np.uint8)
    checksum = 0
    for start in range(0, raw.size, _CHUNK):
        chunk = raw[start:start + _CHUNK]
        out.write(chunk)
        checksum = crc.value(chunk, checksum)
    return raw.size, checksum


def _write_strings(out: BinaryIO, array: np.ndarray, big_endian: bool) -> tuple[int, int]:
    """Writes TF's string layout (see ``bundle.py``); returns (size, crc32c)."""
    order = "big" if big_endian else "little"
    items = [bytes(item) for item in array.reshape(-1)]
    checksum = 0
    for item in items:
        checksum = crc.value(len(item).to_bytes(4 if len(item) <= 0xFFFFFFFF else 8, order),
                             checksum)
    head = b"".join(wire.encode_varint(len(item)) for item in items)
    head += crc.mask(checksum).to_bytes(4, order)
    checksum = crc.value(head[-4:], checksum)
    out.write(head)
    for item in items:
        out.write(item)
        checksum = crc.value(item, checksum)
    return len(head) + sum(map(len, items)), checksum


def _write_index(path: str, entries: dict[bytes, bytes], big_endian: bool,
                 compress: bool) -> None:
    header = wire.encode(protos.BUNDLE_HEADER, {
        "num_shards": 1, "endianness": protos.BIG_ENDIAN if big_endian else 0,
        "version": {"producer": FORMAT_VERSION}})
    with open(path, "wb") as f:
        table = TableWriter(f, compress=compress)
        table.add(b"", header)
        for key in sorted(entries):
            table.add(key, entries[key])
        table.finish()


def _write_state_file(prefix: str) -> None:
    directory, base = os.path.split(os.path.abspath(prefix))
    escaped = base.replace("\\", "\\\\").replace('"', '\\"')
    text = f'model_checkpoint_path: "{escaped}"\nall_model_checkpoint_paths: "{escaped}"\n'
    temp = os.path.join(directory, f"{paths.STATE_FILE}.tmp{secrets.token_hex(4)}")
    with open(temp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(temp, os.path.join(directory, paths.STATE_FILE))


def write_tf_checkpoint(prefix: str | os.PathLike, tensors: Mapping[str, Any], *,
                        compress_index: bool = False, big_endian: bool = False,
                        write_state_file: bool = True) -> str:
    """Writes ``tensors`` as a V2 checkpoint: ``PREFIX.index`` + ``PREFIX.data-00000-of-00001``.

    Args:
      prefix: the checkpoint prefix, e.g. ``"/tmp/run/model.ckpt-1000"``; its directory
        is created.
      tensors: ``{name: array-like}``. Any dtype TF has (bfloat16 and float8 via
        ``ml_dtypes``); ``bytes``/``str``/object arrays become string tensors.
      compress_index: snappy-compress the index blocks (TF >= 1.1 reads them).
      big_endian: write big-endian data (as TF does on big-endian hosts).
      write_state_file: also point the directory's ``checkpoint`` file at ``prefix``, as
        ``tf.train.Saver`` does, so the directory itself can be opened.

    Returns:
      The prefix written.

    Raises:
      CheckpointError: a name is empty or a dtype has no TF equivalent (nothing written).
    """
    prefix = os.fspath(prefix)
    arrays = {name: _as_array(name, value) for name, value in tensors.items()}
    os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
    token = secrets.token_hex(4)
    data_path, index_path = data_filename(prefix, 0, 1), prefix + ".index"
    data_temp, index_temp = f"{data_path}.tempstate{token}", f"{index_path}.tempstate{token}"
    entries: dict[bytes, bytes] = {}
    try:
        with open(data_temp, "wb") as out:
            offset = 0
            for name in sorted(arrays, key=lambda n: n.encode("utf-8", "surrogateescape")):
                array = arrays[name]
                enum = dtypes.enum_of(array.dtype, name)
                write = _write_strings if enum == dtypes.DT_STRING else _write_numeric
                size, checksum = write(out, array, big_endian)
                entries[name.encode("utf-8", "surrogateescape")] = wire.encode(protos.BUNDLE_ENTRY, {
                    "dtype": enum, "shape": protos.shape_proto(array.shape), "offset": offset,
                    "size": size, "crc32c": crc.mask(checksum)})
                offset += size
        _write_index(index_temp, entries, big_endian, compress_index)
        os.replace(data_temp, data_path)
        os.replace(index_temp, index_path)
    finally:
        for temp in (data_temp, index_temp):
            if os.path.exists(temp):
                os.remove(temp)
    if write_state_file:
        _write_state_file(prefix)
    return prefix
