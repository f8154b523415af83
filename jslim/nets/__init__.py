"""The TF-Slim model zoo as Flax modules returning ``(logits, end_points)``."""

from jslim.nets.base import SlimNet
from jslim.nets.registry import build, get_spec, list_networks
from jslim.nets.spec import NetSpec
from jslim.nets.summary import Summary, summary
