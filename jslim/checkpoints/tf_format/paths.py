"""Where a checkpoint's files are, from whatever path a user gives.

Accepted: a V2 prefix (``model.ckpt`` with ``model.ckpt.index`` beside it), a V2
``.index`` or ``.data-*`` file, a V1 file, a V1 shard (``model.ckpt-00000-of-00003``:
every shard is read) or shard pattern (``model.ckpt-?????-of-00003``), or a directory
holding TF's ``checkpoint`` state file (its latest checkpoint is read).
"""

from __future__ import annotations

import codecs
import dataclasses
import glob
import os
import re

from jslim.checkpoints.tf_format.errors import CheckpointNotFoundError, CorruptCheckpointError

STATE_FILE = "checkpoint"
_DATA_FILE = re.compile(r"^(.*)\.data-\d{5}-of-\d{5}$")
_V1_SHARD = re.compile(r"^(.*)-(\d{5})-of-(\d{5})$")
_STATE_PATH = re.compile(r'^\s*model_checkpoint_path:\s*"((?:[^"\\]|\\.)*)"', re.MULTILINE)


@dataclasses.dataclass(frozen=True)
class Location:
    """A resolved checkpoint.

    Attributes:
      format: "V1" or "V2".
      path: V2: the prefix; V1: the file, or the shard pattern.
      files: V1: every file to read (V2: empty; the index names its shards).
    """

    format: str
    path: str
    files: tuple[str, ...] = ()


def latest_checkpoint(directory: str) -> str:
    """The path TF's ``checkpoint`` state file in ``directory`` names as latest."""
    state = os.path.join(directory, STATE_FILE)
    try:
        with open(state, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise CheckpointNotFoundError(
            f"{directory}: a directory without a '{STATE_FILE}' state file; pass the "
            "checkpoint prefix itself (e.g. DIR/model.ckpt-1000)") from None
    match = _STATE_PATH.search(text)
    if not match:
        raise CorruptCheckpointError(f"{state}: no model_checkpoint_path in the state file")
    try:
        path = codecs.escape_decode(match.group(1).encode("utf-8"))[0].decode("utf-8")
    except (ValueError, UnicodeDecodeError) as err:
        raise CorruptCheckpointError(f"{state}: bad model_checkpoint_path: {err}") from err
    return path if os.path.isabs(path) else os.path.join(directory, path)


def _v1_shards(pattern: str, given: str) -> Location:
    files = sorted(glob.glob(pattern))
    if not files:
        raise CheckpointNotFoundError(f"{given}: no V1 checkpoint shards match {pattern}")
    counts = {_V1_SHARD.match(f).group(3) for f in files if _V1_SHARD.match(f)}
    if len(counts) == 1:
        count = int(counts.pop())
        base = _V1_SHARD.match(files[0]).group(1)
        expected = [f"{base}-{i:05d}-of-{count:05d}" for i in range(count)]
        missing = sorted(set(expected) - set(files))
        if missing:
            raise CheckpointNotFoundError(
                f"{given}: V1 checkpoint shard(s) missing: {', '.join(missing)}; every shard "
                "of a sharded checkpoint is needed")
    return Location("V1", pattern, tuple(files))


def resolve(path: str | os.PathLike) -> Location:
    """Finds the checkpoint at ``path`` (see the module docstring for what is accepted).

    Raises:
      CheckpointNotFoundError: nothing checkpoint-like is there (the paths tried are listed).
    """
    given = os.fspath(path)
    if os.path.isdir(given):
        return resolve(latest_checkpoint(given))
    if given.endswith(".index") and os.path.isfile(given):
        return Location("V2", given[:-len(".index")])
    data = _DATA_FILE.match(given)
    if data and os.path.isfile(data.group(1) + ".index"):
        return Location("V2", data.group(1))
    if os.path.isfile(given + ".index"):
        return Location("V2", given)
    if glob.has_magic(given):
        return _v1_shards(given, given)
    shard = _V1_SHARD.match(given)
    if shard and os.path.isfile(given):
        return _v1_shards(f"{glob.escape(shard.group(1))}-?????-of-{shard.group(3)}", given)
    if os.path.isfile(given):
        return Location("V1", given, (given,))
    if glob.glob(glob.escape(given) + "-?????-of-?????"):
        return _v1_shards(glob.escape(given) + "-?????-of-?????", given)
    raise CheckpointNotFoundError(
        f"{given}: no checkpoint found (looked for {given}.index, the V1 file {given}, "
        f"V1 shards {given}-?????-of-?????, and a directory with a '{STATE_FILE}' file)")
