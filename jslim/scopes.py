"""``arg_scope``: TF-Slim's scoped default arguments, made safe for ``jax.jit``.

A scope maps ops (functions decorated with :func:`add_arg_scope`) to default
keyword arguments::

    with arg_scope([layers.conv2d, layers.fully_connected],
                   weights_regularizer=layers.l2_regularizer(4e-5)):
      with arg_scope([layers.conv2d], padding="VALID") as sc:
        net = layers.conv2d(net, 64, [3, 3])           # padding="VALID"
        net = layers.conv2d(net, 64, [3, 3], padding="SAME")  # explicit wins
    with arg_scope(sc):                                 # re-enter a saved scope
      ...

TF-Slim semantics: nested scopes merge per op and the inner value wins; an
explicit call keyword overrides the scope; ``arg_scope(saved_scope)`` replaces
the current scope by the saved one.

Beyond TF-Slim:

* Keyword names are validated when the scope is entered (``TypeError`` naming the
  op and the argument); passing positionally an argument the scope also sets is
  a ``TypeError`` (pass it by keyword to override the scope).
* The current scope lives in a :class:`contextvars.ContextVar` (thread- and
  asyncio-safe) holding an immutable, hashable :class:`ArgScope`.
* Op keys are ``module.qualname`` (stable across processes), not ``str(fn)``.
* ``jax.jit`` safety: the scope is mirrored into a ``jax.make_user_context``
  whose value is part of the jit cache key, so a jitted function called under a
  different ambient scope is retraced instead of silently reusing a trace made
  under a stale scope. An op that finds the two out of sync at trace time
  (possible only when asyncio tasks interleave ``arg_scope`` blocks around jit
  calls) raises instead of computing a possibly stale answer; eager calls use
  the task's own scope. Limitation: a jitted call made by one task while another
  task's ``arg_scope`` holds the thread's key can hit that key's cached trace;
  with asyncio, enter scopes inside the jitted function or build nets under
  them (a net keeps its scope).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import jax

__all__ = [
    "ArgScope",
    "add_arg_scope",
    "arg_scope",
    "arg_scope_func_key",
    "arg_scoped_arguments",
    "current_arg_scope",
    "has_arg_scope",
]

F = TypeVar("F", bound=Callable[..., Any])

# key -> the undecorated function, for signature checks.
_OPS: dict[str, Callable[..., Any]] = {}


def _freeze(value: Any, where: str) -> Any:
    """A hashable stand-in for ``value`` used for hashing and equality only."""
    if isinstance(value, Mapping):
        return ("__mapping__", tuple(sorted((k, _freeze(v, where)) for k, v in value.items())))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_freeze(v, where) for v in value))
    if isinstance(value, (set, frozenset)):
        return frozenset(_freeze(v, where) for v in value)
    try:
        hash(value)
    except TypeError as err:
        raise TypeError(
            f"arg_scope value for {where} of type {type(value).__name__} is not hashable; "
            "scope values are part of the jax.jit cache key. Use a tuple, a scalar or a "
            "hashable object (e.g. a frozen dataclass) instead."
        ) from err
    return value


class ArgScope(Mapping[str, Mapping[str, Any]]):
    """An immutable, hashable map ``op key -> {argument: default}``.

    Values are stored as given (a ``normalizer_params`` dict stays a dict) and
    hashed through a frozen copy, so equal scopes hash equally.
    """

    __slots__ = ("_ops", "_frozen", "_hash")

    def __init__(self, ops: Mapping[str, Mapping[str, Any]] | None = None):
        ops = ops or {}
        self._ops = {key: dict(kwargs) for key, kwargs in ops.items() if kwargs}
        self._frozen = tuple(
            sorted(
                (key, tuple(sorted((name, _freeze(v, f"{key}({name}=...)")) for name, v in kw.items())))
                for key, kw in self._ops.items()
            )
        )
        self._hash = hash(self._frozen)

    def __getitem__(self, key: str) -> Mapping[str, Any]:
        return dict(self._ops[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._ops)

    def __len__(self) -> int:
        return len(self._ops)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ArgScope) and self._frozen == other._frozen

    def __repr__(self) -> str:
        body = ", ".join(f"{k}: {v}" for k, v in self._ops.items())
        return f"ArgScope({{{body}}})"

    def defaults_for(self, key: str) -> Mapping[str, Any]:
        """The scoped defaults of op ``key`` (empty if none); do not mutate."""
        return self._ops.get(key, {})

    def merged(self, keys: Sequence[str], kwargs: Mapping[str, Any]) -> ArgScope:
        """A new scope where ``kwargs`` update the defaults of every op in ``keys``."""
        ops = {k: dict(v) for k, v in self._ops.items()}
        for key in keys:
            ops.setdefault(key, {}).update(kwargs)
        return ArgScope(ops)


_EMPTY = ArgScope()
_CURRENT: contextvars.ContextVar[ArgScope] = contextvars.ContextVar("jslim_arg_scope", default=_EMPTY)
# Mirrors _CURRENT into jax.jit's cache key.
_JIT_KEY = jax.make_user_context(default_value=_EMPTY)


def current_arg_scope() -> ArgScope:
    """Returns the active scope (an immutable :class:`ArgScope`)."""
    return _CURRENT.get()


def arg_scope_func_key(op: Callable[..., Any]) -> str:
    """The stable key of an op: ``module.qualname`` of the undecorated function."""
    key = getattr(op, "_jslim_arg_scope_key", None)
    if key is None:
        raise ValueError(
            f"{getattr(op, '__qualname__', op)!r} is not decorated with @add_arg_scope, so "
            "arg_scope cannot set its defaults; decorate it with jslim.scopes.add_arg_scope."
        )
    return key


def has_arg_scope(func: Callable[..., Any]) -> bool:
    """Whether ``func`` was decorated with :func:`add_arg_scope`."""
    return getattr(func, "_jslim_arg_scope_key", None) in _OPS


def arg_scoped_arguments(func: Callable[..., Any]) -> list[str]:
    """The argument names of an arg-scoped op (those ``arg_scope`` may set)."""
    return list(inspect.signature(_OPS[arg_scope_func_key(func)]).parameters)


def _validate(key: str, kwargs: Mapping[str, Any]) -> None:
    params = inspect.signature(_OPS[key]).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    for name in kwargs:
        param = params.get(name)
        if param is None or param.kind is inspect.Parameter.POSITIONAL_ONLY:
            valid = ", ".join(p for p in params if params[p].kind is not inspect.Parameter.VAR_POSITIONAL)
            raise TypeError(f"arg_scope: {key}() has no argument {name!r}; its arguments are: {valid}.")


def _sync_jit_key(scope: ArgScope) -> None:
    """Sets this thread's jit-key context to ``scope``.

    Entering ``_JIT_KEY(scope)`` without exiting it is a plain set of the
    thread-local value. Restoring on exit to the *contextvar's* value (instead of
    the value saved on entry) keeps the two in sync when asyncio tasks interleave
    ``arg_scope`` blocks on one thread: a saved-value restore would leave the
    thread keyed on a scope that is no longer active anywhere.
    """
    if _JIT_KEY.value is not scope:
        _JIT_KEY(scope).__enter__()  # pylint: disable=unnecessary-dunder-call


@contextlib.contextmanager
def _activate(scope: ArgScope) -> Iterator[ArgScope]:
    token = _CURRENT.set(scope)
    _sync_jit_key(scope)
    try:
        yield scope
    finally:
        _CURRENT.reset(token)
        _sync_jit_key(_CURRENT.get())


def arg_scope(
    list_ops_or_scope: Sequence[Callable[..., Any]] | Mapping[str, Mapping[str, Any]] | Callable[..., Any],
    **kwargs: Any,
) -> contextlib.AbstractContextManager[ArgScope]:
    """Sets default arguments of ops for the enclosed code, like ``slim.arg_scope``.

    Args:
      list_ops_or_scope: ops decorated with :func:`add_arg_scope` (a list, a tuple
        or a single op), or a saved scope (from ``with arg_scope(...) as sc`` or
        :func:`current_arg_scope`) to re-enter.
      **kwargs: default keyword arguments for every listed op.

    Returns:
      A context manager yielding the new :class:`ArgScope`.

    Raises:
      TypeError: an op has no argument of a given name, or a value is unhashable.
      ValueError: an op is not arg-scoped, or kwargs are given with a saved scope.
    """
    if isinstance(list_ops_or_scope, Mapping):
        if kwargs:
            raise ValueError("arg_scope(saved_scope) takes no keyword arguments; nest a new arg_scope instead.")
        scope = list_ops_or_scope if isinstance(list_ops_or_scope, ArgScope) else ArgScope(list_ops_or_scope)
        return _activate(scope)
    ops = list_ops_or_scope if isinstance(list_ops_or_scope, (list, tuple)) else [list_ops_or_scope]
    keys = [arg_scope_func_key(op) for op in ops]
    for key in keys:
        _validate(key, kwargs)
    return _activate(current_arg_scope().merged(keys, kwargs))


def _tracing(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> bool:
    return any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves((args, kwargs)))


def _check_jit_key(scope: ArgScope, key: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Raises if a jit trace would be keyed on another scope than the one in use.

    The two differ only when asyncio tasks interleave ``arg_scope`` blocks on one
    thread. An eager call then simply uses the task's own scope; a trace (some
    argument is a tracer) must not, since jax.jit caches it under the other key.
    """
    if _JIT_KEY.value is not scope and _JIT_KEY.value != scope and _tracing(args, kwargs):
        raise RuntimeError(
            f"{key}: the ambient arg_scope differs from the one jax.jit keyed this trace on "
            "(arg_scope blocks interleaved across asyncio tasks or a copied context); enter "
            "the scope inside the task that calls the jitted function, or build the net under "
            "the scope so it carries it."
        )


def add_arg_scope(func: F) -> F:
    """Decorates ``func`` so that :func:`arg_scope` can set its keyword defaults."""
    key = f"{func.__module__}.{func.__qualname__}"
    _OPS[key] = func
    names = list(inspect.signature(func).parameters)

    @functools.wraps(func)
    def scoped(*args: Any, **kwargs: Any) -> Any:
        scope = _CURRENT.get()
        _check_jit_key(scope, key, args, kwargs)
        defaults = scope.defaults_for(key)
        if not defaults:
            return func(*args, **kwargs)
        clash = [n for n in names[: len(args)] if n in defaults]
        if clash:
            raise TypeError(
                f"{key}(): argument {clash[0]!r} was passed positionally and is also set by "
                f"arg_scope; pass {clash[0]}=... as a keyword to override the scope."
            )
        return func(*args, **{**defaults, **kwargs})

    scoped._jslim_arg_scope_key = key  # type: ignore[attr-defined]
    return scoped  # type: ignore[return-value]
