"""Helpers shared by the checkpoint tests: fixture paths, expected arrays, a TF runner."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "checkpoints")
TF_CHECK = os.path.join(ROOT, "tools", "tf_checkpoint_check.py")

# fixture dir -> the path (relative to it) to open: every TF-written checkpoint.
CHECKPOINTS = {
    "lenet_v1": "model.ckpt",
    "lenet_v1_snappy": "model.ckpt",
    "v1_sharded": "model.ckpt-?????-of-00002",
    "lenet_v2": "model.ckpt",
    "sharded_v2": "model.ckpt",
    "partitioned_v2": "model.ckpt",
    "mixed_dtypes_v2": "model.ckpt",
    "ema_momentum_v2": "model.ckpt",
}


def fixture(name: str, *parts: str) -> str:
    """Path of fixture directory ``name`` (or a file in it)."""
    return os.path.join(FIXTURES, name, *parts)


def copy_fixture(name: str, directory: str) -> str:
    """Copies fixture ``name`` into ``directory`` (to damage it); returns the copy's path."""
    target = os.path.join(directory, name)
    shutil.copytree(fixture(name), target)
    for file in os.listdir(target):
        os.chmod(os.path.join(target, file), 0o644)
    return target


def expected(name: str) -> dict[str, np.ndarray]:
    """The exact arrays TF wrote into fixture ``name``: strings as object arrays of bytes
    (from the hex in ``__meta__``), bfloat16 from its raw bits."""
    data = np.load(fixture(name, "expected.npz"))
    meta = json.loads(str(data["__meta__"]))
    strings = meta.get("strings_hex") or meta.get("strings_json", {})
    out = {}
    for key in data:
        if key == "__meta__" or key.endswith("__float32"):
            continue
        value = data[key]
        if key in strings:
            value = np.array([bytes.fromhex(s) for s in strings[key]], object)
            value = value.reshape(data[key].shape)
        elif key.endswith("bfloat16"):
            import ml_dtypes  # pylint: disable=import-outside-toplevel
            value = value.view(ml_dtypes.bfloat16)
        out[key] = value
    return out


def assert_exact(got: np.ndarray, want: np.ndarray, name: str = "") -> None:
    """Same dtype, shape and bits (NaNs included)."""
    got = np.asarray(got)
    assert got.dtype == want.dtype, (name, got.dtype, want.dtype)
    assert got.shape == want.shape, (name, got.shape, want.shape)
    if want.dtype == object:
        assert got.tolist() == want.tolist(), name
    else:
        assert got.tobytes() == want.tobytes(), name


def tf_python() -> str | None:
    """A python that imports TensorFlow: this one, $JSLIM_TF_PYTHON, or /opt/tfvenv."""
    if importlib.util.find_spec("tensorflow") is not None:
        return sys.executable
    for candidate in (os.environ.get("JSLIM_TF_PYTHON"), "/opt/tfvenv/bin/python"):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


def run_tf_check(python: str, *args: str) -> None:
    """Runs tools/tf_checkpoint_check.py under ``python`` (TF); raises on failure."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    env.pop("XLA_FLAGS", None)
    result = subprocess.run([python, TF_CHECK, *args], capture_output=True, text=True,
                            env=env, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
