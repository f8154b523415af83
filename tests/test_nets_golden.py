"""Every factory net against TF-Slim: variable names/shapes and outputs (goldens).

Tolerance (issue #4): max|diff| <= 1e-4 * max(1, max|ref|) in float32 with
``jax.default_matmul_precision("highest")`` (set in conftest), for the logits
and every stored end point. Each net is traced once for its variables
(``jax.eval_shape``, no compile) and compiled once for the comparison.
"""

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
    # XLA's backend optimizations cost compile time (the bulk of this test on CPU)
    # and move results only within rounding.
    golden.check_against_golden(net, model, g, compiler_options={"xla_backend_optimization_level": 0})
