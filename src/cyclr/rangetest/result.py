"""What a range test leaves behind: its settings, its curves, why it stopped; JSON and text."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields, replace
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from cyclr._base import Schedule
from cyclr._files import replace_atomically
from cyclr.rangetest import _checks, _reading, _records
from cyclr.rangetest._from_logs import FromLogs
from cyclr.rangetest._records import FORMAT, VERSION, frozen
from cyclr.rangetest._sweeps import Sweep
from cyclr.rangetest.bounds import BoundsSettings, BoundsSuggestion
from cyclr.rangetest.plotting import plot_result
from cyclr.rangetest.policies import policy_schedule
from cyclr.rangetest.settings import MONITORS, RangeTestSettings
from cyclr.rangetest.suggestions import Suggestion

__all__ = [
    "FORMAT",
    "MONITORS",
    "STOP_REASONS",
    "VERSION",
    "RangeTestResult",
    "RangeTestSettings",
]

_Path = TypeVar("_Path", bound="str | os.PathLike[str]")

STOP_REASONS = ("diverged", "non_finite_loss", "end_of_ladder", "interrupted")


_DEFAULT_SETTINGS = RangeTestSettings()


# init=False: the constructor takes any 1-D sequences (lists from JSON, the recorder's
# lists), while the fields hold what __init__ makes of them: read-only float64 arrays.
@dataclass(frozen=True, eq=False, init=False)
class RangeTestResult(FromLogs):
    """The curves of one range test and why it stopped (arrays are read-only).

    Attributes:
      lrs: the ladder actually run (one learning rate per recorded rung).
      losses: the raw training loss of the batch trained at each rung.
      smoothed: the debiased EMA of ``losses`` (docs/semantics.md, *The learning-rate range test*).
      stop_reason: ``'diverged'``, ``'non_finite_loss'``, ``'end_of_ladder'``, ``'interrupted'``.
      settings: the ``RangeTestSettings`` the test ran with.
      val_losses: optional, one per rung, NaN where not measured.
      val_accuracies: optional, one per rung, NaN where not measured.
      optimizer: the class name of the optimizer the test ran with (``'SGD'``,
        ``'AdamW'``, the one inside a wrapper), or ``None`` where not known.
      batchnorm: whether the model the test trained has BatchNorm layers, or ``None``
        where not known. A policy's schedule takes the factor of the optimizer's family
        and, with Adam, of BatchNorm (docs/semantics.md, *Readings per schedule*).

    The constructor takes the same names, in this order; the curves as any 1-D sequences
    of numbers (copied into read-only float64 arrays), ``settings`` also as a dict.

    Raises:
      ValueError: a curve that is not 1-D or not one value per rung, an unknown
        ``stop_reason``, bad settings, an ``optimizer`` that is not a name, or a
        ``batchnorm`` that is not a bool.

    >>> r = RangeTestResult([0.1, 0.2], [2.0, 1.0], [2.0, 1.5], "interrupted",
    ...                     RangeTestSettings(0.1, 1.0, 10))
    >>> RangeTestResult.from_json(r.to_json()) == r
    True
    """

    lrs: npt.NDArray[np.float64]
    losses: npt.NDArray[np.float64]
    smoothed: npt.NDArray[np.float64]
    stop_reason: str
    settings: RangeTestSettings = field(default_factory=RangeTestSettings)
    val_losses: npt.NDArray[np.float64] | None = None
    val_accuracies: npt.NDArray[np.float64] | None = None
    optimizer: str | None = None
    batchnorm: bool | None = None
    # readings computed once per curve: a result is immutable
    _cache: dict[tuple[Any, ...], Any] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __init__(
        self,
        lrs: npt.ArrayLike,
        losses: npt.ArrayLike,
        smoothed: npt.ArrayLike,
        stop_reason: str,
        settings: RangeTestSettings | dict[str, Any] = _DEFAULT_SETTINGS,
        val_losses: npt.ArrayLike | None = None,
        val_accuracies: npt.ArrayLike | None = None,
        optimizer: str | None = None,
        batchnorm: bool | None = None,
    ) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        put("_cache", {})
        put("lrs", frozen("lrs", lrs))
        n = self.lrs.size
        put("losses", frozen("losses", losses, n))
        put("smoothed", frozen("smoothed", smoothed, n))
        put("val_losses", frozen("val_losses", val_losses, n))
        put("val_accuracies", frozen("val_accuracies", val_accuracies, n))
        put("stop_reason", stop_reason)
        _checks.choice("stop_reason", stop_reason, STOP_REASONS)
        if isinstance(settings, dict):
            settings = RangeTestSettings(**settings)
        if not isinstance(settings, RangeTestSettings):
            raise ValueError(
                f"settings must be a RangeTestSettings; received settings={settings!r}"
            )
        if settings.monitor is None:  # the rule of monitor=None, for a result made by hand
            has_validation = self.val_losses is not None
            settings = replace(settings, monitor="val_loss" if has_validation else "loss")
        put("settings", settings)
        if optimizer is not None and (not isinstance(optimizer, str) or not optimizer):
            raise ValueError(
                "optimizer must be the name of the optimizer's class, or None; received "
                f"optimizer={optimizer!r}"
            )
        put("optimizer", optimizer)
        put("batchnorm", _checks.optional_bool("batchnorm", batchnorm))

    @classmethod
    def _from_sweep(cls, sweep: Sweep) -> RangeTestResult:
        return cls(*sweep)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RangeTestResult):
            return NotImplemented
        for f in fields(self):
            if not f.compare:
                continue
            a, b = getattr(self, f.name), getattr(other, f.name)
            if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                if a is None or b is None or not np.array_equal(a, b, equal_nan=True):
                    return False
            elif a != b:
                return False
        return True

    __hash__ = None  # type: ignore[assignment]  # equal results hold unhashable arrays

    # -- reading ---------------------------------------------------------------------------

    def curve(
        self, monitor: str | None = None
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], str]:
        """``(lrs, values, mode)`` of one curve; validation curves keep their measured rungs.

        Args:
          monitor: ``'loss'``, ``'val_loss'`` or ``'val_accuracy'``; defaults to
            ``settings.monitor``.

        Returns:
          The rates and values of the rungs where the curve was measured, and the
          reading's ``mode``: ``'accuracy'`` for ``'val_accuracy'``, else ``'loss'``.

        Raises:
          ValueError: an unknown monitor, or one this test did not record.
        """
        return _reading.curve(self, monitor)

    def bounds(
        self, monitor: str | None = None, settings: BoundsSettings | None = None
    ) -> BoundsSuggestion:
        """The suggested cyclical bounds of one curve (:func:`cyclr.suggest_bounds`).

        ``base_lr, max_lr = result.bounds()``; the result also carries the rungs.
        Computed once per curve and settings, then remembered. A validation curve
        measured every ``k`` rungs is read with ``settings.delay / k`` points of delay
        (the delay counts updates).

        Args:
          monitor: the curve to read (default: ``settings.monitor`` of the test).
          settings: the reading's knobs (default: the validated ones, with
            ``fine_tuning`` as the test recorded it in ``self.settings``); given,
            they are read as given.

        Returns:
          A :class:`~cyclr.rangetest.BoundsSuggestion`.

        Raises:
          ValueError: as :func:`cyclr.suggest_bounds`, or an unknown monitor.
        """
        return _reading.bounds(self, monitor, settings)

    def schedule(
        self,
        policy: str,
        total_steps: int,
        *,
        steps_per_epoch: int | None = None,
        optimizer: str | None = None,
        batchnorm: bool | None = None,
        monitor: str | None = None,
        settings: BoundsSettings | None = None,
    ) -> Schedule:
        """The schedule of ``policy`` for a run of ``total_steps`` updates, read off this test.

        ``'triangular'`` cycles between :meth:`bounds` in whole cycles; ``'onecycle'``,
        ``'cosine'``, ``'wsd'``, ``'linear'`` and ``'constant'`` (schedule-free) peak at
        ``bounds().max_lr`` times the policy's factor for the optimizer's family, SGD's
        or Adam's, and with Adam for a model with BatchNorm layers or without
        (docs/semantics.md, *Readings per schedule*).

        Args:
          policy: one of :data:`cyclr.rangetest.policies.POLICIES`.
          total_steps: the optimizer updates of the planned run, ``>= 2``.
          steps_per_epoch: updates per pass over the data, when known (``triangular``'s
            half cycle is 4 passes; the whole run is one cycle without it).
          optimizer: ``'sgd'``, ``'adam'`` or the class name of an optimizer of either
            family (:func:`cyclr.rangetest.policies.optimizer_family`); default: the one
            the test recorded, :attr:`optimizer`.
          batchnorm: whether the model has BatchNorm layers (read with Adam only);
            default: what the test recorded, :attr:`batchnorm`.
          monitor: the curve to read (default: ``settings.monitor`` of the test).
          settings: the bounds reading's knobs, as in :meth:`bounds`.

        Returns:
          A :class:`cyclr.Schedule` for every adapter (``CyclicLR``, Keras, optax).

        Raises:
          ValueError: an unknown policy, a bad count, an optimizer of neither family, no
            optimizer known for a policy with a factor (pass ``optimizer=``), Adam with
            ``batchnorm`` not known (pass ``batchnorm=``), or a curve with no reliable
            reading for the policy, naming the policy and why.
        """
        return policy_schedule(
            self,
            policy,
            total_steps,
            steps_per_epoch=steps_per_epoch,
            optimizer=optimizer,
            batchnorm=batchnorm,
            monitor=monitor,
            settings=settings,
        )

    def bounds_settings(
        self, monitor: str | None = None, settings: BoundsSettings | None = None
    ) -> BoundsSettings:
        """The :class:`~cyclr.rangetest.BoundsSettings` :meth:`bounds` reads a curve with.

        ``settings``, or the validated ones with ``fine_tuning`` as the test recorded it;
        a validation curve measured every few rungs gets the delay in its own points
        (the delay counts updates). With ``lrs, values, mode = result.curve()``,
        ``suggest_bounds(lrs, values, mode=mode, settings=result.bounds_settings())`` reads
        the rates of ``result.bounds()`` (its indexes count the curve's points).

        Args:
          monitor: the curve (default: ``settings.monitor`` of the test).
          settings: the knobs to start from (default: the validated ones).

        Returns:
          The settings, ready for :func:`cyclr.suggest_bounds` on ``result.curve(monitor)``.
        """
        lrs, _, _ = self.curve(monitor)
        return _reading.reading_settings(self, lrs, settings)

    def suggestions(self, monitor: str | None = None) -> dict[str, Suggestion | None]:
        """The single-rate readings by name: ``'steepest'``, ``'valley'``, ``'minimum'``.

        A reading that cannot be made on this curve (too few points, no descent)
        is ``None``; call it directly to see why. The bounds are :meth:`bounds`.

        Args:
          monitor: the curve to read (default: ``settings.monitor`` of the test).

        Returns:
          ``{name: Suggestion or None}``, computed once per curve.

        Raises:
          ValueError: an unknown monitor, or one this test did not record.
        """
        return _reading.suggestions(self, monitor)

    def summary(self, monitor: str | None = None) -> str:
        """A few lines of text: what ran, why it stopped, the suggestions.

        Args:
          monitor: the curve the suggestions read (default: ``settings.monitor``).

        Returns:
          The lines, joined by newlines.

        Raises:
          ValueError: an unknown monitor, or one this test did not record.
        """
        return _reading.summary(self, monitor)

    def _bounds_or_none(self, monitor: str | None = None) -> BoundsSuggestion | None:
        return _reading.bounds_or_none(self, monitor)

    # -- saving ----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (non-finite floats as ``'NaN'``/``'Infinity'`` strings)."""
        return _records.to_record(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RangeTestResult:
        """Rebuild a result from ``to_dict()``'s output.

        Args:
          data: what :meth:`to_dict` returned (or its JSON, parsed).

        Returns:
          The result, its readings recomputed.

        Raises:
          ValueError: not a cyclr range-test record, or a newer version.
        """
        return _records.from_record(cls, data)

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        """The result as strict JSON text; also written to ``path`` when given.

        The file is replaced only once complete: an interrupted write leaves the old one.

        Args:
          path: a file to write the text to (plus a final newline), if any.

        Returns:
          The JSON text.

        Raises:
          OSError: the file cannot be written.
        """
        text = json.dumps(self.to_dict(), indent=1, allow_nan=False)
        if path is not None:

            def write(tmp: str) -> None:
                with open(tmp, "w", encoding="utf-8") as handle:
                    handle.write(text + "\n")

            replace_atomically(path, write)
        return text

    @classmethod
    def from_json(cls, source: str | os.PathLike[str]) -> RangeTestResult:
        """Load a result from JSON text or from a file path (``str`` or ``os.PathLike``).

        A ``str`` starting with ``{`` is read as JSON text, anything else as a path.

        Args:
          source: JSON text, or the path of a file holding it.

        Returns:
          The result.

        Raises:
          OSError: the file cannot be read (``FileNotFoundError`` and the like).
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

    def plot(
        self,
        path: _Path,
        *,
        monitor: str | None = None,
        title: str | None = None,
        dpi: float = 100,
    ) -> _Path:
        """Draw the curves with every suggestion marked and the bounds shaded; save to ``path``.

        See :func:`cyclr.rangetest.plotting.plot_result`.

        Args:
          path: the image file; the format follows its suffix.
          monitor: the curve the suggestions read; defaults to ``settings.monitor``.
          title: the figure title; defaults to a one-line description of the test.
          dpi: resolution for raster formats.

        Returns:
          ``path``.

        Raises:
          ValueError: the result has no rungs, or an unknown monitor.
        """
        return plot_result(self, path, monitor=monitor, title=title, dpi=dpi)
