"""TF1 optimizers and learning-rate schedules against TF references.

Fixtures: tests/fixtures/training/{optimizers,schedules}.npz, written by
tools/make_train_fixtures.py under TensorFlow 2.21. Tolerance: rtol 2e-6, atol 1e-6
after 4 steps (float32 rounding of a few operations in a different order).
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jslim.training import learning_rates, optimizers

FIXTURES = pathlib.Path(__file__).parent / "fixtures" / "training"
OPT = np.load(FIXTURES / "optimizers.npz")
VARS = ("a", "b")
STEPS = 4

CASES = {
    "adadelta": lambda lr: optimizers.configure_optimizer("adadelta", lr),
    "adagrad": lambda lr: optimizers.configure_optimizer("adagrad", lr),
    "adam": lambda lr: optimizers.configure_optimizer("adam", lr),
    "adam_eps1e-8": lambda lr: optimizers.configure_optimizer("adam", lr, opt_epsilon=1e-8),
    "ftrl": lambda lr: optimizers.configure_optimizer("ftrl", lr),
    "ftrl_l1_l2_power": lambda lr: optimizers.configure_optimizer(
        "ftrl", lr, ftrl_learning_rate_power=-0.75, ftrl_l1=0.01, ftrl_l2=0.1),
    "momentum": lambda lr: optimizers.configure_optimizer("momentum", lr),
    "rmsprop": lambda lr: optimizers.configure_optimizer("rmsprop", lr),
    "sgd": lambda lr: optimizers.configure_optimizer("sgd", lr),
}


def test_every_slim_optimizer_has_a_case():
    assert {c.split("_")[0] for c in CASES} == set(optimizers.OPTIMIZERS)


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_tf1(case):
    schedule = learning_rates.exponential_decay(0.1, 2, 0.5, staircase=True)
    tx = CASES[case](schedule)
    params = {k: jnp.asarray(OPT[f"init/{k}"]) for k in VARS}
    state = tx.init(params)
    update = jax.jit(tx.update)
    for t in range(STEPS):
        np.testing.assert_allclose(schedule(t), OPT[f"lr/{case}/{t}"], rtol=1e-7)
        grads = {k: jnp.asarray(OPT[f"grads/{k}/{t}"]) for k in VARS}
        updates, state = update(grads, state, params)
        params = optax.apply_updates(params, updates)
        for k in VARS:
            np.testing.assert_allclose(params[k], OPT[f"{case}/{k}/{t}"], rtol=2e-6, atol=1e-6,
                                       err_msg=f"{case} {k} step {t}")


def test_unknown_optimizer_is_named():
    with pytest.raises(ValueError, match=r"adamw.*not recognized.*sgd"):
        optimizers.configure_optimizer("adamw", 0.1)


def test_tf1_adam_first_step_by_hand():
    # t=1: m = 0.1 g, v = 0.001 g^2, lr_t = lr * sqrt(0.001) / 0.1 -> step = lr * g / (|g| + eps / sqrt(.001)).
    tx = optimizers.adam(0.5, epsilon=1.0)
    g = jnp.array([2.0])
    updates, _ = tx.update(g, tx.init(g))
    expected = -0.5 * 0.1 * 2.0 * np.sqrt(0.001) / 0.1 / (np.sqrt(0.001) * 2.0 + 1.0)
    np.testing.assert_allclose(updates, [expected], rtol=2e-5)  # float32 1 - 0.999


SCHED = np.load(FIXTURES / "schedules.npz")


def test_schedules_match_tf():
    steps = np.arange(41)
    exp = learning_rates.exponential_decay(0.01, 7, 0.94, staircase=True)
    poly = learning_rates.polynomial_decay(0.01, 30, 0.0001, power=1.0)
    np.testing.assert_allclose(jax.vmap(exp)(steps), SCHED["exponential"], rtol=1e-6)
    np.testing.assert_allclose(jax.vmap(poly)(steps), SCHED["polynomial"], rtol=1e-6, atol=1e-9)


def test_configure_learning_rate_like_slim():
    flags = learning_rates.LearningRateFlags(learning_rate=0.1, num_epochs_per_decay=2.0,
                                             learning_rate_decay_factor=0.5)
    # 100 samples / batch 10 = 10 steps an epoch: decays every 20 steps.
    schedule = learning_rates.configure_learning_rate(flags, 100, 10)
    np.testing.assert_allclose([schedule(s) for s in (0, 19, 20, 45)], [0.1, 0.1, 0.05, 0.025], rtol=1e-6)
    fixed = learning_rates.configure_learning_rate(
        learning_rates.LearningRateFlags(learning_rate=0.3, learning_rate_decay_type="fixed"), 100, 10)
    assert float(fixed(1000)) == pytest.approx(0.3)
    warm = learning_rates.configure_learning_rate(
        learning_rates.LearningRateFlags(learning_rate=0.1, learning_rate_decay_type="fixed", warmup_epochs=1), 100, 10)
    np.testing.assert_allclose([warm(0), warm(5), warm(50)], [0.0, 0.05, 0.1], rtol=1e-6)
    with pytest.raises(ValueError, match="cosine"):
        learning_rates.configure_learning_rate(
            learning_rates.LearningRateFlags(learning_rate_decay_type="cosine"), 100, 10)
