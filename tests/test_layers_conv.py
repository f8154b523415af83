"""Convolution layers against TF-Slim (tests/fixtures/layers/conv.npz) and slim's goldens.

Fixture cases (tools/make_layer_fixtures.py): conv2d SAME/VALID x stride 1/2 x
even/odd sizes, rate 2, asymmetric kernels, NCHW, with a normalizer, without
biases, default scope numbering; conv1d/conv3d (and NCW/NCDHW); conv2d_transpose
SAME/VALID stride 2 on even and odd sizes, stride 3, NCHW; conv3d_transpose;
separable_conv2d with and without ``num_outputs`` (depth_multiplier 2, stride 2,
rate 2, NCHW, batch norm); conv2d_in_plane. Variable names, shapes, trainability,
outputs and batch-norm updates must match; float32 max abs error <= 1e-5.
"""

import flax.linen as nn
import jax.numpy as jnp
import numpy as np
import pytest

import layer_fixtures as lf
from jslim import layers
from jslim.nets import resnet_utils


@pytest.mark.parametrize("name", lf.case_names("conv"))
def test_matches_tf_slim(name):
    lf.check_case("conv", name)


def _create_input(batch, height, width, channels):
    """resnet_v1_test.create_input: ``x[i, j] = i + j``."""
    grid = np.arange(height).reshape(height, 1) + np.arange(width).reshape(1, width)
    return np.tile(grid.reshape(1, height, width, 1), [batch, 1, 1, channels]).astype(np.float32)


class _Conv(nn.Module):
    """One convolution of slim's test, all sharing the variables ``Conv/{weights,biases}``."""

    kind: str

    @nn.compact
    def __call__(self, x):
        if self.kind == "stride1":
            return layers.conv2d(x, 1, [3, 3], stride=1, scope="Conv")
        if self.kind == "conv2d_same":
            return resnet_utils.conv2d_same(x, 1, 3, stride=2, scope="Conv")
        return layers.conv2d(x, 1, [3, 3], stride=2, scope="Conv")


def _same_convs(n):
    """``(y1, y2, y3, y4)`` of slim's test: conv stride 1, its subsample, conv2d_same, conv stride 2."""
    x = jnp.asarray(_create_input(1, n, n, 1))
    w = _create_input(1, 3, 3, 1).reshape(3, 3, 1, 1)
    variables = {"params": {"Conv": {"weights": jnp.asarray(w), "biases": jnp.zeros(1)}}}
    y1, y3, y4 = (_Conv(kind).apply(variables, x) for kind in ("stride1", "conv2d_same", "stride2"))
    y2 = resnet_utils.subsample(y1, 2)
    return tuple(np.asarray(y)[0, :, :, 0] for y in (y1, y2, y3, y4))


def test_conv2d_same_even_golden():
    """TF-Slim's ``resnet_v1_test.testConv2DSameEven`` (hand-computed constants)."""
    y1, y2, y3, y4 = _same_convs(4)
    np.testing.assert_allclose(y1, [[14, 28, 43, 26], [28, 48, 66, 37], [43, 66, 84, 46], [26, 37, 46, 22]])
    np.testing.assert_allclose(y2, [[14, 43], [43, 84]])
    np.testing.assert_allclose(y3, [[14, 43], [43, 84]])
    np.testing.assert_allclose(y4, [[48, 37], [37, 22]])


def test_conv2d_same_odd_golden():
    """TF-Slim's ``resnet_v1_test.testConv2DSameOdd`` (hand-computed constants)."""
    y1, y2, y3, y4 = _same_convs(5)
    np.testing.assert_allclose(y1, [[14, 28, 43, 58, 34], [28, 48, 66, 84, 46], [43, 66, 84, 102, 55],
                                    [58, 84, 102, 120, 64], [34, 46, 55, 64, 30]])
    expected = [[14, 43, 34], [43, 84, 55], [34, 55, 30]]
    np.testing.assert_allclose(y2, expected)
    np.testing.assert_allclose(y3, expected)
    np.testing.assert_allclose(y4, expected)
