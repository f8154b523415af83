"""Scale: the step on 8 (fake CPU) devices, data parallel and FSDP, equals one device; two
processes with ``jax.distributed`` (gloo collectives) equal one process and stop together.

Tolerance: rtol 1e-5, atol 1e-6 on every state leaf after 3 steps (the gradient and
batch-norm reductions sum in another order across devices).
"""

from __future__ import annotations

import os
import signal
import socket

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import tiny_nets
import train_worker
from jslim.data import Batches
from jslim.train_step import make_train_step
from jslim.training import optimizers, sharding

RTOL, ATOL = 1e-5, 1e-6


def _train(mesh, fsdp=False, steps=3):
    step = make_train_step(tiny_nets.build(tiny_nets.WideNet), optimizers.momentum(0.1), moving_average_decay=0.9,
                           mesh=mesh, fsdp=fsdp)
    state = step.init(jax.random.PRNGKey(0), jnp.zeros((16, 6, 6, 2)))
    batches = Batches(tiny_nets.random_dataset(64), 16, preprocess=tiny_nets.scale, image_size=6,
                      process_index=0, process_count=1)
    for _ in range(steps):
        state, _ = step(state, sharding.global_batch(next(batches), mesh))
    return state


@pytest.fixture(scope="module")
def one_device():
    return jax.device_get(_train(sharding.make_mesh(jax.devices()[:1])))


@pytest.mark.parametrize("fsdp", [False, True], ids=["data_parallel", "fsdp"])
def test_eight_devices_match_one(one_device, fsdp):
    assert len(jax.devices()) == 8
    state = _train(sharding.make_mesh(jax.devices()), fsdp=fsdp)
    fc2 = state.params["WideNet"]["fc2"]["weights"]
    slot = jax.tree.leaves(state.opt_state)[2]
    if fsdp:  # [288, 64]: split along its first axis over the 8 devices, its momentum slot too
        assert fc2.sharding.spec == jax.sharding.PartitionSpec("data")
        assert fc2.addressable_shards[0].data.shape == (36, 64)
        assert any(leaf.sharding.spec == fc2.sharding.spec for leaf in jax.tree.leaves(state.opt_state))
    else:
        assert fc2.sharding.is_fully_replicated and slot.sharding.is_fully_replicated
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL), jax.device_get(state),
                 one_device)


def test_fsdp_spec_picks_the_largest_divisible_axis():
    spec = sharding.fsdp_spec
    assert spec((5, 5, 32, 64), 8, min_size=1) == jax.sharding.PartitionSpec(None, None, None, "data")
    assert spec((3136, 1024), 8) == jax.sharding.PartitionSpec("data")
    assert spec((7, 9), 8, min_size=1) == jax.sharding.PartitionSpec()
    assert spec((64,), 8) == jax.sharding.PartitionSpec()  # below min_size


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_two_processes_match_one(tmp_path):
    """Each process (2 CPU devices) reads its 4 rows of every batch of 8; same state as 1 process."""
    port = _free_port()
    common = ["--max_steps", "3", "--train_dir", str(tmp_path / "run"), "--devices", "2",
              "--coordinator", f"localhost:{port}", "--num_processes", "2"]
    out_flag = ["--out", str(tmp_path / "multi.npz")]
    procs = [train_worker.spawn(*common, "--process_id", str(i), *(out_flag if i == 0 else [])) for i in range(2)]
    single = train_worker.spawn("--max_steps", "3", "--out", str(tmp_path / "single.npz"))
    try:
        for proc in (*procs, single):
            out, _ = proc.communicate(timeout=240)
            assert proc.returncode == 0, out[-3000:]
    finally:
        train_worker.kill_all([*procs, single])
    multi, one = np.load(tmp_path / "multi.npz"), np.load(tmp_path / "single.npz")
    assert multi.files == one.files
    for key in one.files:
        np.testing.assert_allclose(multi[key], one[key], rtol=RTOL, atol=ATOL, err_msg=key)
    assert sorted(os.listdir(tmp_path / "run" / "checkpoints")) == ["1", "2", "3"]


def test_a_signal_to_one_process_stops_both(tmp_path):
    """SIGTERM to process 1 only: both processes save the same step (a collective) and exit."""
    port = _free_port()
    common = ["--max_steps", "100000", "--train_dir", str(tmp_path / "run"), "--save_interval_steps", "0",
              "--coordinator", f"localhost:{port}", "--num_processes", "2"]
    procs = [train_worker.spawn(*common, "--process_id", str(i)) for i in range(2)]
    try:
        for line in procs[1].stdout:
            if line.strip() == "step 3":
                break
        procs[1].send_signal(signal.SIGTERM)
        outs = [proc.communicate(timeout=240)[0] for proc in procs]
    finally:
        train_worker.kill_all(procs)
    assert [proc.returncode for proc in procs] == [0, 0], outs[0][-2000:] + outs[1][-2000:]
    saved = sorted(int(s) for s in os.listdir(tmp_path / "run" / "checkpoints"))
    assert len(saved) == 1 and saved[0] >= 3
