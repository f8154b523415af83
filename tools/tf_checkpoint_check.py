"""Reads checkpoints with real TensorFlow, for tests that check jslim's writer (needs TF).

Usage: ``python tools/tf_checkpoint_check.py JOB PREFIX OUT.npz [JOB PREFIX OUT.npz ...]``

Jobs:
- ``read``: every tensor via ``tf.train.load_checkpoint``.
- ``restore_slim``: builds ``slim_net`` below in a TF graph, restores the checkpoint into
  it with ``tf.compat.v1.train.Saver`` (every global variable, ``global_step``
  included), and saves the variables plus the logits on ``slim_net_input()``.

``OUT.npz`` holds the arrays; strings go as hex lists and ml_dtypes types (bfloat16,
float8) as raw unsigned bits (``__meta__`` JSON says which), so the reader needs neither
TF nor pickles.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def slim_net_input() -> np.ndarray:
    """The fixed [2, 8, 8, 3] input the logits are computed on."""
    return np.random.default_rng(0).uniform(-1, 1, (2, 8, 8, 3)).astype(np.float32)


def _save(out: str, tensors: dict) -> None:
    arrays, meta = {}, {"strings_hex": {}, "raw_dtype": {}}
    for name, value in tensors.items():
        value = np.array(value, object) if isinstance(value, bytes) else np.asarray(value)
        if value.dtype == object:
            meta["strings_hex"][name] = [bytes(s).hex() for s in value.reshape(-1)]
            value = np.zeros(value.shape, np.uint8)
        elif value.dtype.kind == "V":  # ml_dtypes: bfloat16, float8_*
            meta["raw_dtype"][name] = value.dtype.name
            value = value.view(f"u{value.dtype.itemsize}")
        arrays[name] = value
    np.savez(out, __meta__=json.dumps(meta), **arrays)


def read(prefix: str, out: str) -> None:
    """Every tensor of ``prefix`` as TF reads it."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    reader = tf.train.load_checkpoint(prefix)
    _save(out, {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()})


def restore_slim(prefix: str, out: str) -> None:
    """Restores ``prefix`` into the slim graph; saves its variables and logits."""
    from tf_shim import import_tf_slim  # pylint: disable=import-outside-toplevel

    tf, slim = import_tf_slim()
    graph = tf.Graph()
    with graph.as_default():
        images = tf.constant(slim_net_input())
        with tf.compat.v1.variable_scope("Net"):
            net = slim.conv2d(images, 4, [3, 3], scope="Conv2d_1a_3x3",
                              normalizer_fn=slim.batch_norm,
                              normalizer_params={"is_training": False})
            net = slim.flatten(net)
            logits = slim.fully_connected(net, 5, activation_fn=None, scope="Logits")
        tf.compat.v1.train.get_or_create_global_step()
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=graph) as sess:
            saver.restore(sess, prefix)
            variables = {v.op.name: v for v in tf.compat.v1.global_variables()}
            _save(out, {**sess.run(variables), "__logits__": sess.run(logits)})


def main(argv: list[str]) -> None:
    jobs = {"read": read, "restore_slim": restore_slim}
    if len(argv) % 3:
        raise SystemExit(__doc__)
    for i in range(0, len(argv), 3):
        jobs[argv[i]](argv[i + 1], argv[i + 2])


if __name__ == "__main__":
    main(sys.argv[1:])
