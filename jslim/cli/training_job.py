"""The job behind ``jslim train``: flags -> data, net, optimizer, step, state, loop, eval.

Each piece is a small function of the resolved flags (``jslim.cli.train.TRAIN_FLAGS``), in
the order of slim's ``train_image_classifier.main``.
"""

from __future__ import annotations

import dataclasses
import os
import time
import types
from typing import Any

import jax
import jax.numpy as jnp

from jslim import nets
from jslim.cli import builders
from jslim.cli.flags import FlagError, split_list
from jslim.data import Batches, Source
from jslim.evaluation import evaluate_once
from jslim.train_step import TrainState, TrainStep, make_train_step
from jslim.training import sharding
from jslim.training.checkpointing import Checkpointer, SavePolicy
from jslim.training.learning_rates import LearningRateFlags, configure_learning_rate
from jslim.training.loop import restore_or_init, train_loop
from jslim.training.optimizers import OptimizerFlags, configure_optimizer
from jslim.training.reporting import ProgressReporter, TensorBoardReporter
from jslim.training.warm_start import warm_start_variables

__all__ = ["gradient_multipliers", "train_image_classifier"]


def _fields(cls: type, flags: types.SimpleNamespace) -> Any:
    return cls(**{f.name: getattr(flags, f.name) for f in dataclasses.fields(cls)})


def gradient_multipliers(text: str | None) -> dict[str, float]:
    """``--gradient_multipliers 'LeNet/fc4=10,LeNet/fc3/biases=2'`` as a dict."""
    out = {}
    for item in split_list(text):
        scope, _, factor = item.partition("=")
        try:
            out[scope.strip()] = float(factor)
        except ValueError:
            raise FlagError(f"--gradient_multipliers: {item!r} is not scope=factor.") from None
    return out


def _train_step(flags: types.SimpleNamespace, net: Any, data: Source) -> TrainStep:
    mesh = sharding.make_mesh()
    if flags.batch_size % mesh.devices.size:
        raise FlagError(f"--batch_size {flags.batch_size} is not a multiple of the {mesh.devices.size} devices "
                        "the step runs on.")
    schedule = configure_learning_rate(_fields(LearningRateFlags, flags), data.num_samples, flags.batch_size)
    optimizer = configure_optimizer(flags.optimizer, schedule, _fields(OptimizerFlags, flags))
    return make_train_step(
        net, optimizer, label_smoothing=flags.label_smoothing, labels_offset=flags.labels_offset,
        trainable_scopes=split_list(flags.trainable_scopes) or None,
        gradient_multipliers=gradient_multipliers(flags.gradient_multipliers),
        clip_gradient_norm=flags.clip_gradient_norm, moving_average_decay=flags.moving_average_decay,
        learning_rate_fn=schedule, mesh=mesh, fsdp=flags.fsdp)


def _initial_state(flags: types.SimpleNamespace, train_step: TrainStep, example: jax.Array) -> TrainState:
    """A fresh state, warm-started from ``--checkpoint_path`` if given (slim's ``_get_init_fn``)."""
    state = train_step.init(jax.random.PRNGKey(flags.seed), example)
    if not flags.checkpoint_path:
        return state
    builders.say(f"Fine-tuning from {flags.checkpoint_path}")
    variables = warm_start_variables(flags.checkpoint_path, state.variables(),
                                     exclude_scopes=split_list(flags.checkpoint_exclude_scopes),
                                     ignore_missing_vars=flags.ignore_missing_vars)
    return train_step.create_state(variables, state.rng)


def _reporters(flags: types.SimpleNamespace) -> list[Any]:
    if jax.process_index() != 0:
        return []
    return [ProgressReporter(flags.batch_size, flags.max_number_of_steps, flags.log_every_n_steps),
            TensorBoardReporter(flags.train_dir, flags.batch_size, flags.save_summaries_secs)]


def _evaluate(flags: types.SimpleNamespace, net: Any, spec: nets.NetSpec, state: TrainState,
              image_size: int) -> dict[str, float]:
    data = builders.dataset(flags, flags.eval_split_name)
    eval_step, make_batches = builders.evaluation(flags, net, spec, data, flags.eval_batch_size, image_size)
    writer = builders.summary_writer(os.path.join(flags.train_dir, "eval"))
    try:
        return evaluate_once(eval_step, state, make_batches(), summary_writer=writer)
    finally:
        if writer is not None:
            writer.close()


def train_image_classifier(flags: types.SimpleNamespace) -> dict[str, Any]:
    """Trains (resuming from ``--train_dir`` if it has a checkpoint), then evaluates.

    Returns:
      ``{'step', 'stop_reason', 'loss', 'eval' ({metric: value} or None), 'seconds'}``.

    Raises:
      FlagError: a flag names something that does not exist.
      jslim.training.loop.NonFiniteLossError: the loss became inf or NaN.
    """
    started = time.monotonic()
    builders.initialize_distributed(flags)
    data = builders.dataset(flags, flags.dataset_split_name)
    net, spec = builders.model(flags, data, flags.weight_decay)
    image_size = flags.train_image_size or spec.default_image_size
    batches = Batches(data, flags.batch_size, preprocess=builders.preprocess(flags, spec, is_training=True),
                      image_size=image_size, seed=flags.seed, channels=spec.input_channels)
    train_step = _train_step(flags, net, data)
    example = jnp.zeros((flags.batch_size, image_size, image_size, spec.input_channels), jnp.float32)
    checkpointer = Checkpointer(flags.train_dir, SavePolicy(
        save_interval_steps=flags.save_interval_steps, save_interval_secs=flags.save_interval_secs,
        max_to_keep=flags.max_checkpoints_to_keep))
    try:
        state, restored = restore_or_init(checkpointer, lambda: _initial_state(flags, train_step, example), batches,
                                          train_step.abstract_state(jax.random.PRNGKey(flags.seed), example))
        if restored:
            note = " (ignoring --checkpoint_path)" if flags.checkpoint_path else ""
            builders.say(f"Resuming {flags.train_dir} from step {int(jax.device_get(state.step))}{note}")
        result = train_loop(train_step, state, batches, max_steps=flags.max_number_of_steps,
                            checkpointer=checkpointer, reporters=_reporters(flags))
    finally:
        checkpointer.close()
    summary = {"step": result.step, "stop_reason": result.stop_reason, "eval": None,
               "loss": result.metrics.get("total_loss")}
    if result.stop_reason == "signal":
        builders.say(f"Stopped by a signal at step {result.step}; checkpoint saved in {flags.train_dir}.")
    elif flags.eval_split_name:
        summary["eval"] = _evaluate(flags, net, spec, result.state, image_size)
        builders.say(f"eval/{flags.eval_split_name} at step {result.step}: "
                     + ", ".join(f"{k} = {v:.4f}" for k, v in summary["eval"].items()))
    summary["seconds"] = time.monotonic() - started
    builders.say(f"Done in {summary['seconds']:.1f}s: {flags.train_dir} step {result.step} ({result.stop_reason}).")
    return summary
