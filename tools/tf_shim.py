"""Import the real TF-Slim under TensorFlow 2.21 (generators only; never used by jslim).

tf_slim 1.1.0 imports ``tf_keras.legacy_tf_layers``, which tf-keras 2.21 moved to
``tf_keras.src.legacy_tf_layers``. This module aliases the old names before importing
tf_slim. Requires ``pip install tensorflow-cpu tf-slim tf-keras``.
"""

import importlib
import sys


def import_tf_slim():
    """Returns ``(tf, slim)`` with TF in v1 graph mode and tf_slim imported."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    base = "tf_keras.src.legacy_tf_layers"
    sys.modules["tf_keras.legacy_tf_layers"] = importlib.import_module(base)
    for sub in ("normalization", "core", "convolutional", "pooling", "base"):
        sys.modules[f"tf_keras.legacy_tf_layers.{sub}"] = importlib.import_module(f"{base}.{sub}")
    import tf_slim  # pylint: disable=import-outside-toplevel

    tf.compat.v1.disable_eager_execution()
    return tf, tf_slim
