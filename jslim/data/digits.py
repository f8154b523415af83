"""``digits``: scikit-learn's bundled handwritten digits (UCI optdigits test set), as 28x28 images.

1,797 grayscale 8x8 images of the digits 0-9 (pixel counts 0..16). Each image is scaled
to [0, 255] (``x * 255 / 16``) and resized to 28x28 with PIL's bilinear filter (float
mode, half-pixel centres) so it fits LeNet like MNIST. The split is fixed: a stratified
``train_test_split`` with ``random_state=0`` puts :data:`NUM_TEST` images in ``test`` and
the other 1,437 in ``train``. No download: the data ships with scikit-learn.
"""

from __future__ import annotations

import functools

import numpy as np

from jslim.data.registry import Dataset

__all__ = ["IMAGE_SIZE", "NUM_CLASSES", "NUM_TEST", "SPLITS", "load"]

IMAGE_SIZE = 28
NUM_CLASSES = 10
NUM_TEST = 360
SPLIT_SEED = 0
SPLITS = ("train", "test")


def _resize(image: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image  # pylint: disable=import-outside-toplevel

    resized = Image.fromarray(image.astype(np.float32), mode="F").resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(resized, np.float32)


@functools.lru_cache(maxsize=1)
def _all_splits() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    from sklearn.datasets import load_digits  # pylint: disable=import-outside-toplevel
    from sklearn.model_selection import train_test_split  # pylint: disable=import-outside-toplevel

    digits = load_digits()
    images = np.stack([_resize(im * (255.0 / 16.0), IMAGE_SIZE) for im in digits.images])[..., None]
    images = np.clip(images, 0.0, 255.0)
    labels = digits.target.astype(np.int32)
    train, test = train_test_split(np.arange(len(labels)), test_size=NUM_TEST, stratify=labels,
                                   random_state=SPLIT_SEED)
    return {"train": (images[train], labels[train]), "test": (images[test], labels[test])}


def load(split_name: str, dataset_dir: str | None = None) -> Dataset:
    """Split ``'train'`` (1,437 images) or ``'test'`` (360) as ``[N, 28, 28, 1]`` in [0, 255].

    ``dataset_dir`` is ignored (the data is bundled with scikit-learn).

    Raises:
      ValueError: another split name.
    """
    del dataset_dir
    if split_name not in SPLITS:
        raise ValueError(f"digits has no split {split_name!r}; its splits are {', '.join(SPLITS)}.")
    images, labels = _all_splits()[split_name]
    return Dataset("digits", split_name, images, labels, NUM_CLASSES)
