"""Writes tests/fixtures/preprocessing/eval.npz with TF's eval preprocessing outputs.

Run with the TF venv: ``/opt/tfvenv/bin/python tools/make_preprocessing_fixtures.py``.
The TF side composes the same TF ops research/slim's *_preprocessing.py use
(central_crop, v1 resize_bilinear with align_corners=False, crop_or_pad,
per_image_standardization), applied to random uint8 images of odd and even sizes.
"""

import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from tf_shim import import_tf_slim  # noqa: E402

OUT = pathlib.Path(__file__).parents[1] / "tests" / "fixtures" / "preprocessing" / "eval.npz"


def main():
    tf, _ = import_tf_slim()
    rng = np.random.default_rng(0)
    images = {"a": rng.integers(0, 256, (37, 53, 3), dtype=np.uint8), "b": rng.integers(0, 256, (64, 48, 3), dtype=np.uint8)}
    out = {}
    with tf.compat.v1.Session() as sess:
        for key, img in images.items():
            x = tf.constant(img)
            f = tf.image.convert_image_dtype(x, tf.float32)
            f = tf.image.central_crop(f, central_fraction=0.875)
            f = tf.compat.v1.image.resize_bilinear(f[None], [29, 31], align_corners=False)[0]
            inception = (f - 0.5) * 2.0
            xf = tf.cast(x, tf.float32)
            h, w = img.shape[:2]
            scale = 40.0 / min(h, w)
            nh, nw = int(np.rint(h * scale)), int(np.rint(w * scale))
            v = tf.compat.v1.image.resize_bilinear(xf[None], [nh, nw], align_corners=False)[0]
            top, left = (nh - 32) // 2, (nw - 30) // 2
            vgg = v[top : top + 32, left : left + 30] - tf.constant([123.68, 116.78, 103.94])
            lenet = (tf.image.resize_with_crop_or_pad(xf, 28, 60) - 128.0) / 128.0
            cifar = tf.image.per_image_standardization(tf.image.resize_with_crop_or_pad(xf, 32, 32))
            vals = sess.run({"inception": inception, "vgg": vgg, "lenet": lenet, "cifarnet": cifar})
            out[f"{key}_image"] = img
            out.update({f"{key}_{k}": np.asarray(v) for k, v in vals.items()})
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **out)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
