"""Normalization layers against TF-Slim (tests/fixtures/layers/normalization.npz).

Fixture cases cover batch_norm in training (output, and the moving averages after
one update) and inference at ranks 2-5, NHWC/NCHW, fused and ``fused=False``
(TF's fused kernels feed a Bessel-corrected variance to ``moving_variance``),
``trainable=False`` (Keras' layer then skips the updates), batch_weights,
zero_debias_moving_mean (TF's ``<scope>/<scope>/moving_mean/{biased,local_step}``),
renorm with and without clipping, adjustment; layer_norm, group_norm, instance_norm,
unit_norm, l2_normalize (tf.nn), poincare_normalize and gdn (with TF's
lower-bound gradient, which tf_slim 1.1.0 defines but does not register). Several
cases also compare gradients w.r.t. the input and every trainable variable
(tolerance 1e-5 relative to max(1, max|grad|), as they sum over all outputs).
Outputs and updated statistics: float32 max abs error <= 1e-5.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import layer_fixtures as lf
from jslim import layers


@pytest.mark.parametrize("name", lf.case_names("normalization"))
def test_matches_tf_slim(name):
    lf.check_case("normalization", name)


class _Norm(nn.Module):
    kwargs: dict

    @nn.compact
    def __call__(self, x, is_training=True):
        return layers.batch_norm(x, is_training=is_training, **self.kwargs)


def test_zero_debias_variables_exist_in_training_only():
    x = jnp.ones((2, 3, 3, 4))
    model = _Norm({"zero_debias_moving_mean": True, "scope": "bn"})
    eval_vars = jax.jit(lambda k, x: model.init(k, x, is_training=False))(jax.random.key(0), x)
    assert sorted(eval_vars["batch_stats"]["bn"]) == ["moving_mean", "moving_variance"]
    train_vars = jax.eval_shape(model.init, jax.random.key(0), x)
    assert lf.flat(train_vars["batch_stats"]).keys() == {
        "bn/moving_mean", "bn/moving_variance", "bn/bn/moving_mean/biased", "bn/bn/moving_mean/local_step"}
    # A training step adds them, like TF.
    _, mutated = jax.eval_shape(lambda v, x: model.apply(v, x, mutable=["batch_stats"]), eval_vars, x)
    assert lf.flat(mutated["batch_stats"]).keys() == lf.flat(train_vars["batch_stats"]).keys()


def test_init_does_not_update_moving_averages():
    x = jax.random.normal(jax.random.key(1), (4, 3))
    stats = jax.jit(_Norm({}).init)(jax.random.key(0), x)["batch_stats"]["BatchNorm"]
    np.testing.assert_array_equal(stats["moving_mean"], np.zeros(3))
    np.testing.assert_array_equal(stats["moving_variance"], np.ones(3))


def test_low_precision_inputs_keep_their_dtype():
    x = jax.random.normal(jax.random.key(1), (2, 3, 3, 4)).astype(jnp.bfloat16)
    model = _Norm({"scale": True})
    variables = jax.jit(model.init)(jax.random.key(0), x)
    out, _ = jax.jit(lambda v, x: model.apply(v, x, mutable=["batch_stats"]))(variables, x)
    assert out.dtype == jnp.bfloat16
    assert variables["params"]["BatchNorm"]["gamma"].dtype == jnp.float32


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"renorm": True, "batch_weights": np.ones(2, np.float32)}, "renorm is not supported"),
        ({"renorm": True, "zero_debias_moving_mean": True}, "renorm is not supported"),
        ({"renorm": True, "renorm_clipping": {"rmax": 2.0, "r_max": 3.0}}, "renorm_clipping"),
        ({"batch_weights": np.ones(3, np.float32)}, "batch_weights must have shape"),
    ],
)
def test_batch_norm_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        jax.eval_shape(_Norm(kwargs).init, jax.random.key(0), jnp.ones((2, 3, 3, 4)))


@pytest.mark.parametrize(
    "fn, match",
    [
        (lambda x: layers.layer_norm(x, begin_norm_axis=4), "must be < rank"),
        (lambda x: layers.group_norm(x, groups=3), "not commensurate"),
        (lambda x: layers.group_norm(x, groups=8), "Invalid groups"),
        (lambda x: layers.group_norm(x, groups=2, reduction_axes=(-1,)), "mutually exclusive"),
        (lambda x: layers.instance_norm(x, data_format="NCDHW"), "NCHW or NHWC"),
        (lambda x: layers.unit_norm(x, 4), "dim must be"),
        (lambda x: layers.l2_normalize(x, axis=1, dim=1), "not both"),
        (lambda x: layers.gdn(x, data_format="NHWC"), "Unsupported `data_format`"),
    ],
)
def test_argument_errors(fn, match):
    class M(nn.Module):
        @nn.compact
        def __call__(self, x):
            return fn(x)

    with pytest.raises(ValueError, match=match):
        jax.eval_shape(M().init, jax.random.key(0), jnp.ones((2, 3, 3, 4)))


def test_gdn_channels_first_rank5_matches_channels_last():
    """TF-Slim's own rank-5 channels-first GDN fails; jslim's equals the transposed NDHWC result."""

    class M(nn.Module):
        data_format: str

        @nn.compact
        def __call__(self, x):
            return layers.gdn(x, data_format=self.data_format, gamma_init=0.3)

    x = jax.random.normal(jax.random.key(3), (1, 2, 3, 3, 4))
    variables = jax.jit(M("channels_last").init)(jax.random.key(0), x)
    last = jax.jit(M("channels_last").apply)(variables, x)
    first = jax.jit(M("channels_first").apply)(variables, jnp.moveaxis(x, -1, 1))
    np.testing.assert_allclose(jnp.moveaxis(first, 1, -1), last, atol=1e-6)
