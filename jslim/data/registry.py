"""The dataset registry: ``--dataset_name`` -> a loader of one split (slim's ``dataset_factory``).

A split is a :class:`Source`: random access by example index (``num_samples`` and
``read(indices)``), so :class:`jslim.data.loader.Batches` can shuffle it, shard it across
processes and resume at any batch. :class:`Dataset` (arrays in memory) is the one source
today; file-backed sources (TFRecord with an index, ArrayRecord, tfds) implement the same
protocol and register their loader with :func:`register_dataset`. A streaming source
without random access can skip ``Batches`` altogether: the train loop takes any iterator
of batches.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

__all__ = ["Dataset", "Source", "get_dataset", "list_datasets", "register_dataset"]


class Source(Protocol):
    """One split, readable by example index (what :class:`jslim.data.loader.Batches` needs)."""

    name: str
    split_name: str
    num_classes: int

    @property
    def num_samples(self) -> int:
        """The number of examples."""

    def read(self, indices: Sequence[int] | np.ndarray) -> dict[str, np.ndarray]:
        """``{'images': [n, H, W, C] float32 in [0, 255], 'labels': [n] int32}`` at ``indices``."""


@dataclasses.dataclass(frozen=True)
class Dataset:
    """One split of a dataset, readable by index.

    Attributes:
      name: the dataset name (``'digits'``).
      split_name: ``'train'``, ``'test'``...
      images: ``[num_samples, H, W, C]`` float32 pixel values in [0, 255].
      labels: ``[num_samples]`` int32 class ids.
      num_classes: the number of classes (labels are in ``[0, num_classes)``).
    """

    name: str
    split_name: str
    images: np.ndarray
    labels: np.ndarray
    num_classes: int

    @property
    def num_samples(self) -> int:
        """The number of examples in the split."""
        return int(self.labels.shape[0])

    def read(self, indices: Sequence[int] | np.ndarray) -> dict[str, np.ndarray]:
        """``{'images': [n, H, W, C], 'labels': [n]}`` of the examples at ``indices``."""
        indices = np.asarray(indices, np.int64)
        return {"images": self.images[indices], "labels": self.labels[indices]}


Loader = Callable[[str, "str | None"], Source]
# name -> module defining `load(split_name, dataset_dir) -> Dataset`, imported on first use.
_BUILTIN = {"digits": "jslim.data.digits"}
_REGISTERED: dict[str, Loader] = {}


def register_dataset(name: str, loader: Loader) -> None:
    """Adds ``loader(split_name, dataset_dir) -> Source`` under ``name``.

    Raises:
      ValueError: the name is taken.
    """
    if name in _BUILTIN or name in _REGISTERED:
        raise ValueError(f"dataset {name!r} is already registered.")
    _REGISTERED[name] = loader


def list_datasets() -> list[str]:
    """Every dataset name, sorted."""
    return sorted({*_BUILTIN, *_REGISTERED})


def get_dataset(name: str, split_name: str, dataset_dir: str | None = None) -> Source:
    """Loads split ``split_name`` of dataset ``name``, like slim's ``dataset_factory.get_dataset``.

    Raises:
      ValueError: an unknown dataset (the message lists the known ones) or split.
    """
    if name in _REGISTERED:
        return _REGISTERED[name](split_name, dataset_dir)
    if name not in _BUILTIN:
        close = difflib.get_close_matches(name, list_datasets(), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"Unknown dataset {name!r}.{hint} Known datasets: {', '.join(list_datasets())}.")
    return importlib.import_module(_BUILTIN[name]).load(split_name, dataset_dir)
