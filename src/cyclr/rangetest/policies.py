"""One range test, a schedule for each policy: ``RangeTestResult.schedule(policy, total_steps)``.

A policy is the shape of the run a user plans; the range test gives its rate. The rules
are in docs/semantics.md, *Readings per schedule*:

- ``'triangular'``: ``CyclicSchedule(base_lr, max_lr, step_size)`` between
  ``result.bounds()``, in whole cycles that end at ``base_lr`` at ``total_steps``; the half
  cycle is :data:`HALF_CYCLE_EPOCHS` passes over the data when ``steps_per_epoch`` is
  known, else the whole run is one cycle.
- ``'onecycle'``: ``OneCycle(peak, total_steps)`` at its defaults.
- ``'cosine'``: ``WarmupCosine(peak, total_steps, warmup)`` to 0.
- ``'wsd'``: ``WarmupStableDecay(peak, total_steps, warmup, cooldown)``, a linear cool-down
  over the last :data:`COOLDOWN_FRACTION` of the run.
- ``'linear'``: ``WarmupLinear(peak, total_steps, warmup)`` to 0.
- ``'constant'``: ``WarmupConstant(peak, warmup)``, the schedule a schedule-free optimizer
  runs with.

The warm-up is :data:`WARMUP_FRACTION` of the run (at least one update). Each policy's
``peak`` is ``result.bounds().max_lr`` times the factor of :data:`PEAK_READINGS` for the
family of the optimizer (:func:`optimizer_family`): the ``optimizer=`` given, else the one
the range test recorded (``result.optimizer``); with Adam, for a model with BatchNorm
layers or without (``batchnorm=``, else ``result.batchnorm``). ``'triangular'`` needs
neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cyclr._base import Schedule, check_count
from cyclr.cyclic import CyclicSchedule
from cyclr.onecycle import OneCycle
from cyclr.rangetest import _checks
from cyclr.warmup import WarmupConstant, WarmupCosine, WarmupLinear, WarmupStableDecay

if TYPE_CHECKING:
    from cyclr.rangetest.bounds import BoundsSettings, BoundsSuggestion
    from cyclr.rangetest.result import RangeTestResult

#: The policies :meth:`RangeTestResult.schedule` reads a schedule for.
POLICIES = ("triangular", "onecycle", "cosine", "wsd", "linear", "constant")
#: The policies with one peak rate (all but ``triangular``): :func:`peak_schedule`.
PEAKED = POLICIES[1:]
#: The warm-up of ``cosine``, ``wsd``, ``linear`` and ``constant``, as a share of the run.
WARMUP_FRACTION = 0.05
#: WSD's cool-down, as a share of the run (Hägele et al.'s 20%).
COOLDOWN_FRACTION = 0.2
#: ``triangular``'s half cycle in passes over the data (Smith: 2-10 work about as well).
HALF_CYCLE_EPOCHS = 4
#: The optimizer families (:func:`optimizer_family`): the ``optimizer=`` a reading takes.
FAMILIES = ("sgd", "adam")
#: The keys of a policy's factors: SGD's; Adam's for a model without BatchNorm layers, and
#: with them (``'adam_batchnorm'``). SGD's best rates did not split by BatchNorm.
KINDS = ("sgd", "adam", "adam_batchnorm")
#: Each policy's peak rate as a factor on ``result.bounds().max_lr``, per :data:`KINDS`:
#: ``{policy: {kind: factor}}``. ``triangular`` runs between the bounds themselves.
#: Fitted by ``python -m bench.policy_fit`` on the per-policy study's fitting tasks at each
#: task's budget (SGD with momentum, and Adam/AdamW; ``constant``: schedule-free SGD and
#: schedule-free AdamW); bench/results/policy_fit.md holds the table.
PEAK_READINGS: dict[str, dict[str, float]] = {
    "onecycle": {"sgd": 1.0, "adam": 1.0, "adam_batchnorm": 0.32},
    "cosine": {"sgd": 1.0, "adam": 1.0, "adam_batchnorm": 0.32},
    "wsd": {"sgd": 0.79, "adam": 0.63, "adam_batchnorm": 0.25},
    "linear": {"sgd": 1.0, "adam": 1.0, "adam_batchnorm": 0.32},
    "constant": {"sgd": 12.6, "adam": 1.26, "adam_batchnorm": 0.50},
}


def optimizer_family(name: str) -> str:
    """The family of an optimizer's class name whose factors a policy's peak takes.

    ``'sgd'`` for names that start with ``sgd`` (``SGD``, ``SGDW``, ``SGDScheduleFree``),
    ``'adam'`` for names that hold ``adam`` (``Adam``, ``AdamW``, ``NAdam``, ``RAdam``,
    ``Adamax``, ``AdamWScheduleFree``), in any case; the family names themselves included.

    >>> optimizer_family("AdamWScheduleFree"), optimizer_family("sgd")
    ('adam', 'sgd')

    Raises:
      ValueError: any other name (or not a string), naming it: the factors were fitted
        for SGD with momentum and Adam/AdamW only.
    """
    if isinstance(name, str):
        lowered = name.lower()
        if lowered in KINDS and lowered not in FAMILIES:  # 'adam_batchnorm': not a family
            raise ValueError(
                "optimizer names the optimizer's family or class, and BatchNorm is "
                f"batchnorm=True; received optimizer={name!r}"
            )
        if lowered.startswith("sgd"):
            return "sgd"
        if "adam" in lowered:
            return "adam"
    raise ValueError(
        "the peak factors were fitted for SGD with momentum and for Adam/AdamW only "
        "(docs/semantics.md, *Readings per schedule*); pass optimizer='sgd' or 'adam' for "
        f"the family your optimizer behaves like; received optimizer={name!r}"
    )


def optimizer_name(optimizer: Any) -> str:
    """The class name of ``optimizer``, through the wrappers that hold another one.

    Keras' ``LossScaleOptimizer`` (``inner_optimizer``), accelerate's
    ``AcceleratedOptimizer`` (``optimizer``) and Lightning's ``LightningOptimizer``
    (``_optimizer``) name the optimizer they wrap: what a range test records.

    >>> import types
    >>> class AdamW: ...
    >>> optimizer_name(types.SimpleNamespace(inner_optimizer=AdamW()))
    'AdamW'
    """
    for _ in range(8):  # wrappers of wrappers, never a cycle
        inner = next(
            (
                found
                for attribute in ("inner_optimizer", "optimizer", "_optimizer")
                if (found := getattr(optimizer, attribute, None)) is not None
                and found is not optimizer
            ),
            None,
        )
        if inner is None:
            break
        optimizer = inner
    return type(optimizer).__name__


def warmup_steps(total_steps: int) -> int:
    """The warm-up of a run of ``total_steps`` updates: :data:`WARMUP_FRACTION`, ``>= 1``.

    >>> warmup_steps(1000), warmup_steps(10)
    (50, 1)
    """
    return max(1, round(WARMUP_FRACTION * total_steps))


def cycle_half(total_steps: int, steps_per_epoch: int | None) -> int:
    """``triangular``'s half cycle: whole cycles in ``total_steps``, near 4 epochs each half.

    >>> cycle_half(1000, None), cycle_half(1000, 50), cycle_half(150, 50)
    (500, 250, 75)
    """
    if steps_per_epoch is None:
        return max(1, total_steps // 2)
    wanted = HALF_CYCLE_EPOCHS * steps_per_epoch
    cycles = max(1, round(total_steps / (2 * wanted)))
    return max(1, total_steps // (2 * cycles))


def peak_lr(
    result: RangeTestResult,
    policy: str,
    monitor: str | None = None,
    settings: BoundsSettings | None = None,
    *,
    optimizer: str | None = None,
    batchnorm: bool | None = None,
) -> float:
    """The peak rate of ``policy`` read off ``result`` (:data:`PEAK_READINGS`).

    ``result.bounds().max_lr`` times the policy's factor for the optimizer's family:
    that of ``optimizer`` (``'sgd'``, ``'adam'`` or an optimizer's class name) when
    given, else that of ``result.optimizer``; with Adam, the factor for a model with
    BatchNorm layers or without (``batchnorm`` when given, else ``result.batchnorm``).
    ``'triangular'`` reads ``max_lr`` itself.

    Raises:
      ValueError: an unknown policy, an optimizer of no family, a policy with a factor
        and no optimizer known, Adam with ``batchnorm`` not known, or a curve with no
        reading for it, naming the policy.
    """
    _checks.choice("policy", policy, POLICIES)
    kind = _kind(result, policy, optimizer, batchnorm)
    bounds = _bounds(result, policy, monitor, settings)
    if kind is None:  # triangular: it runs between the bounds themselves
        return bounds.max_lr
    return bounds.max_lr * PEAK_READINGS[policy][kind]


def policy_schedule(
    result: RangeTestResult,
    policy: str,
    total_steps: int,
    *,
    steps_per_epoch: int | None = None,
    optimizer: str | None = None,
    batchnorm: bool | None = None,
    monitor: str | None = None,
    settings: BoundsSettings | None = None,
) -> Schedule:
    """``result.schedule(policy, total_steps, ...)``: documented there."""
    _checks.choice("policy", policy, POLICIES)
    total = check_count("total_steps", total_steps, minimum=2)
    spe = None if steps_per_epoch is None else check_count("steps_per_epoch", steps_per_epoch)
    if policy == "triangular":
        _kind(result, policy, optimizer, batchnorm)  # bad arguments are refused all the same
        base, top = _bounds(result, policy, monitor, settings)
        return CyclicSchedule(base, top, cycle_half(total, spe))
    peak = peak_lr(result, policy, monitor, settings, optimizer=optimizer, batchnorm=batchnorm)
    return peak_schedule(policy, peak, total)


def peak_schedule(policy: str, peak: float, total_steps: int) -> Schedule:
    """The schedule of a policy with one peak rate, ``peak``, over ``total_steps`` updates.

    What :meth:`RangeTestResult.schedule` builds at the policy's reading, at a rate given
    (a grid's, a default): docs/semantics.md, *Readings per schedule*.

    >>> peak_schedule("wsd", 0.01, 100)
    WarmupStableDecay(peak_lr=0.01, total_steps=100, warmup_steps=5, decay_steps=20)

    Raises:
      ValueError: a policy not in :data:`PEAKED`, or a bad count or rate, naming it.
    """
    _checks.choice("policy", policy, PEAKED)
    total = check_count("total_steps", total_steps, minimum=2)
    if policy == "onecycle":
        return OneCycle(peak, total)
    warmup = warmup_steps(total)
    if policy == "constant":
        return WarmupConstant(peak, warmup)
    if policy == "wsd":
        cooldown = max(1, round(COOLDOWN_FRACTION * total))
        return WarmupStableDecay(peak, total, warmup, min(cooldown, total - warmup))
    if policy == "linear":
        return WarmupLinear(peak, total, warmup)
    return WarmupCosine(peak, total, warmup)


def _bounds(
    result: RangeTestResult, policy: str, monitor: str | None, settings: BoundsSettings | None
) -> BoundsSuggestion:
    """``result.bounds(monitor, settings)``; a curve with none names the policy."""
    try:
        return result.bounds(monitor, settings)
    except ValueError as error:
        raise ValueError(
            f"this range test gives no reliable rate for policy={policy!r}: {error}"
        ) from error


def _kind(
    result: RangeTestResult, policy: str, optimizer: str | None, batchnorm: bool | None
) -> str | None:
    """The :data:`KINDS` key whose factor ``policy`` takes.

    From ``optimizer`` and ``batchnorm`` when given, else from what the test recorded.
    None for ``'triangular'`` (no factor). A policy with a factor and no optimizer known,
    or Adam with ``batchnorm`` not known, is refused, naming it: nothing is guessed.
    """
    if optimizer is not None and not isinstance(optimizer, str):
        raise ValueError(
            "optimizer must be 'sgd', 'adam' or an optimizer's class name; received "
            f"optimizer={optimizer!r}"
        )
    _checks.optional_bool("batchnorm", batchnorm)
    if policy == "triangular":
        if optimizer is not None:
            optimizer_family(optimizer)  # a bad optimizer= is refused all the same
        return None
    name = optimizer if optimizer is not None else result.optimizer
    if name is None:
        raise ValueError(
            f"policy={policy!r} peaks at a factor of max_lr fitted per optimizer family, "
            "and this range test does not record its optimizer; pass optimizer='sgd' or "
            "'adam' (the family of the optimizer the test ran with); received optimizer=None"
        )
    family = optimizer_family(name)
    if family == "sgd":
        return family
    norms = batchnorm if batchnorm is not None else result.batchnorm
    if norms is None:
        raise ValueError(
            f"policy={policy!r} with Adam peaks at a factor of max_lr fitted for models with "
            "BatchNorm layers and without, and this range test does not record which; pass "
            "batchnorm=True or False (whether the model has BatchNorm layers); received "
            "batchnorm=None"
        )
    return "adam_batchnorm" if norms else "adam"
