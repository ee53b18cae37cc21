"""What a range test leaves behind: its settings, its curves, why it stopped; JSON and text."""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, fields
from typing import Optional

import numpy as np

from cyclr._files import replace_atomically
from cyclr.rangetest import _checks
from cyclr.rangetest.ladder import check_beta, check_ladder
from cyclr.rangetest.suggestions import SINGLE_SUGGESTIONS, BoundsSuggestion, bounds_suggestion

STOP_REASONS = ("diverged", "non_finite_loss", "end_of_ladder", "interrupted")
MONITORS = ("loss", "val_loss", "val_accuracy")
FORMAT = "cyclr.range_test"
VERSION = 1


@dataclass(frozen=True)
class RangeTestSettings:
    """How a range test is run (SPEC.md); validated on construction.

    Args:
      start_lr, end_lr, num_steps, step_mode: the ladder (see ``lr_ladder``).
      beta: the smoothing decay, in ``[0, 1)``.
      diverge_factor: stop once ``smooth > best + (diverge_factor - 1) * |best|``; ``> 1``.
      min_steps_before_stop: the rung (1-based) from which divergence is checked; ``>= 1``.
      monitor: the curve the suggestions read: ``'loss'``, ``'val_loss'``, ``'val_accuracy'``.

    Raises:
      ValueError: naming the parameter and the value received.

    >>> RangeTestSettings(1e-4, 1.0, 50).num_steps
    50
    """

    start_lr: float = 1e-7
    end_lr: float = 10.0
    num_steps: int = 100
    step_mode: str = "exp"
    beta: float = 0.98
    diverge_factor: float = 4.0
    min_steps_before_stop: int = 5
    monitor: str = "loss"

    def __post_init__(self):
        put = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        start, end, n, mode = check_ladder(self.start_lr, self.end_lr, self.num_steps,
                                           self.step_mode)
        put("start_lr", start), put("end_lr", end), put("num_steps", n), put("step_mode", mode)
        put("beta", check_beta(self.beta))
        factor = _checks.real("diverge_factor", self.diverge_factor)
        if factor <= 1.0:
            raise ValueError(f"diverge_factor must be > 1; received diverge_factor={factor!r}")
        put("diverge_factor", factor)
        put("min_steps_before_stop",
            _checks.count("min_steps_before_stop", self.min_steps_before_stop, 1))
        _checks.choice("monitor", self.monitor, MONITORS)


def _frozen(name, values, size=None):
    if values is None:
        return None
    array = _checks.vector(name, values).copy()
    if size is not None and array.size != size:
        raise ValueError(f"{name} must have one value per rung ({size}); "
                         f"received {array.size}")
    array.flags.writeable = False
    return array


def _encode(array):
    """Floats for JSON: non-finite values as the strings 'NaN', 'Infinity', '-Infinity'."""
    if array is None:
        return None
    return [v if math.isfinite(v) else ("NaN" if math.isnan(v) else
                                        ("Infinity" if v > 0 else "-Infinity"))
            for v in array.tolist()]


@dataclass(frozen=True, eq=False)
class RangeTestResult:
    """The curves of one range test and why it stopped (arrays are read-only).

    Attributes:
      lrs: the ladder actually run (one learning rate per recorded rung).
      losses: the raw training loss of the batch trained at each rung.
      smoothed: the debiased EMA of ``losses`` (SPEC.md).
      stop_reason: ``'diverged'``, ``'non_finite_loss'``, ``'end_of_ladder'``, ``'interrupted'``.
      settings: the ``RangeTestSettings`` the test ran with.
      val_losses, val_accuracies: optional, one per rung, NaN where not measured.

    >>> r = RangeTestResult([0.1, 0.2], [2.0, 1.0], [2.0, 1.5], "interrupted",
    ...                     RangeTestSettings(0.1, 1.0, 10))
    >>> RangeTestResult.from_json(r.to_json()) == r
    True
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    stop_reason: str
    settings: RangeTestSettings = field(default_factory=RangeTestSettings)
    val_losses: Optional[np.ndarray] = None
    val_accuracies: Optional[np.ndarray] = None

    def __post_init__(self):
        put = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        put("lrs", _frozen("lrs", self.lrs))
        n = self.lrs.size
        for name in ("losses", "smoothed", "val_losses", "val_accuracies"):
            put(name, _frozen(name, getattr(self, name), n))
        _checks.choice("stop_reason", self.stop_reason, STOP_REASONS)
        if isinstance(self.settings, dict):
            put("settings", RangeTestSettings(**self.settings))
        if not isinstance(self.settings, RangeTestSettings):
            raise ValueError("settings must be a RangeTestSettings; received "
                             f"settings={self.settings!r}")

    def __eq__(self, other):
        if not isinstance(other, RangeTestResult):
            return NotImplemented
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                if a is None or b is None or not np.array_equal(a, b, equal_nan=True):
                    return False
            elif a != b:
                return False
        return True

    __hash__ = None

    # -- reading ---------------------------------------------------------------------------

    def curve(self, monitor=None):
        """``(lrs, values, mode)`` of one curve; validation curves keep their measured rungs.

        ``monitor`` defaults to ``settings.monitor``; ``mode`` is ``'accuracy'`` for
        ``'val_accuracy'`` and ``'loss'`` otherwise.

        Raises:
          ValueError: an unknown monitor, or one this test did not record.
        """
        monitor = _checks.choice("monitor", monitor or self.settings.monitor, MONITORS)
        if monitor == "loss":
            return self.lrs, self.losses, "loss"
        values = self.val_losses if monitor == "val_loss" else self.val_accuracies
        if values is None:
            raise ValueError(f"this range test recorded no {monitor}; received monitor="
                             f"{monitor!r}")
        measured = ~np.isnan(values)
        return self.lrs[measured], values[measured], \
            ("accuracy" if monitor == "val_accuracy" else "loss")

    def bounds(self, monitor=None) -> BoundsSuggestion:
        """The suggested cyclical bounds (``bounds_suggestion``) of one curve.

        Raises:
          ValueError: as ``bounds_suggestion`` or ``curve``.
        """
        lrs, values, mode = self.curve(monitor)
        return bounds_suggestion(lrs, values, mode=mode)

    def suggestions(self, monitor=None) -> dict:
        """Every suggestion by name: ``'bounds'``, ``'steepest'``, ``'valley'``, ``'minimum'``.

        A suggestion that cannot be read off this curve (too few points, no
        descent) is ``None``; call it directly to see why.
        """
        lrs, values, mode = self.curve(monitor)
        found = {}
        for name, reading in [("bounds", bounds_suggestion), *SINGLE_SUGGESTIONS.items()]:
            try:
                found[name] = reading(lrs, values, mode=mode)
            except ValueError:
                found[name] = None
        return found

    def summary(self, monitor=None) -> str:
        """A few lines of text: what ran, why it stopped, the suggestions."""
        s = self.settings
        lines = [f"range test: {self.lrs.size} of {s.num_steps} rungs ({s.step_mode} ladder, "
                 f"{s.start_lr:.3g} -> {s.end_lr:.3g}), stopped: {self.stop_reason}"]
        finite = np.isfinite(self.smoothed)
        if finite.any():
            i = int(np.flatnonzero(finite)[np.argmin(self.smoothed[finite])])
            lines.append(f"lowest smoothed loss {self.smoothed[i]:.4g} at lr={self.lrs[i]:.3g}")
        monitor = monitor or s.monitor
        found = self.suggestions(monitor)
        bounds = found.pop("bounds")
        lines.append(f"suggested bounds ({monitor}): " + (
            f"base_lr={bounds.base_lr:.3g}, max_lr={bounds.max_lr:.3g}" if bounds else
            "none (too few points or no descent)"))
        lines.append(" | ".join(f"{name}: " + (f"{x.lr:.3g}" if x else "none")
                                for name, x in found.items()))
        return "\n".join(lines)

    # -- saving ----------------------------------------------------------------------------

    def to_dict(self) -> dict:
        """A JSON-ready dict (non-finite floats as ``'NaN'``/``'Infinity'`` strings)."""
        found = self.suggestions() if self.lrs.size else {}
        return {
            "format": FORMAT, "version": VERSION,
            "settings": asdict(self.settings), "stop_reason": self.stop_reason,
            "lrs": _encode(self.lrs), "losses": _encode(self.losses),
            "smoothed": _encode(self.smoothed),
            "val_losses": _encode(self.val_losses),
            "val_accuracies": _encode(self.val_accuracies),
            # informative only; from_dict recomputes them
            "suggestions": {k: (v._asdict() if v else None) for k, v in found.items()},
        }

    @classmethod
    def from_dict(cls, data: dict) -> "RangeTestResult":
        """Rebuild a result from ``to_dict()``'s output.

        Raises:
          ValueError: not a cyclr range-test record, or a newer version.
        """
        fmt = data.get("format") if isinstance(data, dict) else None
        if fmt != FORMAT:
            raise ValueError(f"not a cyclr range-test result: expected format={FORMAT!r}; "
                             f"received format={fmt!r}")
        if data.get("version") != VERSION:
            raise ValueError(f"unsupported range-test result version; expected {VERSION}, "
                             f"received version={data.get('version')!r}")
        try:
            decode = lambda v: None if v is None else [float(x) for x in v]  # noqa: E731
            return cls(decode(data["lrs"]), decode(data["losses"]), decode(data["smoothed"]),
                       data["stop_reason"], RangeTestSettings(**data["settings"]),
                       decode(data.get("val_losses")), decode(data.get("val_accuracies")))
        except (KeyError, TypeError) as error:
            raise ValueError(f"malformed range-test result: {error!r}") from None

    def to_json(self, path=None) -> str:
        """The result as strict JSON text; also written to ``path`` when given.

        The file is replaced only once complete: an interrupted write leaves the old one.
        """
        text = json.dumps(self.to_dict(), indent=1, allow_nan=False)
        if path is not None:
            def write(tmp):
                with open(tmp, "w", encoding="utf-8") as handle:
                    handle.write(text + "\n")
            replace_atomically(path, write)
        return text

    @classmethod
    def from_json(cls, source) -> "RangeTestResult":
        """Load a result from JSON text or from a file path (``str`` or ``os.PathLike``).

        A ``str`` starting with ``{`` is read as JSON text, anything else as a path.

        Raises:
          FileNotFoundError / OSError: the file cannot be read.
          ValueError: not valid JSON, or not a range-test result.
        """
        if isinstance(source, str) and source.lstrip().startswith("{"):
            text = source
        else:
            with open(os.fspath(source), encoding="utf-8") as handle:
                text = handle.read()
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"not valid JSON: {error}") from None
        return cls.from_dict(data)

    def plot(self, path, *, monitor=None, title=None, dpi=100):
        """Draw the curves with every suggestion marked and the bounds shaded; save to ``path``.

        See ``cyclr.rangetest.plotting.plot_result``; returns ``path``.
        """
        from cyclr.rangetest.plotting import plot_result

        return plot_result(self, path, monitor=monitor, title=title, dpi=dpi)
