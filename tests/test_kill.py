"""kill -9 while checkpoints are being written never loses the previous one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import jax
import jax.numpy as jnp

import tiny_nets
from jslim.train_step import make_train_step
from jslim.training import optimizers, sharding
from jslim.training.checkpointing import Checkpointer

WORKER = os.path.join(os.path.dirname(__file__), "train_worker.py")


def _worker(*args):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(__file__), os.environ.get("PYTHONPATH", "")]))
    env.pop("XLA_FLAGS", None)
    return subprocess.Popen([sys.executable, WORKER, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def test_kill_9_during_saves_keeps_a_whole_checkpoint(tmp_path):
    train_dir = str(tmp_path / "run")
    # Saves every step (async), so a save is in flight almost all the time.
    proc = _worker("--max_steps", "100000", "--train_dir", train_dir, "--save_interval_steps", "1")
    for line in proc.stdout:
        if line.strip() == "step 6":
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
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

    resumed = _worker("--max_steps", str(latest + 2), "--train_dir", train_dir)
    out, _ = resumed.communicate(timeout=240)
    assert resumed.returncode == 0, out[-3000:]
    assert f"step {latest + 2}" in out and f"step {latest}\n" not in out
