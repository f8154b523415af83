"""evaluate_once / evaluation_loop / checkpoints_iterator over a run's checkpoints."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import tiny_nets
from jslim.data import Batches
from jslim.evaluation import checkpoints_iterator, evaluate_once, evaluation_loop, state_from_checkpoint
from jslim.train_step import make_eval_step, make_train_step
from jslim.training import optimizers, sharding
from jslim.training.checkpointing import Checkpointer, SavePolicy
from jslim.training.loop import train_loop

MESH = sharding.make_mesh(jax.devices()[:1])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A 3-step WideNet run with checkpoints at steps 2 and 3 (EMA kept)."""
    train_dir = tmp_path_factory.mktemp("run")
    model = tiny_nets.build(tiny_nets.WideNet)
    step = make_train_step(model, optimizers.momentum(0.1), moving_average_decay=0.5, mesh=MESH)
    batches = Batches(tiny_nets.random_dataset(32), 8, preprocess=tiny_nets.scale, image_size=6, process_index=0,
                      process_count=1)
    checkpointer = Checkpointer(train_dir, SavePolicy(save_interval_steps=2, save_interval_secs=0))
    result = train_loop(step, step.init(jax.random.PRNGKey(0), jnp.zeros((8, 6, 6, 2))), batches, max_steps=3,
                        checkpointer=checkpointer)
    checkpointer.close()
    return model, train_dir, jax.device_get(result.state)


def _eval_batches(n=13):
    return Batches(tiny_nets.random_dataset(n, seed=9), 4, preprocess=tiny_nets.scale, image_size=6, is_training=False,
                   shuffle=False, num_epochs=1, pad_final=True, process_index=0, process_count=1)


def _accuracy(model, variables, n=13):
    data = tiny_nets.random_dataset(n, seed=9)
    logits, _ = model.apply(variables, tiny_nets.scale(data.images, 6, 6))
    return float(np.mean(np.argmax(logits, -1) == data.labels))


@pytest.mark.parametrize("use_ema", [False, True])
def test_evaluate_once_counts_each_example_once(run, use_ema):
    model, train_dir, state = run
    eval_step = make_eval_step(model, use_moving_averages=use_ema, mesh=MESH)
    restored = state_from_checkpoint(train_dir)
    assert int(restored.step) == 3
    results = evaluate_once(eval_step, restored, _eval_batches())  # 13 examples: batches of 4, 4, 4, 1 + 3 padding
    assert results["Accuracy"] == pytest.approx(_accuracy(model, state.variables(use_ema)))
    assert set(results) == {"Accuracy", "Recall_5"}


def test_evaluation_loop_takes_each_new_checkpoint(run):
    model, train_dir, _ = run
    eval_step = make_eval_step(model, mesh=MESH)
    done = evaluation_loop(eval_step, _eval_batches, train_dir, eval_interval_secs=0, timeout=0.2)
    assert [step for step, _ in done] == [3]  # the latest, then no new one until the timeout
    assert evaluation_loop(eval_step, _eval_batches, train_dir, max_number_of_evaluations=1)[0][0] == 3


def test_checkpoints_iterator_waits_and_times_out(tmp_path, monkeypatch):
    steps = iter([None, None, 5, 5, 5, 7] + [7] * 100)
    now = [0.0]
    monkeypatch.setattr("jslim.training.checkpointing.latest_step", lambda path: next(steps))

    def sleep(seconds):
        now[0] += seconds

    got = list(checkpoints_iterator(tmp_path, min_interval_secs=1.0, timeout=5.0, sleep=sleep, clock=lambda: now[0]))
    assert got == [5, 7]
    assert now[0] >= 5.0  # gave up only after the timeout
