"""Core layers against TF-Slim (tests/fixtures/layers/core.npz), and dropout's properties.

Fixture cases: fully_connected (rank 2 and 3, batch/layer norm, no biases),
linear/relu/relu6, bias_add (NHWC, rank 2, NCHW), flatten, softmax,
one_hot_encoding, repeat/stack (slim's ``scope/scope_1..n`` naming), maxout on
the last and inner axes, images_to_sequence/sequence_to_images, scale_gradient
(its gradient) and a small regularized net. float32 max abs error <= 1e-5.
Dropout is random, so it is checked by its definition instead.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import layer_fixtures as lf
from jslim import layers


@pytest.mark.parametrize("name", lf.case_names("core"))
def test_matches_tf_slim(name):
    lf.check_case("core", name)


class _Dropout(nn.Module):
    keep_prob: float
    noise_shape: tuple[int, ...] | None = None
    is_training: bool = True

    @nn.compact
    def __call__(self, x):
        return layers.dropout(x, self.keep_prob, self.noise_shape, is_training=self.is_training)


def test_dropout_keeps_with_keep_prob_and_scales():
    x = jnp.ones((64, 256), jnp.float32)
    y = np.asarray(_Dropout(0.75).apply({}, x, rngs={"dropout": jax.random.key(1)}))
    kept = y != 0
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    assert abs(kept.mean() - 0.75) < 0.01  # 16384 Bernoulli draws: std 0.0034


def test_dropout_noise_shape_broadcasts_the_mask():
    x = jnp.ones((8, 5, 5, 16), jnp.float32)
    y = np.asarray(_Dropout(0.5, (8, 1, 1, 16)).apply({}, x, rngs={"dropout": jax.random.key(2)}))
    mask = y != 0
    assert (mask == mask[:, :1, :1, :]).all()
    assert 0.3 < mask.mean() < 0.7


@pytest.mark.parametrize("module", [_Dropout(0.5, is_training=False), _Dropout(1.0)])
def test_dropout_identity(module):
    x = jnp.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(module.apply({}, x), x)  # no 'dropout' rng needed


def test_maxout_rejects_non_divisor():
    with pytest.raises(ValueError, match="multiple of num_units"):
        layers.maxout(jnp.ones((2, 5)), 2)


def test_bias_add_nchw_needs_4d():
    # Checked before any variable is created, so no module is needed.
    with pytest.raises(ValueError, match="NCHW only supports 4D"):
        layers.bias_add(jnp.ones((2, 3)), data_format="NCHW")
