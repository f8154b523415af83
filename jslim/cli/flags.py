"""Flags as data: one record per flag, slim's names, one resolution rule.

A command declares its flags as :class:`Flag` records. The parser gets every flag with
no default (``argparse.SUPPRESS``), so after parsing the namespace holds exactly what was
typed; :func:`resolve` then layers ``defaults < --config file < command line`` and
checks types and choices, raising :class:`FlagError` naming the flag. slim flags that
mean nothing here (``--num_clones``, ``--master``...) are accepted by the parser and
rejected by :func:`resolve` with the reason.

A ``--config`` file is a Python file with ``get_config()`` returning an
``ml_collections.ConfigDict`` (or a dict) whose keys are flag names.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = [
    "Flag", "FlagError", "RETIRED", "add_command", "add_flags", "dataset_and_model_flags", "flags_from_dataclass",
    "load_config_file", "resolve", "split_list",
]


class FlagError(ValueError):
    """A bad flag value; the message starts with the flag's name."""


@dataclasses.dataclass(frozen=True)
class Flag:
    """One command-line flag.

    Attributes:
      name: slim's flag name (``'learning_rate'``; typed ``--learning_rate``).
      default: the value when neither the config file nor the command line sets it.
      help: one line.
      type: ``int``, ``float``, ``str`` or ``bool`` (default: the default's type).
      choices: the allowed values, if limited.
      retired: a non-empty reason makes the flag an error (a slim flag jslim does not need).
    """

    name: str
    default: Any
    help: str
    type: Callable[[str], Any] | None = None
    choices: Sequence[Any] | None = None
    retired: str = ""

    @property
    def kind(self) -> Callable[[str], Any]:
        """The value type."""
        return self.type or (type(self.default) if self.default is not None else str)


def flags_from_dataclass(cls: type, helps: Mapping[str, str]) -> tuple[Flag, ...]:
    """Flags for every field of a flags dataclass (defaults from the dataclass)."""
    return tuple(Flag(f.name, f.default, helps.get(f.name, f.name.replace("_", " ")), type=type(f.default))
                 for f in dataclasses.fields(cls))


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def add_flags(parser: argparse.ArgumentParser, flags: Sequence[Flag]) -> None:
    """Adds ``--name`` for every flag (booleans also take ``--noname``, as absl)."""
    parser.add_argument("--config", default=argparse.SUPPRESS, metavar="PATH",
                        help="a Python file whose get_config() returns flag values (ml_collections)")
    for flag in flags:
        if flag.retired:
            parser.add_argument(f"--{flag.name}", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
            continue
        shown = f"{flag.help} (default: {flag.default})"
        if flag.kind is bool:
            parser.add_argument(f"--{flag.name}", nargs="?", const=True, type=_parse_bool,
                                default=argparse.SUPPRESS, help=shown)
            parser.add_argument(f"--no{flag.name}", dest=flag.name, action="store_false",
                                default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        else:
            parser.add_argument(f"--{flag.name}", type=flag.kind, choices=flag.choices,
                                default=argparse.SUPPRESS, help=shown)


def load_config_file(path: str | os.PathLike) -> dict[str, Any]:
    """The flag values of a config file (``get_config()``, ml_collections or dict).

    Raises:
      FlagError: the file is missing or has no ``get_config``.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FlagError(f"--config: no such file {path!r}.")
    spec = importlib.util.spec_from_file_location("jslim_user_config", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "get_config"):
        raise FlagError(f"--config: {path} defines no get_config().")
    config = module.get_config()
    return dict(config.to_dict() if hasattr(config, "to_dict") else config)


def _check(flag: Flag, value: Any, source: str) -> Any:
    if value is None:
        return None
    kind = flag.kind
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise FlagError(f"--{flag.name}: expected {kind.__name__}, got {value!r} (from {source}).")
    if flag.choices is not None and value not in flag.choices:
        raise FlagError(f"--{flag.name}: {value!r} (from {source}) is not one of {', '.join(map(str, flag.choices))}.")
    return value


def add_command(subparsers: Any, name: str, flags: Sequence[Flag], run: Callable[[argparse.Namespace], int], *,
                help: str, description: str) -> argparse.ArgumentParser:  # pylint: disable=redefined-builtin
    """Adds subcommand ``name`` taking ``flags`` (plus ``--config``) and running ``run(args)``."""
    parser = subparsers.add_parser(name, help=help, description=description, allow_abbrev=False)
    add_flags(parser, flags)
    parser.set_defaults(func=run)
    return parser


def resolve(args: argparse.Namespace | None, flags: Sequence[Flag], **overrides: Any) -> types.SimpleNamespace:
    """``defaults < --config (args.config or config=) < command line (args) < overrides``, checked.

    Returns:
      A namespace with one attribute per flag.

    Raises:
      FlagError: a retired or unknown flag, a wrong type or a value not among the choices.
    """
    args = argparse.Namespace(**{**vars(args or argparse.Namespace()), **overrides})
    by_name = {f.name: f for f in flags}
    typed = {k: v for k, v in vars(args).items() if k in by_name}
    config = load_config_file(args.config) if getattr(args, "config", None) else {}
    unknown = sorted(set(config) - set(by_name))
    if unknown:
        raise FlagError(f"--config {args.config}: unknown flag(s) {', '.join(unknown)}.")
    values = {}
    for flag in flags:
        source, value = ("the command line", typed[flag.name]) if flag.name in typed else \
            ("the config file", config[flag.name]) if flag.name in config else ("the default", flag.default)
        if flag.retired and source != "the default":
            raise FlagError(f"--{flag.name} is not used by jslim: {flag.retired}")
        values[flag.name] = _check(flag, value, source)
    return types.SimpleNamespace(**values)


def split_list(value: str | Sequence[str] | None) -> list[str]:
    """slim's comma-separated list flags (``--checkpoint_exclude_scopes``) as a list."""
    if not value:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [item.strip() for item in items if item.strip()]


_DEVICES = "the step runs on every device of every process (jax.distributed) by itself."
_INPUT = "batches are read by jslim.data in the training process."
RETIRED = (
    Flag("master", "", "", retired="there is no TF master; multi-host runs use jax.distributed.initialize()."),
    Flag("num_clones", 1, "", retired=_DEVICES),
    Flag("clone_on_cpu", False, "", retired=_DEVICES),
    Flag("worker_replicas", 1, "", retired=_DEVICES),
    Flag("num_ps_tasks", 0, "", retired="there are no parameter servers; see --fsdp to shard the state."),
    Flag("task", 0, "", retired=_DEVICES),
    Flag("sync_replicas", False, "", retired="updates are always synchronous."),
    Flag("replicas_to_aggregate", 1, "", retired="updates are always synchronous."),
    Flag("num_readers", 4, "", retired=_INPUT),
    Flag("num_preprocessing_threads", 4, "", retired=_INPUT),
    Flag("quantize_delay", -1, "", retired="quantization-aware training is not supported."),
    Flag("quantize", False, "", retired="quantized evaluation is not supported."),
    Flag("use_grayscale", False, "", retired="not supported by jslim's preprocessing yet."),
)


def dataset_and_model_flags(split_name: str, batch_size: int, image_size_flag: str) -> tuple[Flag, ...]:
    """The dataset and model flags both ``train`` and ``eval`` take (slim's names).

    Args:
      split_name: the default ``--dataset_split_name``.
      batch_size: the default ``--batch_size``.
      image_size_flag: ``'train_image_size'`` or ``'eval_image_size'``.
    """
    return (
        Flag("model_name", "lenet", "the net to train, a jslim.nets name"),
        Flag("dataset_name", "digits", "the dataset to load (jslim.data)"),
        Flag("dataset_split_name", split_name, "the split to read"),
        Flag("dataset_dir", None, "where the dataset files are (unused by digits)", type=str),
        Flag("labels_offset", 0, "subtracted from the labels (1 for 1001-class checkpoints on 1000 classes)"),
        Flag("preprocessing_name", None, "the preprocessing (default: the net's)", type=str),
        Flag("batch_size", batch_size, "examples per batch, all devices together"),
        Flag(image_size_flag, None, "image size (default: the net's)", type=int),
    )
