"""Helpers for comparing jslim nets with the TF-Slim goldens in tests/fixtures/goldens.

Each ``<net>.npz`` was made by research/slim's ``nets_factory`` under TF 2.21 with
every variable set to :func:`golden_value` (the rule of ../shared/goldens/README.md).
``fixtures/goldens_extra`` holds the same format for the nets outside the factory
(written by tools/make_extra_goldens.py, which imports :func:`golden_value` from
here under TensorFlow's venv: keep this module importable without JAX).
"""

from __future__ import annotations

import json
import math
import pathlib
import zlib
from typing import Any

import numpy as np

GOLDEN_DIR = pathlib.Path(__file__).parent / "fixtures" / "goldens"
EXTRA_GOLDEN_DIR = pathlib.Path(__file__).parent / "fixtures" / "goldens_extra"
SKIP_COLLECTIONS = ("losses", "intermediates")


def golden_value(name: str, shape) -> np.ndarray:
    """The deterministic weight of TF variable ``name`` (README's rule, literally)."""
    shape = tuple(int(s) for s in shape)
    rng = np.random.default_rng(zlib.crc32(name.encode("utf-8")))
    last = name.split("/")[-1]
    if last == "moving_variance":
        v = 1.5 + rng.random(size=shape)
    elif last == "gamma":
        v = 0.5 + rng.random(size=shape)
    elif last in ("beta", "moving_mean", "biases"):
        v = 0.1 * rng.standard_normal(size=shape)
    elif last == "depthwise_weights":
        v = rng.standard_normal(size=shape) * math.sqrt(2.0 / (shape[0] * shape[1]))
    elif len(shape) >= 2:
        v = rng.standard_normal(size=shape) * math.sqrt(2.0 / math.prod(shape[:-1]))
    else:
        v = 0.1 * rng.standard_normal(size=shape)
    return np.asarray(v, dtype=np.float64).astype(np.float32)


def load(net: str, directory: pathlib.Path = GOLDEN_DIR) -> dict[str, Any]:
    """The golden of ``net`` (``directory/<net>.npz``) with JSON fields decoded."""
    with np.load(directory / f"{net}.npz") as data:
        g = {k: data[k] for k in data.files}
    g["config"] = json.loads(str(g["config"]))
    g["var_shapes"] = [tuple(s) for s in json.loads(str(g["var_shapes"]))]
    g["var_names"] = [str(n) for n in g["var_names"]]
    g["endpoint_names"] = [str(n) for n in g["endpoint_names"]]
    g["endpoint_shapes"] = [tuple(s) for s in json.loads(str(g["endpoint_shapes"]))]
    return g


def golden_input(g: dict[str, Any]) -> np.ndarray:
    return np.random.default_rng(0).uniform(-1, 1, g["config"]["input_shape"]).astype(np.float32)


def flat_names(variables: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """``{tf_name: shape}`` over every slim collection of a variables tree."""
    import jax  # pylint: disable=import-outside-toplevel

    out = {}
    for col, tree in variables.items():
        if col in SKIP_COLLECTIONS:
            continue
        for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
            out["/".join(str(p.key) for p in path)] = tuple(leaf.shape)
    return out


def golden_variables(g: dict[str, Any], template: dict[str, Any]) -> dict[str, Any]:
    """The template's tree filled with golden values, via the slim importer."""
    from jslim.checkpoints import import_slim_checkpoint  # pylint: disable=import-outside-toplevel

    tensors = {n: golden_value(n, s) for n, s in zip(g["var_names"], g["var_shapes"])}
    return import_slim_checkpoint(tensors, template)


def tolerance(ref: np.ndarray) -> float:
    """The issue's bound: 1e-4 * max(1, max|ref|)."""
    return 1e-4 * max(1.0, float(np.max(np.abs(ref))) if ref.size else 1.0)


def compare_end_point(g: dict[str, Any], i: int, value: np.ndarray) -> float:
    """Worst |diff| / tolerance for end point ``i`` (<= 1 passes); asserts the shape."""
    name = g["endpoint_names"][i]
    value = np.asarray(value, np.float64)
    assert tuple(value.shape) == g["endpoint_shapes"][i], (name, value.shape, g["endpoint_shapes"][i])
    if f"ep{i}_full" in g:
        ref = g[f"ep{i}_full"]
        return float(np.max(np.abs(value - ref))) / tolerance(ref) if ref.size else 0.0
    flat = value.reshape(-1)
    worst = 0.0
    first = g[f"ep{i}_first64"]
    worst = max(worst, float(np.max(np.abs(flat[: first.size] - first))) / tolerance(first))
    if f"ep{i}_sample_idx" in g:
        sample = g[f"ep{i}_sample"]
        worst = max(worst, float(np.max(np.abs(flat[g[f"ep{i}_sample_idx"]] - sample))) / tolerance(sample))
    mean, std = g[f"ep{i}_stats"]
    scale = max(1.0, abs(mean), std)
    worst = max(worst, abs(flat.mean() - mean) / (1e-4 * scale), abs(flat.std() - std) / (1e-4 * scale))
    return worst


def check_against_golden(
    net: str, model: Any, g: dict[str, Any], compiler_options: dict[str, Any] | None = None
) -> dict[str, float]:
    """Compares ``model`` with golden ``g``: the issue's whole check, for one net.

    Asserts the variables are exactly the golden's names and shapes; loads the
    golden weights through the slim importer; applies the model (jitted with
    ``compiler_options``, ``is_training=False``) to the golden input; asserts its
    first output and every stored end point are within :func:`tolerance`. Prints
    and returns ``{output: worst |diff| / tolerance}``.
    """
    import jax  # pylint: disable=import-outside-toplevel

    images = golden_input(g)
    template = jax.eval_shape(model.init, jax.random.key(0), images)
    ours = flat_names(template)
    theirs = dict(zip(g["var_names"], g["var_shapes"]))
    assert sorted(set(theirs) - set(ours)) == [], "variables TF-Slim has and jslim lacks"
    assert sorted(set(ours) - set(theirs)) == [], "variables jslim has and TF-Slim lacks"
    wrong = {n: (ours[n], theirs[n]) for n in theirs if ours[n] != theirs[n]}
    assert not wrong, f"shape mismatches (jslim, tf): {wrong}"

    variables = golden_variables(g, template)
    apply = jax.jit(lambda v, x: model.apply(v, x, is_training=False), compiler_options=compiler_options)
    logits, end_points = apply(variables, images)
    logits = np.asarray(logits)
    assert logits.shape == g["logits"].shape
    errors = {"logits": float(np.max(np.abs(logits - g["logits"]))) / tolerance(g["logits"])}
    for i, name in enumerate(g["endpoint_names"]):
        assert name in end_points, f"end point {name!r} missing; jslim has {sorted(end_points)}"
        errors[name] = compare_end_point(g, i, end_points[name])
    print(f"{net}: worst |diff|/tolerance = {max(errors.values()):.3g} ({errors})")
    bad = {k: v for k, v in errors.items() if not v <= 1.0}
    assert not bad, f"outside 1e-4*max(1,max|ref|) (ratio to tolerance): {bad}"
    return errors
