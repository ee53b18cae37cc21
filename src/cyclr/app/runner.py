"""What the app asks of a framework's runner (:class:`Runner`).

:class:`cyclr.app.torch_runner.TorchRunner` and :class:`cyclr.app.keras_runner.KerasRunner`
have this shape; the workflow, ``train``, ``compare``, the checkpoints and the reuse of a
range test call nothing else on a runner.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from cyclr.app.data import Data
    from cyclr.app.policies import Plan
    from cyclr.rangetest import RangeTestResult, RangeTestSettings


class Runner(Protocol):
    """Builds the model, runs range tests and trains, in one framework."""

    #: ``'torch'`` or ``'keras'``.
    framework: str
    #: The data it trains on (in the layout its model takes).
    data: Data
    batch_size: int
    seed: int
    #: The metric :meth:`evaluate` reports besides the loss: ``'accuracy'`` or ``'mae'``.
    metric: str
    #: Lines to say about the model (a conversion of the data, the loss it uses).
    notes: list[str]
    #: The file name :meth:`save_model` is given (``model.pt``, ``model.keras``).
    model_filename: str
    #: The suffix of a state file :meth:`save_state` writes.
    state_suffix: str

    @property
    def steps_per_epoch(self) -> int: ...

    def new_model(self) -> Any:
        """A fresh model (the seed's weights), which the runner trains from now on."""
        ...

    def range_test(
        self, optimizer: str, settings: RangeTestSettings, progress: bool | None = None
    ) -> RangeTestResult:
        """A range test on the current model; it leaves the model as it found it.

        ``settings``: its monitor chosen (:func:`cyclr.app.monitor.range_test_monitor`).
        """
        ...

    def evaluate(self, x: Any, y: Any) -> tuple[float, float]:
        """Mean loss and :attr:`metric` over ``(x, y)``."""
        ...

    def train(
        self,
        plan: Plan,
        epochs: int,
        on_step: Callable[..., Any],
        on_epoch: Callable[..., Any],
        progress: Any = None,
        max_steps: int | None = None,
        resume: tuple[Any, ...] | None = None,
        checkpoint: Callable[..., Any] | None = None,
        test_each_epoch: bool = True,
    ) -> None:
        """Train ``epochs`` epochs with ``plan``; report every step and every epoch."""
        ...

    def save_model(self, path: Path) -> Path:
        """Save the trained model to ``path``; return where it went."""
        ...

    def save_state(self, path: Path) -> Path:
        """Save the model and optimizer state (a checkpoint) to ``path``."""
        ...
