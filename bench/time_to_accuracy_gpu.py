"""The char transformer at GPU scale (issue 26, item 6): ``--dataset transformer-gpu``.

The transformer task of ``bench.time_to_accuracy`` (``bench.time_to_accuracy_text``: the
same loop, range test, policies and tables), with a model and a text sized for a GPU:
``bench/judging_models.py``'s ``CharTransformer`` at 6 pre-norm layers, width 384, 6
heads, context 256 (10.8M parameters), AdamW with weight decay 0.1 on the matrices, batch
64, 1,200 updates, three whole cycles of 200-update half cycles, the held-out loss after
every 120 updates; the range test at its defaults (1e-5 -> 10 in 450 rungs, the
validation batch of 64 windows every 2 rungs). Every policy of the CPU task runs, and
cyclr's readings per schedule (``READING_ROWS``: ``cosine``, ``wsd``, ``linear`` and
``constant`` at ``peak_lr`` of the same range test, one run each).

The text: the first 4,000,000 characters of the standard library's top-level ``.py``
files (``bench.judging_data.stdlib_text``: sorted by name; Python 3.11 holds 4.70M of
them, later versions a little less), the last 200,000 held out: 64 validation windows
for the range test and 714 test windows (182,784 characters) for the score. The rest
gives 14,785 non-overlapping training windows of 257 characters, 231 batches of 64: the
budget passes over them 5.2 times (19.7M characters predicted). The judging task's
400,000 characters would give 1,478 windows of this context, 52 passes for the same
budget: too little text for a model this size.

Precision: ``--amp bf16`` runs the range test (``cyclr.torch.range_test(amp='bfloat16')``),
every training step and the held-out evaluations under ``torch.autocast`` in bfloat16;
weights and optimizer state stay float32. ``--amp none`` trains in float32; float16 is
refused (this loop has no gradient scaler).

Cost (estimated, not yet measured): ~72 MFLOP a character trained (6 x 10.8M parameters
plus attention), 1.18 TFLOP an update; one seed's 22 runs (3 + 4 readings + 3 baselines
x 5 rates) are 26,400 updates, ~33 PFLOP with the range test and evaluations. At ~120
TFLOP/s (bf16 autocast without compilation, ~10 ms an update, ~15% of an H100's dense
bf16 peak) that is ~5 minutes on an H100 for ``--seeds 1``; each further seed adds as
much. On one CPU thread an update takes ~16 s (1.0-1.2 s measured at batch 4), so without
``--quick`` the task refuses any ``--device`` but ``cuda``. ``--quick`` is its smoke run:
the same code path at 2 layers, width 32, 2 heads, context 64 on 400,000 characters,
batch 8, 48 updates, 100 rungs (~15 s of one CPU thread, 25-30 s at a load of 3-4 on 2
cores; CI runs it on the CPU, the GPU test on ``cuda`` with bf16).

    .venv/bin/python -m bench.time_to_accuracy --dataset transformer-gpu --device cuda \\
        --amp bf16 --seeds 1     # -> bench/results/time_to_accuracy_transformer_gpu.md
    .venv/bin/python -m bench.time_to_accuracy --quick --dataset transformer-gpu --out /tmp/g.md
"""

from __future__ import annotations

import argparse
import contextlib
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from bench import common
from bench.time_to_accuracy_tasks import TASKS
from bench.time_to_accuracy_text import (
    QUICK_TRANSFORMER,
    READING_ROWS,
    TEXT_POLICIES,
    TRANSFORMER,
    TRANSFORMER_POLICIES,
    TRANSFORMER_TASK,
    TextTask,
)

if TYPE_CHECKING:
    import torch

    from bench.judging import Judging
    from bench.judging_data import Split
    from cyclr.app.policies import Plan
    from cyclr.rangetest import RangeTestResult

#: The GPU-sized task's name on the command line.
TRANSFORMER_GPU = "transformer-gpu"
#: The title of its table (bench/results/time_to_accuracy_transformer_gpu.md).
GPU_TITLE = "Time to accuracy at GPU scale: the char transformer"
#: Validation windows held out for the range test's monitor (the rest score), as the judging
#: task's ``text_split`` holds out.
VAL_WINDOWS = 64


@dataclass(frozen=True)
class TextModel:
    """A char transformer's size and the text it reads.

    ``layers``, ``width``, ``heads``, ``context``: ``CharTransformer``'s; ``chars``: the
    first characters of the standard library read; ``held_out``: the last of them, held out
    (:data:`VAL_WINDOWS` validation windows, the rest test windows).
    """

    layers: int
    width: int
    heads: int
    context: int
    chars: int
    held_out: int

    @property
    def about(self) -> str:
        """The model and its text, for the table's paragraph."""
        return (
            f"`bench/judging_models.py`'s `CharTransformer` at {self.layers} pre-norm layers, "
            f"width {self.width}, {self.heads} heads, context {self.context}, on the first "
            f"{self.chars:,} characters of Python's standard library (the last "
            f"{self.held_out:,} held out)"
        )


#: 1,200 updates at batch 64 (5.2 passes over the 14,785 training windows), three whole
#: cycles of 200-update half cycles: see the module docstring.
GPU_TASK = TextTask(
    updates=1200,
    half_cycle=200,
    batch_size=64,
    name=TRANSFORMER_GPU,
    model=TextModel(6, 384, 6, 256, 4_000_000, 200_000),
)
QUICK_GPU = TextTask(
    updates=48,
    half_cycle=12,
    batch_size=8,
    evaluations=4,
    rungs=100,
    name=TRANSFORMER_GPU,
    model=TextModel(2, 32, 2, 64, 400_000, 20_000),
)
#: The transformer tasks by ``--dataset``: ``(full task, quick task, default policies)``.
TEXT_TASKS: dict[str, tuple[TextTask, TextTask, tuple[str, ...]]] = {
    TRANSFORMER: (TRANSFORMER_TASK, QUICK_TRANSFORMER, TRANSFORMER_POLICIES),
    TRANSFORMER_GPU: (GPU_TASK, QUICK_GPU, TEXT_POLICIES),
}


class TextJob(Protocol):
    """What the loop needs of a task's model and data: ``bench.judging.Judging``'s methods."""

    def data(self) -> Split: ...

    def build(self, seed: int, data: Split) -> torch.nn.Module: ...

    def criterion(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor: ...

    def make_optimizer(self, model: torch.nn.Module, lr: float) -> torch.optim.Optimizer: ...

    def score(self, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float: ...

    def failed_score(self, data: Split) -> float: ...


@functools.cache
def sized_split(model: TextModel) -> Split:
    """The text as windows of ``model.context + 1`` characters, as ``text_split`` cuts them.

    Raises:
      BenchError: the standard library holds fewer than ``model.chars`` characters.
    """
    import numpy as np
    import torch

    from bench.judging_data import UNKNOWN, VOCAB, Split, stdlib_text

    try:
        text = stdlib_text(model.chars)
    except RuntimeError as error:
        raise common.BenchError(f"--dataset {TRANSFORMER_GPU}: {error}") from None
    lookup = {c: i for i, c in enumerate(VOCAB)}
    ids = np.array([lookup.get(c, UNKNOWN) for c in text], dtype=np.int64)
    n = model.context + 1

    def windows(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a[: len(a) // n * n].reshape(-1, n))

    train, held = windows(ids[: -model.held_out]), windows(ids[-model.held_out :])
    val, test = held[:VAL_WINDOWS], held[VAL_WINDOWS:]
    parts = (train[:, :-1], train[:, 1:], val[:, :-1], val[:, 1:], test[:, :-1], test[:, 1:])
    return Split(*(p.contiguous() for p in parts))


@dataclass(frozen=True)
class SizedTextJob:
    """The judging char transformer's loss, optimizer and score, at ``model``'s size, on
    ``device`` (its data moved there once, its models built there)."""

    base: Judging
    model: TextModel
    device: str

    def data(self) -> Split:
        import dataclasses

        split = sized_split(self.model)  # its six tensors, moved to the device once
        moved = {f.name: getattr(split, f.name).to(self.device) for f in dataclasses.fields(split)}
        return dataclasses.replace(split, **moved)

    def build(self, seed: int, data: Split) -> torch.nn.Module:
        import torch

        from bench.judging_data import UNKNOWN
        from bench.judging_models import CharTransformer

        m = self.model
        torch.manual_seed(seed)  # built on the CPU: the same weights on every device
        model = CharTransformer(UNKNOWN + 1, m.context, m.width, m.heads, m.layers)
        return model.to(self.device)

    def criterion(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.base.criterion(outputs, targets)

    def make_optimizer(self, model: torch.nn.Module, lr: float) -> torch.optim.Optimizer:
        return self.base.make_optimizer(model, lr)

    def score(self, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
        return self.base.score(model, x, y)

    def failed_score(self, data: Split) -> float:
        return self.base.failed_score(data)


def autocast(device_type: str, amp: str | None) -> contextlib.AbstractContextManager[Any]:
    """``torch.autocast`` in bfloat16 for ``amp='bf16'``; nothing (float32) for ``None``."""
    if amp is None:
        return contextlib.nullcontext()
    import torch

    return torch.autocast(device_type=device_type, dtype=torch.bfloat16)


def text_job(task: TextTask, device: str) -> TextJob:
    """The judging study's char transformer, or the task's own size of it on ``device``."""
    from bench.judging import JUDGING

    job = next((j for j in JUDGING if j.name == "char transformer"), None)
    if job is None:
        raise common.BenchError(
            f"--dataset {task.name}: bench/judging.py has no 'char transformer' task"
        )
    return job if task.model is None else SizedTextJob(job, task.model, device)


def reading_plan(policy: str, result: RangeTestResult, updates: int) -> Plan:
    """A row of ``READING_ROWS``: ``result.schedule(core, updates)`` at ``peak_lr``.

    ``'constant'`` trains with schedule-free AdamW at the peak, its warm-up run by the
    optimizer (``Plan.warmup_steps``), as ``cyclr train --policy schedulefree`` does.
    """
    from cyclr import WarmupConstant
    from cyclr.app.policies import Plan
    from cyclr.rangetest.policies import peak_lr

    core = READING_ROWS[policy]
    # AdamW, its range test's and its runs'; a transformer: no BatchNorm (a cached curve
    # may predate the fields that record both)
    peak = peak_lr(result, core, optimizer="adam", batchnorm=False)
    schedule = result.schedule(core, updates, optimizer="adam", batchnorm=False)
    if isinstance(schedule, WarmupConstant):
        flat = WarmupConstant(peak, 0)
        return Plan(policy, "schedulefree", flat, None, warmup_steps=schedule.warmup_steps)
    return Plan(policy, "adamw", schedule, None)


def check_text_args(args: argparse.Namespace, app_tasks: list[str]) -> None:
    """The transformer tasks' options: ``args.text_policies``; a ``BenchError`` names a bad one.

    ``args.policy_list`` is what ``--policies`` named (None: each task's defaults).
    """
    args.text_policies = {}
    for name in (d for d in args.names if d in TEXT_TASKS):
        named = args.policy_list
        wanted = TEXT_TASKS[name][2] if named is None else [p for p in TEXT_POLICIES if p in named]
        if not wanted:
            raise common.BenchError(
                f"--dataset {name} runs {', '.join(TEXT_POLICIES)}: --policies must name "
                f"some of them; received --policies={args.policies!r}"
            )
        args.text_policies[name] = list(wanted)
    if TRANSFORMER in args.names and (args.device != "cpu" or args.amp != "none"):
        raise common.BenchError(
            f"--dataset {TRANSFORMER} trains on the CPU in float32 only; received "
            f"--device={args.device!r} --amp={args.amp!r}; --dataset {TRANSFORMER_GPU} is its "
            "GPU-sized task"
        )
    if TRANSFORMER_GPU in args.names and args.amp == "fp16":
        raise common.BenchError(
            f"--dataset {TRANSFORMER_GPU} trains in float32 (--amp none) or under bf16 "
            "autocast (--amp bf16), with no gradient scaler for float16; received "
            f"--amp={args.amp!r}"
        )
    if TRANSFORMER_GPU in args.names and not args.quick and not args.device.startswith("cuda"):
        raise common.BenchError(
            f"--dataset {TRANSFORMER_GPU} is sized for a GPU (~16 s an update on one CPU "
            "thread): give --device cuda, or --quick for its small CPU smoke run; received "
            f"--device={args.device!r}"
        )
    overrides = [f for f in ("epochs", "epochs_per_half_cycle", "batch_size") if getattr(args, f)]
    if overrides and not app_tasks:
        flag = "--" + overrides[0].replace("_", "-")
        raise common.BenchError(
            f"{flag} overrides the app tasks' settings ({', '.join(TASKS)}); --dataset "
            f"{args.dataset} counts its budget in updates; received "
            f"{flag}={getattr(args, overrides[0])!r} with --dataset={args.dataset!r}"
        )
