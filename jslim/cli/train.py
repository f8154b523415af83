"""``jslim train``: slim's ``train_image_classifier.py`` on JAX.

With no flags it runs the embedded main job: LeNet on scikit-learn's ``digits`` (28x28),
checkpoints to ``./runs/lenet_digits``, then evaluates on the test split and prints the
accuracy. The defaults below are chosen for that job (slim's own defaults, for
ImageNet-sized runs, are noted where they differ); every flag keeps slim's name.

Programmatic use: ``jslim.cli.training_job.train_image_classifier(resolve_flags(...))``
(see ``examples/train_with_config.py``).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import types
from typing import Any

from jslim.checkpoints import CheckpointError
from jslim.cli.flags import (
    RETIRED, Flag, FlagError, add_command, dataset_and_model_flags, flags_from_dataclass, resolve)
from jslim.training.learning_rates import DECAY_TYPES, LearningRateFlags
from jslim.training.loop import NonFiniteLossError
from jslim.training.optimizers import OPTIMIZERS, OptimizerFlags

__all__ = ["DEFAULT_TRAIN_DIR", "TRAIN_FLAGS", "add_parser", "resolve_flags", "run"]

DEFAULT_TRAIN_DIR = "./runs/lenet_digits"

_OPTIMIZER_HELP = {
    "adadelta_rho": "the decay rate for adadelta",
    "adagrad_initial_accumulator_value": "starting value for the AdaGrad accumulators",
    "adam_beta1": "the exponential decay rate for the 1st moment estimates",
    "adam_beta2": "the exponential decay rate for the 2nd moment estimates",
    "opt_epsilon": "epsilon term for adadelta, adam and rmsprop (slim: 1.0)",
    "ftrl_learning_rate_power": "the FTRL learning rate power",
    "ftrl_initial_accumulator_value": "starting value for the FTRL accumulators",
    "ftrl_l1": "the FTRL l1 regularization strength",
    "ftrl_l2": "the FTRL l2 regularization strength",
    "momentum": "the momentum for the MomentumOptimizer",
    "rmsprop_momentum": "momentum for rmsprop",
    "rmsprop_decay": "decay term for rmsprop",
}


def _with(flags: tuple[Flag, ...], **changes: dict[str, Any]) -> tuple[Flag, ...]:
    """``flags`` with some records' fields changed: ``_with(flags, name={'default': 1})``."""
    return tuple(dataclasses.replace(f, **changes[f.name]) if f.name in changes else f for f in flags)


TRAIN_FLAGS: tuple[Flag, ...] = (
    Flag("train_dir", DEFAULT_TRAIN_DIR, "where checkpoints and event files are written"),
    Flag("log_every_n_steps", 10, "how often to log"),
    Flag("save_summaries_secs", 5.0, "how often to write TensorBoard summaries (slim: 600)"),
    Flag("save_interval_secs", 60.0, "how often to save a checkpoint, in seconds (slim: 600)"),
    Flag("save_interval_steps", 0, "also save every this many steps (0: off)"),
    Flag("max_checkpoints_to_keep", 5, "how many checkpoints to keep"),
    Flag("weight_decay", 0.0001, "the weight decay on the model weights (slim: 0.00004)"),
    Flag("optimizer", "adam", "the optimizer (slim: rmsprop)", choices=tuple(sorted(OPTIMIZERS))),
    *_with(flags_from_dataclass(OptimizerFlags, _OPTIMIZER_HELP), opt_epsilon={"default": 1e-8}),
    *_with(
        flags_from_dataclass(LearningRateFlags, {
            "learning_rate": "initial learning rate (slim: 0.01)",
            "learning_rate_decay_type": "how the learning rate decays",
            "learning_rate_decay_factor": "learning rate decay factor",
            "num_epochs_per_decay": "epochs after which the learning rate decays",
            "end_learning_rate": "the end learning rate of a polynomial decay",
            "warmup_epochs": "linearly increase the learning rate over this many epochs",
        }),
        learning_rate={"default": 0.001},
        learning_rate_decay_type={"choices": DECAY_TYPES}),
    Flag("label_smoothing", 0.0, "the amount of label smoothing"),
    Flag("moving_average_decay", None, "keep an EMA of the weights with this decay (None: off)", type=float),
    Flag("clip_gradient_norm", 0.0, "clip each variable's gradient to this norm (0: off)"),
    Flag("gradient_multipliers", None, "comma-separated scope=factor gradient multipliers", type=str),
    *dataset_and_model_flags("train", 32, "train_image_size"),
    Flag("max_number_of_steps", 600, "the maximum number of training steps (slim: None)", type=int),
    Flag("checkpoint_path", None, "a slim checkpoint or jslim run to fine-tune from", type=str),
    Flag("checkpoint_exclude_scopes", None, "comma-separated scopes not restored from --checkpoint_path", type=str),
    Flag("trainable_scopes", None, "comma-separated scopes to train (default: all)", type=str),
    Flag("ignore_missing_vars", False, "when restoring, ignore variables the checkpoint lacks"),
    Flag("seed", 0, "the seed of weights, dropout and data order"),
    Flag("fsdp", False, "shard weights and optimizer state over the devices too (FSDP)"),
    Flag("eval_split_name", "test", "evaluate this split after training ('' to skip)"),
    Flag("eval_batch_size", 100, "the evaluation batch size"),
    Flag("coordinator_address", None, "host:port of process 0, for multi-process runs", type=str),
    Flag("num_processes", 1, "the number of processes of a multi-process run"),
    Flag("process_id", 0, "this process's index in a multi-process run"),
    *RETIRED,
)


def resolve_flags(args: argparse.Namespace | None = None, **overrides: Any) -> types.SimpleNamespace:
    """The train flags: defaults < ``--config`` < ``args`` < ``overrides``."""
    return resolve(args, TRAIN_FLAGS, **overrides)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Adds ``jslim train``."""
    return add_command(subparsers, "train", TRAIN_FLAGS, run, description=__doc__.splitlines()[0],
                       help="train a net (default: LeNet on digits)")


def run(args: argparse.Namespace) -> int:
    """``jslim train``: returns the exit code."""
    try:
        flags = resolve_flags(args)
        from jslim.cli import training_job  # pylint: disable=import-outside-toplevel

        training_job.train_image_classifier(flags)
        return 0
    except (FlagError, CheckpointError) as err:
        print(f"jslim train: error: {err}", file=sys.stderr)
        return 2
    except NonFiniteLossError as err:
        print(f"jslim train: error: {err}", file=sys.stderr)
        return 1
