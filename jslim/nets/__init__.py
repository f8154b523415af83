"""The TF-Slim model zoo as Flax modules returning ``(logits, end_points)``."""

from jslim.nets.base import SlimNet
from jslim.nets.registry import build, get_spec, list_networks
from jslim.nets.spec import NetSpec
from jslim.nets.summary import Summary, summary


def __getattr__(name: str):
    # `load` joins the registry to the checkpoint importer, which sits above nets/.
    if name == "load":
        from jslim.checkpoints.pretrained import load  # pylint: disable=import-outside-toplevel

        return load
    raise AttributeError(f"module 'jslim.nets' has no attribute {name!r}")
