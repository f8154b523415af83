"""The examples: the config file resolves into train flags; the fine-tuning recipe runs."""

from __future__ import annotations

import importlib.util
import pathlib

import pytest

from jslim.cli import main, train

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_config_sets_train_flags():
    args = main.build_parser("train").parse_args(["train", "--config", str(EXAMPLES / "configs" / "lenet_digits.py")])
    flags = train.resolve_flags(args)
    assert (flags.optimizer, flags.opt_epsilon, flags.moving_average_decay) == ("adam", 1e-8, 0.99)


@pytest.mark.slow
def test_finetune_example_new_head_then_everything(tmp_path, capsys):
    assert _load("finetune_slim_checkpoint").main(["--workdir", str(tmp_path), "--steps", "3"]) == 0
    out = capsys.readouterr().out
    assert "Fine-tuning from" in out and "all variables: test accuracy" in out
    assert (tmp_path / "slim" / "model.ckpt.index").exists()
