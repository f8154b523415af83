"""``jslim train`` / ``jslim eval``: the real console script end to end on digits, and flags."""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

from jslim.cli import evaluate, main, train
from jslim.cli.flags import FlagError


def _jslim(*args, cwd=None):
    exe = shutil.which("jslim")
    command = [exe] if exe else [sys.executable, "-m", "jslim.cli.main"]
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=600, env=env, cwd=cwd)


def test_train_then_eval_on_digits(tmp_path):
    run = tmp_path / "run"
    trained = _jslim("train", "--train_dir", str(run), "--max_number_of_steps", "20", "--save_interval_steps", "10",
                     "--log_every_n_steps", "10", "--moving_average_decay", "0.9")
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert "step 20/20" in trained.stdout
    accuracy = re.search(r"eval/test at step 20: Accuracy = ([0-9.]+), Recall_5 = ([0-9.]+)", trained.stdout)
    assert accuracy, trained.stdout
    assert sorted(os.listdir(run / "checkpoints")) == ["10", "20"]
    events = b"".join(p.read_bytes() for p in run.glob("events.out.tfevents.*"))
    for tag in (b"total_loss", b"learning_rate", b"images_per_sec", b"losses/cross_entropy"):
        assert tag in events
    assert b"eval/Accuracy" in b"".join(p.read_bytes() for p in (run / "eval").glob("events.*"))

    evaluated = _jslim("eval", "--checkpoint_path", str(run), "--moving_average_decay", "0.9")
    assert evaluated.returncode == 0, evaluated.stdout + evaluated.stderr
    again = re.search(r"step 20: Accuracy = ([0-9.]+)", evaluated.stdout)
    assert again and again.group(1) == accuracy.group(1)

    resumed = _jslim("train", "--train_dir", str(run), "--max_number_of_steps", "20", "--eval_split_name", "",
                     "--moving_average_decay", "0.9", "--checkpoint_path", str(tmp_path / "not_used"))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "from step 20 (ignoring --checkpoint_path)" in resumed.stdout and "step 20 (max_steps)" in resumed.stdout
    other = _jslim("train", "--train_dir", str(run), "--max_number_of_steps", "20", "--eval_split_name", "")
    assert other.returncode != 0 and "does not fit this run's state" in other.stderr


def _run_main(capsys, *argv):
    try:
        code = main.main(list(argv))
    except SystemExit as exit_:
        code = exit_.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["train", "--optimizer", "adamw"], "argument --optimizer: invalid choice: 'adamw'"),
    (["train", "--learning_rat", "0.1"], "unrecognized arguments: --learning_rat"),
    (["train", "--num_clones", "2"], "--num_clones is not used by jslim"),
    (["train", "--learning_rate_decay_type", "cosine"], "argument --learning_rate_decay_type: invalid choice"),
    (["train", "--model_name", "lenett", "--max_number_of_steps", "0"], "--model_name: Unknown net 'lenett'"),
    (["eval", "--checkpoint_path", "/nonexistent/run"], "--checkpoint_path: no jslim checkpoint"),
    (["train", "--batch_size", "12"], "--batch_size 12 is not a multiple of the 8 devices"),
])
def test_bad_flags_name_the_flag(capsys, argv, message):
    code, err = _run_main(capsys, *argv)
    assert code == 2 and message in err, err


def test_config_file_sits_between_defaults_and_the_command_line(tmp_path):
    config = tmp_path / "config.py"
    config.write_text("import ml_collections\n\n"
                      "def get_config():\n"
                      "    return ml_collections.ConfigDict(dict(optimizer='adam', learning_rate=0.002, batch_size=64))\n")
    parser = main.build_parser("train")
    flags = train.resolve_flags(parser.parse_args(["train", "--config", str(config), "--batch_size", "16"]))
    assert (flags.optimizer, flags.learning_rate, flags.batch_size) == ("adam", 0.002, 16)
    assert flags.model_name == "lenet" and flags.train_dir == train.DEFAULT_TRAIN_DIR
    config.write_text("def get_config():\n    return {'learning_rat': 0.1}\n")
    with pytest.raises(FlagError, match="unknown flag.*learning_rat"):
        train.resolve_flags(parser.parse_args(["train", "--config", str(config)]))
    config.write_text("def get_config():\n    return {'batch_size': 'big'}\n")
    with pytest.raises(FlagError, match="--batch_size: expected int, got 'big'"):
        train.resolve_flags(parser.parse_args(["train", "--config", str(config)]))


def test_eval_defaults_point_at_the_main_job():
    flags = evaluate.resolve_flags(main.build_parser("eval").parse_args(["eval"]))
    assert pathlib.Path(flags.checkpoint_path) == pathlib.Path(train.DEFAULT_TRAIN_DIR)
    assert (flags.model_name, flags.dataset_name, flags.dataset_split_name) == ("lenet", "digits", "test")


def test_progress_bar_on_a_terminal():
    import io

    from jslim.training.reporting import ProgressReporter

    stream = io.StringIO()
    reporter = ProgressReporter(32, 4, log_every_n_steps=2, stream=stream, live=True)
    for step in range(1, 5):
        reporter.report(step, {"total_loss": 1.0 / step, "learning_rate": 1e-3}, now=float(step))
    reporter.close()
    assert "4/4" in stream.getvalue() and "loss 0.2500" in stream.getvalue() and "32 images/s" in stream.getvalue()  # 1 step/s
