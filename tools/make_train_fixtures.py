"""Writes TF-Slim training references to tests/fixtures/training/ (run under TensorFlow).

    /opt/tfvenv/bin/python tools/make_train_fixtures.py

Three files, each made by TF 2.21 in v1 graph mode with tf_slim 1.1.0:

* ``optimizers.npz``: every optimizer of ``train_image_classifier._configure_optimizer``
  (slim's flag defaults) applied for 4 steps to two variables with fixed gradients under an
  exponentially decaying learning rate. Keys ``<case>/<var>/<step>`` (values after that
  step), ``init/<var>``, ``grads/<var>/<step>``, ``lr/<case>/<step>``.
* ``train_op.npz``: a tiny slim net (conv + batch_norm, fully_connected logits, l2 weight
  decay) trained by ``slim.learning.create_train_op`` on ``tf.losses.get_total_loss()``
  (softmax cross entropy + regularization; batch-norm updates from ``UPDATE_OPS``). Cases:
  ``sgd`` (1 step), ``momentum`` (2 steps), ``momentum_clip_mult_ema`` (3 steps with
  ``clip_gradient_norm``, ``gradient_multipliers``, label smoothing and an
  ``ExponentialMovingAverage(num_updates=global_step)`` applied after the train op).
  Keys ``<case>/<step>/<var>``, ``<case>/<step>/loss``, ``<case>/ema/<step>/<var>``,
  ``init/<var>``, ``images``, ``labels``.
* ``schedules.npz``: ``tf.train.exponential_decay`` (staircase) and ``polynomial_decay``
  values at steps 0..40.
"""

from __future__ import annotations

import pathlib
import sys
import zlib

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from tf_shim import import_tf_slim  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "training"

# Slim's flag defaults (train_image_classifier.py).
OPTIMIZERS = {
    "adadelta": lambda tf, lr: tf.compat.v1.train.AdadeltaOptimizer(lr, rho=0.95, epsilon=1.0),
    "adagrad": lambda tf, lr: tf.compat.v1.train.AdagradOptimizer(lr, initial_accumulator_value=0.1),
    "adam": lambda tf, lr: tf.compat.v1.train.AdamOptimizer(lr, beta1=0.9, beta2=0.999, epsilon=1.0),
    "adam_eps1e-8": lambda tf, lr: tf.compat.v1.train.AdamOptimizer(lr, beta1=0.9, beta2=0.999, epsilon=1e-8),
    "ftrl": lambda tf, lr: tf.compat.v1.train.FtrlOptimizer(
        lr, learning_rate_power=-0.5, initial_accumulator_value=0.1,
        l1_regularization_strength=0.0, l2_regularization_strength=0.0),
    "ftrl_l1_l2_power": lambda tf, lr: tf.compat.v1.train.FtrlOptimizer(
        lr, learning_rate_power=-0.75, initial_accumulator_value=0.1,
        l1_regularization_strength=0.01, l2_regularization_strength=0.1),
    "momentum": lambda tf, lr: tf.compat.v1.train.MomentumOptimizer(lr, momentum=0.9),
    "rmsprop": lambda tf, lr: tf.compat.v1.train.RMSPropOptimizer(lr, decay=0.9, momentum=0.9, epsilon=1.0),
    "sgd": lambda tf, lr: tf.compat.v1.train.GradientDescentOptimizer(lr),
}
OPT_STEPS = 4
OPT_VARS = {"a": (3, 4), "b": (5,)}
LR = dict(learning_rate=0.1, decay_steps=2, decay_rate=0.5)


def _rng(name: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(name.encode()))


def optimizers(tf) -> dict[str, np.ndarray]:
    """Four steps of each optimizer on fixed gradients."""
    out = {}
    init = {k: _rng(f"init/{k}").standard_normal(s).astype(np.float32) for k, s in OPT_VARS.items()}
    grads = {(k, t): _rng(f"grad/{k}/{t}").standard_normal(s).astype(np.float32)
             for k, s in OPT_VARS.items() for t in range(OPT_STEPS)}
    out.update({f"init/{k}": v for k, v in init.items()})
    out.update({f"grads/{k}/{t}": v for (k, t), v in grads.items()})
    for case, make in OPTIMIZERS.items():
        with tf.Graph().as_default():
            step = tf.compat.v1.train.get_or_create_global_step()
            lr = tf.compat.v1.train.exponential_decay(LR["learning_rate"], step, LR["decay_steps"],
                                                      LR["decay_rate"], staircase=True)
            variables = {k: tf.compat.v1.Variable(v, name=k) for k, v in init.items()}
            feeds = {k: tf.compat.v1.placeholder(tf.float32, s) for k, s in OPT_VARS.items()}
            train = make(tf, lr).apply_gradients([(feeds[k], variables[k]) for k in OPT_VARS], global_step=step)
            with tf.compat.v1.Session() as sess:
                sess.run(tf.compat.v1.global_variables_initializer())
                for t in range(OPT_STEPS):
                    out[f"lr/{case}/{t}"] = np.float32(sess.run(lr))
                    sess.run(train, {feeds[k]: grads[(k, t)] for k in OPT_VARS})
                    for k, v in sess.run(variables).items():
                        out[f"{case}/{k}/{t}"] = v
    return out


TRAIN_CASES = {
    # name: (optimizer, steps, extra create_train_op kwargs, label_smoothing, ema decay)
    "sgd": ("sgd", 1, {}, 0.0, None),
    "momentum": ("momentum", 2, {}, 0.0, None),
    "momentum_clip_mult_ema": ("momentum", 3, {"clip_gradient_norm": 0.5}, 0.1, 0.99),
}
MULTIPLIERS = {"TinyNet/logits/weights": 3.0}
BATCH, SIZE, CHANNELS, CLASSES = 4, 6, 2, 5
WEIGHT_DECAY = 0.01


def _tiny_net(tf, slim, images):
    with slim.arg_scope([slim.conv2d, slim.fully_connected],
                        weights_regularizer=slim.l2_regularizer(WEIGHT_DECAY)):
        with tf.compat.v1.variable_scope("TinyNet"):
            net = slim.conv2d(images, 3, [3, 3], normalizer_fn=slim.batch_norm,
                              normalizer_params={"scale": True, "is_training": True}, scope="conv1")
            net = slim.flatten(net)
            return slim.fully_connected(net, CLASSES, activation_fn=None, scope="logits")


def train_op(tf, slim) -> dict[str, np.ndarray]:
    """Steps of ``create_train_op`` on a conv + batch-norm + logits net."""
    out = {}
    images = _rng("images").standard_normal((BATCH, SIZE, SIZE, CHANNELS)).astype(np.float32)
    labels = np.array([0, 3, 1, 3], np.int64)
    out["images"], out["labels"] = images, labels
    for case, (opt_name, steps, kwargs, smoothing, ema_decay) in TRAIN_CASES.items():
        with tf.Graph().as_default():
            step = tf.compat.v1.train.get_or_create_global_step()
            logits = _tiny_net(tf, slim, tf.constant(images))
            onehot = tf.one_hot(labels, CLASSES)
            tf.compat.v1.losses.softmax_cross_entropy(onehot, logits, label_smoothing=smoothing)
            total = tf.compat.v1.losses.get_total_loss()
            model_vars = {v.op.name: v for v in tf.compat.v1.global_variables() if v.op.name.startswith("TinyNet")}
            start = {name: golden(name, var.shape.as_list()) for name, var in model_vars.items()}
            opt = OPTIMIZERS[opt_name](tf, 0.1)
            if case == "momentum_clip_mult_ema":
                kwargs = dict(kwargs, gradient_multipliers={model_vars[n]: m for n, m in MULTIPLIERS.items()})
            train = slim.learning.create_train_op(total, opt, global_step=step, **kwargs)
            ema_op = None
            if ema_decay:
                ema = tf.compat.v1.train.ExponentialMovingAverage(ema_decay, num_updates=step)
                trainables = tf.compat.v1.trainable_variables()
                with tf.control_dependencies([train]):
                    # After the train op, as in the ExponentialMovingAverage docstring: the
                    # average reads the updated weights and the incremented global_step.
                    ema_op = ema.apply(trainables)
                shadows = {v.op.name: ema.average(v) for v in trainables}
            with tf.compat.v1.Session() as sess:
                sess.run(tf.compat.v1.global_variables_initializer())
                for name, var in model_vars.items():
                    var.load(start[name], sess)
                    out[f"init/{name}"] = start[name]
                if ema_op is not None:
                    for name, shadow in shadows.items():
                        shadow.load(start[name], sess)
                for t in range(steps):
                    loss = sess.run(train if ema_op is None else [train, ema_op])
                    loss = loss if ema_op is None else loss[0]
                    out[f"{case}/{t}/loss"] = np.float32(loss)
                    for name, value in sess.run(model_vars).items():
                        out[f"{case}/{t}/{name}"] = value
                    if ema_op is not None:
                        for name, value in sess.run(shadows).items():
                            out[f"{case}/ema/{t}/{name}"] = value
    return out


def golden(name: str, shape) -> np.ndarray:
    """Deterministic starting weights (tests/golden.py's rule)."""
    rng = _rng(name)
    last = name.split("/")[-1]
    if last == "moving_variance":
        return (1.5 + rng.random(shape)).astype(np.float32)
    if last == "gamma":
        return (0.5 + rng.random(shape)).astype(np.float32)
    if len(shape) >= 2:
        return (rng.standard_normal(shape) * np.sqrt(2.0 / np.prod(shape[:-1]))).astype(np.float32)
    return (0.1 * rng.standard_normal(shape)).astype(np.float32)


def schedules(tf) -> dict[str, np.ndarray]:
    """``exponential_decay`` (staircase) and ``polynomial_decay`` at steps 0..40."""
    out = {}
    with tf.Graph().as_default():
        step = tf.compat.v1.placeholder(tf.int64, [])
        exp = tf.compat.v1.train.exponential_decay(0.01, step, 7, 0.94, staircase=True)
        poly = tf.compat.v1.train.polynomial_decay(0.01, step, 30, 0.0001, power=1.0, cycle=False)
        with tf.compat.v1.Session() as sess:
            out["exponential"] = np.array([sess.run(exp, {step: s}) for s in range(41)], np.float32)
            out["polynomial"] = np.array([sess.run(poly, {step: s}) for s in range(41)], np.float32)
    return out


def main() -> None:
    tf, slim = import_tf_slim()
    # tf_slim 1.1.0's multiply_gradients tests isinstance(g, ops.Tensor / ops.IndexedSlices),
    # names TF 2.21 no longer has in that module.
    from tensorflow.python.framework import ops  # pylint: disable=import-outside-toplevel

    for name, value in (("Tensor", tf.Tensor), ("IndexedSlices", tf.IndexedSlices)):
        if not hasattr(ops, name):
            setattr(ops, name, value)
    OUT.mkdir(parents=True, exist_ok=True)
    for name, make in (("optimizers", optimizers), ("train_op", lambda tf: train_op(tf, slim)),
                       ("schedules", schedules)):
        arrays = make(tf)
        np.savez_compressed(OUT / f"{name}.npz", **arrays)
        print(f"wrote {OUT / name}.npz ({len(arrays)} arrays)")


if __name__ == "__main__":
    main()
