"""What a run shows while it trains: a live progress line and TensorBoard event files.

Both are :class:`jslim.training.loop.Reporter` s. Scalars: ``total_loss``,
``losses/<name>`` (``cross_entropy``, ``regularization_loss``, ...), ``learning_rate``,
``images_per_sec``; evaluation writes ``eval/<metric>`` (``eval/Accuracy``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any, TextIO

__all__ = ["ProgressReporter", "TensorBoardReporter", "Throughput", "write_scalars"]

SHOWN = ("total_loss", "learning_rate")


class Throughput:
    """Images per second between successive calls (the first call only starts the clock,
    so compilation does not count)."""

    def __init__(self, batch_size: int):
        self.batch_size = batch_size
        self._last: tuple[int, float] | None = None

    def __call__(self, step: int, now: float) -> float | None:
        last, self._last = self._last, (step, now)
        if last is None or now <= last[1] or step <= last[0]:
            return None
        return self.batch_size * (step - last[0]) / (now - last[1])


class ProgressReporter:
    """A live progress bar (rich) on a terminal; elsewhere a log line every N steps.

    Args:
      batch_size: the global batch size (for images/s).
      max_steps: the last step (the bar's total), or None.
      log_every_n_steps: how often to print a line (not on a terminal) and refresh rates.
      stream: where to write (default stdout).
      live: force the live bar on/off (default: when ``stream`` is a terminal).
    """

    def __init__(self, batch_size: int, max_steps: int | None, log_every_n_steps: int = 10,
                 stream: TextIO | None = None, live: bool | None = None):
        self._stream = stream or sys.stdout
        self._every = max(int(log_every_n_steps), 1)
        self._max_steps = max_steps
        self._rate, self._images_per_sec = Throughput(batch_size), None
        live = self._stream.isatty() if live is None else live
        self._progress = self._task = None
        if live:
            self._start_bar()

    def _start_bar(self) -> None:
        from rich import console, progress  # pylint: disable=import-outside-toplevel

        self._progress = progress.Progress(
            progress.TextColumn("train"), progress.BarColumn(), progress.MofNCompleteColumn(),
            progress.TextColumn("{task.fields[info]}"), progress.TimeRemainingColumn(),
            console=console.Console(file=self._stream), transient=False)
        self._task = self._progress.add_task("train", total=self._max_steps, info="compiling...")
        self._progress.start()

    def _line(self, metrics: Mapping[str, float]) -> str:
        parts = [f"loss {metrics.get('total_loss', float('nan')):.4f}"]
        if "learning_rate" in metrics:
            parts.append(f"lr {metrics['learning_rate']:.3g}")
        if self._images_per_sec:
            parts.append(f"{self._images_per_sec:.0f} images/s")
        return "  ".join(parts)

    def report(self, step: int, metrics: Mapping[str, float], now: float) -> None:
        """Updates the bar (every step) or prints a line (every ``log_every_n_steps``)."""
        if step % self._every == 0 or self._images_per_sec is None:
            rate = self._rate(step, now)
            self._images_per_sec = rate or self._images_per_sec
        if self._progress is not None:
            self._progress.update(self._task, completed=step, info=self._line(metrics))
        elif step % self._every == 0:
            total = f"/{self._max_steps}" if self._max_steps else ""
            print(f"step {step}{total}  {self._line(metrics)}", file=self._stream, flush=True)

    def close(self) -> None:
        """Stops the live bar."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def write_scalars(writer: Any, step: int, values: Mapping[str, float], prefix: str = "") -> None:
    """``writer.add_scalar(prefix + name, value, step)`` for each value."""
    for name, value in values.items():
        writer.add_scalar(prefix + name, float(value), step)


class TensorBoardReporter:
    """Writes the step's scalars to TensorBoard event files (tensorboardX).

    Args:
      logdir: the directory (the run's ``train_dir``).
      batch_size: the global batch size (for ``images_per_sec``).
      save_summaries_secs: at most one write per this many seconds (slim's flag);
        the last step is always written.
    """

    def __init__(self, logdir: str | os.PathLike, batch_size: int, save_summaries_secs: float = 60.0):
        from tensorboardX import SummaryWriter  # pylint: disable=import-outside-toplevel

        self._writer = SummaryWriter(os.fspath(logdir))
        self._every = float(save_summaries_secs)
        self._rate = Throughput(batch_size)
        self._last_write: float | None = None
        self._pending: tuple[int, Mapping[str, float], float] | None = None

    def report(self, step: int, metrics: Mapping[str, float], now: float) -> None:
        """Writes when ``save_summaries_secs`` have passed since the last write."""
        self._pending = (step, metrics, now)
        if self._last_write is None or now - self._last_write >= self._every:
            self._write()

    def _write(self) -> None:
        step, metrics, now = self._pending
        values = {k: v for k, v in metrics.items() if k != "finite"}
        rate = self._rate(step, now)
        if rate is not None:
            values["images_per_sec"] = rate
        write_scalars(self._writer, step, values)
        self._last_write, self._pending = now, None

    def close(self) -> None:
        """Writes the last step and closes the event file."""
        if self._pending is not None:
            self._write()
        self._writer.close()
