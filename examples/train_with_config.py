"""Train from an ml_collections config file, programmatically (``jslim train --config`` does the same).

    python examples/train_with_config.py --config examples/configs/lenet_digits.py [--max_number_of_steps 50]

The config's keys are ``jslim train`` flags; flags typed here override them. The job
(data, net, optimizer, checkpoints, resume, evaluation) is ``jslim train``'s.
"""

from __future__ import annotations

import argparse
import sys

from jslim.cli import training_job
from jslim.cli.train import resolve_flags


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="a Python file with get_config()")
    parser.add_argument("--max_number_of_steps", type=int, default=argparse.SUPPRESS)
    parser.add_argument("--train_dir", default=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    flags = resolve_flags(args)  # defaults < config file < the flags above
    summary = training_job.train_image_classifier(flags)
    print(f"{flags.train_dir}: step {summary['step']}, test accuracy {summary['eval']['Accuracy']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
