"""The training loop: exact resume, SIGTERM/SIGINT, non-finite losses, save policy, warm start."""

from __future__ import annotations

import signal

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import tiny_nets
from jslim.checkpoints import export_slim_checkpoint
from jslim.checkpoints.naming import tree_to_tensor_names
from jslim.data import Batches
from jslim.train_step import make_train_step
from jslim.training import optimizers, sharding
from jslim.training.checkpointing import Checkpointer, SavePolicy
from jslim.training.loop import NonFiniteLossError, restore_or_init, train_loop
from jslim.training.warm_start import warm_start_variables

MESH = sharding.make_mesh(jax.devices()[:1])
KEY, EXAMPLE = jax.random.PRNGKey(0), jnp.zeros((8, 6, 6, 2))
EVERY_STEP = SavePolicy(save_interval_steps=1, save_interval_secs=0, max_to_keep=2)


@pytest.fixture(scope="module")
def train_step():
    """WideNet (batch norm, dropout) with momentum and an EMA: every kind of state."""
    return make_train_step(tiny_nets.build(tiny_nets.WideNet), optimizers.momentum(0.1), moving_average_decay=0.9,
                           mesh=MESH)


def _batches():
    return Batches(tiny_nets.random_dataset(20), 8, preprocess=tiny_nets.scale, image_size=6, seed=3)


def _run(train_step, max_steps, train_dir=None, policy=EVERY_STEP, batches=None, reporters=()):
    batches = batches or _batches()
    checkpointer = Checkpointer(train_dir, policy) if train_dir else None
    state, restored = restore_or_init(checkpointer, lambda: train_step.init(KEY, EXAMPLE), batches,
                                      train_step.abstract_state(KEY, EXAMPLE))
    try:
        return train_loop(train_step, state, batches, max_steps=max_steps, checkpointer=checkpointer,
                          reporters=reporters), restored
    finally:
        if checkpointer is not None:
            checkpointer.close()


def _assert_same_state(a, b):
    jax.tree.map(np.testing.assert_array_equal, jax.device_get(a), jax.device_get(b))


def test_resume_is_exact(train_step, tmp_path):
    # 20 examples / batch 8 = 2 batches an epoch: 7 steps cross three reshuffles.
    uninterrupted, _ = _run(train_step, 7)
    first, restored = _run(train_step, 3, tmp_path)
    assert not restored and first.step == 3
    resumed, restored = _run(train_step, 7, tmp_path)
    assert restored and resumed.step == 7
    _assert_same_state(resumed.state, uninterrupted.state)
    assert Checkpointer(tmp_path, EVERY_STEP).latest_step() == 7
    assert sorted(int(p.name) for p in (tmp_path / "checkpoints").iterdir()) == [6, 7]  # keep 2


class _RaiseSignal:
    def __init__(self, signum, at):
        self.signum, self.at = signum, at

    def report(self, step, metrics, now):
        del metrics, now
        if step == self.at:
            signal.raise_signal(self.signum)

    def close(self):
        pass


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_saves_and_stops(train_step, tmp_path, signum):
    before = signal.getsignal(signum)
    result, _ = _run(train_step, 50, tmp_path, SavePolicy(save_interval_secs=0), reporters=[_RaiseSignal(signum, 2)])
    assert result.stop_reason == "signal" and result.step < 50
    assert Checkpointer(tmp_path).latest_step() == result.step
    assert signal.getsignal(signum) is before


class _PoisonAt:
    """Batches whose images turn NaN from position ``at`` on."""

    def __init__(self, batches, at):
        self.batches, self.at = batches, at

    def __next__(self):
        position = self.batches.get_state()["position"]
        batch = next(self.batches)
        if position >= self.at:
            batch["images"] = np.full_like(batch["images"], np.nan)
        return batch

    def get_state(self):
        return self.batches.get_state()

    def set_state(self, state):
        self.batches.set_state(state)


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(train_step, tmp_path):
    with pytest.raises(NonFiniteLossError, match=r"inf or nan at step 3.*last good checkpoint is step 2") as err:
        _run(train_step, 10, tmp_path, batches=_PoisonAt(_batches(), 2))
    assert err.value.step == 3 and err.value.last_checkpoint == 2
    assert sorted(int(p.name) for p in (tmp_path / "checkpoints").iterdir()) == [1, 2]


def test_save_policy_by_steps_and_seconds(tmp_path):
    now = [0.0]
    by_steps = Checkpointer(tmp_path / "a", SavePolicy(save_interval_steps=5, save_interval_secs=0), clock=lambda: now[0])
    assert [s for s in range(1, 16) if by_steps.due(s)] == [5, 10, 15]
    by_time = Checkpointer(tmp_path / "b", SavePolicy(save_interval_secs=10), clock=lambda: now[0])
    assert not by_time.due(1)
    now[0] = 10.0
    assert by_time.due(2)


def test_warm_start_from_jslim_run_and_slim_checkpoint(train_step, tmp_path):
    trained, _ = _run(train_step, 2, tmp_path / "run")
    fresh = train_step.init(jax.random.PRNGKey(7), EXAMPLE)
    want = tree_to_tensor_names(jax.device_get(trained.state.variables())["params"])
    prefix = export_slim_checkpoint(str(tmp_path / "slim" / "model.ckpt"), jax.device_get(trained.state.variables()))
    for source in (tmp_path / "run", prefix):
        variables = warm_start_variables(source, fresh.variables(), exclude_scopes=["WideNet/logits"])
        got = tree_to_tensor_names(variables["params"])
        np.testing.assert_array_equal(got["WideNet/fc2/weights"], want["WideNet/fc2/weights"])
        np.testing.assert_array_equal(got["WideNet/logits/weights"],
                                      fresh.params["WideNet"]["logits"]["weights"])  # excluded: fresh init
        np.testing.assert_array_equal(
            variables["batch_stats"]["WideNet"]["conv1"]["BatchNorm"]["moving_mean"],
            trained.state.batch_stats["WideNet"]["conv1"]["BatchNorm"]["moving_mean"])
    state = train_step.create_state(variables, fresh.rng)
    assert int(state.step) == 0
    np.testing.assert_array_equal(state.ema_params["WideNet"]["fc2"]["weights"], want["WideNet/fc2/weights"])
