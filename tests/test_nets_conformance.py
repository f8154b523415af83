"""Conformance over the whole registry (dm-haiku style): every registered net builds
and applies at a small size, jit equals eager, every parameter receives a gradient
in training mode, and a second call does not recompile. A coverage test fails when
a registered net has no golden comparison.

Weights are drawn with numpy (no compiled ``init``) so each net compiles only its
forward pass and its gradient.
"""

import functools
import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import golden
import jslim.nets

# Smallest convenient input per net (default 64); fully-connected heads need the
# published size, VALID stems a few more pixels.
SMALL_SIZE = {
    "alexnet_v2": 224,
    "overfeat": 231,
    "vgg_a": 224,
    "vgg_16": 224,
    "vgg_19": 224,
    "cifarnet": 32,
    "lenet": 28,
    "inception_v1": 224,  # its fixed 7x7 AvgPool_0a needs the published size
    "inception_v3": 139,  # the aux head needs >= 107
    "inception_v4": 107,  # the aux head's 5x5 pool needs >= 107
    "inception_resnet_v2": 107,
    # NASNet/PNASNet ImageNet aux heads (training only) pool 5x5 VALID on the 1/16 map.
    "nasnet_mobile": 96,
    "nasnet_large": 96,
    "pnasnet_mobile": 96,
    "pnasnet_large": 96,
}
NUM_CLASSES = 7
# Compile time dominates on CPU; XLA's backend optimizations do not change results
# beyond rounding.
FAST_COMPILE = {"xla_backend_optimization_level": 0}


def test_every_registered_net_has_a_golden():
    goldens = {p.stem for p in golden.GOLDEN_DIR.glob("*.npz")}
    extra = sorted(set(jslim.nets.list_networks()) - goldens)
    assert not extra, f"registered nets without a golden comparison: {extra}"


def _random_variables(template):
    def draw(path, leaf):
        name = "/".join(str(p.key) for p in path)
        return jnp.asarray(golden.golden_value(name, leaf.shape))

    return {
        col: jax.tree_util.tree_map_with_path(draw, tree)
        for col, tree in template.items()
        if col not in golden.SKIP_COLLECTIONS
    }


@pytest.mark.parametrize("net", jslim.nets.list_networks())
def test_conformance(net):
    spec = jslim.nets.get_spec(net)
    size = SMALL_SIZE.get(net, 64)
    model = jslim.nets.build(net, num_classes=NUM_CLASSES)
    images = np.random.default_rng(1).uniform(-1, 1, (2, size, size, spec.input_channels)).astype(np.float32)
    # Training mode creates every variable (NASNet builds its aux head only then).
    template = jax.eval_shape(functools.partial(model.init, is_training=True), jax.random.key(0), images)
    variables = _random_variables(template)

    apply = jax.jit(lambda v, x: model.apply(v, x, is_training=False), compiler_options=FAST_COMPILE)
    logits, end_points = apply(variables, images)
    assert logits.shape == (2, NUM_CLASSES)
    assert np.all(np.isfinite(logits))

    eager_logits, eager_end_points = model.apply(variables, images, is_training=False)
    assert sorted(eager_end_points) == sorted(end_points)
    scale = max(1.0, float(np.max(np.abs(eager_logits))))
    np.testing.assert_allclose(logits, eager_logits, rtol=0, atol=1e-4 * scale)

    apply(variables, images + 0.5)
    assert apply._cache_size() == 1, "a second call with the same shapes recompiled"

    # current_step=0: NASNet's drop path is off at step 0, so no branch is dropped
    # for both examples of this tiny batch (which would leave it without gradient).
    step = {"current_step": 0} if "current_step" in inspect.signature(type(model).__call__).parameters else {}

    def loss(params):
        (logits, eps), _ = model.apply(
            {**variables, "params": params}, images, is_training=True,
            mutable=["batch_stats", "losses"], rngs={"dropout": jax.random.key(2)}, **step,
        )
        aux = eps.get("AuxLogits")
        return jnp.mean(logits**2) + (jnp.mean(aux**2) if aux is not None else 0.0)

    grads = jax.jit(jax.grad(loss), compiler_options=FAST_COMPILE)(variables["params"])
    flat = jax.tree_util.tree_flatten_with_path(grads)[0]
    dead = ["/".join(str(p.key) for p in path) for path, g in flat if not np.any(np.asarray(g) != 0)]
    assert not dead, f"parameters without a gradient: {dead}"
