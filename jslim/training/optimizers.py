"""TF1's optimizers (``tf.compat.v1.train.*Optimizer``) as optax transformations.

Each factory takes the TF1 optimizer's arguments and returns an
``optax.GradientTransformation`` whose updates, added to the weights, give exactly
what TF1's dense ``Apply*`` kernel gives. optax is used where it already matches:

=========  ===============================================================  ==========
name       TF1 update (``lr`` from the schedule at the pre-update step)      built from
=========  ===============================================================  ==========
adadelta   ``a = rho a + (1-rho) g^2; u = sqrt(d + eps)/sqrt(a + eps) g;``   optax
           ``d = rho d + (1-rho) u^2; w -= lr u``
adagrad    ``a += g^2`` (``a`` starts at 0.1); ``w -= lr g / sqrt(a)``       optax
adam       ``m, v`` moments; ``w -= lr sqrt(1-b2^t)/(1-b1^t) m/(sqrt(v)+eps)``  here
           (``eps`` is *not* bias corrected, unlike optax's adam)
ftrl       TF's FTRL-proximal (needs the weights; ``lr`` inside)            here
momentum   ``a = m a + g; w -= lr a``                                        optax
rmsprop    ``ms = d ms + (1-d) g^2`` (``ms`` starts at 1.0);                 optax
           ``mom = m mom + lr g / sqrt(ms + eps); w -= mom``
sgd        ``w -= lr g``                                                     optax
=========  ===============================================================  ==========

:func:`configure_optimizer` is ``train_image_classifier._configure_optimizer``: the
optimizer of a ``--optimizer`` name with slim's flag names and defaults.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

__all__ = [
    "OPTIMIZERS",
    "OptimizerFlags",
    "adadelta",
    "adagrad",
    "adam",
    "configure_optimizer",
    "ftrl",
    "momentum",
    "rmsprop",
    "sgd",
]

LearningRate = float | Callable[[jax.Array], jax.Array]
Transformation = optax.GradientTransformation


def adadelta(learning_rate: LearningRate = 0.001, rho: float = 0.95, epsilon: float = 1e-8) -> Transformation:
    """``tf.compat.v1.train.AdadeltaOptimizer`` (accumulators start at 0)."""
    return optax.adadelta(learning_rate, rho=rho, eps=epsilon)


def adagrad(learning_rate: LearningRate, initial_accumulator_value: float = 0.1) -> Transformation:
    """``tf.compat.v1.train.AdagradOptimizer``: no epsilon, accumulators start at 0.1."""
    if initial_accumulator_value <= 0:
        raise ValueError(f"adagrad: initial_accumulator_value must be positive, got {initial_accumulator_value}.")
    return optax.adagrad(learning_rate, initial_accumulator_value=initial_accumulator_value, eps=0.0)


def momentum(learning_rate: LearningRate, momentum: float = 0.9,  # pylint: disable=redefined-outer-name
             use_nesterov: bool = False) -> Transformation:
    """``tf.compat.v1.train.MomentumOptimizer``: ``accum = m * accum + g; w -= lr * accum``."""
    return optax.sgd(learning_rate, momentum=momentum, nesterov=use_nesterov)


def rmsprop(learning_rate: LearningRate, decay: float = 0.9, momentum: float = 0.0,  # pylint: disable=redefined-outer-name
            epsilon: float = 1e-10, centered: bool = False) -> Transformation:
    """``tf.compat.v1.train.RMSPropOptimizer``: ``ms`` starts at 1.0, ``eps`` inside the sqrt,
    the learning rate applied before the momentum accumulator."""
    return optax.rmsprop(learning_rate, decay=decay, eps=epsilon, initial_scale=1.0,
                         centered=centered, momentum=momentum or None, eps_in_sqrt=True)


def sgd(learning_rate: LearningRate) -> Transformation:
    """``tf.compat.v1.train.GradientDescentOptimizer``."""
    return optax.sgd(learning_rate)


class ScaleByTF1AdamState(NamedTuple):
    """``beta1_power``/``beta2_power``: ``b^t`` for the coming step ``t`` (float32, multiplied
    once a step like TF's accumulators); ``mu``/``nu``: first and second moments."""

    beta1_power: jax.Array
    beta2_power: jax.Array
    mu: optax.Updates
    nu: optax.Updates


def scale_by_tf1_adam(beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8) -> Transformation:
    """TF1 Adam's direction ``sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)``."""

    def init(params):
        zeros = jax.tree.map(jnp.zeros_like, params)
        return ScaleByTF1AdamState(jnp.float32(beta1), jnp.float32(beta2), zeros, zeros)

    def update(updates, state, params=None):
        del params
        # 1 - beta in float32, as TF's kernel computes it (1 - 0.999f != float32(0.001)).
        one_minus_b1, one_minus_b2 = 1 - jnp.float32(beta1), 1 - jnp.float32(beta2)
        mu = jax.tree.map(lambda m, g: m + (g - m) * one_minus_b1, state.mu, updates)
        nu = jax.tree.map(lambda v, g: v + (g * g - v) * one_minus_b2, state.nu, updates)
        factor = jnp.sqrt(1 - state.beta2_power) / (1 - state.beta1_power)
        direction = jax.tree.map(lambda m, v: factor * m / (jnp.sqrt(v) + epsilon), mu, nu)
        return direction, ScaleByTF1AdamState(state.beta1_power * beta1, state.beta2_power * beta2, mu, nu)

    return optax.GradientTransformation(init, update)


def adam(learning_rate: LearningRate = 0.001, beta1: float = 0.9, beta2: float = 0.999,
         epsilon: float = 1e-8) -> Transformation:
    """``tf.compat.v1.train.AdamOptimizer`` (slim's ``--opt_epsilon`` default is 1.0)."""
    return optax.chain(scale_by_tf1_adam(beta1, beta2, epsilon), optax.scale_by_learning_rate(learning_rate))


class FtrlState(NamedTuple):
    """``count``: steps taken; ``accumulator`` (starts at the initial value), ``linear`` (0)."""

    count: jax.Array
    accumulator: optax.Updates
    linear: optax.Updates


def _ftrl_leaf(w, g, accum, linear, lr, power, l1, l2):
    new_accum = accum + g * g
    if power == -0.5:
        sigma = (jnp.sqrt(new_accum) - jnp.sqrt(accum)) / lr
        quadratic = jnp.sqrt(new_accum) / lr + 2 * l2
    else:
        sigma = (new_accum ** (-power) - accum ** (-power)) / lr
        quadratic = new_accum ** (-power) / lr + 2 * l2
    linear = linear + g - sigma * w
    new_w = jnp.where(jnp.abs(linear) > l1, (l1 * jnp.sign(linear) - linear) / quadratic, 0.0)
    return new_w - w, new_accum, linear


def ftrl(learning_rate: LearningRate, learning_rate_power: float = -0.5, initial_accumulator_value: float = 0.1,
         l1_regularization_strength: float = 0.0, l2_regularization_strength: float = 0.0) -> Transformation:
    """``tf.compat.v1.train.FtrlOptimizer`` (``ApplyFtrl``, no l2 shrinkage).

    ``accum' = accum + g^2``; ``linear += g - (accum'^-p - accum^-p) / lr * w``;
    ``w = (l1 sign(linear) - linear) / (accum'^-p / lr + 2 l2)`` where ``|linear| > l1``,
    else 0. The update needs ``params``.
    """
    if learning_rate_power > 0:
        raise ValueError(f"ftrl: learning_rate_power must be <= 0, got {learning_rate_power}.")
    schedule = learning_rate if callable(learning_rate) else (lambda _: learning_rate)

    def init(params):
        return FtrlState(jnp.zeros([], jnp.int32),
                         jax.tree.map(lambda p: jnp.full_like(p, initial_accumulator_value), params),
                         jax.tree.map(jnp.zeros_like, params))

    def update(updates, state, params=None):
        if params is None:
            raise ValueError("ftrl needs the weights: call update(grads, state, params).")
        lr = schedule(state.count)
        treedef = jax.tree.structure(params)
        if not treedef.num_leaves:
            return updates, state._replace(count=state.count + 1)
        leaves = zip(*(treedef.flatten_up_to(t) for t in (params, updates, state.accumulator, state.linear)))
        results = [_ftrl_leaf(w, g, a, z, lr, learning_rate_power, l1_regularization_strength,
                              l2_regularization_strength) for w, g, a, z in leaves]
        deltas, accumulator, linear = (treedef.unflatten(column) for column in zip(*results))
        return deltas, FtrlState(state.count + 1, accumulator, linear)

    return optax.GradientTransformation(init, update)


@dataclasses.dataclass(frozen=True)
class OptimizerFlags:
    """The optimizer flags of ``train_image_classifier.py``, with slim's defaults."""

    adadelta_rho: float = 0.95
    adagrad_initial_accumulator_value: float = 0.1
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    opt_epsilon: float = 1.0
    ftrl_learning_rate_power: float = -0.5
    ftrl_initial_accumulator_value: float = 0.1
    ftrl_l1: float = 0.0
    ftrl_l2: float = 0.0
    momentum: float = 0.9
    rmsprop_momentum: float = 0.9
    rmsprop_decay: float = 0.9


OPTIMIZERS: dict[str, Callable[[LearningRate, OptimizerFlags], Transformation]] = {
    "adadelta": lambda lr, f: adadelta(lr, rho=f.adadelta_rho, epsilon=f.opt_epsilon),
    "adagrad": lambda lr, f: adagrad(lr, initial_accumulator_value=f.adagrad_initial_accumulator_value),
    "adam": lambda lr, f: adam(lr, beta1=f.adam_beta1, beta2=f.adam_beta2, epsilon=f.opt_epsilon),
    "ftrl": lambda lr, f: ftrl(lr, learning_rate_power=f.ftrl_learning_rate_power,
                               initial_accumulator_value=f.ftrl_initial_accumulator_value,
                               l1_regularization_strength=f.ftrl_l1, l2_regularization_strength=f.ftrl_l2),
    "momentum": lambda lr, f: momentum(lr, momentum=f.momentum),
    "rmsprop": lambda lr, f: rmsprop(lr, decay=f.rmsprop_decay, momentum=f.rmsprop_momentum, epsilon=f.opt_epsilon),
    "sgd": lambda lr, f: sgd(lr),
}


def configure_optimizer(name: str, learning_rate: LearningRate, flags: OptimizerFlags | None = None,
                        **overrides: Any) -> Transformation:
    """The optimizer ``--optimizer=name`` of ``train_image_classifier.py``.

    Args:
      name: one of :data:`OPTIMIZERS`.
      learning_rate: a float or a schedule ``step -> lr``.
      flags: slim's optimizer flags (defaults: slim's).
      **overrides: individual :class:`OptimizerFlags` fields.

    Raises:
      ValueError: an unknown optimizer name.
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"Optimizer [{name}] was not recognized; valid: {', '.join(sorted(OPTIMIZERS))}.")
    flags = dataclasses.replace(flags or OptimizerFlags(), **overrides)
    return OPTIMIZERS[name](learning_rate, flags)
