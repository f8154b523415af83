"""Writes the TF-written checkpoint fixtures that ../shared/goldens does not have.

Run with jslim's python (no TF needed in it): ``python tools/make_checkpoint_fixtures.py``.
TensorFlow runs in a subprocess under ``--tf_python`` (default: /opt/tfvenv/bin/python,
needs tensorflow-cpu). Writes, under tests/fixtures/checkpoints/:

- ``v1_sharded/``: a V1 checkpoint (``Saver(write_version=V1, sharded=True)``) over two
  CPU devices: a variable partitioned in 3 slices across the shards, and every dtype
  TF's V1 format saves (float16/32/64, int8/16/32/64, uint8, bool, complex64/128,
  string, 0-d and empty tensors).
- ``lenet_v1_snappy/``: the goldens' ``lenet_v1`` file with its table blocks rewritten
  snappy-compressed (as Google's 2016 slim checkpoints are); TF must read it back equal.

Each directory gets ``expected.npz`` (strings as hex in ``__meta__``), and every file is
read back by TF and compared exactly before this script reports OK.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "checkpoints")
GOLDENS = os.path.join(ROOT, "..", "shared", "goldens", "checkpoints")

# name -> (numpy value, how it is made). Strings are bytes.
_RNG = np.random.default_rng(3)
V1_TENSORS = {
    "v1/float32": _RNG.standard_normal((4, 5)).astype(np.float32),
    "v1/float64": _RNG.standard_normal((3, 2)),
    "v1/float16": _RNG.standard_normal((2, 3)).astype(np.float16),
    "v1/int8": np.array([-128, -1, 0, 1, 127], np.int8),
    "v1/int16": np.array([-32768, -2, 7, 32767], np.int16),
    "v1/int32": np.array([[-2**31, -5], [3, 2**31 - 1]], np.int32),
    "v1/int64": np.array([-2**63, -1, 0, 2**62 + 5], np.int64),
    "v1/uint8": np.array([0, 1, 200, 255], np.uint8),
    "v1/bool": np.array([[True, False, True]]),
    "v1/complex64": np.array([1 + 2j, -3.5 - 0.25j], np.complex64),
    "v1/complex128": np.array([[1e-300 + 2j]], np.complex128),
    "v1/string": np.array([b"slim", b"", b"a\x00b", "caf\u00e9".encode()], object),
    "v1/scalar": np.float32(-7.5),
    "v1/empty": np.zeros((0, 4), np.float32),
    "global_step": np.int64(2016),
}
PARTITIONED = ("v1/part/embedding", _RNG.standard_normal((10, 6)).astype(np.float32))


def _save_expected(directory: str, tensors: dict, meta: dict) -> None:
    arrays, strings = {}, {}
    for name, value in tensors.items():
        value = np.asarray(value)
        if value.dtype == object:
            strings[name] = [bytes(s).hex() for s in value.reshape(-1)]
            value = np.array(value.tolist(), dtype=bytes)
        arrays[name] = value
    meta = dict(meta, strings_hex=strings)
    np.savez(os.path.join(directory, "expected.npz"), __meta__=json.dumps(meta), **arrays)


def _v1_graph(tf, zeros: bool):
    """[TF python] The v1_sharded variables (zero-initialized to test a restore)."""
    graph = tf.Graph()
    with graph.as_default():
        for i, (name, value) in enumerate(V1_TENSORS.items()):
            with tf.device(f"/cpu:{i % 2}"):
                value = np.asarray(value)
                if zeros:
                    value = np.full_like(value, b"" if value.dtype == object else 0)
                tf.compat.v1.Variable(value, name=name)
        full = np.zeros_like(PARTITIONED[1]) if zeros else PARTITIONED[1]

        def init(shape, dtype=None, partition_info=None):  # pylint: disable=unused-argument
            start = partition_info.var_offset[0] if partition_info else 0
            return tf.constant(full[start:start + shape[0]])

        with tf.device("/cpu:1"):
            part = tf.compat.v1.get_variable(
                PARTITIONED[0], initializer=init, shape=full.shape,
                partitioner=tf.compat.v1.fixed_size_partitioner(3))
        saver = tf.compat.v1.train.Saver(write_version=tf.compat.v1.train.SaverDef.V1,
                                         sharded=True)
        values = {v.op.name: v for v in tf.compat.v1.global_variables() if "/part_" not in v.name}
        values[PARTITIONED[0]] = part.as_tensor()
        init_op = tf.compat.v1.global_variables_initializer()
    config = tf.compat.v1.ConfigProto(device_count={"CPU": 2})
    return tf.compat.v1.Session(graph=graph, config=config), saver, values, init_op


def tf_write_v1(directory: str) -> None:
    """[TF python] Writes v1_sharded with tf.compat.v1.train.Saver."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    tf.compat.v1.disable_eager_execution()
    sess, saver, _, init_op = _v1_graph(tf, zeros=False)
    with sess:
        sess.run(init_op)
        path = saver.save(sess, os.path.join(directory, "model.ckpt"), write_meta_graph=False)
    with open(os.path.join(directory, "checkpoint"), "w", encoding="utf-8") as f:
        f.write(f'model_checkpoint_path: "{os.path.basename(path)}"\n')  # relocatable
    tensors = dict(V1_TENSORS, **{PARTITIONED[0]: PARTITIONED[1]})
    _save_expected(directory, tensors, {"format": "V1 sharded", "checkpoint_path": path})


def tf_restore_v1(path: str, out: str) -> None:
    """[TF python] Restores v1_sharded into zeroed variables (TF's reader refuses V1
    slices) and saves their values into ``out`` (npz)."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    tf.compat.v1.disable_eager_execution()
    sess, saver, values, _ = _v1_graph(tf, zeros=True)
    with sess:
        saver.restore(sess, path)
        _save_npz(out, sess.run(values))


def tf_read(path: str, out: str) -> None:
    """[TF python] Reads every tensor with tf.train.load_checkpoint into ``out`` (npz)."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    reader = tf.train.load_checkpoint(path)
    _save_npz(out, {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()})


def _save_npz(out: str, tensors: dict) -> None:
    arrays, strings = {}, {}
    for name, value in tensors.items():
        value = np.asarray(value)
        if value.dtype == object:
            strings[name] = [bytes(s).hex() for s in value.reshape(-1)]
            value = np.zeros(value.shape, np.uint8)
        arrays[name] = value
    np.savez(out, __meta__=json.dumps({"strings_hex": strings}), **arrays)


def _repack_snappy(source: str, target: str) -> None:
    """Rewrites a table file with snappy-compressed blocks (jslim's TableWriter)."""
    sys.path.insert(0, ROOT)
    from jslim.checkpoints.tf_format.table import Table, TableWriter  # pylint: disable=import-outside-toplevel

    with open(target, "wb") as f:
        writer = TableWriter(f, compress=True, min_saving=-1.0, block_size=4096)
        for key, value in Table(source, "V1 checkpoint").items():
            writer.add(key, bytes(value))
        writer.finish()


def _assert_equal_npz(expected_path: str, got_path: str) -> None:
    expected, got = np.load(expected_path), np.load(got_path)
    strings = json.loads(str(got["__meta__"]))["strings_hex"]
    want_strings = json.loads(str(expected["__meta__"])).get("strings_hex", {})
    names = sorted(k for k in expected if k != "__meta__")
    assert sorted(k for k in got if k != "__meta__") == names, (names, list(got))
    for name in names:
        if name in want_strings:
            assert strings[name] == want_strings[name], name
        else:
            assert got[name].dtype == expected[name].dtype, name
            assert np.array_equal(got[name], expected[name]), name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tf_python", default="/opt/tfvenv/bin/python")
    parser.add_argument("--tf_stage", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.tf_stage:
        {"write_v1": tf_write_v1, "read": tf_read, "restore_v1": tf_restore_v1}[args.tf_stage[0]](*args.tf_stage[1:])
        return
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")

    def tf(*stage: str) -> None:
        subprocess.run([args.tf_python, __file__, "--tf_stage", *stage], check=True, env=env)

    v1_dir = os.path.join(OUT, "v1_sharded")
    shutil.rmtree(v1_dir, ignore_errors=True)
    os.makedirs(v1_dir)
    tf("write_v1", v1_dir)
    snappy_dir = os.path.join(OUT, "lenet_v1_snappy")
    shutil.rmtree(snappy_dir, ignore_errors=True)
    os.makedirs(snappy_dir)
    _repack_snappy(os.path.join(GOLDENS, "lenet_v1", "model.ckpt"),
                   os.path.join(snappy_dir, "model.ckpt"))
    for name in ("expected.npz", "checkpoint"):
        shutil.copyfile(os.path.join(GOLDENS, "lenet_v1", name), os.path.join(snappy_dir, name))
    for directory, path, stage in ((v1_dir, "model.ckpt-?????-of-00002", "restore_v1"),
                                   (snappy_dir, "model.ckpt", "read")):
        got = os.path.join(directory, "tf_read.npz")
        tf(stage, os.path.join(directory, path), got)
        _assert_equal_npz(os.path.join(directory, "expected.npz"), got)
        os.remove(got)
        print(f"{os.path.relpath(directory, ROOT)}: TF reads it back exactly: OK")


if __name__ == "__main__":
    main()
