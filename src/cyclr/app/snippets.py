"""The lines ``cyclr find`` prints for a user to paste into their own training script.

Bounds and step size are filled in; the code uses only cyclr's public names, for the
framework the range test ran in. With the saved range test's path, the lines end with how to
read it for another schedule (``RangeTestResult.schedule``; docs/semantics.md, *Readings per
schedule*).
"""

from __future__ import annotations


def _lr(value: float) -> str:
    return f"{value:.3g}"


def snippet(
    framework: str,
    optimizer: str,
    base_lr: float,
    max_lr: float,
    step_size: int,
    range_test: str | None = None,
) -> str:
    """Python that trains with a cyclical lr between ``base_lr`` and ``max_lr``.

    Args:
      framework: ``'keras'`` (a schedule computed in the graph, or the callback) or
        ``'torch'`` (cyclr's ``CyclicLR`` scheduler, stepped after every update).
      optimizer: ``'sgd'`` or ``'adam'``, the optimizer the range test used.
      base_lr: the lower bound.
      max_lr: the upper bound.
      step_size: the half cycle in steps.
      range_test: the saved ``range_test.json``; the code then ends with the lines that
        read it for another policy (commented out: they need the run's ``total_steps``).

    Returns:
      The code, ending in a newline.

    Raises:
      ValueError: an unknown framework or optimizer.

    >>> print(snippet("torch", "sgd", 0.01, 0.1, 400).splitlines()[5])
    schedule = cyclr.CyclicSchedule(base_lr=0.01, max_lr=0.1, step_size=400)
    """
    if framework not in ("keras", "torch"):
        raise ValueError(f"framework must be 'keras' or 'torch'; received framework={framework!r}")
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be 'sgd' or 'adam'; received optimizer={optimizer!r}")
    base, top = _lr(base_lr), _lr(max_lr)
    cycle = 2 * step_size
    end = f"# Train a whole number of cycles ({cycle} steps each): the run then ends at base_lr."
    if framework == "torch":
        schedule = f"cyclr.CyclicSchedule(base_lr={base}, max_lr={top}, step_size={step_size})"
        code = _torch(optimizer, schedule, end)
    else:
        code = _keras(optimizer, f"base_lr={base}, max_lr={top}, step_size={step_size}", end)
    return code if range_test is None else code + _other_policy(framework, range_test)


def _other_policy(framework: str, range_test: str) -> str:
    """The lines that read the saved range test for another policy's schedule.

    >>> print(_other_policy("torch", "runs/find/range_test.json"), end="")
    # Another schedule, read off the same range test (total_steps: your run's updates):
    # result = cyclr.RangeTestResult.from_json('runs/find/range_test.json')
    # schedule = result.schedule("cosine", total_steps)  # or onecycle, wsd, linear, constant
    # scheduler = CyclicLR(optimizer, schedule)
    """
    use = (
        "scheduler = CyclicLR(optimizer, schedule)"
        if framework == "torch"
        else "lr = cyclr.keras.KerasSchedule(schedule)  # the optimizer's learning_rate"
    )
    return "\n".join(
        [
            "# Another schedule, read off the same range test (total_steps: your run's updates):",
            f"# result = cyclr.RangeTestResult.from_json({range_test!r})",
            '# schedule = result.schedule("cosine", total_steps)  # or onecycle, wsd, linear, '
            "constant",
            f"# {use}",
            "",
        ]
    )


def _torch(optimizer: str, schedule: str, end: str) -> str:
    """:func:`snippet` for PyTorch: the schedule and cyclr's ``CyclicLR`` scheduler."""
    opt = (
        "torch.optim.SGD(model.parameters(), lr=schedule(0), momentum=0.9)"
        if optimizer == "sgd"
        else "torch.optim.Adam(model.parameters(), lr=schedule(0))"
    )
    return "\n".join(
        [
            "import torch",
            "",
            "import cyclr",
            "from cyclr.torch import CyclicLR",
            "",
            f"schedule = {schedule}",
            f"optimizer = {opt}",
            "scheduler = CyclicLR(optimizer, schedule)",
            "# in the training loop, after every update:",
            "#     optimizer.step()",
            "#     scheduler.step()",
            end,
            "",
        ]
    )


def _keras(optimizer: str, bounds: str, end: str) -> str:
    """:func:`snippet` for Keras: the schedule in the graph, or the callback."""
    opt = (
        "cyclr.keras.SGD(learning_rate=lr, momentum=0.9)"
        if optimizer == "sgd"
        else "cyclr.keras.Adam(learning_rate=lr)"
    )
    return "\n".join(
        [
            "import cyclr",
            "import cyclr.keras",
            "# the schedule runs inside the compiled step (no Python per batch):",
            f"lr = cyclr.keras.CyclicalLearningRate({bounds})",
            f"optimizer = {opt}",
            "# model.compile(optimizer=optimizer, loss=..., metrics=[...])",
            "# or, with any Keras optimizer, as a callback:",
            f"# callback = cyclr.keras.CyclicLR({bounds})",
            "# model.fit(..., callbacks=[callback])",
            end,
            "",
        ]
    )
