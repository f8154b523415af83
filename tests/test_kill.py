"""kill -9 while checkpoints are being written never loses the previous one."""

from __future__ import annotations

import signal

import jax
import jax.numpy as jnp

import tiny_nets
import train_worker
from jslim.train_step import make_train_step
from jslim.training import optimizers, sharding
from jslim.training.checkpointing import Checkpointer



def test_kill_9_during_saves_keeps_a_whole_checkpoint(tmp_path):
    train_dir = str(tmp_path / "run")
    # Saves every step (async), so a save is in flight almost all the time.
    proc = train_worker.spawn("--max_steps", "100000", "--train_dir", train_dir, "--save_interval_steps", "1")
    try:
        for line in proc.stdout:
            if line.strip() == "step 6":
                break
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        train_worker.kill_all([proc])
    assert proc.returncode == -signal.SIGKILL

    step_fn = make_train_step(tiny_nets.build(tiny_nets.WideNet), optimizers.momentum(0.1), moving_average_decay=0.9,
                              mesh=sharding.make_mesh(jax.devices()[:1]))
    template = step_fn.abstract_state(jax.random.PRNGKey(0), jnp.zeros((8, 6, 6, 2)))
    checkpointer = Checkpointer(train_dir)
    latest = checkpointer.latest_step()
    assert latest is not None and latest >= 1
    state, data = checkpointer.restore(template, {"position": 0})
    checkpointer.close()
    assert int(state.step) == latest and data == {"position": latest}

    resumed = train_worker.spawn("--max_steps", str(latest + 2), "--train_dir", train_dir)
    try:
        out, _ = resumed.communicate(timeout=240)
    finally:
        train_worker.kill_all([resumed])
    assert resumed.returncode == 0, out[-3000:]
    assert f"step {latest + 2}" in out and f"step {latest}\n" not in out
