"""Initializers: TF's distributions (tests/fixtures/layers/initializers.npz).

JAX's PRNG differs from TF's, so large draws (>= 200k values) are compared by
their statistics against TF's draws of the same initializer and shape:
standard deviation within 2% (sampling error ~0.2%), mean within 5 standard
errors, and for bounded distributions the extremes within 2% of the range
(uniform: ``+-sqrt(3 factor / n)``; truncated normal: 2 stddev). Shapes of rank
1, 2, 4 and 5 exercise slim's fan rule (receptive field times channels).
"""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import layer_fixtures as lf
from jslim import layers


def _draws():
    with np.load(lf.FIXTURE_DIR / "initializers.npz") as data:
        keys = sorted({k.rsplit("/", 1)[0] for k in data.files})
        return {k: (json.loads(str(data[f"{k}/spec"])), data[f"{k}/stats"]) for k in keys}


DRAWS = _draws()

INITIALIZERS = {
    "xavier": layers.xavier_initializer,
    "variance_scaling": layers.variance_scaling_initializer,
    "truncated_normal": layers.truncated_normal_initializer,
    "random_normal": layers.random_normal_initializer,
    "random_uniform": layers.random_uniform_initializer,
}


@pytest.mark.parametrize("key", sorted(DRAWS))
def test_draw_statistics_match_tf(key):
    spec, (mean, std, lo, hi) = DRAWS[key]
    init = INITIALIZERS[spec["initializer"]](**spec["kwargs"])
    draw = np.asarray(init(jax.random.key(7), tuple(spec["shape"]), jnp.float32), np.float64)
    assert draw.shape == tuple(spec["shape"]) and draw.dtype == np.float64
    assert abs(draw.std() / std - 1) < 0.02, (draw.std(), std)
    assert abs(draw.mean() - mean) < 5 * math.sqrt(2 / draw.size) * std, (draw.mean(), mean)
    if spec["initializer"] != "random_normal":
        assert abs(draw.min() - lo) < 0.02 * (hi - lo) and abs(draw.max() - hi) < 0.02 * (hi - lo)


@pytest.mark.parametrize(
    "shape, fan_in, fan_out",
    [((), 1, 1), ((7,), 7, 7), ((3, 5), 3, 5), ((2, 3, 4, 5), 24, 30), ((2, 2, 2, 3, 4), 24, 32)],
)
def test_fans_follow_slim(shape, fan_in, fan_out):
    vs = layers.variance_scaling_initializer
    assert vs(mode="FAN_IN").fan(shape) == fan_in
    assert vs(mode="FAN_OUT").fan(shape) == fan_out
    assert vs(mode="FAN_AVG").fan(shape) == (fan_in + fan_out) / 2


def test_uniform_limit_is_exact():
    init = layers.variance_scaling_initializer(factor=2.0, mode="FAN_IN", uniform=True)
    draw = np.asarray(init(jax.random.key(0), (4, 3, 50, 1000)))
    limit = math.sqrt(3.0 * 2.0 / (4 * 3 * 50))
    assert np.abs(draw).max() <= limit and np.abs(draw).max() > 0.999 * limit


def test_truncated_normal_is_cut_at_two_stddev():
    init = layers.variance_scaling_initializer(factor=1.0, mode="FAN_OUT")
    draw = np.asarray(init(jax.random.key(0), (3, 3, 8, 20000)))
    stddev = math.sqrt(1.3 * 1.0 / (3 * 3 * 20000))  # slim's 1.3 correction
    assert np.abs(draw).max() <= 2 * stddev and np.abs(draw).max() > 1.99 * stddev


def test_xavier_is_variance_scaling_fan_avg():
    assert layers.xavier_initializer(uniform=False) == layers.variance_scaling_initializer(1.0, "FAN_AVG", False)
    assert layers.xavier_initializer_conv2d is layers.xavier_initializer


def test_initializers_are_hashable_and_validated():
    assert len({layers.xavier_initializer(), layers.xavier_initializer(), layers.zeros_initializer()}) == 2
    with pytest.raises(TypeError, match="unknown mode"):
        layers.variance_scaling_initializer(mode="fan_in")
    with pytest.raises(TypeError, match="non-floating"):
        layers.variance_scaling_initializer(dtype=jnp.int32)


def test_constant_initializers():
    np.testing.assert_array_equal(layers.zeros_initializer()(None, (2,)), [0, 0])
    np.testing.assert_array_equal(layers.ones_initializer()(None, (2,)), [1, 1])
    np.testing.assert_array_equal(layers.constant_initializer(0.5)(None, (2,), jnp.bfloat16), [0.5, 0.5])
