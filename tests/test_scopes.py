"""``jslim.scopes``: TF-Slim's arg_scope semantics, validation, isolation and jit safety."""

import asyncio
import threading
from typing import ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jslim import layers
from jslim.nets.base import SlimNet
from jslim.scopes import (
    ArgScope,
    add_arg_scope,
    arg_scope,
    arg_scope_func_key,
    arg_scoped_arguments,
    current_arg_scope,
    has_arg_scope,
)


@add_arg_scope
def op(x, a=1, b=2, c=3):
    """A user function made arg-scopable; returns its arguments."""
    return (x, a, b, c)


@add_arg_scope
def other(x, a=10, **kwargs):
    return (x, a, kwargs)


def plain(x, a=1):
    return (x, a)


# --------------------------------------------------------------------------- semantics


def test_defaults_without_scope():
    assert op(0) == (0, 1, 2, 3)


def test_nested_scopes_merge_per_op_and_inner_wins():
    with arg_scope([op, other], a=5, b=6):
        with arg_scope([op], a=7):
            assert op(0) == (0, 7, 6, 3)
            assert other(0) == (0, 5, {"b": 6})
        assert op(0) == (0, 5, 6, 3)
    assert op(0) == (0, 1, 2, 3)


def test_explicit_keyword_overrides_scope():
    with arg_scope([op], a=5, c=9):
        assert op(0, a=4) == (0, 4, 2, 9)
        assert op(x=1, c=0) == (1, 5, 2, 0)
    with arg_scope([op], c=9):
        assert op(0, 1, b=8) == (0, 1, 8, 9)  # positional args the scope does not set are fine


def test_single_op_and_tuple_of_ops():
    with arg_scope(op, b=4), arg_scope((other,), a=0):
        assert op(0)[2] == 4 and other(0)[1] == 0


def test_reentering_a_saved_scope_replaces_the_current_one():
    with arg_scope([op], a=5) as saved:
        pass
    with arg_scope([op], b=7):
        with arg_scope(saved):
            assert op(0) == (0, 5, 2, 3)  # b=7 is gone: the saved scope replaces, as in slim
        assert op(0) == (0, 1, 7, 3)
    with arg_scope([op], c=0):
        captured = current_arg_scope()
    with arg_scope(captured):
        assert op(0) == (0, 1, 2, 0)


def test_scopes_are_hashable_values():
    with arg_scope([op], a=5, b={"k": [1, 2]}) as first:
        pass
    with arg_scope([op], b={"k": [1, 2]}, a=5) as second:
        pass
    assert isinstance(first, ArgScope) and first == second and hash(first) == hash(second)
    assert first[arg_scope_func_key(op)] == {"a": 5, "b": {"k": [1, 2]}}  # values kept as given
    assert current_arg_scope() == ArgScope() and len(current_arg_scope()) == 0


# --------------------------------------------------------------------------- validation


def test_unknown_keyword_is_rejected_when_entering():
    with pytest.raises(TypeError, match=r"test_scopes\.op\(\) has no argument 'd'"):
        with arg_scope([op], d=1):
            pass


def test_unknown_keyword_is_rejected_for_slim_layers():
    with pytest.raises(TypeError, match=r"convolution2d\(\) has no argument 'kernel'"):
        arg_scope([layers.conv2d], kernel=3)


def test_var_keyword_ops_accept_any_keyword():
    with arg_scope([other], anything=1):
        assert other(0)[2] == {"anything": 1}


def test_positional_clash_is_a_type_error():
    with arg_scope([op], a=5):
        with pytest.raises(TypeError, match=r"argument 'a' was passed positionally"):
            op(0, 4)


def test_non_arg_scoped_op_is_a_value_error():
    with pytest.raises(ValueError, match="not decorated with @add_arg_scope"):
        arg_scope([plain], a=1)


def test_unhashable_value_is_a_type_error():
    with pytest.raises(TypeError, match="not hashable"):
        arg_scope([op], a=np.zeros(3))


def test_saved_scope_takes_no_keywords():
    with pytest.raises(ValueError, match="takes no keyword arguments"):
        arg_scope(current_arg_scope(), a=1)


# --------------------------------------------------------------------------- registry helpers


def test_keys_are_module_and_qualname():
    assert arg_scope_func_key(op) == "test_scopes.op"
    assert arg_scope_func_key(layers.conv2d) == "jslim.layers.conv.convolution2d"
    assert arg_scope_func_key(layers.batch_norm) == "jslim.layers.batch_norm.batch_norm"
    assert layers.conv2d is layers.convolution2d  # one op, one key, whatever the alias


def test_add_arg_scope_keeps_the_function_identity():
    assert op.__name__ == "op" and op.__doc__.startswith("A user function")
    assert has_arg_scope(op) and has_arg_scope(layers.separable_conv2d)
    assert not has_arg_scope(plain)
    assert arg_scoped_arguments(op) == ["x", "a", "b", "c"]
    assert "normalizer_fn" in arg_scoped_arguments(layers.fully_connected)


def test_add_arg_scope_on_a_method_like_user_function():
    class Block:
        @staticmethod
        @add_arg_scope
        def build(x, depth=4):
            return x * depth

    assert arg_scope_func_key(Block.build).endswith("Block.build")
    with arg_scope([Block.build], depth=2):
        assert Block.build(3) == 6


# --------------------------------------------------------------------------- isolation


def test_threads_do_not_see_each_others_scopes():
    barrier = threading.Barrier(3)
    results = {}

    def worker(value):
        with arg_scope([op], a=value):
            barrier.wait()  # all three scopes are open at once
            results[value] = op(0)[1]
            barrier.wait()

    threads = [threading.Thread(target=worker, args=(v,)) for v in (5, 6)]
    for t in threads:
        t.start()
    with arg_scope([op], a=7):
        barrier.wait()
        seen_in_main = op(0)[1]
        barrier.wait()
    for t in threads:
        t.join()
    assert results == {5: 5, 6: 6} and seen_in_main == 7


def test_a_new_thread_starts_without_the_callers_scope():
    seen = []
    with arg_scope([op], a=9):
        t = threading.Thread(target=lambda: seen.append(op(0)[1]))
        t.start()
        t.join()
    assert seen == [1]


def test_asyncio_tasks_are_isolated_even_when_interleaved():
    async def task(value, linger):
        with arg_scope([op], a=value):
            await asyncio.sleep(0)  # the other task enters its scope meanwhile
            got = op(0)[1]
            await asyncio.sleep(linger)
        return got

    async def main():
        return await asyncio.gather(task(5, 0), task(6, 0.01), task(7, 0))

    assert asyncio.run(main()) == [5, 6, 7]
    assert op(0)[1] == 1  # nothing leaks into the caller once the tasks are done


# --------------------------------------------------------------------------- jit safety


class Dense(nn.Module):
    """A plain Flax module whose layer reads the ambient scope."""

    @nn.compact
    def __call__(self, x):
        return layers.fully_connected(x, 3, scope="fc")


X = jnp.linspace(-1.0, 1.0, 8).reshape(2, 4)


def _dense_variables():
    w = jnp.linspace(-1.0, 1.0, 12).reshape(4, 3)
    return {"params": {"fc": {"weights": w, "biases": jnp.array([-2.0, -0.2, 0.3])}}}


def test_jitted_apply_follows_the_ambient_scope():
    variables = _dense_variables()
    apply = jax.jit(Dense().apply)
    answers = {}
    for name, act in (("tanh", jnp.tanh), ("none", None), ("tanh_again", jnp.tanh)):
        with arg_scope([layers.fully_connected], activation_fn=act):
            eager = Dense().apply(variables, X)
            answers[name] = np.asarray(apply(variables, X))
            np.testing.assert_allclose(answers[name], eager, rtol=1e-6)
    np.testing.assert_allclose(answers["tanh"], np.tanh(answers["none"]), rtol=1e-6)
    np.testing.assert_array_equal(answers["tanh"], answers["tanh_again"])
    np.testing.assert_allclose(apply(variables, X), np.maximum(answers["none"], 0), rtol=1e-6)  # slim's ReLU
    assert (answers["none"] < 0).any()


class TinyNet(SlimNet):
    """A SlimNet: keeps the arg scope it was built under."""

    default_image_size: ClassVar[int] = 4

    @nn.compact
    def __call__(self, x):
        with self.scoped():
            return layers.fully_connected(x, 3, scope="fc")


def test_a_net_keeps_the_scope_it_was_built_under():
    variables = _dense_variables()
    with arg_scope([layers.fully_connected], activation_fn=jnp.tanh):
        net = TinyNet()
        inside = np.asarray(jax.jit(net.apply)(variables, X))
    outside = np.asarray(jax.jit(net.apply)(variables, X))
    with arg_scope([layers.fully_connected], activation_fn=None):
        elsewhere = np.asarray(jax.jit(net.apply)(variables, X))
    linear = np.asarray(X) @ np.asarray(variables["params"]["fc"]["weights"]) + [-2.0, -0.2, 0.3]
    np.testing.assert_allclose(inside, np.tanh(linear), rtol=1e-6)
    np.testing.assert_array_equal(outside, inside)
    np.testing.assert_array_equal(elsewhere, inside)
    built_outside = np.asarray(jax.jit(TinyNet().apply)(variables, X))  # slim's default: ReLU
    np.testing.assert_allclose(built_outside, np.maximum(linear, 0), rtol=1e-6, atol=1e-7)


def test_a_trace_keyed_on_another_tasks_scope_fails_loudly():
    """Interleaved asyncio tasks share the thread's jit key: a trace under a mismatch raises."""
    variables = _dense_variables()
    apply = jax.jit(Dense().apply)
    errors = []

    async def tracer_task():
        with arg_scope([layers.fully_connected], activation_fn=jnp.tanh):
            await asyncio.sleep(0)  # other_task now holds the thread's jit key
            try:
                apply(variables, X)
            except RuntimeError as err:
                errors.append(str(err))
            await asyncio.sleep(0)

    async def other_task():
        with arg_scope([layers.fully_connected], activation_fn=jax.nn.relu6):
            await asyncio.sleep(0)
            await asyncio.sleep(0)

    async def main():
        await asyncio.gather(tracer_task(), other_task())

    asyncio.run(main())
    assert len(errors) == 1 and "arg_scope" in errors[0]
