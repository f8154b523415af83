"""jslim's own checkpoints (orbax): save/restore, async, keep-N, and kill -9 safety."""

import os
import signal
import subprocess
import sys
import textwrap

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from checkpoint_testing import ROOT
from jslim.checkpoints import (
    CheckpointManager, CheckpointNotFoundError, restore_checkpoint, save_checkpoint)


def _variables(value):
    return {"params": {"Net": {"w": jnp.full((4, 3), value, jnp.float32)}},
            "batch_stats": {"Net": {"mean": np.full(3, value, np.float32)}}}


def test_keeps_the_last_n_steps_and_restores_any(tmp_path):
    with CheckpointManager(tmp_path, max_to_keep=2) as manager:
        for step in range(1, 5):
            assert manager.save(step, _variables(step))
        manager.wait_until_finished()
        assert manager.all_steps() == [3, 4] and manager.latest_step() == 4
        latest = manager.restore(template=_variables(0))
        assert np.all(np.asarray(latest["params"]["Net"]["w"]) == 4)
        older = manager.restore(3)
        assert np.all(np.asarray(older["batch_stats"]["Net"]["mean"]) == 3)
        with pytest.raises(CheckpointNotFoundError, match=r"no checkpoint step 1; .* \[3, 4\]"):
            manager.restore(1)


def test_save_interval_skips_steps_unless_forced(tmp_path):
    with CheckpointManager(tmp_path, save_interval_steps=10, async_save=False) as manager:
        assert manager.save(0, _variables(0)) and not manager.save(5, _variables(5))
        assert manager.save(7, _variables(7), force=True)
        assert manager.all_steps() == [0, 7]


@flax.struct.dataclass
class State:
    step: jax.Array
    params: dict
    opt_state: optax.OptState


def test_train_state_round_trips_with_a_template(tmp_path):
    params = _variables(1.0)["params"]
    state = State(step=jnp.int32(3), params=params, opt_state=optax.adam(1e-3).init(params))
    save_checkpoint(tmp_path, state, step=3)
    template = jax.eval_shape(lambda: state)
    restored = restore_checkpoint(tmp_path, template)
    assert isinstance(restored, State) and int(restored.step) == 3
    for got, want in zip(jax.tree_util.tree_leaves(restored), jax.tree_util.tree_leaves(state)):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_restore_onto_a_sharded_template(tmp_path):
    mesh = jax.sharding.Mesh(np.array(jax.devices()), ("x",))
    sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("x"))
    tree = {"w": jnp.arange(16.0)}
    save_checkpoint(tmp_path, tree)
    restored = restore_checkpoint(
        tmp_path, {"w": jax.ShapeDtypeStruct((16,), jnp.float32, sharding=sharding)})
    assert restored["w"].sharding == sharding
    np.testing.assert_array_equal(np.asarray(restored["w"]), np.arange(16.0))


def test_empty_directory_has_no_checkpoint(tmp_path):
    with pytest.raises(CheckpointNotFoundError, match="no checkpoint step None"):
        restore_checkpoint(tmp_path)


_CHILD = textwrap.dedent("""
    import asyncio, sys
    import numpy as np
    from jslim.checkpoints.orbax_io import CheckpointManager

    manager = CheckpointManager(sys.argv[1], max_to_keep=5)
    manager.save(1, {"w": np.full(1000, 1.0, np.float32)})
    manager.wait_until_finished()
    # Stall the commit (orbax's rename of the step's temporary directory) so that the
    # kill lands mid-save, after the data is written. Without this hook (another orbax
    # version) the kill still lands during a 64 MB save.
    try:
        from orbax.checkpoint._src.path import async_path

        async def stalled_rename(*args, **kwargs):
            print("committing", flush=True)
            await asyncio.sleep(3600)

        async_path.rename = stalled_rename
    except ImportError:
        pass
    manager.save(2, {"w": np.full(16 << 20, 2.0, np.float32)})
    print("saving", flush=True)
    manager.wait_until_finished()
    print("finished", flush=True)
""")


def test_kill_9_during_a_save_keeps_the_previous_checkpoint(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT, JAX_PLATFORMS="cpu")
    env.pop("XLA_FLAGS", None)
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(tmp_path)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    try:
        for line in child.stdout:
            seen.append(line.strip())
            if line.strip() == "committing" or line.strip() == "finished":
                break
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
    assert "committing" in seen, (seen, child.stderr.read()[-3000:])
    assert child.returncode == -signal.SIGKILL
    with CheckpointManager(tmp_path) as manager:  # a fresh process's view of the directory
        assert manager.all_steps() == [1]
        restored = manager.restore()
    np.testing.assert_array_equal(restored["w"], np.full(1000, 1.0, np.float32))
    leftovers = [name for name in os.listdir(tmp_path) if name not in ("1",)]
    assert all("tmp" in name for name in leftovers), leftovers  # cleaned by the next manager
