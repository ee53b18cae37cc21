"""Resolving ``CyclicSchedule``'s step sizes and momentum bounds (private; numbers only)."""

from __future__ import annotations

from typing import Any

from cyclr._base import check_count, check_rate
from cyclr._facade import _Unset, as_scalar

DEFAULT_BASE_MOMENTUM = 0.85
DEFAULT_MAX_MOMENTUM = 0.95


def resolve_step_sizes(
    step_size: Any, step_size_up: Any, step_size_down: Any
) -> tuple[int | None, int | None, int | None, int, int]:
    """The step sizes as given (checked) and the resolved half cycles ``up``, ``down``.

    ``step_size`` sets both halves; else ``step_size_up`` (and ``step_size_down``,
    which defaults to it).

    Args:
      step_size: steps per half cycle, or ``None``.
      step_size_up: steps from ``base_lr`` up to ``max_lr``, or ``None``.
      step_size_down: steps back down, or ``None``.

    Returns:
      ``(step_size, step_size_up, step_size_down, up, down)``.

    Raises:
      ValueError: both forms, neither, a down without an up, or a bad count.
    """
    if step_size is not None and (step_size_up is not None or step_size_down is not None):
        raise ValueError(
            "give step_size or step_size_up/step_size_down, not both; received "
            f"step_size={step_size!r}, step_size_up={step_size_up!r}, "
            f"step_size_down={step_size_down!r}"
        )
    if step_size is not None:
        half = check_count("step_size", step_size)
        return half, None, None, half, half
    if step_size_up is None:
        if step_size_down is not None:
            raise ValueError(
                "step_size_down needs step_size_up; received step_size_up=None, "
                f"step_size_down={step_size_down!r}"
            )
        raise ValueError("step_size (or step_size_up) is required; received step_size=None")
    up = check_count("step_size_up", step_size_up)
    down = None if step_size_down is None else check_count("step_size_down", step_size_down)
    return None, up, down, up, up if down is None else down


def resolve_momentum(base_momentum: Any, max_momentum: Any) -> tuple[float, float]:
    """The momentum bounds, the default standing in for one not given.

    Args:
      base_momentum: the momentum at ``max_lr``, or ``None`` (0.85).
      max_momentum: the momentum at ``base_lr``, or ``None`` (0.95).

    Returns:
      ``(base_momentum, max_momentum)`` as floats.

    Raises:
      ValueError: a bound that is not a rate, above 1, or base above max.
    """
    base = DEFAULT_BASE_MOMENTUM if base_momentum is None else base_momentum
    top = DEFAULT_MAX_MOMENTUM if max_momentum is None else max_momentum
    base = check_rate("base_momentum", as_scalar(base))
    top = check_rate("max_momentum", as_scalar(top))
    if top > 1.0:
        raise ValueError(f"max_momentum must be <= 1; received max_momentum={top!r}")
    if base > top:
        raise ValueError(
            "base_momentum must be <= max_momentum; received "
            f"base_momentum={base!r}, max_momentum={top!r}"
        )
    return base, top


def torch_momentum(cycle_momentum: bool, base: Any, top: Any) -> tuple[Any, Any]:
    """PyTorch's momentum bounds: ``(None, None)`` without ``cycle_momentum``.

    Bounds given explicitly next to ``cycle_momentum=False`` are refused, not ignored (the
    defaults of ``from_torch_kwargs`` are ``_Unset`` floats, so they pass).
    """
    if cycle_momentum:
        return base, top
    given = {
        k: v for k, v in (("base_momentum", base), ("max_momentum", top)) if type(v) is not _Unset
    }
    if given:
        raise ValueError(
            "momentum bounds do not apply with cycle_momentum=False; "
            "received " + ", ".join(f"{k}={v!r}" for k, v in given.items())
        )
    return None, None
