"""What the adapters' drop-in facades share: arguments given vs defaulted, signatures, scalars.

Private: the facades (``cyclr.torch.CyclicLR``, ``cyclr.keras.CyclicLR``,
``cyclr.keras.CyclicalLearningRate``, ...) take their peer's parameters as
``*args``/``**keywords`` and hand them to one core constructor, so a keyword the
caller wrote is known to be given even when it equals the default.
"""

from __future__ import annotations

import inspect
import math
import numbers
import warnings
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

_F = TypeVar("_F", bound=Callable[..., Any])
#: A custom decay: cycle number or step -> scale factor.
ScaleFn = Callable[[Any], Any]


class _Unset(float):
    """A float default that knows it was not given (it reads, and shows, as its value)."""


def as_scalar(value: Any) -> Any:
    """A 0-d array or tensor (NumPy, torch, JAX: duck-typed) as a number; else ``value``.

    Args:
      value: anything; the checks that follow judge the number (a boolean stays refused).

    Returns:
      ``value.item()`` when ``value.ndim == 0``, else ``value`` unchanged.
    """
    if (
        not isinstance(value, numbers.Number)
        and getattr(value, "ndim", None) == 0
        and callable(getattr(value, "item", None))
    ):
        return value.item()
    return value


def default_scale_mode(scale_fn: ScaleFn | None, scale_mode: str | None) -> str | None:
    """``'cycle'`` for a ``scale_fn`` without a ``scale_mode`` (PyTorch, bckenstler, TF Addons).

    Args:
      scale_fn: the custom decay, or ``None``.
      scale_mode: the given ``scale_mode``, or ``None``.

    Returns:
      The ``scale_mode`` to build the schedule with.
    """
    return "cycle" if scale_fn is not None and scale_mode is None else scale_mode


def whole_steps(name: str, value: Any, *, stacklevel: int = 2) -> Any:
    """A fractional step count (bckenstler's ``4 * len(x) / batch_size``), rounded with a warning.

    Args:
      name: the parameter, for the warning.
      value: the count; anything but a finite number >= 1 passes unchanged, for the checks.
      stacklevel: where the warning points, counted from the caller.

    Returns:
      The nearest whole number of steps, or ``value`` unchanged.
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or value < 1
    ):
        return value
    rounded = round(value)
    if rounded != value:
        warnings.warn(
            f"{name}={value!r} is not a whole number of steps; using {name}={rounded}",
            stacklevel=stacklevel + 1,
        )
    return rounded


def given_keywords(
    form: Callable[..., Any],
    args: tuple[Any, ...] = (),
    keywords: dict[str, Any] | None = None,
    *,
    owner: str,
    schedule: Any = None,
    hints: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The arguments of ``form`` that a facade's caller wrote, by name, in ``form``'s order.

    A facade takes ``form``'s parameters as ``*args``/``**keywords``, so a value
    equal to a default still counts as given: nothing compares with defaults.

    Args:
      form: the core constructor the facade is built on.
      args: the positional arguments the facade received for ``form``.
      keywords: the keyword arguments the facade received for ``form``.
      owner: the facade's name, for errors.
      schedule: the facade's ready schedule, if given: it fixes every argument of ``form``.
      hints: a peer's parameter names ``form`` lacks, each with what to write instead.

    Returns:
      ``{name: value}`` for every argument given.

    Raises:
      TypeError: for an argument ``form`` does not take, naming ``owner``.
      ValueError: for arguments next to ``schedule``, naming each with its value.
    """
    keywords, hints = keywords or {}, hints or {}
    hinted = next((k for k in keywords if k in hints), None)
    if hinted is not None:
        raise TypeError(
            f"{owner}() has no {hinted}: {hints[hinted]}; received {hinted}={keywords[hinted]!r}"
        )
    try:
        given = dict(inspect.signature(form).bind_partial(*args, **keywords).arguments)
    except TypeError as exc:
        raise TypeError(f"{owner}() {exc}") from None
    if schedule is not None and given:
        raise ValueError(
            "schedule= fixes these; pass them to the schedule instead: "
            + ", ".join(f"{k}={v!r}" for k, v in given.items())
            + f"; received schedule={schedule!r}"
        )
    return given


def forwards_to(form: Callable[..., Any], *, optional: bool = False) -> Callable[[_F], _F]:
    """Give a facade taking ``*args``/``**keywords`` for ``form`` the signature of ``form``.

    ``inspect.signature`` (``help()``, docs, IDEs that inspect) then shows ``form``'s
    positional parameters where ``*args`` stands and the rest keyword-only, before
    the facade's own keyword-only ones (which win over ``form``'s of the same name).

    Args:
      form: the core constructor the facade forwards to.
      optional: the facade has another way in (``schedule=``), so a parameter
        ``form`` requires shows as ``None`` (not given) there.

    Returns:
      A decorator that sets the facade's ``__signature__``.
    """

    def decorate(facade: _F) -> _F:
        own = inspect.signature(facade).parameters.values()
        theirs = [
            p
            for p in inspect.signature(form).parameters.values()
            if p.name not in {q.name for q in own}
        ]
        spread = any(p.kind is p.VAR_POSITIONAL for p in own)
        by_position = [p for p in theirs if spread and p.kind is p.POSITIONAL_OR_KEYWORD]
        by_name = [
            p.replace(
                kind=p.KEYWORD_ONLY,
                default=None if optional and p.default is p.empty else p.default,
            )
            for p in theirs
            if p not in by_position
        ]
        head = [p for p in own if p.kind is p.POSITIONAL_OR_KEYWORD or p.kind is p.POSITIONAL_ONLY]
        tail = [p for p in own if p.kind is p.KEYWORD_ONLY]
        facade.__signature__ = inspect.signature(facade).replace(  # type: ignore[attr-defined]
            parameters=head + by_position + by_name + tail
        )
        return facade

    return decorate
