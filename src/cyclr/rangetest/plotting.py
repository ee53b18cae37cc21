"""Drawing a range test (matplotlib, imported only here and only when drawing)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import numpy.typing as npt

from cyclr.plotting import new_figure, write_figure
from cyclr.rangetest.bounds import bounds_curve

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from cyclr.rangetest.result import RangeTestResult
    from cyclr.rangetest.suggestions import Suggestion

_Path = TypeVar("_Path", bound="str | os.PathLike[str]")

_MARKS = {
    "steepest": ("tab:green", "v"),
    "valley": ("tab:purple", "D"),
    "minimum": ("tab:red", "o"),
}


def plot_result(
    result: RangeTestResult,
    path: _Path,
    *,
    monitor: str | None = None,
    title: str | None = None,
    dpi: float = 100,
) -> _Path:
    r"""Draw a ``RangeTestResult`` to an image file; return ``path``.

    Draws the raw losses (faint) and the smoothed losses against the learning
    rate (log axis for an ``exp`` ladder), shades the suggested bounds
    ``[base_lr, max_lr]``, and marks each single-rate suggestion at the rung it
    picked with a dashed line at the learning rate it suggests. With
    ``monitor='val_loss'`` or ``'val_accuracy'`` that curve is drawn too (on a
    second axis for accuracy) and the suggestions are read off it. Uses the Agg
    canvas directly, so no GUI backend and no global pyplot state are touched.

    Args:
      result: a ``RangeTestResult``.
      path: where to write; the format follows the extension (``.png``, ``.svg``, ``.pdf``).
      monitor: the curve the suggestions read; defaults to ``settings.monitor``.
      title: the figure title; defaults to a one-line description of the test.
      dpi: resolution for raster formats.

    Returns:
      ``path``.

    Raises:
      ValueError: the result has no rungs, or an unknown monitor.

    >>> import tempfile, pathlib
    >>> from cyclr.rangetest import RangeTestResult, lr_ladder, smooth_losses
    >>> lrs = lr_ladder(1e-4, 1.0, 40); losses = 2.0 - np.tanh(np.log10(lrs) + 2.0)
    >>> r = RangeTestResult(lrs, losses, smooth_losses(losses), "end_of_ladder")
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "rt.png"
    >>> plot_result(r, out) == out and out.read_bytes()[:4] == b"\x89PNG"
    True
    """
    if result.lrs.size == 0:
        raise ValueError("this range test recorded no rungs; nothing to plot")
    monitor = monitor or result.settings.monitor or "loss"  # a result holds one
    found = dict(result.suggestions(monitor))
    bounds = result._bounds_or_none(monitor)
    curve_lrs, curve_values, mode = result.curve(monitor)

    fig = new_figure(figsize=(7.0, 4.5))
    ax = fig.add_subplot(1, 1, 1)
    if result.settings.step_mode == "exp":
        ax.set_xscale("log")
    _draw_losses(ax, result, zero_lag=monitor == "loss" and bounds is not None)
    marked_ax, marked_lrs, marked_values = ax, result.lrs, result.smoothed
    if monitor != "loss":
        other = ax.twinx() if mode == "accuracy" else ax
        other.plot(
            curve_lrs, curve_values, color="tab:orange", lw=1.2, marker=".", ms=3, label=monitor
        )
        other.set_ylabel(monitor)
        measured = result.val_losses if monitor == "val_loss" else result.val_accuracies
        assert measured is not None  # result.curve(monitor) refused it otherwise
        marked_ax, marked_values = other, measured  # suggestions index the rungs

    if bounds is not None:
        ax.axvspan(
            bounds.base_lr,
            bounds.max_lr,
            color="tab:olive",
            alpha=0.15,
            label=f"bounds {bounds.base_lr:.2g} .. {bounds.max_lr:.2g}",
        )
    _mark_suggestions(ax, marked_ax, marked_lrs, marked_values, found)

    s = result.settings
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    ax.set_title(
        title
        if title is not None
        else f"range test: {result.lrs.size}/{s.num_steps} rungs, {result.stop_reason}"
    )
    ax.grid(True, which="major", alpha=0.3)
    _legend(ax, marked_ax)
    fig.tight_layout()
    write_figure(fig, path, dpi=dpi)  # atomic: an interrupted run leaves no half a PNG
    return path


def _draw_losses(ax: Axes, result: RangeTestResult, *, zero_lag: bool) -> None:
    """The raw and smoothed losses, and the zero-lag curve the bounds read (if ``zero_lag``)."""
    ax.plot(result.lrs, result.losses, color="tab:blue", alpha=0.3, lw=0.8, label="loss (raw)")
    ax.plot(result.lrs, result.smoothed, color="tab:blue", lw=1.6, label="loss (smoothed)")
    if zero_lag:
        # each loss at the rate it answers (the delay undone), smoothed without lag
        rates, curve = bounds_curve(result.lrs, result.losses)
        ax.plot(
            rates,
            curve,
            color="tab:cyan",
            lw=1.0,
            ls=":",
            label="loss as the bounds read it",
        )
    _limit_y(ax, result.losses, result.smoothed)


def _mark_suggestions(
    ax: Axes,
    marked_ax: Axes,
    lrs: npt.NDArray[np.float64],
    values: npt.NDArray[np.float64],
    found: dict[str, Suggestion | None],
) -> None:
    """Each suggestion: a marker at its rung on ``marked_ax``, a dashed line at its rate."""
    for name, suggestion in found.items():
        if suggestion is None:
            continue
        color, marker = _MARKS[name]
        i = suggestion.index
        marked_ax.plot(
            [lrs[i]],
            [values[i]],
            color=color,
            marker=marker,
            ls="none",
            label=f"{name}: {suggestion.lr:.2g}",
        )
        ax.axvline(suggestion.lr, color=color, ls="--", lw=0.8)


def _legend(ax: Axes, marked_ax: Axes) -> None:
    """One legend on ``ax`` for the lines of both axes (``marked_ax`` may be ``ax``)."""
    handles, labels = [], []
    for axis in {id(a): a for a in (ax, marked_ax)}.values():
        h, l_ = axis.get_legend_handles_labels()
        handles += h
        labels += l_
    ax.legend(handles, labels, fontsize=8, loc="best")


def _limit_y(ax: Axes, losses: npt.NDArray[np.float64], smoothed: npt.NDArray[np.float64]) -> None:
    """Keep the interesting part in view: clip the blow-up at the end of the test."""
    finite = np.concatenate([losses[np.isfinite(losses)], smoothed[np.isfinite(smoothed)]])
    if finite.size == 0:
        return
    low = float(finite.min())
    ok = smoothed[np.isfinite(smoothed)]
    high = float(max(ok[: int(np.argmin(ok)) + 1].max(), ok[0])) if ok.size else low
    span = max(high - low, 1e-12)
    ax.set_ylim(low - 0.05 * span, high + 0.25 * span)
