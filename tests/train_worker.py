"""A small training process for the subprocess tests (kill -9, multi-process).

    python tests/train_worker.py --max_steps 6 --out final.npz [--train_dir DIR]
        [--coordinator localhost:PORT --num_processes 2 --process_id I] [--fsdp]

Trains ``tiny_nets.WideNet`` (batch norm, dropout, EMA, momentum) on random data with a
global batch of 8, every process reading its own rows; prints ``step N`` after each step;
process 0 writes the final state's leaves (gathered) to ``--out``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def spawn(*args: str) -> subprocess.Popen:
    """Starts this script with ``args`` (stdout and stderr merged, text)."""
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([here, os.environ.get("PYTHONPATH", "")]))
    env.pop("XLA_FLAGS", None)
    return subprocess.Popen([sys.executable, os.path.abspath(__file__), *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max_steps", type=int, required=True)
    parser.add_argument("--out", default=None)
    parser.add_argument("--train_dir", default=None)
    parser.add_argument("--save_interval_steps", type=int, default=1)
    parser.add_argument("--coordinator", default=None)
    parser.add_argument("--num_processes", type=int, default=1)
    parser.add_argument("--process_id", type=int, default=0)
    parser.add_argument("--devices", type=int, default=1, help="CPU devices of this process")
    parser.add_argument("--fsdp", action="store_true")
    return parser.parse_args()


def kill_all(procs: list[subprocess.Popen]) -> None:
    """SIGKILLs those of ``procs`` still running (a failed test leaves no worker behind)."""
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def main() -> None:
    args = _parse()
    os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={args.devices}"
    os.environ["JAX_PLATFORMS"] = "cpu"
    import jax  # pylint: disable=import-outside-toplevel

    jax.config.update("jax_default_matmul_precision", "highest")
    if args.coordinator:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(args.coordinator, num_processes=args.num_processes, process_id=args.process_id)
    import jax.numpy as jnp  # pylint: disable=import-outside-toplevel
    import numpy as np  # pylint: disable=import-outside-toplevel
    from jax.experimental import multihost_utils  # pylint: disable=import-outside-toplevel

    import tiny_nets  # pylint: disable=import-outside-toplevel
    from jslim.data import Batches  # pylint: disable=import-outside-toplevel
    from jslim.train_step import make_train_step  # pylint: disable=import-outside-toplevel
    from jslim.training import optimizers, sharding  # pylint: disable=import-outside-toplevel
    from jslim.training.checkpointing import Checkpointer, SavePolicy  # pylint: disable=import-outside-toplevel
    from jslim.training.loop import restore_or_init, train_loop  # pylint: disable=import-outside-toplevel

    class Printer:
        def report(self, step, metrics, now):
            del metrics, now
            print(f"step {step}", flush=True)

        def close(self):
            pass

    batches = Batches(tiny_nets.random_dataset(64), 8, preprocess=tiny_nets.scale, image_size=6, seed=0)
    train_step = make_train_step(tiny_nets.build(tiny_nets.WideNet), optimizers.momentum(0.1),
                                 moving_average_decay=0.9, mesh=sharding.make_mesh(), fsdp=args.fsdp)
    key, example = jax.random.PRNGKey(0), jnp.zeros((8, 6, 6, 2))
    checkpointer = None
    if args.train_dir:
        checkpointer = Checkpointer(args.train_dir, SavePolicy(save_interval_steps=args.save_interval_steps,
                                                               save_interval_secs=0, max_to_keep=3))
    state, _ = restore_or_init(checkpointer, lambda: train_step.init(key, example), batches,
                               train_step.abstract_state(key, example))
    result = train_loop(train_step, state, batches, max_steps=args.max_steps, checkpointer=checkpointer,
                        reporters=[Printer()])
    if checkpointer is not None:
        checkpointer.close()
    leaves = [np.asarray(multihost_utils.process_allgather(x, tiled=True)) for x in jax.tree.leaves(result.state)]
    if args.out and jax.process_index() == 0:
        np.savez(args.out, *leaves)
    if args.coordinator:
        jax.distributed.shutdown()


if __name__ == "__main__":
    main()
