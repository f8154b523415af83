"""``jslim convert CKPT OUT_DIR --model NAME``: a TF-Slim checkpoint -> an orbax checkpoint.

Builds the registry net ``NAME`` (``jslim.nets.build``), initializes its variables,
fills them from the TF checkpoint with the slim importer (no TensorFlow), and saves
the variables with orbax under ``OUT_DIR/<step>`` (the checkpoint's ``global_step``, or 0),
where ``jslim.checkpoints.restore_checkpoint`` and training resume find them.
"""

from __future__ import annotations

import argparse
import functools
import sys

from jslim.checkpoints.tf_format import CheckpointError, open_tf_checkpoint


def convert(args: argparse.Namespace) -> tuple[dict, int]:
    """Builds the net, imports the checkpoint; returns ``(variables, step)``."""
    import jax  # pylint: disable=import-outside-toplevel
    import jax.numpy as jnp  # pylint: disable=import-outside-toplevel

    from jslim import nets  # pylint: disable=import-outside-toplevel
    from jslim.checkpoints import naming, slim_import  # pylint: disable=import-outside-toplevel

    spec = nets.get_spec(args.model)
    num_classes = args.num_classes if args.num_classes is not None else (
        spec.num_classes - args.label_offset)
    model = nets.build(args.model, num_classes=num_classes)
    size = args.image_size or spec.default_image_size
    images = jnp.zeros((1, size, size, spec.input_channels), jnp.float32)
    # Every variable comes from the checkpoint unless some are excluded or may be
    # missing: only then are initial values needed (compiling init is slow for big nets).
    keeps_initial_values = bool(args.include or args.exclude or args.ignore_missing_vars)
    init = jax.jit(model.init) if keeps_initial_values else functools.partial(
        jax.eval_shape, model.init)
    template = {name: tree for name, tree in init(jax.random.key(0), images).items()
                if name not in naming.NON_VARIABLE_COLLECTIONS}
    reader = open_tf_checkpoint(args.checkpoint)
    variables = slim_import.import_slim_checkpoint(
        reader, template, include=args.include, exclude=args.exclude,
        ignore_missing_vars=args.ignore_missing_vars, label_offset=args.label_offset,
        use_moving_averages=args.use_moving_averages)
    step = int(reader["global_step"]) if "global_step" in reader else 0
    return variables, step


def run(args: argparse.Namespace) -> int:
    """Runs the subcommand; returns the exit code (1 on a checkpoint that does not fit)."""
    from jslim.checkpoints import naming, orbax_io  # pylint: disable=import-outside-toplevel

    try:
        variables, step = convert(args)
    except (CheckpointError, ValueError) as err:
        print(f"jslim convert: error: {err}", file=sys.stderr)
        return 1
    orbax_io.save_checkpoint(args.out_dir, variables, step=step)
    counts = ", ".join(f"{collection}: {len(naming.tree_to_tensor_names(tree))}"
                       for collection, tree in variables.items())
    print(f"{args.checkpoint} -> {args.out_dir} step {step} ({args.model}; {counts} variables)")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Adds ``convert`` to the ``jslim`` command line."""
    parser = subparsers.add_parser(
        "convert", help="convert a TF-Slim checkpoint into an orbax checkpoint of a jslim net",
        description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", metavar="CKPT", help="the TF checkpoint (V1 or V2)")
    parser.add_argument("out_dir", metavar="OUT_DIR", help="the orbax checkpoint directory")
    parser.add_argument("--model", required=True, metavar="NAME",
                        help="a jslim.nets registry name, e.g. inception_v3")
    parser.add_argument("--num_classes", type=int, default=None,
                        help="logits size (default: the published head's, minus --label_offset)")
    parser.add_argument("--label_offset", type=int, default=0,
                        help="1: drop the background class of a 1001-class checkpoint")
    parser.add_argument("--use_moving_averages", action="store_true",
                        help="load the ExponentialMovingAverage shadows where present")
    parser.add_argument("--image_size", type=int, default=None,
                        help="input size to build the net at (default: the net's own)")
    parser.add_argument("--exclude", action="append", metavar="SCOPE",
                        help="slim scope not to load (keeps the initial values; repeatable)")
    parser.add_argument("--include", action="append", metavar="SCOPE",
                        help="load only these slim scopes (repeatable)")
    parser.add_argument("--ignore_missing_vars", action="store_true",
                        help="keep initial values for variables the checkpoint lacks")
    parser.set_defaults(func=run)
    return parser
