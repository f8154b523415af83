"""Every factory net against TF-Slim: variable names/shapes and outputs (goldens).

Tolerance (issue #4): max|diff| <= 1e-4 * max(1, max|ref|) in float32 with
``jax.default_matmul_precision("highest")`` (set in conftest), for the logits
and every stored end point. Each net is traced once for its variables
(``jax.eval_shape``, no compile) and compiled once for the comparison.
"""

import jax
import numpy as np
import pytest

import golden
import jslim.nets

NETS = sorted(p.stem for p in golden.GOLDEN_DIR.glob("*.npz"))


def test_every_golden_net_is_registered():
    missing = sorted(set(NETS) - set(jslim.nets.list_networks()))
    assert not missing, f"nets without an implementation: {missing}"


@pytest.mark.parametrize("net", NETS)
def test_matches_tf_slim(net):
    if net not in jslim.nets.list_networks():
        pytest.fail(f"{net} is not registered")
    g = golden.load(net)
    cfg = g["config"]
    model = jslim.nets.build(net, num_classes=cfg["num_classes"], weight_decay=cfg.get("weight_decay", 0.0))
    images = golden.golden_input(g)
    template = jax.eval_shape(model.init, jax.random.key(0), images)

    ours = golden.flat_names(template)
    theirs = dict(zip(g["var_names"], g["var_shapes"]))
    assert sorted(set(theirs) - set(ours)) == [], "variables TF-Slim has and jslim lacks"
    assert sorted(set(ours) - set(theirs)) == [], "variables jslim has and TF-Slim lacks"
    wrong = {n: (ours[n], theirs[n]) for n in theirs if ours[n] != theirs[n]}
    assert not wrong, f"shape mismatches (jslim, tf): {wrong}"

    variables = golden.golden_variables(g, template)
    logits, end_points = jax.jit(lambda v, x: model.apply(v, x, is_training=False))(variables, images)
    logits = np.asarray(logits)
    assert logits.shape == g["logits"].shape
    errors = {"logits": float(np.max(np.abs(logits - g["logits"]))) / golden.tolerance(g["logits"])}
    for i, name in enumerate(g["endpoint_names"]):
        assert name in end_points, f"end point {name!r} missing; jslim has {sorted(end_points)}"
        errors[name] = golden.compare_end_point(g, i, end_points[name])
    print(f"{net}: worst |diff|/tolerance = {max(errors.values()):.3g} ({errors})")
    bad = {k: v for k, v in errors.items() if not v <= 1.0}
    assert not bad, f"outside 1e-4*max(1,max|ref|) (ratio to tolerance): {bad}"
