"""Bad input gives jslim's error, naming the file and tensor at fault; never a crash."""

import os
import shutil
import signal
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checkpoint_testing import copy_fixture, fixture
from jslim.checkpoints import (
    CheckpointError, CheckpointNotFoundError, CorruptCheckpointError, TensorNotFoundError,
    UnsupportedCheckpointError, open_tf_checkpoint, read_tf_checkpoint, write_tf_checkpoint)
from jslim.checkpoints.tf_format import protos, wire
from jslim.checkpoints.tf_format.table import Table, TableWriter

FC3_OFFSET = 212480  # LeNet/fc3/weights in lenet_v2's data file (from its index)


def _patch(path, offset, data):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def _rewrite_index(index_path, edit):
    """Rewrites a V2 index with ``edit(name, entry_dict)`` applied to each entry."""
    items = [(key, bytes(value)) for key, value in Table(index_path, "index").items()]
    with open(index_path, "wb") as f:
        writer = TableWriter(f)
        for key, value in items:
            if key and not key.startswith(b"\x00"):
                entry = wire.decode(protos.BUNDLE_ENTRY, value)
                edit(key.decode(), entry)
                value = wire.encode(protos.BUNDLE_ENTRY, entry)
            elif not key:
                header = wire.decode(protos.BUNDLE_HEADER, value)
                edit("", header)
                value = wire.encode(protos.BUNDLE_HEADER, header)
            writer.add(key, value)
        writer.finish()


def test_flipped_byte_in_data_fails_the_crc_naming_file_and_tensor(tmp_path):
    ckpt = copy_fixture("lenet_v2", tmp_path)
    data = os.path.join(ckpt, "model.ckpt.data-00000-of-00001")
    _patch(data, FC3_OFFSET + 100, b"\x7f")
    reader = open_tf_checkpoint(ckpt)
    np.testing.assert_array_equal(reader["LeNet/fc4/weights"],  # other tensors are fine
                                  read_tf_checkpoint(fixture("lenet_v2"))["LeNet/fc4/weights"])
    with pytest.raises(CorruptCheckpointError, match="CRC32C") as err:
        reader["LeNet/fc3/weights"]  # pylint: disable=pointless-statement
    assert data in str(err.value) and "'LeNet/fc3/weights'" in str(err.value)
    unchecked = open_tf_checkpoint(ckpt, verify_checksums=False)["LeNet/fc3/weights"]
    assert unchecked.shape == (256, 1024)


def test_truncated_data_file(tmp_path):
    ckpt = copy_fixture("lenet_v2", tmp_path)
    data = os.path.join(ckpt, "model.ckpt.data-00000-of-00001")
    os.truncate(data, FC3_OFFSET + 10)
    reader = open_tf_checkpoint(ckpt)
    reader["LeNet/conv1/weights"]  # pylint: disable=pointless-statement
    with pytest.raises(CorruptCheckpointError, match="truncated") as err:
        reader["LeNet/fc3/weights"]  # pylint: disable=pointless-statement
    assert data in str(err.value) and "'LeNet/fc3/weights'" in str(err.value)


def test_missing_shard_names_the_file_and_a_tensor_in_it(tmp_path):
    ckpt = copy_fixture("sharded_v2", tmp_path)
    missing = os.path.join(ckpt, "model.ckpt.data-00001-of-00003")
    os.remove(missing)
    reader = open_tf_checkpoint(ckpt)
    assert reader["shard_a/conv/biases"].shape == (8,)
    with pytest.raises(CheckpointNotFoundError) as err:
        reader["shard_b/fc/weights"]  # pylint: disable=pointless-statement
    assert missing in str(err.value) and "'shard_b/fc/weights'" in str(err.value)
    assert isinstance(err.value, FileNotFoundError)


def test_missing_v1_shard_is_listed(tmp_path):
    ckpt = copy_fixture("v1_sharded", tmp_path)
    os.remove(os.path.join(ckpt, "model.ckpt-00000-of-00002"))
    with pytest.raises(CheckpointNotFoundError, match="model.ckpt-00000-of-00002"):
        open_tf_checkpoint(ckpt)


def test_wrong_magic_number(tmp_path):
    ckpt = copy_fixture("lenet_v2", tmp_path)
    index = os.path.join(ckpt, "model.ckpt.index")
    _patch(index, os.path.getsize(index) - 1, b"\x00")
    with pytest.raises(CorruptCheckpointError, match="bad magic number") as err:
        open_tf_checkpoint(ckpt)
    assert index in str(err.value)


def test_corrupt_index_block_fails_its_crc(tmp_path):
    ckpt = copy_fixture("lenet_v2", tmp_path)
    _patch(os.path.join(ckpt, "model.ckpt.index"), 30, b"\xff")
    with pytest.raises(CorruptCheckpointError, match="CRC32C mismatch in the block"):
        open_tf_checkpoint(ckpt)


def test_corrupt_v1_block_fails_its_crc(tmp_path):
    ckpt = copy_fixture("lenet_v1", tmp_path)
    _patch(os.path.join(ckpt, "model.ckpt"), 220_000, b"\x00\x01\x02")  # fc3/weights' block
    reader = open_tf_checkpoint(ckpt)
    assert reader["LeNet/fc4/weights"].shape == (1024, 10)
    with pytest.raises(CorruptCheckpointError, match="CRC32C") as err:
        reader["LeNet/fc3/weights"]  # pylint: disable=pointless-statement
    assert reader.path in str(err.value) and "'LeNet/fc3/weights'" in str(err.value)


def test_truncated_index(tmp_path):
    ckpt = copy_fixture("lenet_v2", tmp_path)
    os.truncate(os.path.join(ckpt, "model.ckpt.index"), 20)
    with pytest.raises(CorruptCheckpointError, match="shorter than a table footer"):
        open_tf_checkpoint(ckpt)


def test_v1_file_given_as_v2_index(tmp_path):
    shutil.copy(fixture("lenet_v1", "model.ckpt"), tmp_path / "x.index")
    with pytest.raises(CheckpointError, match="V1 checkpoint file") as err:
        open_tf_checkpoint(tmp_path / "x")
    assert str(tmp_path / "x.index") in str(err.value)


def test_v2_index_given_as_v1_file(tmp_path):
    shutil.copy(fixture("lenet_v2", "model.ckpt.index"), tmp_path / "y")
    with pytest.raises(CheckpointError, match="V2 checkpoint index") as err:
        open_tf_checkpoint(tmp_path / "y")
    assert str(tmp_path / "y") in str(err.value)


def test_data_file_given_as_v1_file(tmp_path):
    shutil.copy(fixture("lenet_v2", "model.ckpt.data-00000-of-00001"), tmp_path / "z")
    with pytest.raises(CorruptCheckpointError, match="bad magic number"):
        open_tf_checkpoint(tmp_path / "z")


@pytest.mark.parametrize("field, value, error, message", [
    ("offset", 10_000_000, CorruptCheckpointError, "past the end of the 1302056-byte file"),
    ("shard_id", 3, CorruptCheckpointError, "shard 3, but the checkpoint has 1"),
    ("size", 12, CorruptCheckpointError, "12 bytes stored for 10 float32 values"),
    ("dtype", 21, UnsupportedCheckpointError, "dtype variant cannot be read"),
])
def test_bad_index_entry_is_reported_with_its_tensor(tmp_path, field, value, error, message):
    ckpt = copy_fixture("lenet_v2", tmp_path)
    _rewrite_index(os.path.join(ckpt, "model.ckpt.index"),
                   lambda name, entry: entry.update({field: value}) if name == "LeNet/fc4/biases" else 0)
    with pytest.raises(error, match=message) as err:
        open_tf_checkpoint(ckpt)["LeNet/fc4/biases"]  # pylint: disable=pointless-statement
    assert "'LeNet/fc4/biases'" in str(err.value)


def test_newer_format_version_is_refused(tmp_path):
    ckpt = copy_fixture("lenet_v2", tmp_path)
    _rewrite_index(os.path.join(ckpt, "model.ckpt.index"),
                   lambda name, entry: entry.update(version={"producer": 9, "min_consumer": 2})
                   if name == "" else 0)
    with pytest.raises(UnsupportedCheckpointError, match="newer TensorFlow format"):
        open_tf_checkpoint(ckpt)


def test_name_not_in_checkpoint_suggests_close_names():
    reader = open_tf_checkpoint(fixture("lenet_v2"))
    with pytest.raises(TensorNotFoundError) as err:
        reader["LeNet/conv1/bias"]  # pylint: disable=pointless-statement
    message = str(err.value)
    assert "no tensor named 'LeNet/conv1/bias'" in message and "'LeNet/conv1/biases'" in message
    assert reader.path in message and isinstance(err.value, KeyError)
    assert reader.get("LeNet/conv1/bias") is None


def test_nothing_at_the_path(tmp_path):
    with pytest.raises(CheckpointNotFoundError, match="no checkpoint found"):
        open_tf_checkpoint(tmp_path / "model.ckpt")
    with pytest.raises(CheckpointNotFoundError, match="without a 'checkpoint' state file"):
        open_tf_checkpoint(tmp_path)


# --- fuzzing: random and mutated bytes never escape as anything but CheckpointError -------

_SMALL = {"s": np.array([b"ab", b"", b"\x00\xff"], object), "f": np.arange(6, dtype=np.float32),
          "c": np.array([1 - 1j], np.complex64), "z": np.int64(3), "e": np.zeros((0, 2))}


def _small_checkpoint(directory):
    write_tf_checkpoint(os.path.join(directory, "v2", "m"), _SMALL)
    shutil.copytree(fixture("partitioned_v2"), os.path.join(directory, "part"))
    shutil.copy(fixture("v1_sharded", "model.ckpt-00000-of-00002"), os.path.join(directory, "v1"))
    return {"v2/m.index": "v2/m", "v2/m.data-00000-of-00001": "v2/m",
            "part/model.ckpt.index": "part/model.ckpt",
            "part/model.ckpt.data-00000-of-00001": "part/model.ckpt", "v1": "v1"}


class _Timeout(Exception):
    pass


def _read_all_or_checkpoint_error(path, verify):
    """Reads every tensor; only a CheckpointError may stop it, within 5 seconds."""
    def on_alarm(*_):
        raise _Timeout(f"reading {path} took over 5 s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(5)
    try:
        reader = open_tf_checkpoint(path, verify_checksums=verify)
        for name in reader:
            reader[name]  # pylint: disable=pointless-statement
            reader.nbytes(name)
    except CheckpointError:
        pass
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


_FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow])


@_FUZZ
@given(data=st.binary(max_size=600), as_index=st.booleans())
def test_random_bytes_raise_checkpoint_error(data, as_index):
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "m")
        with open(path + (".index" if as_index else ""), "wb") as f:
            f.write(data)
        if as_index:
            with open(path + ".data-00000-of-00001", "wb") as f:
                f.write(data[::-1])
        _read_all_or_checkpoint_error(path, verify=True)


@_FUZZ
@given(target=st.integers(0, 4), edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)),
                                                 min_size=1, max_size=4),
       cut=st.one_of(st.none(), st.integers(0, 10**6)), verify=st.booleans())
def test_mutated_checkpoints_raise_checkpoint_error_or_read(target, edits, cut, verify):
    with tempfile.TemporaryDirectory() as directory:
        files = _small_checkpoint(directory)
        file, path = sorted(files.items())[target]
        full = os.path.join(directory, file)
        size = os.path.getsize(full)
        for offset, byte in edits:
            _patch(full, offset % max(size, 1), bytes([byte]))
        if cut is not None:
            os.truncate(full, cut % (size + 1))
        _read_all_or_checkpoint_error(os.path.join(directory, path), verify)
