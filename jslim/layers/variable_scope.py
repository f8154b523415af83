"""TF-style variable scopes over Flax's variable tree.

Layers are plain functions called inside a Flax linen ``@nn.compact`` method.
They create their variables through :func:`model_variable`, under the current
*variable scope*: the calling module's Flax scope, extended by nested
:func:`variable_scope` blocks. A TF-Slim name therefore *is* the tree path::

    class Net(nn.Module):
      @nn.compact
      def __call__(self, x):
        with variable_scope("InceptionV3"):
          return conv2d(x, 32, [3, 3], scope="Conv2d_1a_3x3")

    # params:      InceptionV3/Conv2d_1a_3x3/weights            [3, 3, in, 32]
    # (with batch_norm) params InceptionV3/Conv2d_1a_3x3/BatchNorm/beta,
    # batch_stats: InceptionV3/Conv2d_1a_3x3/BatchNorm/moving_mean ...

Collections: trainable variables live in ``params``, non-trainable ones
(``trainable=False``) in ``non_trainable``, batch-norm moving statistics in
``batch_stats``. When ``losses`` is a mutable collection (the train step passes
``mutable=["batch_stats", "losses"]``), each regularized variable also writes
its regularization loss to ``losses`` at the variable's own path.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax.core.scope import Scope
from flax.linen import module as linen_module

__all__ = [
    "LOSSES",
    "NON_TRAINABLE",
    "PARAMS",
    "add_loss",
    "current_scope",
    "is_initializing",
    "model_variable",
    "scope_path",
    "state_variable",
    "variable_scope",
]

PARAMS = "params"
NON_TRAINABLE = "non_trainable"
LOSSES = "losses"

# (linen module the scope belongs to, flax core scope). Keyed on the module so
# that a linen submodule called inside a variable_scope starts from its own scope.
_STACK: contextvars.ContextVar[tuple[Any, Scope] | None] = contextvars.ContextVar(
    "jslim_variable_scope", default=None
)


def _current_module() -> Any:
    return linen_module._context.module_stack[-1]  # pylint: disable=protected-access


def current_scope() -> Scope:
    """The Flax scope new variables are created in.

    Raises:
      RuntimeError: called outside a Flax module's ``@nn.compact`` method.
    """
    module = _current_module()
    entry = _STACK.get()
    if entry is not None and entry[0] is module:
        return entry[1]
    if module is None or module.scope is None:
        raise RuntimeError(
            "jslim layers create variables and must be called inside a flax.linen "
            "Module's @nn.compact method (e.g. a net's __call__), within model.init/apply."
        )
    return module.scope


def scope_path() -> str:
    """The current variable scope as a TF-style name, e.g. ``'InceptionV3/Mixed_5b'``."""
    return "/".join(current_scope().path)


def is_initializing() -> bool:
    """Whether the enclosing Flax computation is ``model.init``."""
    return bool(current_scope().get_flag("initializing", False))


def _child(parent: Scope, name: str) -> Scope:
    """The child scope ``name``; re-entering returns the same scope object, as in TF."""
    children = parent.__dict__.setdefault("_jslim_children", {})
    child = children.get(name)
    if child is None:
        child = parent.push(name)
        children[name] = child
    return child


def _unique_name(parent: Scope, base: str) -> str:
    """TF's default naming: ``base``, ``base_1``, ``base_2``... first one unused."""
    children = parent.__dict__.get("_jslim_children", {})
    name, i = base, 0
    while name in children or parent.name_reserved(name):
        i += 1
        name = f"{base}_{i}"
    return name


@contextlib.contextmanager
def variable_scope(name_or_scope: str | None = None, default_name: str | None = None) -> Iterator[str]:
    """Opens a variable scope, like ``tf.compat.v1.variable_scope``.

    Args:
      name_or_scope: the scope name; may contain ``/`` to open several levels.
        Re-entering an existing name reopens it (its variables must still be
        unique). ``None`` uses ``default_name`` made unique (``Conv``, ``Conv_1``...).
      default_name: the base name when ``name_or_scope`` is None.

    Yields:
      The full path of the opened scope, e.g. ``'InceptionV3/Mixed_5b'``.
    """
    if name_or_scope is None:
        if default_name is None:
            raise ValueError("variable_scope needs a name or a default_name.")
        parent = current_scope()
        names = [_unique_name(parent, default_name)]
    else:
        names = [n for n in str(name_or_scope).split("/") if n]
    scope = current_scope()
    for name in names:
        scope = _child(scope, name)
    token = _STACK.set((_current_module(), scope))
    try:
        # The name stack makes XLA op names (profiles, jaxprs) carry the TF scope.
        with jax.named_scope("/".join(names)):
            yield "/".join(scope.path)
    finally:
        _STACK.reset(token)


def _full_name(scope: Scope, name: str) -> str:
    return "/".join((*scope.path, name))


def model_variable(
    name: str,
    shape: Sequence[int],
    initializer: Callable[..., jax.Array],
    *,
    dtype: Any = jnp.float32,
    regularizer: Callable[[jax.Array], jax.Array] | None = None,
    trainable: bool = True,
) -> jax.Array:
    """Creates (in ``init``) or fetches (in ``apply``) a model variable.

    Args:
      name: the last component of the TF name, e.g. ``'weights'``.
      shape: the variable's shape, in TF-Slim's layout.
      initializer: ``init(key, shape, dtype) -> array`` (see ``jslim.layers.initializers``).
      dtype: the variable's dtype (float32 by default, whatever the input dtype).
      regularizer: ``fn(variable) -> scalar``; its value is recorded in the
        ``losses`` collection when that collection is mutable.
      trainable: ``False`` stores the variable in the ``non_trainable`` collection.

    Returns:
      The variable's value.

    Raises:
      flax.errors.ScopeParamShapeError: the stored variable has another shape.
    """
    scope = current_scope()
    shape = tuple(int(d) for d in shape)
    if trainable:
        value = scope.param(name, lambda key: initializer(key, shape, dtype))
    else:
        col = NON_TRAINABLE
        if not scope.has_variable(col, name):
            if not scope.is_mutable_collection(col):
                raise ValueError(f"Missing non-trainable variable {_full_name(scope, name)} in '{col}'.")
            scope.put_variable(col, name, initializer(scope.make_rng(PARAMS), shape, dtype))
        value = scope.get_variable(col, name)
        if tuple(value.shape) != shape:
            raise ValueError(
                f"Variable {_full_name(scope, name)} has shape {tuple(value.shape)}, expected {shape}."
            )
    if regularizer is not None and scope.is_mutable_collection(LOSSES) and not is_initializing():
        add_loss(name, regularizer(value))
    return value


def add_loss(name: str, loss: jax.Array | None) -> None:
    """Records a regularization loss at ``<current scope>/<name>`` in ``losses``.

    Does nothing when ``loss`` is None (slim's zero-scale regularizers), during
    ``init``, or when the ``losses`` collection is not mutable.
    """
    scope = current_scope()
    if loss is not None and scope.is_mutable_collection(LOSSES) and not is_initializing():
        scope.put_variable(LOSSES, name, loss)


def state_variable(collection: str, name: str, shape: Sequence[int], init_value: Callable[[], jax.Array]):
    """A non-gradient state variable (e.g. ``moving_mean`` in ``batch_stats``).

    Returns:
      A ``flax.core.scope.Variable``: read ``.value``; assign ``.value`` only when
      ``current_scope().is_mutable_collection(collection)``.
    """
    scope = current_scope()
    var = scope.variable(collection, name, init_value)
    if tuple(var.value.shape) != tuple(shape):
        raise ValueError(
            f"Variable {_full_name(scope, name)} in '{collection}' has shape "
            f"{tuple(var.value.shape)}, expected {tuple(shape)}."
        )
    return var
