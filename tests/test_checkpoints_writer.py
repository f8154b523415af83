"""jslim writes V2 checkpoints that jslim reads back bit-identical and TensorFlow reads."""

import json
import os

import jax
import jax.numpy as jnp
import flax.linen as nn
import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from checkpoint_testing import assert_exact, expected, fixture, run_tf_check, tf_python
from jslim import layers
from jslim.checkpoints import (
    CheckpointError, export_slim_checkpoint, import_slim_checkpoint, open_tf_checkpoint,
    read_tf_checkpoint, write_tf_checkpoint)
from jslim.checkpoints.tf_format.table import Table

EVERY_DTYPE = {
    "f/float32": np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4),
    "f/float64": np.array([np.pi, -0.0, np.inf, np.nan]),
    "f/float16": np.array([[1.5, -2.25]], np.float16),
    "f/bfloat16": np.array([1.0, -3.5, 1e30], ml_dtypes.bfloat16),
    "f/float8_e4m3fn": np.array([0.5, -2], ml_dtypes.float8_e4m3fn),
    "i/int8": np.array([-128, 127], np.int8), "i/int16": np.array([-32768, 9], np.int16),
    "i/int32": np.array([-2**31, 2**31 - 1], np.int32),
    "i/int64": np.array([-2**63, 2**63 - 1], np.int64),
    "u/uint8": np.array([0, 255], np.uint8), "u/uint16": np.array([65535], np.uint16),
    "u/uint32": np.array([2**32 - 1], np.uint32), "u/uint64": np.array([2**64 - 1], np.uint64),
    "b/bool": np.array([[True], [False]]),
    "c/complex64": np.array([1 + 2j, -3j], np.complex64),
    "c/complex128": np.array([[1e300 - 1j]], np.complex128),
    "s/strings": np.array([b"a", b"", b"\x00\xff", "\u00e9".encode() * 200], object),
    "s/scalar_string": np.array(b"one", object),
    "scalar": np.float32(2.5), "global_step": np.int64(123456789012),
    "empty/float": np.zeros((0, 3), np.float32), "empty/strings": np.zeros((2, 0), object),
    "name with spaces/\u00fcnicode": np.arange(3, dtype=np.int32),
}


@pytest.mark.parametrize("big_endian", [False, True])
@pytest.mark.parametrize("compress_index", [False, True])
def test_round_trip_is_bit_identical(tmp_path, big_endian, compress_index):
    prefix = write_tf_checkpoint(tmp_path / "m", EVERY_DTYPE, big_endian=big_endian,
                                 compress_index=compress_index)
    assert prefix == str(tmp_path / "m")
    got = read_tf_checkpoint(tmp_path)  # via the 'checkpoint' state file it wrote
    assert sorted(got) == sorted(EVERY_DTYPE)
    for name, value in EVERY_DTYPE.items():
        assert_exact(got[name], np.asarray(value), name)
    assert sorted(os.listdir(tmp_path)) == ["checkpoint", "m.data-00000-of-00001", "m.index"]


def test_str_arrays_are_written_as_utf8_strings(tmp_path):
    write_tf_checkpoint(tmp_path / "m", {"s": np.array(["caf\u00e9", "x"])})
    assert read_tf_checkpoint(tmp_path / "m")["s"].tolist() == ["caf\u00e9".encode(), b"x"]


def test_many_tensors_span_several_table_blocks_and_compress(tmp_path):
    long = "/".join(["a_long_scope_name"] * 8)
    tensors = {f"net/block_{i:04d}/{long}/weights": np.full(3, i, np.float32) for i in range(2500)}
    write_tf_checkpoint(tmp_path / "plain", tensors, write_state_file=False)
    write_tf_checkpoint(tmp_path / "packed", tensors, compress_index=True, write_state_file=False)
    assert len(Table(str(tmp_path / "plain.index"), "index")._index) > 1  # several blocks
    assert os.path.getsize(tmp_path / "packed.index") < os.path.getsize(tmp_path / "plain.index") / 2
    for prefix in ("plain", "packed"):
        reader = open_tf_checkpoint(tmp_path / prefix)
        assert len(reader) == 2500
        assert reader[f"net/block_2499/{long}/weights"].tolist() == [2499] * 3
    assert not os.path.exists(tmp_path / "checkpoint")


def test_bad_tensors_are_refused_and_nothing_is_written(tmp_path):
    with pytest.raises(CheckpointError, match="invalid tensor name"):
        write_tf_checkpoint(tmp_path / "m", {"": np.zeros(2)})
    with pytest.raises(CheckpointError, match="has no TF DataType"):
        write_tf_checkpoint(tmp_path / "m", {"t": np.array(["2020"], "datetime64[D]")})
    assert os.listdir(tmp_path) == []


def test_overwriting_keeps_arrays_read_before_valid(tmp_path):
    write_tf_checkpoint(tmp_path / "m", {"w": np.ones(4, np.float32)})
    before = read_tf_checkpoint(tmp_path / "m")["w"]
    write_tf_checkpoint(tmp_path / "m", {"w": np.zeros(4, np.float32)})
    assert before.tolist() == [1] * 4  # the old file was replaced by rename, not rewritten
    assert read_tf_checkpoint(tmp_path / "m")["w"].tolist() == [0] * 4


_ARRAYS = hnp.arrays(
    dtype=st.sampled_from([np.float32, np.float64, np.int8, np.int64, np.uint16, np.bool_,
                           np.complex64, np.float16]),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))


@settings(max_examples=25, deadline=None, derandomize=True)
@given(tensors=st.dictionaries(st.text(st.characters(codec="utf-8", exclude_characters="\x00"),
                                       min_size=1, max_size=12), _ARRAYS, max_size=5),
       big_endian=st.booleans())
def test_round_trip_property(tmp_path_factory, tensors, big_endian):
    prefix = tmp_path_factory.mktemp("rt") / "m"
    write_tf_checkpoint(prefix, tensors, big_endian=big_endian)
    got = read_tf_checkpoint(prefix)
    assert sorted(got) == sorted(tensors)
    for name, value in tensors.items():
        assert_exact(got[name], value, name)


# --- TensorFlow reads what jslim writes (skipped where no python has TF) ------------------

class SlimNet(nn.Module):
    """The net tools/tf_checkpoint_check.py builds with TF-Slim, in jslim layers."""

    @nn.compact
    def __call__(self, images):
        with layers.variable_scope("Net"):
            net = layers.conv2d(images, 4, [3, 3], scope="Conv2d_1a_3x3",
                                normalizer_fn=layers.batch_norm,
                                normalizer_params={"is_training": False})
            net = layers.flatten(net)
            return layers.fully_connected(net, 5, activation_fn=None, scope="Logits")


def _slim_net_variables():
    images = jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (2, 8, 8, 3)), jnp.float32)
    shapes = jax.eval_shape(SlimNet().init, jax.random.key(0), images)
    rng = np.random.default_rng(1)
    variables = jax.tree_util.tree_map(  # values TF could not guess, positive for variances
        lambda x: jnp.asarray(rng.uniform(0.5, 1.5, x.shape), x.dtype), shapes)
    return images, variables


def _load_tf_npz(path):
    data = np.load(path)
    meta = json.loads(str(data["__meta__"]))
    out = {}
    for name in data:
        if name == "__meta__":
            continue
        value = data[name]
        if name in meta["strings_hex"]:
            value = np.array([bytes.fromhex(s) for s in meta["strings_hex"][name]],
                             object).reshape(value.shape)
        elif name in meta["raw_dtype"]:
            value = value.view(getattr(ml_dtypes, meta["raw_dtype"][name]))
        out[name] = value
    return out


def _tf_readable(name):
    """EVERY_DTYPE but what TF itself cannot read (it cannot byte-swap float8)."""
    return {k: v for k, v in EVERY_DTYPE.items() if name != "be" or "float8" not in k}


@pytest.mark.tf
def test_tensorflow_reads_what_jslim_writes(tmp_path):
    """One TF subprocess (TF imports slowly) checks every file jslim writes:

    - every dtype, little- and big-endian, plain and snappy-compressed index, via
      ``tf.train.load_checkpoint``: bit-identical;
    - a TF fixture read and rewritten by jslim: TF reads the original arrays;
    - an exported jslim net: ``Saver.restore`` into the TF-Slim graph of the same net
      (``global_step`` included) gives the same variables and the same logits.
    """
    python = tf_python()
    if python is None:
        pytest.skip("TensorFlow is not installed (no TF python found): writer-to-TF check skipped")
    jobs = []
    for name, kwargs in {"le": {}, "be": {"big_endian": True},
                         "packed": {"compress_index": True}}.items():
        write_tf_checkpoint(tmp_path / name / "m", _tf_readable(name), **kwargs)
        jobs += ["read", str(tmp_path / name / "m"), str(tmp_path / f"{name}.npz")]
    write_tf_checkpoint(tmp_path / "mixed" / "m", read_tf_checkpoint(fixture("mixed_dtypes_v2")))
    jobs += ["read", str(tmp_path / "mixed" / "m"), str(tmp_path / "mixed.npz")]
    images, variables = _slim_net_variables()
    export_slim_checkpoint(tmp_path / "slim" / "model.ckpt-7", variables, global_step=7)
    jobs += ["restore_slim", str(tmp_path / "slim" / "model.ckpt-7"), str(tmp_path / "slim.npz")]
    run_tf_check(python, *jobs)

    for name in ("le", "be", "packed"):
        got = _load_tf_npz(tmp_path / f"{name}.npz")
        assert sorted(got) == sorted(_tf_readable(name))
        for key, value in _tf_readable(name).items():
            assert_exact(got[key], np.asarray(value), f"{name}: {key}")

    got = _load_tf_npz(tmp_path / "mixed.npz")
    for key, value in expected("mixed_dtypes_v2").items():
        assert_exact(got[key], value, key)

    got = _load_tf_npz(tmp_path / "slim.npz")
    logits = got.pop("__logits__")
    assert got.pop("global_step") == 7
    exported = _names(variables)
    assert sorted(got) == sorted(exported)
    for key, value in exported.items():
        assert_exact(got[key], np.asarray(value), key)
    with jax.default_matmul_precision("highest"):
        jslim_logits = SlimNet().apply(variables, images)
    np.testing.assert_allclose(logits, jslim_logits, rtol=1e-5, atol=1e-5)
    back = import_slim_checkpoint(tmp_path / "slim", variables)  # and back into jslim
    for key, value in _names(back).items():
        assert_exact(np.asarray(value), np.asarray(exported[key]), key)


def _names(variables):
    from jslim.checkpoints import tree_to_tensor_names  # pylint: disable=import-outside-toplevel
    return {name: leaf for tree in variables.values()
            for name, leaf in tree_to_tensor_names(tree).items()}
