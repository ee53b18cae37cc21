"""What ``find``, ``train`` and ``compare`` share: runners, progress bars, metrics."""

from __future__ import annotations

import math
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from cyclr.app.files import write_csv
from cyclr.app.runner import Runner

STEP_COLUMNS = ("step", "epoch", "lr", "momentum", "loss")
EPOCH_COLUMNS = ("val_loss", "val_accuracy", "test_loss", "test_accuracy")
COLUMNS = STEP_COLUMNS + EPOCH_COLUMNS


def make_runner(
    framework: str,
    data,
    model: str,
    batch_size: int,
    seed: int,
    loss: str | None = None,
    device: str | None = None,
    amp: str | None = None,
) -> Runner:
    """The framework's runner (imported only now: a framework import takes seconds).

    ``device`` and ``amp`` are PyTorch's (:class:`cyclr.app.torch_runner.TorchRunner`);
    Keras places its work itself.

    Raises:
      ValueError: the model cannot be built or does not fit the data (see the runners);
        a device or amp with ``framework='keras'``, or one PyTorch cannot run here.
    """
    if framework == "torch":
        from cyclr.app.torch_runner import TorchRunner

        return TorchRunner(data, model, batch_size, seed, device=device, loss=loss, amp=amp)
    if device is not None or amp is not None:
        raise ValueError(
            f"device and amp apply to framework='torch' only; received device={device!r}, "
            f"amp={amp!r} with framework={framework!r}"
        )
    from cyclr.app.keras_runner import KerasRunner

    return KerasRunner(data, model, batch_size, seed, loss=loss)


def show_progress(enabled: bool | None = None) -> bool:
    """Whether to draw progress bars: ``enabled``, or when None, if stderr is a terminal."""
    return sys.stderr.isatty() if enabled is None else bool(enabled)


@contextmanager
def progress_bar(total: int, desc: str, enabled: bool | None = None, unit: str = "step"):
    """A tqdm bar when :func:`show_progress` says so; None (nothing drawn) otherwise."""
    if not show_progress(enabled):
        yield None
        return
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True)
    try:
        yield bar
    finally:
        bar.close()


def printer(enabled: bool | None = None):
    """``print``, or ``tqdm.write`` while bars are drawn (so a line never tears a bar)."""
    if not show_progress(enabled):
        return print
    from tqdm import tqdm

    return tqdm.write


class EpochBars:
    """One progress bar per epoch (``epoch 3/12``), for a runner that calls ``update(1)``.

    ``next_epoch()`` closes the bar of the epoch that ended and opens the next one.
    """

    def __init__(
        self,
        epochs: int,
        steps_per_epoch: int,
        total_steps: int,
        desc: str = "",
        start: tuple[int, int] = (0, 0),
    ):
        from tqdm import tqdm

        self._tqdm = tqdm
        self.epochs, self.spe, self.total = epochs, steps_per_epoch, total_steps
        self.desc = desc
        self.epoch, self.done = start
        self.bar = None
        self.next_epoch()

    def next_epoch(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.epoch >= self.epochs or self.done >= self.total:
            return
        self.epoch += 1
        steps = min(self.spe, self.total - self.done)
        label = f"{self.desc} epoch {self.epoch}/{self.epochs}".strip()
        self.bar = self._tqdm(total=steps, desc=label, unit="step", leave=False, dynamic_ncols=True)

    def update(self, n: int = 1) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def columns(metric: str = "accuracy") -> tuple[str, ...]:
    """``metrics.csv``'s columns for a run measured by ``metric`` (accuracy, or mae)."""
    return (*STEP_COLUMNS, "val_loss", f"val_{metric}", "test_loss", f"test_{metric}")


class MetricsLog:
    """Per-step lr, momentum and loss; per-epoch validation and test loss and metric.

    ``metrics.csv`` has one row per step; the last step of each epoch also
    carries that epoch's validation metrics, and the test set's where it was scored
    (once, on the last row, in ``cyclr train``: :meth:`on_test`). The file is rewritten
    (atomically) after every epoch, so an interrupted run keeps what it did.
    The metric is accuracy for classification, ``mae`` (mean absolute error) for
    regression.
    """

    def __init__(self, path=None, metric: str = "accuracy"):
        self.path = None if path is None else Path(path)
        self.metric = metric
        self.rows: list[dict] = []
        self.epochs: list[dict] = []
        self.started = time.perf_counter()

    @property
    def seconds(self) -> float:
        """Wall time since the log began (a resumed log counts its earlier time too)."""
        return time.perf_counter() - self.started

    def restore(self, rows: list[dict], epochs: list[dict], seconds: float) -> None:
        """Continue a log from a checkpoint: its rows, epochs and elapsed time."""
        self.rows = [dict(r) for r in rows]
        self.epochs = [dict(e) for e in epochs]
        self.started = time.perf_counter() - seconds

    def on_step(self, step, lr, momentum, loss):
        self.rows.append({"step": step, "lr": lr, "momentum": momentum, "loss": loss})

    def on_epoch(self, epoch, step, val_loss, val_metric, test_loss, test_metric):
        m = self.metric
        row = {
            "epoch": epoch,
            "step": step,
            "val_loss": val_loss,
            f"val_{m}": val_metric,
            "test_loss": test_loss,
            f"test_{m}": test_metric,
        }
        if self.rows:
            self.rows[-1].update({k: v for k, v in row.items() if k != "step"})
        # Wall time since the log began (evaluation included), for time-to-accuracy.
        self.epochs.append(dict(row, seconds=time.perf_counter() - self.started))
        self.flush()

    def on_test(self, test_loss, test_metric):
        """The test set's score after training, on the last epoch's row (and step's)."""
        scores = {"test_loss": test_loss, f"test_{self.metric}": test_metric}
        self.epochs[-1].update(scores)
        if self.rows:
            self.rows[-1].update(scores)
        self.flush()

    def flush(self):
        if self.path is not None:
            write_csv(
                self.path,
                columns(self.metric),
                ({k: _plain(v) for k, v in r.items()} for r in self.rows),
            )

    @property
    def final_test_accuracy(self) -> float:
        """The last epoch's test metric (accuracy; the MAE of a regression run)."""
        return self.epochs[-1][f"test_{self.metric}"] if self.epochs else float("nan")

    def epoch_line(self, epochs: int, since: float) -> str:
        """The last epoch in one line: lr range used, train loss, validation, seconds."""
        last = self.epochs[-1]
        first_step = self.epochs[-2]["step"] if len(self.epochs) > 1 else 0
        rows = self.rows[first_step : last["step"]]
        lrs = [r["lr"] for r in rows]
        losses = [r["loss"] for r in rows if math.isfinite(r["loss"])]
        lr = f"{min(lrs):.3g}" if min(lrs) == max(lrs) else f"{min(lrs):.3g}-{max(lrs):.3g}"
        loss = sum(losses) / len(losses) if losses else math.nan
        m = self.metric
        scores = ""  # the validation split's; the test set's where only it is scored
        for split in ("val", "test"):
            if math.isfinite(last[f"{split}_loss"]):
                scores = (
                    f"  {split}_loss {last[f'{split}_loss']:.4f}  "
                    f"{split}_{m} {last[f'{split}_{m}']:.4f}"
                )
                break
        width = len(str(epochs))
        return (
            f"epoch {last['epoch']:>{width}}/{epochs}  lr {lr}  loss {loss:.4f}{scores}  "
            f"{time.perf_counter() - since:.1f} s"
        )

    def first_epoch_reaching(self, accuracy: float):
        """The first epoch row whose test accuracy reached ``accuracy``, or None."""
        return next((row for row in self.epochs if row["test_accuracy"] >= accuracy - 1e-12), None)


def _plain(value):
    if isinstance(value, float) and math.isnan(value):
        return ""
    return value
