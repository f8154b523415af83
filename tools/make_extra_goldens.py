"""Writes tests/fixtures/goldens_extra/<case>.npz: TF-Slim references for the nets
outside ``nets_factory`` (I3D, S3D-G, DCGAN, CycleGAN, pix2pix). Not run in CI.

research/slim is not a package; point ``--slim_dir`` at a directory holding its
``nets/`` files (``i3d.py``, ``i3d_utils.py``, ``s3dg.py``, ``dcgan.py``,
``cyclegan.py``, ``pix2pix.py`` and an empty ``__init__.py``), taken unchanged
from tensorflow/models ``research/slim/nets`` (they already import ``tf_slim``).
Run with the TensorFlow venv (see tools/tf_shim.py)::

    /opt/tfvenv/bin/python tools/make_extra_goldens.py --slim_dir /tmp/research_slim

Each case (:data:`CASES`) calls one research/slim function in graph mode, under
its arg scope when it has one, on ``np.random.default_rng(0).uniform(-1, 1,
input_shape)`` (float32), after giving EVERY ``tf.global_variables()`` entry
``golden_value(name, shape)`` (tests/golden.py, the rule of
../shared/goldens/README.md). The files have the format of
tests/fixtures/goldens (see tests/golden.py): ``config`` (JSON, including the
exact call in ``slim_call``), ``logits`` (the function's FIRST return value:
predictions for ``cyclegan_generator_resnet``), ``var_names`` / ``var_shapes`` /
``var_dtypes``, ``endpoint_names`` / ``endpoint_shapes`` and per end point
``ep{i}_full`` (at most :data:`FULL_LIMIT` values) or ``ep{i}_stats`` ([mean,
std], float64) + ``ep{i}_first64`` + ``ep{i}_sample_idx`` / ``ep{i}_sample``
(256 values at sorted random flat indices), and ``wcheck_names`` /
``wcheck_first8``.

JSON encodings in ``kwargs`` (decoded here and by tests/test_nets_extra.py):
``{"$partial": [function, {kwargs}]}`` a ``functools.partial`` of a function of
the same module; ``{"$blocks": [[filters, keep_prob], ...]}`` pix2pix ``Block``s.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import pathlib
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tests"))
from golden import golden_value  # noqa: E402  pylint: disable=wrong-import-position
from tf_shim import import_tf_slim  # noqa: E402  pylint: disable=wrong-import-position

OUT = ROOT / "tests" / "fixtures" / "goldens_extra"
FULL_LIMIT = 4096
SAMPLES = 256


def _case(net, module, function, input_shape, kwargs, arg_scope=None):
    """A case: ``module.function(input, **kwargs)`` under ``module.<arg_scope[0]>(**arg_scope[1])``."""
    return {
        "extra_net": net,
        "slim_module": f"nets.{module}",
        "slim_function": function,
        "arg_scope": arg_scope,
        "kwargs": kwargs,
        "input_shape": input_shape,
    }


def _partial(name, **kwargs):
    return {"$partial": [name, kwargs]}


CASES = {
    # Video nets: 8 frames at 64x64 (Mixed_5c is [2, 1, 2, 2, 1024]).
    "i3d": _case("i3d", "i3d", "i3d", [2, 8, 64, 64, 3], {"num_classes": 5, "is_training": False},
                 ["i3d_arg_scope", {}]),
    "s3dg": _case("s3dg", "s3dg", "s3dg", [2, 8, 64, 64, 3], {"num_classes": 5, "is_training": False},
                  ["s3dg_arg_scope", {}]),
    "s3dg_options": _case(
        "s3dg", "s3dg", "s3dg", [2, 3, 8, 32, 32],
        {"num_classes": 6, "first_temporal_kernel_size": 5, "temporal_conv_startat": "Mixed_3c",
         "gating_startat": "Mixed_4b", "min_depth": 8, "depth_multiplier": 0.25, "spatial_squeeze": False,
         "data_format": "NCDHW", "is_training": False},
        ["s3dg_arg_scope", {}]),
    # DCGAN.
    "dcgan_generator": _case("dcgan_generator", "dcgan", "generator", [2, 64], {"is_training": False}),
    "dcgan_discriminator": _case("dcgan_discriminator", "dcgan", "discriminator", [2, 32, 32, 3],
                                 {"depth": 32, "is_training": False}),
    # CycleGAN (the default upsampling and the two resize methods).
    "cyclegan": _case("cyclegan_generator", "cyclegan", "cyclegan_generator_resnet", [2, 32, 32, 3],
                      {"num_resnet_blocks": 2}),
    "cyclegan_nn": _case(
        "cyclegan_generator", "cyclegan", "cyclegan_generator_resnet", [2, 32, 48, 3],
        {"num_resnet_blocks": 1, "num_filters": 16, "kernel_size": 4, "tanh_linear_slope": 0.1,
         "upsample_fn": _partial("cyclegan_upsample", method="nn_upsample_conv"),
         "arg_scope_fn": _partial("cyclegan_arg_scope", instance_norm_scale=False, instance_norm_epsilon=1e-5)}),
    "cyclegan_bilinear": _case(
        "cyclegan_generator", "cyclegan", "cyclegan_generator_resnet", [2, 24, 32, 3],
        {"num_resnet_blocks": 1, "num_filters": 16,
         "upsample_fn": _partial("cyclegan_upsample", method="bilinear_upsample_conv", pad_mode="SYMMETRIC")}),
    "cyclegan_bilinear_corners": _case(
        "cyclegan_generator", "cyclegan", "cyclegan_generator_resnet", [2, 16, 16, 3],
        {"num_resnet_blocks": 1, "num_filters": 8, "kernel_size": [3, 5],
         "upsample_fn": _partial("cyclegan_upsample", method="bilinear_upsample_conv", pad_mode="CONSTANT",
                                 align_corners=True)}),
    # pix2pix: a 4-block U-Net on 32x32 (keep_prob 1.0 exercises the dropout calls deterministically).
    "pix2pix_generator": _case(
        "pix2pix_generator", "pix2pix", "pix2pix_generator", [2, 32, 32, 3],
        {"num_outputs": 4, "blocks": {"$blocks": [[16, 1.0], [32, 1.0], [64, 0], [64, 0]]}},
        ["pix2pix_arg_scope", {}]),
    "pix2pix_generator_transpose": _case(
        "pix2pix_generator", "pix2pix", "pix2pix_generator", [2, 32, 32, 3],
        {"num_outputs": 2, "blocks": {"$blocks": [[8, 0], [16, 0], [16, 0]]}, "upsample_method": "conv2d_transpose"},
        ["pix2pix_arg_scope", {}]),
    "pix2pix_discriminator": _case("pix2pix_discriminator", "pix2pix", "pix2pix_discriminator", [2, 64, 64, 3],
                                   {"num_filters": [16, 32, 64]}, ["pix2pix_arg_scope", {}]),
    "pix2pix_discriminator_nopad": _case(
        "pix2pix_discriminator", "pix2pix", "pix2pix_discriminator", [2, 64, 64, 3],
        {"num_filters": [8, 16, 32], "padding": 0}),
}


def decode(value, module):
    """The Python value of a JSON-encoded argument (see the module docstring)."""
    if isinstance(value, dict) and "$partial" in value:
        name, kwargs = value["$partial"]
        return functools.partial(getattr(module, name), **kwargs)
    if isinstance(value, dict) and "$blocks" in value:
        return [module.Block(int(f), float(k)) for f, k in value["$blocks"]]
    return value


def _store(out, i, value):
    value = np.asarray(value)
    if value.size <= FULL_LIMIT:
        out[f"ep{i}_full"] = value.astype(np.float32)
        return
    flat = value.reshape(-1).astype(np.float32)
    out[f"ep{i}_stats"] = np.array([flat.astype(np.float64).mean(), flat.astype(np.float64).std()])
    out[f"ep{i}_first64"] = flat[:64]
    idx = np.sort(np.random.default_rng(i).choice(flat.size, SAMPLES, replace=False))
    out[f"ep{i}_sample_idx"] = idx.astype(np.int64)
    out[f"ep{i}_sample"] = flat[idx]


def build_and_run(tf, slim, name, case):
    """Runs one case in a fresh graph; returns the npz dict."""
    v1 = tf.compat.v1
    module = importlib.import_module(case["slim_module"])
    fn = getattr(module, case["slim_function"])
    kwargs = {k: decode(v, module) for k, v in case["kwargs"].items()}
    images = np.random.default_rng(0).uniform(-1, 1, case["input_shape"]).astype(np.float32)
    with tf.Graph().as_default():
        inputs = tf.constant(images)
        if case["arg_scope"]:
            scope_fn, scope_kwargs = case["arg_scope"]
            with slim.arg_scope(getattr(module, scope_fn)(**scope_kwargs)):
                first, end_points = fn(inputs, **kwargs)
        else:
            first, end_points = fn(inputs, **kwargs)
        variables = v1.global_variables()
        names = [v.op.name for v in variables]
        shapes = [v.shape.as_list() for v in variables]
        with v1.Session() as sess:
            for v, n, s in zip(variables, names, shapes):
                v.load(golden_value(n, s), sess)
            ep_names = sorted(end_points)
            first_value, ep_values = sess.run([first, [end_points[k] for k in ep_names]])
            again = sess.run(first)
    # Threaded CPU kernels may reorder sums (a few ulps); random ops would differ by far more.
    rerun_diff = float(np.max(np.abs(first_value - again)))
    if rerun_diff > 2e-5 * max(1.0, float(np.max(np.abs(first_value)))):
        raise RuntimeError(f"{name}: two runs differ by {rerun_diff} (random ops in the graph?)")
    config = {
        "net": name,
        **case,
        "slim_call": f"{case['slim_module']}.{case['slim_function']}(tf.constant(input), **kwargs)"
                     + (f" under slim.arg_scope({case['arg_scope'][0]}(**{case['arg_scope'][1]}))"
                        if case["arg_scope"] else ""),
        "logits_key": "the function's first return value",
        "input_rule": "np.random.default_rng(0).uniform(-1, 1, input_shape).astype(float32)",
        "weights_rule": "golden.golden_value(var.op.name, shape) for every tf.global_variables()",
        "tf_version": tf.__version__,
        "tf_slim_version": getattr(slim, "__version__", "1.1.0"),
        "numpy_version": np.__version__,
        "research_slim": "tensorflow/models research/slim/nets at commit 169dcbd0c9dd7768ce231940ed460a9e2a145c83",
        "endpoint_storage": f"ep{{i}}_full if size <= {FULL_LIMIT} else ep{{i}}_stats=[mean,std] (float64) + "
                            f"ep{{i}}_first64 + ep{{i}}_sample_idx/ep{{i}}_sample ({SAMPLES} values)",
        "num_variables": len(names),
        "rerun_max_abs_diff": rerun_diff,
        "logits_abs_max": float(np.max(np.abs(first_value))),
    }
    out = {
        "config": np.array(json.dumps(config)),
        "logits": np.asarray(first_value, np.float32),
        "var_names": np.array(names),
        "var_shapes": np.array(json.dumps(shapes)),
        "var_dtypes": np.array(json.dumps([v.dtype.base_dtype.name for v in variables])),
        "endpoint_names": np.array(ep_names),
        "endpoint_shapes": np.array(json.dumps([list(np.shape(v)) for v in ep_values])),
    }
    for i, value in enumerate(ep_values):
        _store(out, i, value)
    big = [(n, s) for n, s in zip(names, shapes) if np.prod(s) >= 8]
    checked = big[:: max(1, len(big) // 4)][:4]
    out["wcheck_names"] = np.array([n for n, _ in checked])
    out["wcheck_first8"] = np.stack([golden_value(n, s).reshape(-1)[:8] for n, s in checked])
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--slim_dir", required=True, help="directory holding research/slim's nets/ package")
    parser.add_argument("cases", nargs="*", help=f"cases to write (default all: {', '.join(CASES)})")
    args = parser.parse_args()
    sys.path.insert(0, str(pathlib.Path(args.slim_dir).resolve()))
    tf, slim = import_tf_slim()
    # tf_slim 1.1.0's legacy batch_norm path (DCGAN's zero_debias_moving_mean) still reads
    # ops.Tensor, which TF 2.21 removed (as in tools/make_layer_fixtures.py).
    from tensorflow.python.framework import ops  # pylint: disable=import-outside-toplevel

    ops.Tensor = tf.Tensor
    OUT.mkdir(parents=True, exist_ok=True)
    for name in args.cases or CASES:
        out = build_and_run(tf, slim, name, CASES[name])
        path = OUT / f"{name}.npz"
        np.savez_compressed(path, **out)
        print(f"{path.relative_to(ROOT)}: {len(out['var_names'])} variables, "
              f"logits {out['logits'].shape} max|.| {np.max(np.abs(out['logits'])):.4g}, {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
