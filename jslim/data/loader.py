"""``Batches``: a resumable, process-sharded iterator of preprocessed batches.

Training order: epoch ``e`` visits the examples in the permutation drawn by
``numpy.random.default_rng([seed, e])``, in global batches of ``batch_size`` (the last
incomplete batch of an epoch is dropped, like slim's ``tf.train.batch``). The batch at
position ``p`` is a pure function of ``(seed, p)``, so ``get_state() -> {'position': p}``
and ``set_state`` resume exactly. Evaluation order (``num_epochs=1, shuffle=False,
pad_final=True``): every example once, in order; the final batch is padded to full size
with rows of ``mask == 0``.

With several processes each one yields only its rows of every global batch: process
``i`` of ``P`` gets rows ``[i * batch_size / P, (i + 1) * batch_size / P)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from jslim.data.preprocessing import Preprocess
from jslim.data.registry import Source

__all__ = ["Batches"]


class Batches(Iterator[dict[str, np.ndarray]]):
    """Batches of ``{'images', 'labels'}`` (plus ``'mask'`` with ``pad_final``) from a dataset.

    Args:
      dataset: a random-access split (``num_samples``, ``read(indices)``).
      batch_size: the global batch size (all processes together).
      preprocess: ``fn(images, height, width, is_training, rng)``.
      image_size: the output height and width.
      is_training: passed to ``preprocess``.
      shuffle: a new permutation every epoch.
      seed: the shuffle and augmentation seed.
      num_epochs: stop after this many epochs (None: never).
      pad_final: keep the last incomplete batch, padded, with a ``mask``.
      process_index, process_count: this process's share (default: JAX's).
    """

    def __init__(self, dataset: Source, batch_size: int, *, preprocess: Preprocess, image_size: int,
                 is_training: bool = True, shuffle: bool = True, seed: int = 0, num_epochs: int | None = None,
                 pad_final: bool = False, process_index: int | None = None, process_count: int | None = None,
                 channels: int | None = None):
        if process_index is None or process_count is None:
            import jax  # pylint: disable=import-outside-toplevel

            process_index, process_count = jax.process_index(), jax.process_count()
        if batch_size % process_count:
            raise ValueError(f"--batch_size {batch_size} is not divisible by the {process_count} processes.")
        if not pad_final and batch_size > dataset.num_samples:
            raise ValueError(f"--batch_size {batch_size} exceeds the {dataset.num_samples} examples of "
                             f"{dataset.name}/{dataset.split_name}.")
        self.dataset, self.batch_size = dataset, batch_size
        self._preprocess, self._image_size, self._is_training = preprocess, image_size, is_training
        self._channels = channels
        self._shuffle, self._seed, self._num_epochs, self._pad_final = shuffle, seed, num_epochs, pad_final
        local = batch_size // process_count
        self._rows = slice(process_index * local, (process_index + 1) * local)
        self._position = 0

    @property
    def batches_per_epoch(self) -> int:
        """Global batches in one epoch."""
        n = self.dataset.num_samples
        return math.ceil(n / self.batch_size) if self._pad_final else n // self.batch_size

    def __len__(self) -> int:
        if self._num_epochs is None:
            raise TypeError("an endless Batches (num_epochs=None) has no length.")
        return self._num_epochs * self.batches_per_epoch

    def get_state(self) -> dict[str, Any]:
        """``{'position': batches yielded so far}``."""
        return {"position": self._position}

    def set_state(self, state: dict[str, Any]) -> None:
        """Resumes at ``state['position']`` (from :meth:`get_state`)."""
        self._position = int(state["position"])

    def _indices(self, position: int) -> tuple[np.ndarray, int]:
        """The global batch's example indices at ``position`` and how many are real."""
        epoch, index = divmod(position, self.batches_per_epoch)
        order = np.arange(self.dataset.num_samples)
        if self._shuffle:
            order = np.random.default_rng([self._seed, epoch]).permutation(order)
        chosen = order[index * self.batch_size:(index + 1) * self.batch_size]
        real = len(chosen)
        if real < self.batch_size:
            chosen = np.concatenate([chosen, np.zeros(self.batch_size - real, chosen.dtype)])
        return chosen, real

    def __next__(self) -> dict[str, np.ndarray]:
        if self._num_epochs is not None and self._position >= len(self):
            raise StopIteration
        indices, real = self._indices(self._position)
        rng = np.random.default_rng([self._seed, self._position, 1])
        self._position += 1
        batch = self.dataset.read(indices[self._rows])
        size = self._image_size
        images = match_channels(batch["images"], self._channels)
        batch["images"] = self._preprocess(images, size, size, self._is_training, rng).astype(np.float32)
        if self._pad_final:
            batch["mask"] = (np.arange(self.batch_size) < real).astype(np.float32)[self._rows]
        return batch


def match_channels(images: np.ndarray, channels: int | None) -> np.ndarray:
    """Grayscale ``[N, H, W, 1]`` to RGB by repetition (``tf.image.grayscale_to_rgb``), or RGB
    to grayscale with TF's weights (``rgb_to_grayscale``), when a net needs the other."""
    have = images.shape[-1]
    if channels is None or channels == have:
        return images
    if have == 1 and channels == 3:
        return np.repeat(images, 3, axis=-1)
    if have == 3 and channels == 1:
        weights = np.asarray([0.2989, 0.5870, 0.1140], np.float32)
        return (np.asarray(images, np.float32) @ weights)[..., None]
    raise ValueError(f"the images have {have} channels and the net takes {channels}; no conversion known.")
