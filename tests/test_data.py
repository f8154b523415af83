"""Datasets, preprocessing and the resumable, process-sharded batch iterator."""

from __future__ import annotations

import numpy as np
import pytest

import tiny_nets
from jslim.data import Batches, get_dataset, get_preprocessing, list_datasets
from jslim.data import digits
from jslim.data.preprocessing import resize_with_crop_or_pad


def test_digits_fixed_stratified_split():
    train, test = get_dataset("digits", "train"), get_dataset("digits", "test")
    assert (train.num_samples, test.num_samples) == (1437, 360)
    assert train.images.shape[1:] == test.images.shape[1:] == (28, 28, 1)
    assert train.num_classes == 10 and train.labels.dtype == np.int32
    assert 0.0 <= train.images.min() and train.images.max() <= 255.0
    assert np.all(np.bincount(test.labels) >= 35)  # stratified: ~36 of each digit
    assert not {im.tobytes() for im in test.images[:50]} & {im.tobytes() for im in train.images}
    digits._all_splits.cache_clear()
    np.testing.assert_array_equal(get_dataset("digits", "test").labels, test.labels)  # the same split every time


def test_digits_resize_is_bilinear_of_the_8x8_image():
    from sklearn.datasets import load_digits

    image = load_digits().images[0] * (255.0 / 16.0)
    big = digits._resize(image, 28)
    # PIL bilinear upsampling with half-pixel centres: output pixel i samples input (i + .5) * 8/28 - .5.
    x = np.clip((np.arange(28) + 0.5) * 8 / 28 - 0.5, 0, 7)
    lo, frac = np.floor(x).astype(int), x - np.floor(x)
    hi = np.minimum(lo + 1, 7)
    rows = image[lo] * (1 - frac)[:, None] + image[hi] * frac[:, None]
    expected = rows[:, lo] * (1 - frac) + rows[:, hi] * frac
    np.testing.assert_allclose(big, expected, atol=1e-3)


def test_unknown_dataset_and_split_are_named():
    assert "digits" in list_datasets()
    with pytest.raises(ValueError, match="Unknown dataset 'digit'.*Did you mean digits"):
        get_dataset("digit", "train")
    with pytest.raises(ValueError, match="no split 'validation'"):
        get_dataset("digits", "validation")


def test_lenet_preprocessing_like_slim():
    lenet = get_preprocessing("lenet")
    images = np.full((2, 28, 28, 1), 192.0, np.float32)
    np.testing.assert_allclose(lenet(images, 28, 28), 0.5)
    padded = resize_with_crop_or_pad(np.ones((1, 4, 6, 1)), 6, 4)
    assert padded.shape == (1, 6, 4, 1) and padded[0, :, :, 0].sum() == 16  # rows padded, columns cropped
    with pytest.raises(ValueError, match="Unknown preprocessing 'lenett'"):
        get_preprocessing("lenett")


def _batches(**kwargs):
    return Batches(tiny_nets.random_dataset(20), 8, preprocess=tiny_nets.scale, image_size=6,
                   **{"process_index": 0, "process_count": 1, **kwargs})


def test_batches_resume_at_any_position():
    run = _batches(seed=1)
    seen = [next(run)["labels"] for _ in range(7)]
    again = _batches(seed=1)
    again.set_state({"position": 4})
    for expected in seen[4:]:
        np.testing.assert_array_equal(next(again)["labels"], expected)
    assert again.get_state() == {"position": 7}


def test_each_epoch_is_a_new_permutation_without_repeats():
    run = _batches(seed=2)
    data = run.dataset
    epoch = np.concatenate([next(run)["images"] for _ in range(run.batches_per_epoch)])
    keys = {row.tobytes() for row in tiny_nets.scale(data.images, 6, 6)}
    assert len({row.tobytes() for row in epoch}) == 16 and {row.tobytes() for row in epoch} <= keys


def test_processes_read_their_own_rows():
    whole = _batches(seed=5)
    parts = [_batches(seed=5, process_index=i, process_count=2) for i in range(2)]
    for _ in range(3):
        full = next(whole)
        halves = [next(p) for p in parts]
        for key in ("images", "labels"):
            np.testing.assert_array_equal(np.concatenate([h[key] for h in halves]), full[key])


def test_eval_order_counts_every_example_once():
    run = _batches(shuffle=False, num_epochs=1, pad_final=True, is_training=False)
    batches = list(run)
    assert len(batches) == len(run) == 3
    labels = np.concatenate([b["labels"] for b in batches])
    mask = np.concatenate([b["mask"] for b in batches])
    assert mask.sum() == 20 and mask[20:].sum() == 0
    np.testing.assert_array_equal(labels[mask == 1], run.dataset.labels)


def test_batch_size_errors():
    with pytest.raises(ValueError, match="exceeds the 20 examples"):
        Batches(tiny_nets.random_dataset(20), 32, preprocess=tiny_nets.scale, image_size=6, process_index=0,
                process_count=1)
    with pytest.raises(ValueError, match="not divisible by the 3 processes"):
        Batches(tiny_nets.random_dataset(20), 8, preprocess=tiny_nets.scale, image_size=6, process_index=0,
                process_count=3)


def test_match_channels_follows_tf_conversions():
    from jslim.data.loader import match_channels  # pylint: disable=import-outside-toplevel

    gray = np.arange(6, dtype=np.float32).reshape(1, 2, 3, 1)
    rgb = match_channels(gray, 3)
    assert rgb.shape == (1, 2, 3, 3) and np.array_equal(rgb[..., 2], gray[..., 0])
    # tf.image.rgb_to_grayscale weights.
    pixel = np.asarray([[[[10.0, 20.0, 30.0]]]], np.float32)
    np.testing.assert_allclose(match_channels(pixel, 1)[..., 0], 0.2989 * 10 + 0.5870 * 20 + 0.1140 * 30, rtol=1e-6)
    assert match_channels(gray, None) is gray
    with pytest.raises(ValueError, match="4 channels"):
        match_channels(np.zeros((1, 2, 2, 4)), 3)


def test_training_with_an_eval_only_preprocessing_is_a_flag_error():
    import types  # pylint: disable=import-outside-toplevel

    import jslim.nets  # pylint: disable=import-outside-toplevel
    from jslim.cli import builders  # pylint: disable=import-outside-toplevel
    from jslim.cli.flags import FlagError  # pylint: disable=import-outside-toplevel

    flags = types.SimpleNamespace(preprocessing_name=None, model_name="inception_v3")
    spec = jslim.nets.get_spec("inception_v3")
    assert builders.preprocess(flags, spec)  # evaluation works
    with pytest.raises(FlagError, match="--preprocessing_name lenet"):
        builders.preprocess(flags, spec, is_training=True)
