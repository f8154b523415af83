"""jslim reads every TF-written fixture exactly, V1 and V2, from every kind of path."""

import mmap
import os

import numpy as np
import pytest

from checkpoint_testing import CHECKPOINTS, assert_exact, expected, fixture
from jslim.checkpoints import (
    TensorInfo, latest_checkpoint, list_tf_checkpoint, open_tf_checkpoint, read_tf_checkpoint)
from jslim.checkpoints.tf_format import table


@pytest.mark.parametrize("name", sorted(CHECKPOINTS))
def test_every_fixture_reads_exactly(name):
    got = read_tf_checkpoint(fixture(name, CHECKPOINTS[name]))
    want = expected(name)
    assert sorted(got) == sorted(want)
    for key, value in want.items():
        assert_exact(got[key], value, key)


@pytest.mark.parametrize("name", sorted(CHECKPOINTS))
def test_list_matches_the_arrays_without_reading_data(name):
    infos = list_tf_checkpoint(fixture(name))  # the directory: via the 'checkpoint' file
    want = expected(name)
    assert list(infos) == sorted(want)
    for key, info in infos.items():
        assert isinstance(info, TensorInfo)
        shape, dtype = info
        assert (shape, dtype) == (want[key].shape, want[key].dtype), key


def test_format_of_each_fixture():
    formats = {name: open_tf_checkpoint(fixture(name)).format for name in CHECKPOINTS}
    assert formats == {name: "V1" if "v1" in name else "V2" for name in CHECKPOINTS}


@pytest.mark.parametrize("path", [
    "lenet_v2/model.ckpt",
    "lenet_v2/model.ckpt.index",
    "lenet_v2/model.ckpt.data-00000-of-00001",
    "lenet_v2",
    "lenet_v1/model.ckpt",
    "lenet_v1",
])
def test_path_forms(path):
    got = read_tf_checkpoint(os.path.join(fixture(""), path))
    want = expected(path.split("/")[0])
    assert_exact(got["LeNet/fc4/weights"], want["LeNet/fc4/weights"])


@pytest.mark.parametrize("path", [
    "model.ckpt-?????-of-00002",
    "model.ckpt-00001-of-00002",  # one shard named: all shards are read
    "model.ckpt",  # the V1 prefix: its shards are found
])
def test_v1_shard_path_forms(path):
    reader = open_tf_checkpoint(fixture("v1_sharded", path))
    assert len(reader) == len(expected("v1_sharded"))
    assert_exact(reader["v1/part/embedding"], expected("v1_sharded")["v1/part/embedding"])


def test_latest_checkpoint_reads_the_state_file():
    assert latest_checkpoint(fixture("v1_sharded")) == fixture("v1_sharded",
                                                               "model.ckpt-?????-of-00002")


def test_partitioned_v2_is_reassembled_from_its_slices():
    reader = open_tf_checkpoint(fixture("partitioned_v2"))
    assert list(reader) == ["part/embedding", "part/plain"]  # slice keys are not names
    assert reader.info("part/embedding").shape == (10, 6)
    assert reader.nbytes("part/embedding") == 240


def test_v2_arrays_are_read_only_views_of_the_mapped_file():
    array = open_tf_checkpoint(fixture("mixed_dtypes_v2"))["mixed/large_float32"]
    assert not array.flags.writeable
    base = array
    while getattr(base, "base", None) is not None and not isinstance(base, mmap.mmap):
        base = base.base.obj if isinstance(base.base, memoryview) else base.base
    assert isinstance(base, mmap.mmap)


def test_snappy_fixture_has_compressed_blocks_and_reads_like_the_plain_one():
    plain = read_tf_checkpoint(fixture("lenet_v1"))
    packed = read_tf_checkpoint(fixture("lenet_v1_snappy"))
    for key in plain:
        assert_exact(packed[key], plain[key], key)
    kinds = _block_kinds(fixture("lenet_v1_snappy", "model.ckpt"))
    assert len(kinds) >= 5 and set(kinds) == {table.SNAPPY}


def _block_kinds(path):
    """Compression byte of every data block."""
    t = table.Table(path, "test")
    buf = t._buf  # pylint: disable=protected-access
    return [buf[offset + size] for _, (offset, size) in t._index]  # pylint: disable=protected-access


def test_strings_keep_interior_nul_and_utf8_bytes():
    strings = read_tf_checkpoint(fixture("mixed_dtypes_v2"))["mixed/string"]
    assert strings.dtype == object
    assert strings[2] == b"slim/\x00bytes" and strings[3] == "caf\u00e9".encode()
    assert strings[1] == b"" and len(strings[4]) == 300


def test_reader_is_a_mapping():
    reader = open_tf_checkpoint(fixture("sharded_v2"))
    assert len(reader) == 6 and "shard_b/fc/weights" in reader and "nope" not in reader
    assert dict(reader.items()).keys() == set(expected("sharded_v2"))
    assert "V2" in repr(reader)
    np.testing.assert_array_equal(reader.get("shard_c/BatchNorm/moving_mean"),
                                  expected("sharded_v2")["shard_c/BatchNorm/moving_mean"])
