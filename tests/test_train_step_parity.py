"""One slim train step against TF-Slim's ``create_train_op``.

Fixture: tests/fixtures/training/train_op.npz (tools/make_train_fixtures.py, TF 2.21 +
tf_slim 1.1.0): a conv + batch_norm(scale) + fully_connected net with l2 weight decay 0.01,
softmax cross entropy, batch-norm updates from UPDATE_OPS, trained from identical weights.
Tolerance: rtol 1e-5, atol 1e-6 on every variable (weights, beta/gamma, moving statistics,
EMA shadows) and on the losses, after 1 (SGD), 2 (Momentum) and 3 (Momentum with gradient
multipliers, per-variable clipping, label smoothing and an EMA) steps.
"""

from __future__ import annotations

import pathlib

import jax
import numpy as np
import pytest

import tiny_nets
from jslim.checkpoints import import_slim_checkpoint
from jslim.checkpoints.naming import tree_to_tensor_names
from jslim.train_step import make_train_step
from jslim.training import optimizers, sharding

FIXTURE = np.load(pathlib.Path(__file__).parent / "fixtures" / "training" / "train_op.npz")
RTOL, ATOL = 1e-5, 1e-6


CASES = {
    # case: (optimizer, steps, make_train_step kwargs)
    "sgd": (optimizers.sgd(0.1), 1, {}),
    "momentum": (optimizers.momentum(0.1, 0.9), 2, {}),
    "momentum_clip_mult_ema": (optimizers.momentum(0.1, 0.9), 3, dict(
        clip_gradient_norm=0.5, gradient_multipliers={"TinyNet/logits/weights": 3.0}, label_smoothing=0.1,
        moving_average_decay=0.99)),
}


def _flat(variables):
    return {name: np.asarray(v) for collection in ("params", "batch_stats")
            for name, v in tree_to_tensor_names(variables[collection]).items()}


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_create_train_op(case):
    optimizer, steps, kwargs = CASES[case]
    model = tiny_nets.build(tiny_nets.TinyNet)
    mesh = sharding.make_mesh(jax.devices()[:1])
    train_step = make_train_step(model, optimizer, mesh=mesh, **kwargs)
    images = FIXTURE["images"]
    start = {k[len("init/"):]: FIXTURE[k] for k in FIXTURE.files if k.startswith("init/")}
    template = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), images))
    state = train_step.create_state(import_slim_checkpoint(start, template), jax.random.PRNGKey(0))
    batch = {"images": images, "labels": FIXTURE["labels"].astype(np.int32)}
    for t in range(steps):
        state, metrics = train_step(state, batch)
        np.testing.assert_allclose(metrics["total_loss"], FIXTURE[f"{case}/{t}/loss"], rtol=RTOL)
        got = _flat(state.variables())
        assert sorted(got) == sorted(start)
        for name, value in got.items():
            np.testing.assert_allclose(value, FIXTURE[f"{case}/{t}/{name}"], rtol=RTOL, atol=ATOL,
                                       err_msg=f"{case} step {t}: {name}")
        if "moving_average_decay" in kwargs:
            for name, value in tree_to_tensor_names(state.ema_params).items():
                np.testing.assert_allclose(value, FIXTURE[f"{case}/ema/{t}/{name}"], rtol=RTOL, atol=ATOL,
                                           err_msg=f"{case} EMA step {t}: {name}")
