"""Flags -> the pieces both ``jslim train`` and ``jslim eval`` need (data, net, preprocessing,
output), each failing with a :class:`~jslim.cli.flags.FlagError` that names the flag."""

from __future__ import annotations

import itertools
import os
import types
from collections.abc import Callable, Iterable
from typing import Any

import jax

from jslim import nets
from jslim.cli.flags import FlagError
from jslim.data import Batches, Source, get_dataset, get_preprocessing
from jslim.data.preprocessing import Preprocess
from jslim.train_step import EvalStep, make_eval_step
from jslim.training import sharding

__all__ = ["dataset", "evaluation", "initialize_distributed", "model", "preprocess", "say", "summary_writer"]


def say(*parts: Any) -> None:
    """Prints on process 0 only."""
    if jax.process_index() == 0:
        print(*parts, flush=True)


def initialize_distributed(flags: types.SimpleNamespace) -> None:
    """``jax.distributed.initialize`` when ``--coordinator_address`` is given."""
    if flags.coordinator_address:
        jax.distributed.initialize(flags.coordinator_address, num_processes=flags.num_processes,
                                   process_id=flags.process_id)


def dataset(flags: types.SimpleNamespace, split: str) -> Source:
    """Split ``split`` of ``--dataset_name``."""
    try:
        return get_dataset(flags.dataset_name, split, flags.dataset_dir)
    except ValueError as err:
        raise FlagError(f"--dataset_name/--dataset_split_name: {err}") from None


def model(flags: types.SimpleNamespace, data: Source, weight_decay: float = 0.0) -> tuple[Any, nets.NetSpec]:
    """``--model_name`` with ``data.num_classes - --labels_offset`` classes, and its registry record."""
    try:
        spec = nets.get_spec(flags.model_name)
    except ValueError as err:
        raise FlagError(f"--model_name: {err}") from None
    net = nets.build(flags.model_name, num_classes=data.num_classes - flags.labels_offset, weight_decay=weight_decay)
    return net, spec


def preprocess(flags: types.SimpleNamespace, spec: nets.NetSpec, is_training: bool = False) -> Preprocess:
    """``--preprocessing_name`` (default: the net's), checked for training use."""
    name = flags.preprocessing_name or spec.preprocessing
    try:
        fn = get_preprocessing(name)
    except ValueError as err:
        raise FlagError(f"--preprocessing_name: {err}") from None
    if is_training and not getattr(fn, "has_training", True):
        raise FlagError(
            f"--preprocessing_name: slim's training-time {name!r} preprocessing (random crops, flips, "
            f"colour) is not in jslim yet; pass --preprocessing_name lenet (crop/pad, scale to [-1, 1]) "
            f"to train {flags.model_name} without augmentation."
        )
    return fn


def summary_writer(logdir: str | os.PathLike) -> Any:
    """A tensorboardX ``SummaryWriter`` on process 0 (None on the others)."""
    if jax.process_index() != 0:
        return None
    from tensorboardX import SummaryWriter  # pylint: disable=import-outside-toplevel

    return SummaryWriter(os.fspath(logdir))


def evaluation(flags: types.SimpleNamespace, net: Any, spec: nets.NetSpec, data: Source, batch_size: int,
               image_size: int, max_num_batches: int | None = None) -> tuple[EvalStep, Callable[[], Iterable]]:
    """The eval step on every device and a function giving a fresh pass over ``data``.

    The batch size is rounded up to a multiple of the devices; the padding rows are masked,
    so each example counts once whatever the size.
    """
    mesh = sharding.make_mesh()
    eval_step = make_eval_step(net, labels_offset=flags.labels_offset,
                               use_moving_averages=flags.moving_average_decay is not None, mesh=mesh,
                               fsdp=flags.fsdp)
    transform = preprocess(flags, spec)

    def make_batches() -> Iterable:
        batches = Batches(data, sharding.divisible_batch_size(batch_size, mesh), preprocess=transform,
                          image_size=image_size, is_training=False, shuffle=False, num_epochs=1, pad_final=True,
                          channels=spec.input_channels)
        return itertools.islice(batches, max_num_batches) if max_num_batches else batches

    return eval_step, make_batches
