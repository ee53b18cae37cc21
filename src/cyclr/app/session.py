"""What ``find``, ``train`` and ``compare`` share: runners, progress bars, metrics."""

from __future__ import annotations

import math
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from cyclr.app.files import write_csv

STEP_COLUMNS = ("step", "epoch", "lr", "momentum", "loss")
EPOCH_COLUMNS = ("val_loss", "val_accuracy", "test_loss", "test_accuracy")
COLUMNS = STEP_COLUMNS + EPOCH_COLUMNS


def make_runner(framework: str, data, model: str, batch_size: int, seed: int):
    """The framework's runner (imported only now: a framework import takes seconds)."""
    if framework == "torch":
        from cyclr.app.torch_runner import TorchRunner

        return TorchRunner(data, model, batch_size, seed)
    from cyclr.app.keras_runner import KerasRunner

    return KerasRunner(data, model, batch_size, seed)


def show_progress() -> bool:
    """Progress bars only when a person watches (stderr is a terminal)."""
    return sys.stderr.isatty()


@contextmanager
def progress_bar(total: int, desc: str):
    """A tqdm bar on a terminal; None (nothing drawn) otherwise."""
    if not show_progress():
        yield None
        return
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, unit="step", leave=False, dynamic_ncols=True)
    try:
        yield bar
    finally:
        bar.close()


class MetricsLog:
    """Per-step lr, momentum and loss; per-epoch validation and test loss and accuracy.

    ``metrics.csv`` has one row per step; the last step of each epoch also
    carries that epoch's validation and test metrics. The file is rewritten
    (atomically) after every epoch, so an interrupted run keeps what it did.
    """

    def __init__(self, path=None):
        self.path = None if path is None else Path(path)
        self.rows: list[dict] = []
        self.epochs: list[dict] = []
        self.started = time.perf_counter()

    def on_step(self, step, lr, momentum, loss):
        self.rows.append({"step": step, "lr": lr, "momentum": momentum, "loss": loss})

    def on_epoch(self, epoch, step, val_loss, val_accuracy, test_loss, test_accuracy):
        row = dict(
            epoch=epoch,
            step=step,
            val_loss=val_loss,
            val_accuracy=val_accuracy,
            test_loss=test_loss,
            test_accuracy=test_accuracy,
        )
        if self.rows:
            self.rows[-1].update({k: v for k, v in row.items() if k != "step"})
        # Wall time since the log began (evaluation included), for time-to-accuracy.
        self.epochs.append(dict(row, seconds=time.perf_counter() - self.started))
        self.flush()

    def flush(self):
        if self.path is not None:
            write_csv(self.path, COLUMNS, ({k: _plain(v) for k, v in r.items()} for r in self.rows))

    @property
    def final_test_accuracy(self) -> float:
        return self.epochs[-1]["test_accuracy"] if self.epochs else float("nan")

    def first_epoch_reaching(self, accuracy: float):
        """The first epoch row whose test accuracy reached ``accuracy``, or None."""
        return next((row for row in self.epochs if row["test_accuracy"] >= accuracy - 1e-12), None)


def _plain(value):
    if isinstance(value, float) and math.isnan(value):
        return ""
    return value
