"""jslim.layers exposes TF-Slim's names with slim's argument names and defaults.

``signatures.json`` holds TF-Slim 1.1.0's signatures (tools/make_layer_fixtures.py)
minus graph plumbing (``reuse``, ``*_collections``). Each jslim function must take
the same arguments in the same order, with equal defaults where slim's default is
a plain value; ``activity_regularizer`` is kept for gdn. A coverage test checks
that every layer has a TF-Slim fixture case.
"""

import inspect
import json

import pytest

import layer_fixtures as lf
from jslim import layers

SIGNATURES = json.loads((lf.FIXTURE_DIR / "signatures.json").read_text())


def _jslim_params(fn):
    params = inspect.signature(fn).parameters.values()
    return [p for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


@pytest.mark.parametrize("name", sorted(SIGNATURES))
def test_signature_matches_slim(name):
    fn = getattr(layers, name)
    ours = _jslim_params(fn)
    theirs = SIGNATURES[name]
    assert [p.name for p in ours] == [n for n, _ in theirs], f"{name}: argument names/order differ from slim"
    for param, (arg, default) in zip(ours, theirs):
        if isinstance(default, dict):
            if default.get("$required"):
                assert param.default is inspect.Parameter.empty, f"{name}({arg}) is required in slim"
            continue  # an object (initializer, activation): checked by the fixtures' behaviour
        ours_default = list(param.default) if isinstance(param.default, tuple) else param.default
        assert ours_default == default, f"{name}({arg}=...): slim's default is {default!r}"


# Every layer of the issue and the fixture cases that cover it (dropout: test_layers_core).
LAYERS = sorted(set(lf.LAYERS) | {"dropout"})


def test_every_layer_has_a_tf_slim_fixture():
    covered = set()
    for kind in ("conv", "core", "normalization", "pooling"):
        for case in lf.load(kind).values():
            covered |= case.ops
            for call in case.spec["calls"]:  # layers passed to repeat/stack and as normalizer_fn
                covered |= {v["$fn"] for v in [*call["args"], *call["kwargs"].values()] if isinstance(v, dict)
                            and v.get("$fn")}
    missing = sorted(set(LAYERS) - covered - {"dropout"})
    assert not missing, f"layers without a TF-Slim fixture case: {missing}"


def test_public_names_exist():
    for name in LAYERS + sorted(SIGNATURES):
        assert callable(getattr(layers, name)), name
