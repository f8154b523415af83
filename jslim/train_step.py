"""The train state and the compiled train / eval steps (slim's ``create_train_op``).

::

    model = jslim.nets.build("lenet", num_classes=10, weight_decay=4e-5)
    tx = optimizers.configure_optimizer("momentum", schedule)
    train_step = make_train_step(model, tx, learning_rate_fn=schedule)
    state = train_step.init(jax.random.PRNGKey(0), model.example_input(32))
    state, metrics = train_step(state, batch)     # batch: {'images', 'labels'}

A step is one pure function ``(state, batch) -> (state, metrics)`` under ``jax.jit``
with ``in_shardings``/``out_shardings`` over a ``'data'`` mesh
(:mod:`jslim.training.sharding`) and the state donated. It computes, like
``create_train_op`` on ``get_total_loss()``:

1. the forward pass in training mode; dropout's key is ``fold_in(state.rng, state.step)``;
2. the total loss = the classification losses (softmax cross entropy, label smoothing,
   the ``AuxLogits`` head weighted 0.4) + every regularization loss the layers report;
3. batch-norm moving statistics updated from this batch (slim's ``UPDATE_OPS``);
4. gradients (of ``params`` only) multiplied, clipped per variable, restricted to
   ``trainable_scopes`` and applied by the optimizer;
5. the EMA of the weights (``moving_average_decay``, with ``num_updates`` = new step).

A non-finite total loss leaves the state as it was and reports ``metrics['finite'] =
False``; :mod:`jslim.training.loop` stops there with an error naming the step.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh

from jslim import losses as slim_losses
from jslim import metrics as slim_metrics
from jslim.layers.regularizers import get_regularization_losses
from jslim.training import gradients, moving_averages, sharding

__all__ = [
    "EvalMetrics", "EvalStep", "TrainState", "TrainStep", "classification_losses", "make_eval_step",
    "make_train_step", "slim_eval_metrics",
]

Batch = Mapping[str, jax.Array]
LossFn = Callable[[jax.Array, Mapping[str, jax.Array], jax.Array], Mapping[str, jax.Array]]
BATCH_STATS = "batch_stats"
LOSSES = "losses"


@flax.struct.dataclass
class TrainState:
    """Everything a training run carries from step to step (a pytree; checkpointed whole).

    Attributes:
      step: int32 scalar, the number of updates applied (TF's ``global_step``).
      params: the trainable variables, ``{'LeNet': {'conv1': {'weights': ...}}}``.
      batch_stats: the ``batch_stats`` collection (moving means and variances).
      opt_state: the optimizer's state.
      ema_params: the moving averages of ``params`` (``None`` without
        ``moving_average_decay``).
      rng: the run's base PRNG key (uint32 ``[2]``); step ``s`` uses ``fold_in(rng, s)``.
      non_trainable: the ``non_trainable`` collection (variables made with
        ``trainable=False``), carried unchanged.
    """

    step: jax.Array
    params: Any
    batch_stats: Any
    opt_state: Any
    ema_params: Any
    rng: jax.Array
    non_trainable: Any = flax.struct.field(default_factory=dict)

    def variables(self, use_moving_averages: bool = False) -> dict[str, Any]:
        """The Flax variables for ``model.apply`` (EMA weights when asked and kept)."""
        if use_moving_averages and self.ema_params is None:
            raise ValueError("use_moving_averages: this run kept no moving averages (train with "
                             "--moving_average_decay).")
        params = self.ema_params if use_moving_averages else self.params
        variables = {"params": params, BATCH_STATS: self.batch_stats, "non_trainable": self.non_trainable}
        return {k: v for k, v in variables.items() if k == "params" or v}


def classification_losses(label_smoothing: float = 0.0, aux_logits_weight: float = 0.4) -> LossFn:
    """``train_image_classifier``'s losses: ``{'cross_entropy', 'aux_loss' (if AuxLogits)}``.

    Returns:
      ``loss_fn(logits [N, C], end_points, labels int [N]) -> {name: scalar}``: softmax
      cross entropy of one-hot labels with ``label_smoothing``, plus the same loss of
      ``end_points['AuxLogits']`` weighted by ``aux_logits_weight``.
    """

    def loss_fn(logits, end_points, labels):
        onehot = jax.nn.one_hot(labels, logits.shape[-1], dtype=jnp.float32)
        out = {"cross_entropy": slim_losses.softmax_cross_entropy(onehot, logits, label_smoothing=label_smoothing)}
        if "AuxLogits" in end_points:
            aux = end_points["AuxLogits"]
            out["aux_loss"] = slim_losses.softmax_cross_entropy(
                onehot, aux, weights=aux_logits_weight, label_smoothing=label_smoothing)
        return out

    return loss_fn


def _sum(values: Iterable[jax.Array]) -> jax.Array:
    return sum((jnp.asarray(v, jnp.float32) for v in values), jnp.zeros((), jnp.float32))


def _keep_if(ok: jax.Array, new: Any, old: Any) -> Any:
    return jax.tree.map(lambda n, o: jnp.where(ok, n, o), new, old)


class TrainStep:
    """A compiled train step ``(state, batch) -> (state, metrics)``; build it with
    :func:`make_train_step`.

    Attributes:
      model: the Flax module.
      tx: the optimizer with slim's gradient processing (what ``opt_state`` belongs to).
      mesh: the device mesh.
    """

    def __init__(self, model: nn.Module, tx: optax.GradientTransformation, *, loss_fn: LossFn,
                 labels_offset: int, moving_average_decay: float | None,
                 learning_rate_fn: Callable[[jax.Array], jax.Array] | None, mesh: Mesh, fsdp: bool,
                 donate: bool):
        self.model, self.tx, self.mesh = model, tx, mesh
        self._loss_fn, self._labels_offset = loss_fn, labels_offset
        self._ema_decay, self._lr_fn = moving_average_decay, learning_rate_fn
        self._fsdp, self._donate = fsdp, donate
        self._compiled: dict[Any, Callable] = {}

    # -- state -----------------------------------------------------------------------
    def _state_from(self, variables: Mapping[str, Any], rng: jax.Array) -> TrainState:
        variables = dict(variables)
        variables.pop(LOSSES, None)
        params = variables.pop("params")
        return TrainState(
            step=jnp.zeros((), jnp.int32), params=params, batch_stats=variables.pop(BATCH_STATS, {}),
            opt_state=self.tx.init(params),
            ema_params=None if self._ema_decay is None else jax.tree.map(jnp.copy, params),
            rng=jnp.asarray(rng), non_trainable=variables.pop("non_trainable", {}))

    def _step_kwargs(self, step: jax.Array) -> dict[str, jax.Array]:
        """``current_step`` for nets whose schedule needs it (NASNet's drop path), as slim's global step."""
        takes_step = "current_step" in inspect.signature(type(self.model).__call__).parameters
        return {"current_step": step} if takes_step else {}

    def _init(self, rng: jax.Array, images: jax.Array) -> TrainState:
        init_rng, run_rng = jax.random.split(rng)
        # Training mode creates every variable (NASNet/PNASNet build their aux head only then).
        variables = self.model.init({"params": init_rng, "dropout": init_rng}, images, is_training=True,
                                    **self._step_kwargs(jnp.zeros((), jnp.int32)))
        return self._state_from(variables, run_rng)

    def abstract_state(self, rng: jax.Array, images: jax.Array) -> TrainState:
        """The state's shapes, dtypes and shardings (``jax.ShapeDtypeStruct`` leaves), e.g. as
        the template to restore a checkpoint into."""
        shapes = jax.eval_shape(self._init, rng, images)
        return jax.tree.map(lambda s, sh: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sh),
                            shapes, self.state_shardings(shapes))

    def init(self, rng: jax.Array, images: jax.Array) -> TrainState:
        """A new state at step 0: weights from the net's initializers, placed on the mesh.

        Args:
          rng: a PRNG key; every process must pass the same one.
          images: an example batch ``[N, H, W, C]`` (only its shape matters).
        """
        shardings = self.state_shardings(jax.eval_shape(self._init, rng, images))
        replicated = sharding.replicated(self.mesh)
        return jax.jit(self._init, in_shardings=(replicated, replicated), out_shardings=shardings)(rng, images)

    def create_state(self, variables: Mapping[str, Any], rng: jax.Array) -> TrainState:
        """A new state at step 0 from given variables (a warm start): a fresh optimizer
        state, the EMA starting at the given weights.

        Args:
          variables: ``{'params': ..., 'batch_stats': ...}``, e.g. an imported checkpoint.
          rng: the run's base key (every process the same).
        """
        shardings = self.state_shardings(jax.eval_shape(self._state_from, variables, rng))
        return jax.jit(self._state_from, out_shardings=shardings)(variables, rng)

    def state_shardings(self, state: Any) -> Any:
        """The ``NamedSharding`` of every leaf of ``state`` (data parallel or FSDP)."""
        return sharding.state_shardings(state, self.mesh, fsdp=self._fsdp)

    # -- the step ----------------------------------------------------------------------
    def _losses(self, params, state: TrainState, batch: Batch):
        variables = state.replace(params=params).variables()
        (logits, end_points), mutated = self.model.apply(
            variables, batch["images"], is_training=True, mutable=[BATCH_STATS, LOSSES],
            rngs={"dropout": jax.random.fold_in(state.rng, state.step)}, **self._step_kwargs(state.step))
        labels = batch["labels"] - self._labels_offset
        named = dict(self._loss_fn(logits, end_points, labels))
        named["regularization_loss"] = _sum(get_regularization_losses(mutated).values())
        total = _sum(named.values())
        return total, (named, mutated.get(BATCH_STATS, state.batch_stats))

    def _step(self, state: TrainState, batch: Batch) -> tuple[TrainState, dict[str, jax.Array]]:
        grad_fn = jax.value_and_grad(self._losses, has_aux=True)
        (total, (named, batch_stats)), grads = grad_fn(state.params, state, batch)
        updates, opt_state = self.tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        step = state.step + 1
        ema = state.ema_params
        if self._ema_decay is not None:
            ema = moving_averages.update_moving_averages(ema, params, self._ema_decay, num_updates=step)
        new = state.replace(step=step, params=params, batch_stats=batch_stats, opt_state=opt_state, ema_params=ema)
        finite = jnp.isfinite(total)
        metrics = {"total_loss": total, "finite": finite, **{f"losses/{k}": v for k, v in named.items()}}
        if self._lr_fn is not None:
            metrics["learning_rate"] = jnp.asarray(self._lr_fn(state.step), jnp.float32)
        return _keep_if(finite, new, state), metrics

    def __call__(self, state: TrainState, batch: Batch) -> tuple[TrainState, dict[str, jax.Array]]:
        """One update; ``batch``: ``{'images' [N, H, W, C], 'labels' int [N]}`` global arrays
        (see :func:`jslim.training.sharding.global_batch`) or host arrays on one process."""
        key = jax.tree.structure(state)
        if key not in self._compiled:
            shardings = self.state_shardings(state)
            self._compiled[key] = jax.jit(
                self._step, in_shardings=(shardings, sharding.batch_sharding(self.mesh)),
                out_shardings=(shardings, sharding.replicated(self.mesh)),
                donate_argnums=(0,) if self._donate else ())
        return self._compiled[key](state, dict(batch))


def make_train_step(model: nn.Module, optimizer: optax.GradientTransformation, *,
                    loss_fn: LossFn | None = None, label_smoothing: float = 0.0, aux_logits_weight: float = 0.4,
                    labels_offset: int = 0, trainable_scopes: Iterable[str] | None = None,
                    gradient_multipliers: Mapping[str, float] | None = None, clip_gradient_norm: float = 0.0,
                    moving_average_decay: float | None = None,
                    learning_rate_fn: Callable[[jax.Array], jax.Array] | None = None,
                    mesh: Mesh | None = None, fsdp: bool = False, donate: bool = True) -> TrainStep:
    """Builds the compiled train step of ``model`` (see the module docstring).

    Args:
      model: a jslim net (``apply(..., is_training=True) -> (logits, end_points)``).
      optimizer: e.g. from :func:`jslim.training.optimizers.configure_optimizer`.
      loss_fn: ``(logits, end_points, labels) -> {name: scalar}``; default
        :func:`classification_losses` with ``label_smoothing`` and ``aux_logits_weight``.
      label_smoothing: slim's ``--label_smoothing``.
      aux_logits_weight: weight of the ``AuxLogits`` loss (slim: 0.4).
      labels_offset: subtracted from ``batch['labels']`` (slim's ``--labels_offset``).
      trainable_scopes: train only the variables under these scopes.
      gradient_multipliers: ``{slim name or scope: factor}``.
      clip_gradient_norm: clip each variable's gradient to this norm (0: off).
      moving_average_decay: keep an EMA of the weights with this decay (None: off).
      learning_rate_fn: the schedule, reported as ``metrics['learning_rate']``.
      mesh: the device mesh (default: a ``'data'`` mesh over every device).
      fsdp: shard the state over ``'data'`` too (FSDP); default data parallel.
      donate: donate the input state's buffers to the output.

    Returns:
      A :class:`TrainStep`: ``step(state, batch) -> (state, metrics)`` with ``init``.
      ``metrics``: ``total_loss``, ``losses/<name>`` (incl. ``regularization_loss``),
      ``finite``, ``learning_rate``.
    """
    tx = gradients.process_gradients(optimizer, trainable_scopes=trainable_scopes,
                                     gradient_multipliers=gradient_multipliers,
                                     clip_gradient_norm=clip_gradient_norm)
    return TrainStep(model, tx, loss_fn=loss_fn or classification_losses(label_smoothing, aux_logits_weight),
                     labels_offset=labels_offset, moving_average_decay=moving_average_decay,
                     learning_rate_fn=learning_rate_fn, mesh=mesh or sharding.make_mesh(), fsdp=fsdp,
                     donate=donate)


class EvalMetrics(NamedTuple):
    """What an eval step measures: ``metric`` (an ``aggregate_metric_map``) and
    ``arguments(logits, labels, weights) -> {name: update kwargs}``."""

    metric: slim_metrics.Metric
    arguments: Callable[[jax.Array, jax.Array, jax.Array | None], dict[str, dict[str, Any]]]


def slim_eval_metrics(k: int = 5) -> EvalMetrics:
    """``eval_image_classifier``'s metrics: ``Accuracy`` (of the argmax) and ``Recall_<k>``."""
    metric = slim_metrics.aggregate_metric_map({"Accuracy": slim_metrics.accuracy(),
                                                f"Recall_{k}": slim_metrics.recall_at_k(k)})

    def arguments(logits, labels, weights):
        return {"Accuracy": dict(predictions=jnp.argmax(logits, axis=-1), labels=labels, weights=weights),
                f"Recall_{k}": dict(predictions=logits, labels=labels, weights=weights)}

    return EvalMetrics(metric, arguments)


class EvalStep:
    """A compiled eval step ``(state, batch) -> metric statistics of the batch``; build it
    with :func:`make_eval_step`. ``metric`` merges and computes them."""

    def __init__(self, model: nn.Module, *, metrics: EvalMetrics, labels_offset: int,
                 use_moving_averages: bool, mesh: Mesh, fsdp: bool):
        self.model, self.mesh = model, mesh
        self.metric, self._arguments = metrics
        self._labels_offset, self._use_ema, self._fsdp = labels_offset, use_moving_averages, fsdp
        self._compiled: dict[Any, Callable] = {}

    def _stats(self, state: TrainState, batch: Batch):
        logits, _ = self.model.apply(state.variables(self._use_ema), batch["images"], is_training=False)
        args = self._arguments(logits, batch["labels"] - self._labels_offset, batch.get("mask"))
        return self.metric.update(self.metric.empty(), args)

    def __call__(self, state: TrainState, batch: Batch) -> Any:
        """``batch``: ``{'images', 'labels', 'mask' (optional, 0 for padding rows)}``."""
        key = jax.tree.structure(state)
        if key not in self._compiled:
            shardings = sharding.state_shardings(state, self.mesh, fsdp=self._fsdp)
            self._compiled[key] = jax.jit(self._stats, in_shardings=(shardings, sharding.batch_sharding(self.mesh)),
                                          out_shardings=sharding.replicated(self.mesh))
        return self._compiled[key](state, dict(batch))


def make_eval_step(model: nn.Module, *, metrics: EvalMetrics | None = None, labels_offset: int = 0,
                   use_moving_averages: bool = False, mesh: Mesh | None = None, fsdp: bool = False) -> EvalStep:
    """Builds the compiled eval step: the net in inference mode, slim's metrics.

    Args:
      model: the net.
      metrics: what to measure (default :func:`slim_eval_metrics`: Accuracy and Recall_5,
        as ``eval_image_classifier``).
      labels_offset: subtracted from the labels.
      use_moving_averages: evaluate the EMA weights (``state.ema_params``).
      mesh: the device mesh (default: every device).
      fsdp: the state is FSDP-sharded.

    Returns:
      An :class:`EvalStep`; ``step.metric.compute(merged stats) -> {name: value}``.
    """
    return EvalStep(model, metrics=metrics or slim_eval_metrics(), labels_offset=labels_offset,
                    use_moving_averages=use_moving_averages, mesh=mesh or sharding.make_mesh(), fsdp=fsdp)
