"""Runs the TF-Slim layer fixtures of tests/fixtures/layers with jslim.

``tools/make_layer_fixtures.py`` (TF-Slim) wrote, per case, a JSON program of
layer calls, the input, every variable's value (by TF name), TF's output, the
variables after one run of the update ops and TF's total regularization loss.
:func:`run_case` builds the same program from ``jslim.layers``, loads the values
by name (a TF name is the variable's tree path), applies it with ``batch_stats``
and ``losses`` mutable, and returns what to compare.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import pathlib
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jslim import layers
from jslim.scopes import arg_scope

FIXTURE_DIR = pathlib.Path(__file__).parent / "fixtures" / "layers"
TOLERANCE = 1e-5  # float32 max abs error, unless a test states otherwise

# Collections that hold TF variables (``losses`` holds regularization values).
VARIABLE_COLLECTIONS = ("params", "batch_stats", "non_trainable")


def _adjustment_fixed(shape):
    """A deterministic batch-norm ``adjustment`` (same constants as the generator)."""
    channels = shape[-1]
    return (jnp.linspace(0.9, 1.2, channels, dtype=jnp.float32), jnp.linspace(-0.1, 0.2, channels, dtype=jnp.float32))


FUNCTIONS = {
    "relu": jax.nn.relu,
    "relu6": jax.nn.relu6,
    "tanh": jnp.tanh,
    "conv2d": layers.conv2d,
    "fully_connected": layers.fully_connected,
    "max_pool2d": layers.max_pool2d,
    "batch_norm": layers.batch_norm,
    "layer_norm": layers.layer_norm,
    "group_norm": layers.group_norm,
    "instance_norm": layers.instance_norm,
    "adjustment_fixed": _adjustment_fixed,
}

LAYERS = {
    "avg_pool2d": layers.avg_pool2d,
    "avg_pool3d": layers.avg_pool3d,
    "batch_norm": layers.batch_norm,
    "bias_add": layers.bias_add,
    "conv1d": layers.conv1d,
    "conv2d": layers.conv2d,
    "conv2d_in_plane": layers.conv2d_in_plane,
    "conv2d_transpose": layers.conv2d_transpose,
    "conv3d": layers.conv3d,
    "conv3d_transpose": layers.conv3d_transpose,
    "convolution": layers.convolution,
    "flatten": layers.flatten,
    "fully_connected": layers.fully_connected,
    "gdn": layers.gdn,
    "images_to_sequence": layers.images_to_sequence,
    "poincare_normalize": layers.poincare_normalize,
    "scale_gradient": layers.scale_gradient,
    "sequence_to_images": layers.sequence_to_images,
    "group_norm": layers.group_norm,
    "instance_norm": layers.instance_norm,
    "l2_normalize": layers.l2_normalize,
    "layer_norm": layers.layer_norm,
    "linear": layers.linear,
    "max_pool2d": layers.max_pool2d,
    "max_pool3d": layers.max_pool3d,
    "maxout": layers.maxout,
    "one_hot_encoding": layers.one_hot_encoding,
    "relu": layers.relu,
    "relu6": layers.relu6,
    "repeat": layers.repeat,
    "separable_conv2d": layers.separable_conv2d,
    "softmax": layers.softmax,
    "spatial_softmax": layers.spatial_softmax,
    "stack": layers.stack,
    "unit_norm": layers.unit_norm,
}


def regularizer(kind: str, *scales: float):
    """The jslim regularizer of a ``{"$reg": [kind, *scales]}`` entry."""
    if kind == "l1":
        return layers.l1_regularizer(*scales)
    if kind == "l2":
        return layers.l2_regularizer(*scales)
    if kind == "l1_l2":
        return layers.l1_l2_regularizer(*scales)
    if kind == "sum_l1_l2":
        return layers.sum_regularizer([layers.l1_regularizer(scales[0]), layers.l2_regularizer(scales[1])])
    raise ValueError(kind)


def decode(value: Any) -> Any:
    """JSON arguments -> jslim arguments (``$fn``, ``$reg``, ``$array``)."""
    if isinstance(value, dict):
        if "$fn" in value:
            return None if value["$fn"] is None else FUNCTIONS[value["$fn"]]
        if "$reg" in value:
            return regularizer(*value["$reg"])
        if "$array" in value:
            return np.asarray(value["$array"], np.float32)
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


class Program(nn.Module):
    """A fixture's JSON program of ``jslim.layers`` calls, optionally under arg scopes."""

    spec: str

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        spec = json.loads(self.spec)
        with contextlib.ExitStack() as stack:
            for scope in spec.get("arg_scope", []):
                ops = [FUNCTIONS[o] for o in scope["ops"]]
                stack.enter_context(arg_scope(ops, **decode(scope["kwargs"])))
            for call in spec["calls"]:
                x = LAYERS[call["op"]](x, *decode(call["args"]), **decode(call["kwargs"]))
        return x


@dataclasses.dataclass
class Case:
    """One fixture case: its spec and TF's arrays."""

    name: str
    spec: dict[str, Any]
    input: np.ndarray
    output: np.ndarray
    values: dict[str, np.ndarray]
    after: dict[str, np.ndarray]
    trainable: set[str]
    reg_loss: float
    cotangent: np.ndarray | None = None
    grad_input: np.ndarray | None = None
    grads: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)

    @property
    def model(self) -> Program:
        return Program(json.dumps(self.spec))

    @property
    def ops(self) -> set[str]:
        return {c["op"] for c in self.spec["calls"]}


@functools.cache
def load(kind: str) -> dict[str, Case]:
    """Every case of ``<kind>.npz``, by name."""
    with np.load(FIXTURE_DIR / f"{kind}.npz") as data:
        arrays = {k: data[k] for k in data.files}
    names = sorted({k.split("/", 1)[0] for k in arrays})
    cases = {}
    for name in names:
        prefix = f"{name}/"
        values = {k[len(prefix) + 4:]: v for k, v in arrays.items() if k.startswith(prefix + "var/")}
        after = {k[len(prefix) + 6:]: v for k, v in arrays.items() if k.startswith(prefix + "after/")}
        cases[name] = Case(
            name=name,
            spec=json.loads(str(arrays[prefix + "spec"])),
            input=arrays[prefix + "input"],
            output=arrays[prefix + "output"],
            values=values,
            after=after,
            trainable=set(json.loads(str(arrays[prefix + "trainable"]))),
            reg_loss=float(arrays[prefix + "reg_loss"]),
            cotangent=arrays.get(prefix + "cotangent"),
            grad_input=arrays.get(prefix + "grad_input"),
            grads={k[len(prefix) + 5:]: v for k, v in arrays.items() if k.startswith(prefix + "grad/")},
        )
    return cases


def case_names(kind: str) -> list[str]:
    return sorted(load(kind))


def flat(tree: dict[str, Any]) -> dict[str, Any]:
    """``{tf_name: leaf}`` of one collection."""
    return {"/".join(str(k.key) for k in path): leaf for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]}


def variable_names(variables: dict[str, Any]) -> dict[str, str]:
    """``{tf_name: collection}`` over the variable collections."""
    return {name: col for col in VARIABLE_COLLECTIONS for name in flat(variables.get(col, {}))}


def fill(template: dict[str, Any], values: dict[str, np.ndarray]) -> dict[str, Any]:
    """The template's variable collections with every leaf replaced by ``values[tf_name]``."""

    def value(path, leaf):
        name = "/".join(str(k.key) for k in path)
        v = np.asarray(values[name])
        assert v.shape == tuple(leaf.shape), (name, v.shape, leaf.shape)
        return jnp.asarray(v, leaf.dtype)

    return {c: jax.tree_util.tree_map_with_path(value, t) for c, t in template.items() if c in VARIABLE_COLLECTIONS}


@dataclasses.dataclass
class Result:
    names: dict[str, str]
    shapes: dict[str, tuple[int, ...]]
    output: np.ndarray
    after: dict[str, np.ndarray]
    reg_loss: float
    grad_input: np.ndarray | None = None
    grads: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)


def run_case(case: Case) -> Result:
    """Builds ``case`` with jslim, loads TF's values and applies it once (jitted)."""
    model = case.model
    x = jnp.asarray(case.input)
    template = jax.eval_shape(model.init, jax.random.key(0), x)
    names = variable_names(template)
    shapes = {n: tuple(leaf.shape) for c in VARIABLE_COLLECTIONS for n, leaf in flat(template.get(c, {})).items()}
    if set(names) != set(case.values):
        return Result(names, shapes, np.zeros(0), {}, 0.0)
    variables = fill(template, case.values)
    params = variables.pop("params", {})

    # Every variable is an argument: closed-over constants would be folded by XLA,
    # which rounds e.g. the pow of zero-debiasing differently from a real step.
    def forward(params, others, x):
        return model.apply({**others, "params": params}, x, mutable=["batch_stats", "losses"])

    def run(params, others, x):
        if case.cotangent is None:
            return forward(params, others, x), None
        (out, mutated), vjp = jax.vjp(lambda p, x: forward(p, others, x), params, x)
        zeros = jax.tree_util.tree_map(jnp.zeros_like, mutated)
        return (out, mutated), vjp((jnp.asarray(case.cotangent), zeros))

    (out, mutated), grads = jax.jit(run)(params, variables, x)
    after = {n: np.asarray(v) for n, v in flat(mutated.get("batch_stats", {})).items()}
    reg = sum(float(v) for v in flat(mutated.get("losses", {})).values())
    result = Result(names, shapes, np.asarray(out), after, reg)
    if grads is not None:  # d sum(output * cotangent) / d(params, x), as the generator's tf.gradients
        result.grads = {n: np.asarray(g) for n, g in flat(grads[0]).items()}
        result.grad_input = np.asarray(grads[1])
    return result


def check_case(kind: str, name: str, tolerance: float = TOLERANCE) -> float:
    """Asserts jslim == TF-Slim for one case; returns the worst abs error."""
    case = load(kind)[name]
    result = run_case(case)
    theirs = {n: tuple(v.shape) for n, v in case.values.items()}
    assert sorted(set(theirs) - set(result.names)) == [], "variables TF-Slim has and jslim lacks"
    assert sorted(set(result.names) - set(theirs)) == [], "variables jslim has and TF-Slim lacks"
    assert {n: result.shapes[n] for n in theirs} == theirs, "variable shapes differ"
    trainable = {n for n, c in result.names.items() if c == "params"}
    assert trainable == case.trainable, "trainable variables (params) differ from TF's"
    assert result.output.shape == case.output.shape
    assert result.output.dtype == case.output.dtype, (result.output.dtype, case.output.dtype)
    errors = {"output": float(np.max(np.abs(result.output - case.output), initial=0.0))}
    for n, ref in case.after.items():
        if n in result.after:
            errors[n] = float(np.max(np.abs(result.after[n] - ref), initial=0.0))
        else:  # a variable jslim never updates must not have moved in TF
            errors[n] = float(np.max(np.abs(case.values[n] - ref), initial=0.0))
    errors["reg_loss"] = abs(result.reg_loss - case.reg_loss)
    if case.cotangent is not None:
        assert sorted(result.grads) == sorted(case.grads), "gradients of different variables"
        refs = {"grad_input": case.grad_input, **{f"grad/{n}": g for n, g in case.grads.items()}}
        ours = {"grad_input": result.grad_input, **{f"grad/{n}": g for n, g in result.grads.items()}}
        # Gradients sum over every output element: tolerance relative to their scale.
        errors.update({k: float(np.max(np.abs(ours[k] - ref), initial=0.0)) / max(1.0, float(np.max(np.abs(ref))))
                       for k, ref in refs.items()})
    bad = {k: v for k, v in errors.items() if not v <= tolerance}
    assert not bad, f"{name}: max abs error above {tolerance}: {bad}"
    return max(errors.values())
