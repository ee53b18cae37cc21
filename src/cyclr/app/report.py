"""Figures of a training run and one self-contained HTML page that shows them."""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cyclr.app.files import write_text
from cyclr.plotting import new_figure, save_figure
from cyclr.rangetest.bounds import robust_smooth


def _column(rows, key):
    return np.array([np.nan if r.get(key) in (None, "") else float(r[key]) for r in rows])


def plot_lr_momentum(step_rows: Sequence[dict], path) -> Path:
    """The learning rate (and momentum) the optimizer actually used, per step."""
    steps = _column(step_rows, "step")
    momentum = _column(step_rows, "momentum")
    finite = momentum[np.isfinite(momentum)]
    # A momentum that never moves is a flat line: said in the title, not drawn.
    has_m = finite.size > 0 and bool(np.ptp(finite) > 0)
    fig = new_figure(figsize=(8, 5 if has_m else 3))
    axes = fig.subplots(2 if has_m else 1, 1, sharex=True, squeeze=False)
    axes[0][0].plot(steps, _column(step_rows, "lr"), color="C0")
    axes[0][0].set_ylabel("learning rate")
    if has_m:
        axes[1][0].plot(steps, momentum, color="C1")
        axes[1][0].set_ylabel("momentum")
    for ax in axes[:, 0]:
        ax.grid(alpha=0.3)
    axes[-1][0].set_xlabel("step")
    if has_m:
        title = "learning rate and momentum used"
    elif finite.size:
        title = f"learning rate used (momentum constant at {finite[0]:.3g})"
    else:
        title = "learning rate used"
    axes[0][0].set_title(title, fontsize=10)
    return save_figure(fig, path)


def _plot_per_epoch(ax, epoch_rows, metric: str) -> None:
    """Validation and test ``metric`` at each epoch's last step, where measured.

    A test set scored once, after training, is one marker at the last step.
    """
    steps = _column(epoch_rows, "step")
    for split, color in (("val", "C1"), ("test", "C2")):
        values = _column(epoch_rows, f"{split}_{metric}")
        measured = np.isfinite(values)
        if measured.sum() == 1 and split == "test":
            ax.plot(steps[measured], values[measured], "D", color=color, ms=5,
                    label=f"test {metric} (after training)")  # fmt: skip
        elif measured.any():
            ax.plot(steps, values, "o-", color=color, ms=3, label=f"{split} {metric}")


def plot_curves(
    step_rows: Sequence[dict], epoch_rows: Sequence[dict], path, metric: str = "accuracy"
) -> Path:
    """Training loss per step (raw and smoothed); validation/test loss and ``metric`` per epoch."""
    fig = new_figure(figsize=(11, 4))
    left, right = fig.subplots(1, 2)
    steps, loss = _column(step_rows, "step"), _column(step_rows, "loss")
    left.plot(steps, loss, color="C0", alpha=0.25, lw=0.8, label="train (batch)")
    if len(loss) > 10 and np.isfinite(loss).all():
        # the core's zero-lag smoother (the bounds reading's): no lag behind the batches
        left.plot(steps, robust_smooth(loss), color="C0", label="train (smoothed)")
    _plot_per_epoch(left, epoch_rows, "loss")
    left.set_xlabel("step")
    left.set_ylabel("loss")
    left.set_yscale("log")
    left.legend(fontsize=8)
    _plot_per_epoch(right, epoch_rows, metric)
    right.set_xlabel("step")
    right.set_ylabel(metric)
    right.legend(fontsize=8)
    for ax in (left, right):
        ax.grid(alpha=0.3)
    return save_figure(fig, path)


def _image(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(Path(path).name)}" src="data:image/png;base64,{data}">'


def _table(rows: dict) -> str:
    cells = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>"
        for k, v in rows.items()
    )
    return f"<table>{cells}</table>"


def _fmt(value) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def write_report(
    path,
    title: str,
    summary: dict,
    config: dict,
    figures: Sequence[tuple[str, Path]],
    notes: Sequence[str] | None = None,
) -> Path:
    """One HTML page, images embedded, that tells a person what happened in the run."""
    parts = [f"<h1>{html.escape(title)}</h1>"]
    for note in notes or ():
        parts.append(f"<p class=note>{html.escape(note)}</p>")
    parts.append("<h2>Summary</h2>" + _table(summary))
    for caption, figure in figures:
        if Path(figure).is_file():
            parts.append(f"<h2>{html.escape(caption)}</h2>{_image(figure)}")
    parts.append("<h2>Configuration</h2>" + _table(config))
    style = (
        "body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse}th,td{padding:2px 10px;text-align:left;"
        "border-bottom:1px solid #ddd}img{max-width:100%}.note{background:#fff4d6;"
        "padding:6px 10px}"
    )
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title><style>{style}</style></head><body>{''.join(parts)}</body></html>\n"
    )
    return write_text(path, page)
