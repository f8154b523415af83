"""Pooling layers against TF-Slim (tests/fixtures/layers/pooling.npz).

Fixture cases: max/avg_pool2d SAME/VALID on even and odd sizes, stride 1 and 2,
non-square kernels and strides, NCHW, a SAME kernel larger than the input (every
window clipped); max/avg_pool3d (NDHWC and NCDHW); spatial_softmax (trainable and
fixed temperature, NCHW). float32 max abs error <= 1e-5.
"""

import jax.numpy as jnp
import numpy as np
import pytest

import layer_fixtures as lf
from jslim import layers


@pytest.mark.parametrize("name", lf.case_names("pooling"))
def test_matches_tf_slim(name):
    lf.check_case("pooling", name)


def test_avg_pool_same_excludes_padding_at_the_corners():
    """TF divides a SAME window's sum by its number of valid inputs (hand-computed)."""
    x = jnp.arange(9.0).reshape(1, 3, 3, 1)
    # Windows (pad 1 before and after): {0,1,3,4}, {1,2,4,5}, {3,4,6,7}, {4,5,7,8}.
    y = layers.avg_pool2d(x, [3, 3], stride=2, padding="SAME")
    np.testing.assert_array_equal(np.asarray(y)[0, :, :, 0], [[2.0, 3.0], [5.0, 6.0]])


def test_max_pool_same_pads_with_minus_infinity():
    x = -jnp.arange(1.0, 10.0).reshape(1, 3, 3, 1)
    y = layers.max_pool2d(x, [3, 3], stride=2, padding="SAME")
    np.testing.assert_array_equal(np.asarray(y)[0, :, :, 0], [[-1.0, -2.0], [-4.0, -5.0]])
