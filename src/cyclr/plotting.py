"""Figures for schedules, drawn with matplotlib (imported only when drawing)."""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Optional

import numpy as np

from cyclr._base import Schedule
from cyclr._files import replace_atomically

FORMATS = (".png", ".pdf", ".svg")


def pyplot():
    """matplotlib's pyplot on the Agg backend (files only, no screen needed)."""
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("plotting needs matplotlib: pip install 'cyclr[plot]'") from exc
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    return plt


def check_output_path(path, name: str = "out") -> Path:
    """Return ``path`` as a Path if a figure can be written there, else raise ValueError."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise ValueError(f"{name} must end in one of {', '.join(FORMATS)}; received {name}={str(path)!r}")
    if not path.parent.is_dir():
        raise ValueError(f"the folder of {name} does not exist; received {name}={str(path)!r}")
    return path


def write_figure(fig, path, **savefig_kwargs) -> Path:
    """``fig.savefig`` to ``path`` atomically: a failure never leaves a half-written file."""
    return replace_atomically(path, lambda tmp: fig.savefig(tmp, **savefig_kwargs))


def save_figure(fig, path) -> Path:
    """Write a pyplot figure atomically (:func:`write_figure`), then close it."""
    try:
        return write_figure(fig, path, dpi=120, bbox_inches="tight")
    finally:
        pyplot().close(fig)


def plot_schedule(schedule: Schedule, steps: int, path, *, steps_per_epoch: Optional[int] = None,
                  momentum: bool = True, title: Optional[str] = None) -> Path:
    """Draw ``schedule`` over ``steps`` steps (and its momentum, if any) into ``path``."""
    plt = pyplot()
    t = np.arange(steps)
    show_momentum = momentum and schedule.has_momentum
    fig, axes = plt.subplots(2 if show_momentum else 1, 1, sharex=True, squeeze=False,
                             figsize=(8, 5.5 if show_momentum else 3.5))
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
        top = ax.secondary_xaxis("top", functions=(lambda s: s / steps_per_epoch,
                                                   lambda e: e * steps_per_epoch))
        top.set_xlabel("epoch")
    return save_figure(fig, path)
