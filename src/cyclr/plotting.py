"""Figures for schedules, drawn with matplotlib (imported only when drawing)."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cyclr._base import Schedule
from cyclr._extras import require
from cyclr._files import replace_atomically

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FORMATS = (".png", ".pdf", ".svg")


def new_figure(**kwargs: Any) -> Figure:
    """A matplotlib ``Figure`` on its own Agg canvas: drawn to files, never to a screen.

    Unlike ``pyplot``, this touches no global state: the user's backend (an
    interactive session's, a notebook's) stays as it is, and the figure is not
    registered anywhere, so it needs no closing.

    Args:
      **kwargs: passed to ``matplotlib.figure.Figure`` (``figsize``, ...).

    Returns:
      The figure.

    Raises:
      ImportError: matplotlib is not installed, naming the extra to install.
    """
    require("drawing a figure", "plot")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def check_output_path(path: str | os.PathLike[str], name: str = "out") -> Path:
    """Return ``path`` as a Path if a figure can be written there, else raise ValueError.

    Args:
      path: the image file to write.
      name: the option's name, for the error (``"--out"``).

    Returns:
      ``path`` as a :class:`~pathlib.Path`.

    Raises:
      ValueError: an unknown image suffix, or a folder that does not exist.
    """
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise ValueError(
            f"{name} must end in one of {', '.join(FORMATS)}; received {name}={str(path)!r}"
        )
    if not path.parent.is_dir():
        raise ValueError(f"the folder of {name} does not exist; received {name}={str(path)!r}")
    return path


def write_figure(fig: Figure, path: str | os.PathLike[str], **savefig_kwargs: Any) -> Path:
    """``fig.savefig`` to ``path`` atomically: a failure never leaves a half-written file.

    Args:
      fig: the figure to save.
      path: the image file; the format follows its suffix.
      **savefig_kwargs: passed to ``fig.savefig`` (``dpi``, ...).

    Returns:
      ``path`` as a :class:`~pathlib.Path`.
    """

    def save(tmp: str) -> None:
        fig.savefig(tmp, **savefig_kwargs)

    return replace_atomically(path, save)


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Write ``fig`` atomically (:func:`write_figure`) at the app's resolution.

    Args:
      fig: the figure to save.
      path: the image file; the format follows its suffix.

    Returns:
      ``path`` as a :class:`~pathlib.Path`.
    """
    return write_figure(fig, path, dpi=120, bbox_inches="tight")


def plot_schedule(
    schedule: Schedule,
    steps: int,
    path: str | os.PathLike[str],
    *,
    steps_per_epoch: int | None = None,
    momentum: bool = True,
    title: str | None = None,
) -> Path:
    """Draw ``schedule`` over ``steps`` steps (and its momentum, if any) into ``path``.

    Args:
      schedule: the schedule to draw.
      steps: how many steps to draw, from step 0.
      path: the image file; the format follows its suffix.
      steps_per_epoch: when given, a secondary axis counts epochs.
      momentum: also draw the momentum, if the schedule has one.
      title: the figure title; defaults to the schedule's repr.

    Returns:
      ``path`` as a :class:`~pathlib.Path`.

    Raises:
      ImportError: matplotlib is not installed.
    """
    t = np.arange(steps)
    show_momentum = momentum and schedule.has_momentum
    fig = new_figure(figsize=(8, 5.5 if show_momentum else 3.5))
    axes = fig.subplots(2 if show_momentum else 1, 1, sharex=True, squeeze=False)
    ax = axes[0][0]
    ax.plot(t, schedule(t), color="C0", lw=1.5)
    ax.set_ylabel("learning rate")
    ax.grid(alpha=0.3)
    ax.set_title(textwrap.fill(title or repr(schedule), 90), fontsize=9)
    if show_momentum:
        axes[1][0].plot(t, schedule.momentum(t), color="C1", lw=1.5)
        axes[1][0].set_ylabel("momentum")
        axes[1][0].grid(alpha=0.3)
    bottom = axes[-1][0]
    bottom.set_xlabel("step (optimizer updates)")
    if steps_per_epoch:
        top = ax.secondary_xaxis(
            "top", functions=(lambda s: s / steps_per_epoch, lambda e: e * steps_per_epoch)
        )
        top.set_xlabel("epoch")
    return save_figure(fig, path)
