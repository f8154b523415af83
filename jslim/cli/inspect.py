"""``jslim inspect CKPT``: what a TF checkpoint holds, like TF's ``inspect_checkpoint``.

Lists every tensor's name, dtype, shape, element count and size, then the totals;
``--tensor NAME`` prints one tensor's values, ``--all_tensors`` every tensor's. Needs
neither TensorFlow nor JAX.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from jslim.checkpoints.tf_format import CheckpointError, TensorReader, dtypes, open_tf_checkpoint


def _dtype_name(reader: TensorReader, name: str) -> str:
    dtype = reader.info(name).dtype
    return "string" if dtypes.is_string(dtype) else dtype.name


def _size(num_bytes: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if num_bytes < 1024 or unit == "GiB":
            return f"{num_bytes:.0f} {unit}" if unit == "B" else f"{num_bytes:.2f} {unit}"
        num_bytes /= 1024
    raise AssertionError("unreachable")


def print_table(reader: TensorReader, out: TextIO) -> None:
    """One row per tensor (name, dtype, shape, elements, bytes), then the totals."""
    rows = [(name, _dtype_name(reader, name), str(list(reader.info(name).shape)),
             reader.info(name).size, reader.nbytes(name)) for name in reader]
    width = max([len("name")] + [len(row[0]) for row in rows])
    shape_width = max([len("shape")] + [len(row[2]) for row in rows])
    out.write(f"{reader.path} ({reader.format}, {len(rows)} tensors)\n")
    out.write(f"{'name':<{width}}  {'dtype':<10} {'shape':<{shape_width}} "
              f"{'elements':>12} {'bytes':>14}\n")
    for name, dtype, shape, size, nbytes in rows:
        out.write(f"{name:<{width}}  {dtype:<10} {shape:<{shape_width}} {size:>12,} {nbytes:>14,}\n")
    elements, total = sum(row[3] for row in rows), sum(row[4] for row in rows)
    out.write(f"Total: {len(rows)} tensors, {elements:,} elements, {total:,} bytes ({_size(total)})\n")


def print_values(reader: TensorReader, names: list[str], out: TextIO) -> None:
    """Each tensor's name, dtype, shape, then its values (numpy's print, summarized)."""
    for name in names:
        info = reader.info(name)
        out.write(f"tensor_name: {name} ({_dtype_name(reader, name)} {list(info.shape)})\n")
        out.write(f"{reader[name]!r}\n")


def run(args: argparse.Namespace) -> int:
    """Runs the subcommand; returns the exit code (1 on an unreadable checkpoint)."""
    try:
        reader = open_tf_checkpoint(args.checkpoint)
        if args.tensor:
            print_values(reader, args.tensor, sys.stdout)
        elif args.all_tensors:
            print_values(reader, list(reader), sys.stdout)
        else:
            print_table(reader, sys.stdout)
    except CheckpointError as err:
        print(f"jslim inspect: error: {err}", file=sys.stderr)
        return 1
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Adds ``inspect`` to the ``jslim`` command line."""
    parser = subparsers.add_parser(
        "inspect", help="list the tensors of a TF checkpoint (V1 or V2)",
        description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", metavar="CKPT",
                        help="a checkpoint prefix, .index or V1 file, or a directory with a "
                             "'checkpoint' state file")
    parser.add_argument("--tensor", action="append", metavar="NAME",
                        help="print this tensor's values (repeatable)")
    parser.add_argument("--all_tensors", action="store_true", help="print every tensor's values")
    parser.set_defaults(func=run)
    return parser
