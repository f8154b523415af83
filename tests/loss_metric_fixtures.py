"""Readers for the TF reference fixtures in tests/fixtures/losses_metrics.

Written by ``tools/make_loss_metric_fixtures.py`` (TF 2.21 + tf_slim 1.1.0). Each case is a
``<case>/config`` JSON string plus arrays named ``<case>/<field>``; see the generator's
docstring for the layout.
"""

from __future__ import annotations

import functools
import json
import pathlib
from typing import Any

import numpy as np

FIXTURE_DIR = pathlib.Path(__file__).parent / "fixtures" / "losses_metrics"


@functools.lru_cache(maxsize=None)
def load_cases(filename: str) -> dict[str, dict[str, Any]]:
    """``{case: {"config": dict, "arrays": {field: array}}}`` for one fixture file."""
    with np.load(FIXTURE_DIR / filename) as data:
        arrays = {k: data[k] for k in data.files}
    cases: dict[str, dict[str, Any]] = {}
    for key in sorted(k for k in arrays if k.endswith("/config")):
        case = key[: -len("/config")]
        fields = {k[len(case) + 1:]: v for k, v in arrays.items()
                  if k.startswith(case + "/") and k != key}
        cases[case] = {"config": json.loads(str(arrays[key])), "arrays": fields}
    return cases


def cases_by(filename: str, config_key: str) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Cases grouped by ``config[config_key]`` (the jslim function or factory name)."""
    groups: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for case, data in load_cases(filename).items():
        groups.setdefault(data["config"][config_key], []).append((case, data))
    return groups


def top_level(fields: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Fields directly under ``prefix`` (no further ``/``)."""
    return {k[len(prefix):]: v for k, v in fields.items()
            if k.startswith(prefix) and "/" not in k[len(prefix):]}
