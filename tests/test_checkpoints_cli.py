"""``jslim inspect`` and ``jslim convert`` through the real command-line entry point."""

import jax.numpy as jnp
import numpy as np
import pytest

from checkpoint_testing import assert_exact, expected, fixture
from jslim.checkpoints import restore_checkpoint, tree_to_tensor_names
from jslim.cli.main import main


def test_inspect_lists_names_dtypes_shapes_sizes_and_totals(capsys):
    assert main(["inspect", fixture("mixed_dtypes_v2")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("model.ckpt (V2, 17 tensors)")
    rows = {line.split()[0]: line.split() for line in out[2:-1]}
    assert rows["mixed/large_float32"] == ["mixed/large_float32", "float32", "[1024,", "1024]",
                                          "1,048,576", "4,194,304"]
    assert rows["mixed/bfloat16"][1:3] == ["bfloat16", "[3,"]
    assert rows["mixed/string_scalar"][1:3] == ["string", "[]"]
    assert out[-1] == "Total: 17 tensors, 1,048,725 elements, 4,195,108 bytes (4.00 MiB)"


def test_inspect_prints_values_of_named_or_all_tensors(capsys):
    assert main(["inspect", fixture("partitioned_v2"), "--tensor", "part/plain"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("tensor_name: part/plain (float32 [4])\narray([")
    assert repr(expected("partitioned_v2")["part/plain"]) in out
    assert main(["inspect", fixture("lenet_v1"), "--all_tensors"]) == 0
    assert capsys.readouterr().out.count("tensor_name: ") == 8


def test_inspect_errors_name_the_problem(capsys):
    assert main(["inspect", fixture("lenet_v2"), "--tensor", "LeNet/fc4/weight"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("jslim inspect: error: ") and "did you mean 'LeNet/fc4/weights'" in err


def test_convert_writes_an_orbax_checkpoint_of_the_net(tmp_path, capsys):
    out_dir = tmp_path / "lenet"
    assert main(["convert", fixture("lenet_v2"), str(out_dir), "--model", "lenet",
                 "--image_size", "8"]) == 0
    assert "step 0 (lenet; params: 8 variables)" in capsys.readouterr().out
    restored = tree_to_tensor_names(restore_checkpoint(out_dir)["params"])
    for name, value in expected("lenet_v2").items():
        assert_exact(np.asarray(restored[name]), value, name)


def test_convert_with_ema_label_offset_and_missing_vars(tmp_path, capsys):
    out_dir = tmp_path / "cifarnet"
    argv = ["convert", fixture("ema_momentum_v2"), str(out_dir), "--model", "cifarnet",
            "--num_classes", "9", "--label_offset", "1", "--use_moving_averages"]
    assert main(argv) == 1
    assert "CifarNet/fc3/weights" in capsys.readouterr().err
    assert main([*argv, "--ignore_missing_vars"]) == 0
    assert "step 1 (cifarnet" in capsys.readouterr().out  # the checkpoint's global_step
    restored = tree_to_tensor_names(restore_checkpoint(out_dir)["params"])
    want = expected("ema_momentum_v2")
    assert_exact(np.asarray(restored["CifarNet/logits/weights"]),
                 want["CifarNet/logits/weights/ExponentialMovingAverage"][:, 1:])
    assert restored["CifarNet/fc3/weights"].dtype == jnp.float32


def test_convert_unknown_model(tmp_path, capsys):
    assert main(["convert", fixture("lenet_v2"), str(tmp_path), "--model", "lenett"]) == 1
    assert "Did you mean lenet" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["inspect", "--help"], ["convert", "--help"]])
def test_help(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0 and "usage: jslim" in capsys.readouterr().out
