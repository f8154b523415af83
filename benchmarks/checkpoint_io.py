"""Time and peak memory to read every tensor of a big TF checkpoint: jslim vs TensorFlow.

    python benchmarks/checkpoint_io.py [--size_mb 320] [--tf_python /opt/tfvenv/bin/python]

Writes a V2 checkpoint of ``--size_mb`` MB (a VGG-like mix: a few big fully connected
weights, many small conv tensors) with jslim's writer, warms the page cache, then reads
every tensor into a dict in a fresh process per run: jslim's ``read_tf_checkpoint``
(CRC32C checked, which touches every byte) and, when a python with TensorFlow is found,
``tf.train.load_checkpoint`` + ``get_tensor``. Peak memory is the process's peak RSS
(VmHWM) minus its RSS before reading, so imports do not count; mapped file pages do.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _status_kb(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _shapes(size_mb: float) -> dict[str, tuple[int, ...]]:
    """A VGG-like set of float32 tensor shapes adding up to about ``size_mb`` MB."""
    shapes = {}
    for block in range(1, 6):
        for layer in range(1, 4):
            channels = min(64 * 2 ** (block - 1), 512)
            shapes[f"vgg/conv{block}/conv{block}_{layer}/weights"] = (3, 3, channels, channels)
            shapes[f"vgg/conv{block}/conv{block}_{layer}/biases"] = (channels,)
    small = sum(int(np.prod(s)) * 4 for s in shapes.values())
    fc_units = int(((size_mb * 1e6 - small) / 4) ** 0.5 / 1.5)
    shapes["vgg/fc6/weights"] = (fc_units * 2, fc_units)
    shapes["vgg/fc7/weights"] = (fc_units, fc_units // 4)
    shapes["vgg/fc8/weights"] = (fc_units // 4, 1001)
    shapes["global_step"] = ()
    return shapes


def write_checkpoint(prefix: str, size_mb: float) -> int:
    """Writes the benchmark checkpoint (unless present); returns its data size in bytes."""
    sys.path.insert(0, ROOT)
    from jslim.checkpoints import write_tf_checkpoint  # pylint: disable=import-outside-toplevel

    data = prefix + ".data-00000-of-00001"
    if not os.path.exists(data):
        rng = np.random.default_rng(0)
        write_tf_checkpoint(prefix, {
            name: rng.standard_normal(shape, np.float32) if shape else np.int64(1000)
            for name, shape in _shapes(size_mb).items()}, write_state_file=False)
    return os.path.getsize(data)


def child(reader: str, prefix: str) -> None:
    """[fresh process] Reads every tensor with ``reader``; prints JSON figures."""
    if reader == "jslim":
        sys.path.insert(0, ROOT)
        from jslim.checkpoints import read_tf_checkpoint  # pylint: disable=import-outside-toplevel

        def read_all():
            return read_tf_checkpoint(prefix)
    else:
        import tensorflow as tf  # pylint: disable=import-outside-toplevel

        def read_all():
            tf_reader = tf.train.load_checkpoint(prefix)
            return {n: tf_reader.get_tensor(n) for n in tf_reader.get_variable_to_shape_map()}
    baseline = _status_kb("VmRSS")
    start = time.perf_counter()
    tensors = read_all()
    seconds = time.perf_counter() - start
    peak = _status_kb("VmHWM")
    total = sum(np.asarray(t).nbytes for t in tensors.values())
    print(json.dumps({"seconds": seconds, "peak_kb": peak - baseline, "bytes": total,
                      "tensors": len(tensors)}))


def measure(python: str, reader: str, prefix: str, repeats: int) -> dict:
    """Best time and largest peak over ``repeats`` fresh processes."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    runs = []
    for _ in range(repeats):
        out = subprocess.run([python, __file__, "--child", reader, prefix], check=True,
                             capture_output=True, text=True, env=env).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    return {"seconds": min(r["seconds"] for r in runs),
            "median_seconds": float(np.median([r["seconds"] for r in runs])),
            "peak_mb": max(r["peak_kb"] for r in runs) / 1024,
            "tensors": runs[0]["tensors"], "bytes": runs[0]["bytes"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size_mb", type=float, default=320)
    parser.add_argument("--dir", default="/tmp/jslim_checkpoint_bench")
    parser.add_argument("--tf_python", default="/opt/tfvenv/bin/python")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    prefix = os.path.join(args.dir, f"vgg_like_{int(args.size_mb)}mb.ckpt")
    size = write_checkpoint(prefix, args.size_mb)
    with open(prefix + ".data-00000-of-00001", "rb") as f:  # warm the page cache
        while f.read(64 << 20):
            pass
    readers = [("jslim", sys.executable)]
    if os.path.exists(args.tf_python):
        readers.append(("tf.train.load_checkpoint", args.tf_python))
    print(f"checkpoint {prefix}: {size / 1e6:.1f} MB data (page cache warm), "
          f"best/median of {args.repeats} fresh processes")
    print(f"{'reader':<26} {'time s (best)':>13} {'median':>8} {'peak RSS MB':>12} "
          f"{'x size':>7} {'tensors':>8}")
    for label, python in readers:
        figures = measure(python, "jslim" if label == "jslim" else "tf", prefix, args.repeats)
        assert figures["bytes"] >= size - 16, figures  # every byte was returned
        print(f"{label:<26} {figures['seconds']:>13.3f} {figures['median_seconds']:>8.3f} "
              f"{figures['peak_mb']:>12.1f} {figures['peak_mb'] * 2**20 / size:>7.2f} "
              f"{figures['tensors']:>8}")


if __name__ == "__main__":
    main()
