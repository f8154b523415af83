"""Entry point of the ``jslim`` console script.

Each subcommand lives in its own module under ``jslim.cli`` and exposes
``add_parser(subparsers) -> argparse.ArgumentParser``; the returned parser sets
``func`` (called with the parsed namespace, returning an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Subcommand name -> module under jslim.cli. Modules are imported lazily so that
# `jslim inspect` does not pay for importing JAX-heavy training code.
_COMMANDS = {
    "train": "jslim.cli.train",
    "eval": "jslim.cli.evaluate",
    "inspect": "jslim.cli.inspect",
    "convert": "jslim.cli.convert",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Returns the top-level parser; only ``command``'s module is imported if given."""
    parser = argparse.ArgumentParser(prog="jslim", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in _COMMANDS.items():
        if command is not None and name != command:
            sub.add_parser(name)
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name != module_name:
                raise
            continue
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs ``jslim COMMAND [flags]``; ``jslim`` alone runs ``jslim train`` on its defaults."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv = ["train", *argv]
    command = argv[0] if argv and argv[0] in _COMMANDS else None
    args = build_parser(command).parse_args(argv)
    if not getattr(args, "func", None):
        build_parser().print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
