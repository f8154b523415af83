"""``jslim eval``: slim's ``eval_image_classifier.py`` on JAX.

With no flags it evaluates the latest checkpoint of the main job (``./runs/lenet_digits``)
on the digits test split and prints Accuracy and Recall_5. ``--checkpoint_path`` takes a
run directory (its latest checkpoint), a run's ``checkpoints`` directory, or one step
directory. With ``--eval_interval_secs``/``--max_number_of_evaluations``/``--timeout`` it
becomes slim's ``evaluation_loop``: it waits for each new checkpoint of the run.
"""

from __future__ import annotations

import argparse
import os
import sys
import types
from typing import Any

from jslim.checkpoints import CheckpointError
from jslim.cli.flags import RETIRED, Flag, FlagError, add_command, dataset_and_model_flags, resolve
from jslim.cli import builders
from jslim.cli.train import DEFAULT_TRAIN_DIR
from jslim.evaluation import evaluate_once, evaluation_loop, state_from_checkpoint
from jslim.training import checkpointing

__all__ = ["EVAL_FLAGS", "add_parser", "eval_image_classifier", "run"]

EVAL_FLAGS: tuple[Flag, ...] = (
    Flag("checkpoint_path", DEFAULT_TRAIN_DIR, "a jslim run, its checkpoints directory or a step directory"),
    Flag("eval_dir", None, "where event files go (default: <checkpoint_path>/eval)", type=str),
    Flag("max_num_batches", None, "evaluate at most this many batches (default: all the data)", type=int),
    Flag("moving_average_decay", None, "if set, evaluate the moving averages of the weights", type=float),
    Flag("eval_interval_secs", None, "evaluate each new checkpoint, at most this often (a loop)", type=float),
    Flag("max_number_of_evaluations", None, "stop the loop after this many evaluations", type=int),
    Flag("timeout", None, "stop the loop after this many seconds without a new checkpoint", type=float),
    Flag("fsdp", False, "the state is sharded over the devices (FSDP)"),
    *dataset_and_model_flags("test", 100, "eval_image_size"),
    *RETIRED,
)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Adds ``jslim eval``."""
    return add_command(subparsers, "eval", EVAL_FLAGS, run, description=__doc__.splitlines()[0],
                       help="evaluate a run's checkpoints (default: the main job's)")


def resolve_flags(args: argparse.Namespace | None = None, **overrides: Any) -> types.SimpleNamespace:
    """The eval flags: defaults < ``--config`` < ``args`` < ``overrides``."""
    return resolve(args, EVAL_FLAGS, **overrides)


def run(args: argparse.Namespace) -> int:
    """``jslim eval``: returns the exit code (1 when there is nothing to evaluate)."""
    try:
        results = eval_image_classifier(resolve_flags(args))
    except (FlagError, CheckpointError) as err:
        print(f"jslim eval: error: {err}", file=sys.stderr)
        return 2
    return 0 if results else 1


def _loops(flags: types.SimpleNamespace) -> bool:
    return any(v is not None for v in (flags.eval_interval_secs, flags.max_number_of_evaluations, flags.timeout))


def eval_image_classifier(flags: types.SimpleNamespace) -> list[tuple[int, dict[str, float]]]:
    """Evaluates the latest checkpoint (or each new one, in loop mode) and prints the metrics.

    Returns:
      ``[(step, {metric: value}), ...]``.

    Raises:
      FlagError: no checkpoint at ``--checkpoint_path`` (once mode), or a bad flag.
    """
    dataset = builders.dataset(flags, flags.dataset_split_name)
    model, spec = builders.model(flags, dataset)
    size = flags.eval_image_size or spec.default_image_size
    eval_step, make_batches = builders.evaluation(flags, model, spec, dataset, flags.batch_size, size,
                                                  flags.max_num_batches)
    writer = builders.summary_writer(flags.eval_dir or os.path.join(flags.checkpoint_path, "eval"))

    def show(step: int, results: dict[str, float]) -> None:
        builders.say(f"eval/{flags.dataset_split_name} {flags.checkpoint_path} step {step}: "
                         + ", ".join(f"{k} = {v:.4f}" for k, v in results.items()))

    try:
        if _loops(flags):
            return evaluation_loop(eval_step, make_batches, flags.checkpoint_path,
                                   eval_interval_secs=flags.eval_interval_secs or 0.0, timeout=flags.timeout,
                                   max_number_of_evaluations=flags.max_number_of_evaluations,
                                   summary_writer=writer, on_result=show)
        step = checkpointing.latest_step(flags.checkpoint_path)
        if step is None:
            raise FlagError(f"--checkpoint_path: no jslim checkpoint at {flags.checkpoint_path!r} "
                            "(train one first: jslim train).")
        results = evaluate_once(eval_step, state_from_checkpoint(flags.checkpoint_path, step), make_batches(),
                                summary_writer=writer)
        show(step, results)
        return [(step, results)]
    finally:
        if writer is not None:
            writer.close()
