"""The knobs and the answer of the bounds reading: ``BoundsSettings``, ``BoundsSuggestion``.

:func:`cyclr.rangetest.bounds.suggest_bounds` reads a curve with a ``BoundsSettings`` and
returns a ``BoundsSuggestion``; both are importable from :mod:`cyclr.rangetest.bounds`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, overload

from cyclr.rangetest import _checks

#: How far below the curve's reading a fine-tuning's bounds lie, in decades (a factor 2):
#: ``BoundsSettings(fine_tuning=True)``. Fitted on the fitting set's two fine-tunings
#: (MNIST-1D's CNN, the char transformer on prose), where the reading of the validation
#: curve sat 2-4x above the best grid pair (docs/results.md, *Fine-tuning: the reading a
#: factor 2 lower*; the rule: docs/semantics.md, *Fine-tuning*).
FINE_TUNING_DECADES = 0.3


@dataclass(frozen=True)
class BoundsSettings:
    """The tuning knobs of :func:`suggest_bounds`, validated on construction.

    Every length is in decades of the learning rate, never in rungs, so one curve
    read on ladders of 100 or 1000 rungs gives the same bounds; the one count is
    ``delay``, in optimizer updates, because that is how a network answers a rate.

    Attributes:
      rise: how far the loss has climbed back after its bottom, as a share of
        its fall, at the point the second ``max_lr`` reading starts from; in ``(0, 1]``.
      backoff: that reading is the point's rate divided by ``backoff``; ``>= 1``.
      lag: decades, ``>= 0``: the first ``max_lr`` reading lies this far below the
        bottom, ``base_lr`` this far below where the fall shows.
      delay: optimizer updates, ``>= 0``: the loss recorded at an update answers
        the rate of ``delay`` updates before (measured on real range tests: the
        bottom and the blow-up of a curve move 3 to 10 updates' worth of ladder
        with the ladder's spacing; docs/bounds-reading.md, *The curve it reads*).
        With one update per rung, the reading pairs rung ``i``'s loss with rung
        ``i - delay``'s rate.
      window: decades, ``> 0``: the width of the zero-lag smoother's median
        (``robust_smooth``), at least 3 rungs.
      base_fraction: the share of the fall done at ``base_lr``, and the height of
        the floor above the bottom, in ``(0, 1)``.
      min_ratio: the least ``max_lr / base_lr``, ``>= 1``.
      max_ratio: the most ``max_lr / base_lr``, ``>= min_ratio``; ``math.inf``
        leaves ``base_lr`` at the start of the fall however far below it lies.
      fine_tuning: the network starts from trained weights and all of it trains on
        the new data: both bounds are read :data:`FINE_TUNING_DECADES` (0.3, a factor
        2) lower. A trained network's validation loss falls little over the ladder and
        stops falling where the pre-trained features start to go; held for a whole
        budget, a rate that high loses some of them.

    Raises:
      ValueError: naming the field and the value received.

    >>> BoundsSettings(lag=0.2).lag
    0.2
    """

    rise: float = 1.0 / 3.0
    backoff: float = 3.0
    lag: float = 0.1
    delay: int = 6
    window: float = 0.25
    base_fraction: float = 0.1
    min_ratio: float = 4.0
    max_ratio: float = 10.0
    fine_tuning: bool = False

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        put("rise", _checks.real("rise", self.rise))
        if not 0.0 < self.rise <= 1.0:
            raise ValueError(f"rise must be in (0, 1]; received rise={self.rise!r}")
        put("backoff", _checks.real("backoff", self.backoff))
        if self.backoff < 1.0:
            raise ValueError(f"backoff must be >= 1; received backoff={self.backoff!r}")
        put("lag", _checks.real("lag", self.lag))
        if self.lag < 0.0:
            raise ValueError(f"lag must be >= 0 (decades); received lag={self.lag!r}")
        put("delay", _checks.count("delay", self.delay, 0))
        put("window", _checks.real("window", self.window))
        if self.window <= 0.0:
            raise ValueError(f"window must be > 0 (decades); received window={self.window!r}")
        put("base_fraction", _checks.real("base_fraction", self.base_fraction))
        if not 0.0 < self.base_fraction < 1.0:
            raise ValueError(
                f"base_fraction must be in (0, 1); received base_fraction={self.base_fraction!r}"
            )
        put("min_ratio", _checks.real("min_ratio", self.min_ratio))
        if self.min_ratio < 1.0:
            raise ValueError(f"min_ratio must be >= 1; received min_ratio={self.min_ratio!r}")
        if not (isinstance(self.max_ratio, float) and self.max_ratio == math.inf):
            put("max_ratio", _checks.real("max_ratio", self.max_ratio))
        if not self.max_ratio >= self.min_ratio:
            raise ValueError(
                f"max_ratio must be >= min_ratio={self.min_ratio!r}; received "
                f"max_ratio={self.max_ratio!r}"
            )
        put("fine_tuning", _checks.flag("fine_tuning", self.fine_tuning))


@dataclass(frozen=True)
class BoundsSuggestion:
    """Cyclical bounds read off a range test, and the rungs nearest them.

    It unpacks as the pair users want, ``base_lr, max_lr = suggest_bounds(...)``;
    the indexes are there for a plot to mark.

    >>> b = BoundsSuggestion(0.01, 0.1, 3, 13)
    >>> base_lr, max_lr = b
    >>> (base_lr, max_lr), b.max_index, b[:2]
    ((0.01, 0.1), 13, (0.01, 0.1))
    """

    base_lr: float
    max_lr: float
    base_index: int
    max_index: int

    def __iter__(self) -> Iterator[float]:
        return iter((self.base_lr, self.max_lr))

    def __len__(self) -> int:
        return 2

    @overload
    def __getitem__(self, key: int) -> float: ...

    @overload
    def __getitem__(self, key: slice) -> tuple[float, ...]: ...

    def __getitem__(self, key: int | slice) -> float | tuple[float, ...]:
        return (self.base_lr, self.max_lr)[key]


def checked(settings: BoundsSettings | None) -> BoundsSettings:
    """``settings``, or the defaults when ``None``; anything else is refused."""
    k = BoundsSettings() if settings is None else settings
    if not isinstance(k, BoundsSettings):
        raise ValueError(f"settings must be a BoundsSettings; received settings={settings!r}")
    return k
