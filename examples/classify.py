"""Classify an image with a slim checkpoint: top-5 classes, like slim's classification demos.

    python examples/classify.py --model_name inception_v3 \
        --checkpoint_path inception_v3.ckpt --image cat.jpg --labels labels.txt

Loads the checkpoint (V1 or V2, no TensorFlow) into the registered net with
``jslim.nets.load``, runs the net's slim eval preprocessing, and prints the five
most likely classes. ``--labels`` is a text file with one class name per line
(optionally ``index:name``); with a 1001-class head and 1000 names, the label
offset of the net's registry record skips the background class.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import jax
import numpy as np
from PIL import Image

import jslim.nets
from jslim.data.preprocessing import get_preprocessing


def read_labels(path: str) -> dict[int, str]:
    """``index -> name`` from a labels file (``name`` or ``index:name`` per line)."""
    labels = {}
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(l.rstrip("\n") for l in f if l.strip()):
            index, sep, name = line.partition(":")
            labels.update({int(index): name} if sep and index.strip().isdigit() else {i: line})
    return labels


def classify(model_name: str, checkpoint_path: str, image: np.ndarray, *, image_size: int | None = None,
             top_k: int = 5) -> list[tuple[int, float]]:
    """The ``top_k`` ``(class index, probability)`` pairs for one ``[H, W, C]`` image."""
    spec = jslim.nets.get_spec(model_name)
    size = image_size or spec.default_image_size
    model, variables = jslim.nets.load(model_name, checkpoint_path, image_size=size)
    batch = get_preprocessing(spec.preprocessing)(image[None], size, size)
    logits, _ = jax.jit(lambda v, x: model.apply(v, x, is_training=False))(variables, batch)
    probs = np.asarray(jax.nn.softmax(logits[0]))
    order = np.argsort(-probs, kind="stable")[:top_k]
    return [(int(i), float(probs[i])) for i in order]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model_name", required=True, help="a jslim.nets.list_networks() name")
    parser.add_argument("--checkpoint_path", required=True, help="slim checkpoint (V1 or V2 prefix)")
    parser.add_argument("--image", required=True, help="an image file PIL can read")
    parser.add_argument("--labels", help="labels.txt: one class name per line, or index:name")
    parser.add_argument("--image_size", type=int, help="input size (default: the net's)")
    args = parser.parse_args(argv)
    spec = jslim.nets.get_spec(args.model_name)
    mode = "L" if spec.input_channels == 1 else "RGB"
    image = np.asarray(Image.open(args.image).convert(mode))
    image = image[..., None] if image.ndim == 2 else image
    labels = read_labels(args.labels) if args.labels else {}
    offset = spec.label_offset if labels and len(labels) == spec.num_classes - spec.label_offset else 0
    for index, prob in classify(args.model_name, args.checkpoint_path, image, image_size=args.image_size):
        name = labels.get(index - offset, "background" if index < offset else "")
        print(f"{index:5d}  {prob:8.4f}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
