"""The sorted string table TF uses for V2 ``.index`` files and V1 checkpoint files.

It is LevelDB's table format (TF's ``core/lib/io/table*.cc``)::

    [data block]* [metaindex block] [index block] [footer: 48 bytes]
    block   = contents, then a 5-byte trailer: compression type (0 none, 1 snappy) and
              the masked CRC32C of contents + type byte
    contents = entries (varint shared, varint unshared, varint value length, key suffix,
              value), then the restart offsets (uint32 each) and their count (uint32)
    index   = one entry per data block: a key >= its keys and < the next block's, and the
              block's handle (varint offset, varint size)
    footer  = metaindex handle, index handle, zero padding to 40 bytes, magic (8 bytes)
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Iterator
from typing import BinaryIO

import cramjam

from jslim.checkpoints.tf_format import crc
from jslim.checkpoints.tf_format.errors import CorruptCheckpointError
from jslim.checkpoints.tf_format.mapped_file import map_file
from jslim.checkpoints.tf_format.wire import DecodeError, encode_varint, read_varint

MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
_HANDLES_SIZE = 40
TRAILER_SIZE = 5
NO_COMPRESSION, SNAPPY = 0, 1
# Snappy's densest op (a 3-byte copy of 64 bytes) expands 21x: a longer claimed length
# is corrupt, and must not be allocated.
_MAX_SNAPPY_RATIO = 24


def _u32(buf: memoryview, pos: int) -> int:
    return int.from_bytes(buf[pos:pos + 4], "little")


def _decode_handle(value: memoryview) -> tuple[int, int]:
    offset, pos = read_varint(value, 0)
    size, _ = read_varint(value, pos)
    return offset, size


def iter_block(contents: memoryview) -> Iterator[tuple[bytes, memoryview]]:
    """Yields the ``(key, value)`` entries of a block's (uncompressed) contents."""
    if len(contents) < 4:
        raise DecodeError(f"block of {len(contents)} bytes has no restart count")
    num_restarts = _u32(contents, len(contents) - 4)
    if num_restarts > (len(contents) - 4) // 4:
        raise DecodeError(f"block claims {num_restarts} restarts in {len(contents)} bytes")
    limit = len(contents) - 4 * (num_restarts + 1)
    pos, key = 0, b""
    while pos < limit:
        shared, pos = read_varint(contents, pos)
        unshared, pos = read_varint(contents, pos)
        value_size, pos = read_varint(contents, pos)
        if shared > len(key) or pos + unshared + value_size > limit:
            raise DecodeError(f"block entry at byte {pos} runs past the block's entries")
        key = key[:shared] + bytes(contents[pos:pos + unshared])
        pos += unshared
        yield key, contents[pos:pos + value_size]
        pos += value_size


class Table:
    """A read-only table over a memory-mapped file.

    Args:
      path: the file.
      what: what the file is, for error messages ("V2 index", "V1 checkpoint").
      verify_checksums: check each block's CRC32C when it is read.
    """

    def __init__(self, path: str, what: str, *, verify_checksums: bool = True):
        self.path = path
        self._what = what
        self._verify = verify_checksums
        self._buf = map_file(path, what)
        self._index = self._read_index()
        self._index_keys = [key for key, _ in self._index]

    def _error(self, detail: str) -> CorruptCheckpointError:
        return CorruptCheckpointError(
            f"{self.path}: not a readable {self._what} ({detail}); the file is damaged, "
            "truncated, or not a TensorFlow checkpoint file")

    def _read_index(self) -> list[tuple[bytes, tuple[int, int]]]:
        buf = self._buf
        if len(buf) < FOOTER_SIZE:
            raise self._error(f"{len(buf)} bytes is shorter than a table footer")
        footer = buf[len(buf) - FOOTER_SIZE:]
        if int.from_bytes(footer[_HANDLES_SIZE:], "little") != MAGIC:
            raise self._error("bad magic number at the end of the file")
        try:
            _, pos = read_varint(footer, 0)
            _, pos = read_varint(footer, pos)  # metaindex handle: unused by TF
            index_handle = _decode_handle(footer[pos:_HANDLES_SIZE])
            index = self._block(index_handle)
            return [(key, _decode_handle(value)) for key, value in iter_block(index)]
        except DecodeError as err:
            raise self._error(f"index block: {err}") from err

    def _block(self, handle: tuple[int, int]) -> memoryview:
        """The uncompressed contents of the block at ``handle``."""
        offset, size = handle
        end = offset + size
        if end + TRAILER_SIZE > len(self._buf) - FOOTER_SIZE:
            raise self._error(f"block at byte {offset} of {size} bytes runs past the end")
        kind = self._buf[end]
        if self._verify and crc.unmask(_u32(self._buf, end + 1)) != crc.value(
                self._buf[offset:end + 1]):
            raise self._error(f"CRC32C mismatch in the block at byte {offset}")
        contents = self._buf[offset:end]
        if kind == NO_COMPRESSION:
            return contents
        if kind != SNAPPY:
            raise self._error(f"unknown compression type {kind} of the block at byte {offset}")
        return memoryview(_snappy_decompress(contents, self._error))

    def items(self) -> Iterator[tuple[bytes, memoryview]]:
        """Yields every ``(key, value)`` in key order."""
        for _, handle in self._index:
            try:
                yield from iter_block(self._block(handle))
            except DecodeError as err:
                raise self._error(f"data block at byte {handle[0]}: {err}") from err

    def get(self, key: bytes) -> memoryview | None:
        """The value stored under ``key``, or None."""
        i = bisect.bisect_left(self._index_keys, key)
        if i == len(self._index):
            return None
        handle = self._index[i][1]
        try:
            for entry_key, value in iter_block(self._block(handle)):
                if entry_key >= key:
                    return value if entry_key == key else None
        except DecodeError as err:
            raise self._error(f"data block at byte {handle[0]}: {err}") from err
        return None


def _snappy_decompress(data: memoryview, error) -> bytes:
    try:
        size = cramjam.snappy.decompress_raw_len(data)
        if size > _MAX_SNAPPY_RATIO * len(data) + 64:
            raise error(f"snappy block claims {size} bytes from {len(data)}")
        return bytes(cramjam.snappy.decompress_raw(data))
    except cramjam.DecompressionError as err:
        raise error(f"bad snappy data: {err}") from err


class _BlockBuilder:
    """Accumulates sorted entries with shared-prefix compression and restart points."""

    def __init__(self, restart_interval: int):
        self._interval = restart_interval
        self.reset()

    def reset(self) -> None:
        self._out = bytearray()
        self._restarts = [0]
        self._count = 0
        self._last = b""
        self.entries = 0

    def add(self, key: bytes, value: bytes) -> None:
        shared = 0
        if self._count < self._interval:
            limit = min(len(key), len(self._last))
            while shared < limit and key[shared] == self._last[shared]:
                shared += 1
        else:
            self._restarts.append(len(self._out))
            self._count = 0
        self._out += encode_varint(shared) + encode_varint(len(key) - shared)
        self._out += encode_varint(len(value)) + key[shared:] + value
        self._last = key
        self._count += 1
        self.entries += 1

    def size(self) -> int:
        return len(self._out) + 4 * len(self._restarts) + 4

    def finish(self) -> bytes:
        tail = b"".join(struct.pack("<I", r) for r in self._restarts)
        return bytes(self._out) + tail + struct.pack("<I", len(self._restarts))


class TableWriter:
    """Writes a table that TF's ``table::Table`` (and ``Table`` above) reads.

    Args:
      file: a binary file open for writing, positioned at 0.
      block_size: target size of a data block (TF's default, 256 KiB).
      compress: snappy-compress blocks that shrink by at least ``min_saving``.
      min_saving: the fraction a block must shrink by to be stored compressed (TF's
        rule is 1/8; a negative value compresses every block).
    """

    def __init__(self, file: BinaryIO, *, block_size: int = 256 << 10, compress: bool = False,
                 min_saving: float = 0.125):
        self._file = file
        self._offset = 0
        self._block_size = block_size
        self._compress = compress
        self._min_saving = min_saving
        self._data = _BlockBuilder(16)
        self._index = _BlockBuilder(1)
        self._last_key: bytes | None = None

    def add(self, key: bytes, value: bytes) -> None:
        """Adds an entry; keys must be added in strictly increasing byte order."""
        if self._last_key is not None and key <= self._last_key:
            raise ValueError(f"table keys must increase: {key!r} after {self._last_key!r}")
        self._data.add(key, value)
        self._last_key = key
        if self._data.size() >= self._block_size:
            self._flush()

    def _flush(self) -> None:
        if self._data.entries:
            handle = self._write_block(self._data.finish())
            self._index.add(self._last_key, handle)
            self._data.reset()

    def _write_block(self, raw: bytes) -> bytes:
        kind, contents = NO_COMPRESSION, raw
        if self._compress:
            packed = bytes(cramjam.snappy.compress_raw(raw))
            if len(packed) < len(raw) * (1 - self._min_saving):
                kind, contents = SNAPPY, packed
        checksum = crc.mask(crc.value(bytes([kind]), crc.value(contents)))
        self._file.write(contents + bytes([kind]) + struct.pack("<I", checksum))
        handle = encode_varint(self._offset) + encode_varint(len(contents))
        self._offset += len(contents) + TRAILER_SIZE
        return handle

    def finish(self) -> None:
        """Writes the last data block, the (empty) metaindex, the index and the footer."""
        self._flush()
        meta_handle = self._write_block(_BlockBuilder(16).finish())
        index_handle = self._write_block(self._index.finish())
        handles = (meta_handle + index_handle).ljust(_HANDLES_SIZE, b"\0")
        self._file.write(handles + struct.pack("<Q", MAGIC))
