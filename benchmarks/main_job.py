"""The main job's budget: ``jslim train`` (no flags) on 2 CPU cores, >= 97 % in < 2 minutes.

    python benchmarks/main_job.py [--cores 0,1] [--runs 1] [--seeds 0] [-- extra jslim train flags]

Runs the real console script in a fresh ``--train_dir`` per run, pinned with ``taskset``
to the given cores, and reports per run: wall seconds (start to exit, imports and
compilation included), the process's CPU seconds (user + sys, from ``wait4``), the test
accuracy it printed, and whether both targets hold. The machine's load average is
printed too: on a shared machine wall time grows with it, CPU time does not.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

TARGET_ACCURACY, TARGET_SECONDS = 0.97, 120.0


def _command() -> list[str]:
    exe = shutil.which("jslim")
    return [exe] if exe else [sys.executable, "-m", "jslim.cli.main"]


def run_once(cores: str, seed: int, extra: list[str]) -> dict:
    """One ``jslim train`` run; returns its figures."""
    train_dir = tempfile.mkdtemp(prefix="jslim_main_job_")
    command = ["taskset", "-c", cores, *_command(), "train", "--train_dir", train_dir, "--seed", str(seed), *extra]
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "JAX_PLATFORMS")}
    started = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    shutil.rmtree(train_dir, ignore_errors=True)
    found = re.search(r"Accuracy = ([0-9.]+)", out)
    accuracy = float(found.group(1)) if found else None
    return {"seed": seed, "exit": os.waitstatus_to_exitcode(status), "wall_s": round(wall, 1),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 1), "accuracy": accuracy,
            "ok": bool(accuracy is not None and accuracy >= TARGET_ACCURACY and wall < TARGET_SECONDS),
            "load_average": os.getloadavg()[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", default="0,1")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds, one run each")
    args, extra = parser.parse_known_args()
    extra = [a for a in extra if a != "--"]
    results = [run_once(args.cores, int(seed), extra) for seed in args.seeds.split(",")]
    for result in results:
        print(json.dumps(result))
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
