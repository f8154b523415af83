"""research/slim's preprocessing (``preprocessing_factory``) in numpy, no TensorFlow.

A registered preprocessing function maps a batch ``images [N, H, W, C]`` (uint8
or float in [0, 255]) to ``[N, height, width, C]`` float32:
``fn(images, height, width, is_training=False, rng=None)``; ``rng`` (a
``numpy.random.Generator``) drives training-time augmentation. The per-image
evaluation functions (``*_eval``) follow slim exactly:

* ``inception``: central crop of 87.5 % of each side, bilinear resize
  (TF1's ``resize_bilinear``, ``align_corners=False``: no half-pixel offset),
  then scale to [-1, 1].
* ``vgg``: resize the smaller side to 256 (TF1 bilinear), central crop, subtract
  the ImageNet channel means (R 123.68, G 116.78, B 103.94).
* ``lenet``: central crop or zero pad to the size, ``(x - 128) / 128``.
* ``cifarnet``: central crop or zero pad, per-image standardization.

Training-time augmentation exists for ``lenet`` (slim has none); for the others
(random crops, flips, color distortion) it is part of the data-pipeline work and
``is_training=True`` raises a clear error until then.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = [
    "PREPROCESSING",
    "Preprocess",
    "central_crop",
    "get_preprocessing",
    "lenet",
    "resize_bilinear_tf1",
    "resize_image_with_crop_or_pad",
    "resize_with_crop_or_pad",
]

Preprocess = Callable[..., np.ndarray]

_VGG_MEANS = np.array([123.68, 116.78, 103.94], np.float32)


def resize_bilinear_tf1(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """TF1 ``resize_bilinear(align_corners=False, half_pixel_centers=False)``.

    Output pixel ``(y, x)`` samples input ``(y * in_h / height, x * in_w / width)``.

    Args:
      image: ``[H, W, C]``.
      height, width: the output size.

    Returns:
      ``[height, width, C]`` float32.
    """
    image = np.asarray(image, np.float32)
    in_h, in_w = image.shape[:2]

    def axis(n_out: int, n_in: int):
        src = np.arange(n_out, dtype=np.float32) * np.float32(n_in / n_out)
        lo = np.floor(src).astype(np.int64)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, (src - lo).astype(np.float32)

    y0, y1, fy = axis(height, in_h)
    x0, x1, fx = axis(width, in_w)
    top = image[y0][:, x0] + (image[y0][:, x1] - image[y0][:, x0]) * fx[None, :, None]
    bottom = image[y1][:, x0] + (image[y1][:, x1] - image[y1][:, x0]) * fx[None, :, None]
    return top + (bottom - top) * fy[:, None, None]


def central_crop(image: np.ndarray, central_fraction: float) -> np.ndarray:
    """``tf.image.central_crop``: keeps the central ``central_fraction`` of each side."""
    if not 0.0 < central_fraction <= 1.0:
        raise ValueError(f"central_fraction must be in (0, 1], got {central_fraction}.")
    h, w = image.shape[:2]
    top = int((h - h * central_fraction) / 2)
    left = int((w - w * central_fraction) / 2)
    return image[top : h - top, left : w - left]


def resize_image_with_crop_or_pad(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """``tf.image.resize_image_with_crop_or_pad``: central crop and/or zero pad."""
    out = np.zeros((height, width, image.shape[2]), np.float32)
    h, w = image.shape[:2]
    src_y, dst_y = max((h - height) // 2, 0), max((height - h) // 2, 0)
    src_x, dst_x = max((w - width) // 2, 0), max((width - w) // 2, 0)
    ch, cw = min(h, height), min(w, width)
    out[dst_y : dst_y + ch, dst_x : dst_x + cw] = image[src_y : src_y + ch, src_x : src_x + cw]
    return out


def _to_unit_float(image: np.ndarray) -> np.ndarray:
    if np.issubdtype(np.asarray(image).dtype, np.integer):
        return np.asarray(image, np.float32) / 255.0
    return np.asarray(image, np.float32)


def inception_eval(image: np.ndarray, height: int, width: int, central_fraction: float = 0.875) -> np.ndarray:
    """slim ``inception_preprocessing.preprocess_for_eval``: ``[H, W, 3] -> [height, width, 3]`` in [-1, 1]."""
    image = central_crop(_to_unit_float(image), central_fraction)
    return (resize_bilinear_tf1(image, height, width) - 0.5) * 2.0


def vgg_eval(image: np.ndarray, height: int, width: int, resize_side: int = 256) -> np.ndarray:
    """slim ``vgg_preprocessing.preprocess_for_eval``: smaller side to 256, central crop, minus means."""
    image = np.asarray(image, np.float32)
    h, w = image.shape[:2]
    scale = resize_side / min(h, w)
    new_h, new_w = int(np.rint(h * scale)), int(np.rint(w * scale))
    image = resize_bilinear_tf1(image, new_h, new_w)
    top, left = (new_h - height) // 2, (new_w - width) // 2
    return image[top : top + height, left : left + width] - _VGG_MEANS


def lenet_eval(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """slim ``lenet_preprocessing``: crop/pad to the size, ``(x - 128) / 128``."""
    return (resize_image_with_crop_or_pad(np.asarray(image, np.float32), height, width) - 128.0) / 128.0


def cifarnet_eval(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """slim ``cifarnet_preprocessing.preprocess_for_eval``: crop/pad, per-image standardization."""
    image = resize_image_with_crop_or_pad(np.asarray(image, np.float32), height, width)
    adjusted_std = max(float(image.std()), 1.0 / math.sqrt(image.size))
    return (image - image.mean()) / adjusted_std


def resize_with_crop_or_pad(images: np.ndarray, height: int, width: int) -> np.ndarray:
    """Batched ``tf.image.resize_image_with_crop_or_pad``: ``[N, H, W, C] -> [N, height, width, C]``."""
    return np.stack([resize_image_with_crop_or_pad(img, height, width) for img in np.asarray(images)])


def _batched(per_image: Callable[..., np.ndarray], name: str, has_training: bool = False) -> Preprocess:
    def preprocess(images: np.ndarray, height: int, width: int, is_training: bool = False,
                   rng: np.random.Generator | None = None) -> np.ndarray:
        del rng
        if is_training and not has_training:
            raise NotImplementedError(
                f"slim's training-time {name} preprocessing (random crops/flips/colour) is not in jslim "
                "yet; use is_training=False or the lenet preprocessing."
            )
        return np.stack([per_image(img, height, width) for img in np.asarray(images)]).astype(np.float32)

    preprocess.has_training = has_training  # type: ignore[attr-defined]
    preprocess.__name__ = name
    preprocess.__doc__ = f"Batched slim ``{name}`` preprocessing (see :func:`{per_image.__name__}`)."
    return preprocess


lenet = _batched(lenet_eval, "lenet", has_training=True)  # slim's lenet preprocessing has no augmentation

PREPROCESSING: dict[str, Preprocess] = {
    "inception": _batched(inception_eval, "inception"),
    "vgg": _batched(vgg_eval, "vgg"),
    "lenet": lenet,
    "cifarnet": _batched(cifarnet_eval, "cifarnet"),
}


def get_preprocessing(name: str) -> Preprocess:
    """slim's preprocessing ``name``: ``fn(images, height, width, is_training=False, rng=None)``.

    Raises:
      ValueError: an unknown name (the message lists the valid ones).
    """
    if name not in PREPROCESSING:
        raise ValueError(f"Unknown preprocessing {name!r}; valid names: {', '.join(sorted(PREPROCESSING))}.")
    return PREPROCESSING[name]
