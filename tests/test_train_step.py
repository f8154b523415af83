"""The train step's options (hand-computed where TF-Slim has no fixture) and the eval step."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import tiny_nets
from jslim.train_step import classification_losses, make_eval_step, make_train_step
from jslim.training import gradients, moving_averages, optimizers, sharding

ONE_DEVICE = sharding.make_mesh(jax.devices()[:1])
RNG = jax.random.PRNGKey(0)


def _batch(n=8, seed=0, num_classes=5):
    data = tiny_nets.random_dataset(n, num_classes, seed)
    return {"images": tiny_nets.scale(data.images, 6, 6), "labels": data.labels}


def test_classification_losses_aux_logits_weight_and_smoothing():
    logits = jnp.array([[2.0, 0.0, -1.0], [0.5, 0.5, 0.0]])
    aux = jnp.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    labels = jnp.array([0, 2])
    out = classification_losses(label_smoothing=0.3)(logits, {"AuxLogits": aux}, labels)

    def ce(z):  # hand: smoothed targets t = onehot * 0.7 + 0.1
        t = np.eye(3)[[0, 2]] * 0.7 + 0.1
        return float(np.mean(-np.sum(t * jax.nn.log_softmax(z), axis=-1)))

    assert float(out["cross_entropy"]) == pytest.approx(ce(logits), rel=1e-6)
    assert float(out["aux_loss"]) == pytest.approx(0.4 * ce(aux), rel=1e-6)
    assert "aux_loss" not in classification_losses()(logits, {}, labels)


def test_clip_gradient_norms_is_per_variable():
    grads = {"a": jnp.array([3.0, 4.0]), "b": jnp.array([0.3, 0.4]), "z": jnp.zeros(2)}
    clipped, _ = gradients.clip_gradient_norms(1.0).update(grads, optax.EmptyState())
    np.testing.assert_allclose(clipped["a"], [0.6, 0.8], rtol=1e-6)
    np.testing.assert_allclose(clipped["b"], [0.3, 0.4], rtol=1e-6)
    np.testing.assert_array_equal(clipped["z"], [0.0, 0.0])


def test_multiply_gradients_by_name_and_scope():
    grads = {"Net": {"fc": {"weights": jnp.ones(2), "biases": jnp.ones(2)}, "conv": {"weights": jnp.ones(2)}}}
    tx = gradients.multiply_gradients({"Net/fc": 2.0, "Net/fc/biases": 5.0})
    out, _ = tx.update(grads, tx.init(grads))
    assert out["Net"]["fc"]["weights"][0] == 2.0
    assert out["Net"]["fc"]["biases"][0] == 5.0  # the most specific key wins
    assert out["Net"]["conv"]["weights"][0] == 1.0


def test_ema_decay_follows_num_updates():
    assert float(moving_averages.ema_decay(0.999, 0)) == pytest.approx(0.1)
    assert float(moving_averages.ema_decay(0.999, 90)) == pytest.approx(0.91)
    assert float(moving_averages.ema_decay(0.9, 10 ** 6)) == pytest.approx(0.9)
    avg = moving_averages.update_moving_averages({"w": jnp.array(1.0)}, {"w": jnp.array(3.0)}, 0.999, 0)
    assert float(avg["w"]) == pytest.approx(1.0 + 0.9 * 2.0)


def test_trainable_scopes_freeze_the_rest_without_optimizer_state():
    model = tiny_nets.build(tiny_nets.TinyNet)
    batch = _batch()
    step = make_train_step(model, optimizers.momentum(0.1), trainable_scopes=["TinyNet/logits"], mesh=ONE_DEVICE,
                           donate=False)
    state = step.init(RNG, batch["images"])
    new, _ = step(state, batch)
    assert not np.array_equal(new.params["TinyNet"]["logits"]["weights"], state.params["TinyNet"]["logits"]["weights"])
    np.testing.assert_array_equal(new.params["TinyNet"]["conv1"]["weights"], state.params["TinyNet"]["conv1"]["weights"])
    assert not np.array_equal(new.batch_stats["TinyNet"]["conv1"]["BatchNorm"]["moving_mean"],
                              state.batch_stats["TinyNet"]["conv1"]["BatchNorm"]["moving_mean"])
    slots = [leaf.shape for leaf in jax.tree.leaves(new.opt_state)]
    assert sorted(slots) == [(5,), (108, 5)]  # momentum accumulators of the logits only
    with pytest.raises(ValueError, match="matches no variable"):
        make_train_step(model, optimizers.sgd(0.1), trainable_scopes=["Nope"], mesh=ONE_DEVICE).init(
            RNG, batch["images"])


def test_non_finite_loss_keeps_the_state_and_reports():
    model = tiny_nets.build(tiny_nets.TinyNet)
    batch = _batch()
    step = make_train_step(model, optimizers.sgd(0.1), labels_offset=1, mesh=ONE_DEVICE, donate=False)
    state = step.init(RNG, batch["images"])
    good, metrics = step(state, dict(batch, labels=batch["labels"] + 1))  # labels_offset=1 undoes the +1
    assert bool(metrics["finite"]) and int(good.step) == 1
    bad_images = batch["images"].copy()
    bad_images[0, 0, 0, 0] = np.nan
    same, metrics = step(good, dict(batch, images=bad_images, labels=batch["labels"] + 1))
    assert not bool(metrics["finite"])
    jax.tree.map(np.testing.assert_array_equal, same, good)


def test_per_step_dropout_rng_is_fold_in_of_step():
    model = tiny_nets.build(tiny_nets.WideNet)
    batch = _batch()
    step = make_train_step(model, optimizers.sgd(0.0), mesh=ONE_DEVICE, donate=False)
    state = step.init(RNG, batch["images"])
    _, m1 = step(state, batch)
    _, m1_again = step(state, batch)
    _, m2 = step(state.replace(step=state.step + 1), batch)
    assert float(m1["total_loss"]) == float(m1_again["total_loss"])
    assert float(m1["total_loss"]) != float(m2["total_loss"])  # another dropout mask at another step


def test_eval_step_masks_padding_and_uses_ema():
    model = tiny_nets.build(tiny_nets.TinyNet)
    batch = _batch(8)
    train = make_train_step(model, optimizers.sgd(0.5), moving_average_decay=0.5, mesh=ONE_DEVICE, donate=False)
    state, _ = train(train.init(RNG, batch["images"]), batch)
    for use_ema in (False, True):
        params = state.ema_params if use_ema else state.params
        logits, _ = model.apply({"params": params, "batch_stats": state.batch_stats}, batch["images"][:5])
        expected = float(np.mean(np.argmax(logits, -1) == batch["labels"][:5]))
        evaluate = make_eval_step(model, use_moving_averages=use_ema, mesh=ONE_DEVICE)
        padded = {k: np.concatenate([v[:5], v[:3]]) for k, v in batch.items()}
        padded["mask"] = np.array([1, 1, 1, 1, 1, 0, 0, 0], np.float32)
        results = evaluate.metric.compute(evaluate(state, padded))
        assert float(results["Accuracy"]) == pytest.approx(expected)
        assert float(results["Recall_5"]) == 1.0  # 5 classes
    assert not np.allclose(state.ema_params["TinyNet"]["logits"]["weights"], state.params["TinyNet"]["logits"]["weights"])


def test_nasnet_trains_with_its_aux_head_and_drop_path_schedule():
    """NASNet builds AuxLogits only in training and ramps drop path with the global
    step: the train state must hold the aux head, and a step must update it."""
    import dataclasses  # pylint: disable=import-outside-toplevel

    import jslim.nets  # pylint: disable=import-outside-toplevel
    from jslim.nets.nasnet import cifar_config  # pylint: disable=import-outside-toplevel

    config = dataclasses.replace(cifar_config(), num_cells=3, num_conv_filters=8)
    model = jslim.nets.build("nasnet_cifar", num_classes=3, config=config)
    train = make_train_step(model, optax.sgd(0.1))
    images = jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (8, 32, 32, 3)), jnp.float32)
    state = train.init(jax.random.key(0), images)
    names = ["/".join(str(k.key) for k in path) for path, _ in jax.tree_util.tree_flatten_with_path(state.params)[0]]
    aux = [n for n in names if "aux_" in n]
    assert aux, "the aux head is missing from the train state"
    new, metrics = train(state, {"images": images, "labels": jnp.arange(8) % 3})
    assert bool(metrics["finite"]) and int(new.step) == 1
    old_aux = {n: v for n, v in zip(names, jax.tree.leaves(state.params)) if "aux_" in n}
    new_aux = {n: v for n, v in zip(names, jax.tree.leaves(new.params)) if "aux_" in n}
    assert any(not np.array_equal(old_aux[n], new_aux[n]) for n in aux), "the aux head was not trained"
