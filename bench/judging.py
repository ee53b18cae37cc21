"""The judging tasks of ``bench.suggest_bounds --judging``: tasks the reading never saw.

``cyclr.suggest_bounds`` was fitted on three tasks (``bench.suggest_bounds.TASKS``: SGD
with momentum, cross-entropy, two datasets). The tasks here take no part in choosing the
reading or its constants; they were fixed, grids included, before any of them was scored,
and they differ from the fitting tasks in what a reading could overfit to:

- **char transformer**: a decoder-only transformer (2 pre-norm layers, width 48, causal,
  context 32, batch 16) on the characters of Python's own standard library (its top-level ``.py``
  files in sorted order, the first 400 000 characters), AdamW with weight decay 0.1 on
  the matrices; judged by the held-out loss (nats per character).
- **digits ResNet**: a small residual network with BatchNorm on sklearn's 8x8 digits;
  SGD (momentum 0.9, weight decay 5e-4) and Adam; judged by test accuracy.
- **MNIST-1D fine-tuning**: a 1-D CNN pre-trained (AdamW at 3e-3, 10 epochs, once per
  seed) on MNIST-1D, then fine-tuned whole, head included, with AdamW on 600 sequences
  of a shifted MNIST-1D (made again with another seed, more noise and shear: the
  pre-trained network scores about 72% on it); judged by test accuracy. The best
  rates lie 10-30x below the pre-training one.
- **transformer fine-tuning**: the char transformer pre-trained on the stdlib text (AdamW
  at 3e-3, weight decay 0.1, 2 epochs at batch 32, once per seed), then fine-tuned whole
  with AdamW (weight decay 0.1) on 8 000 characters of English prose (the help texts of
  ``pydoc_data.topics``), 240 updates; judged by the loss on 20 000 held-out characters
  of other topics. The best rates lie 10-30x below the pre-training one.
- **gratings fine-tuning**: the gratings ResNet (BatchNorm, residual blocks, dropout)
  pre-trained on the gratings (AdamW at 3e-3, 4 epochs, once per seed), then fine-tuned
  whole with AdamW on 600 gratings in 1.5x the noise (the pre-trained network scores
  about 61% on them); judged by test accuracy on 2000. Its grid was checked on one seed
  before any reading was scored: the best rates lie 10-30x below the pre-training one.
- **Friedman-1 regression**: an MLP (10-64-64-1) on ``make_friedman1`` (noise 1.0),
  inputs and targets standardized, mean squared error; SGD (momentum 0.9) and Adam;
  judged by test MSE.

Every dataset is made or read offline. Each task splits its data three ways: ``train``
(the range test and the training), ``val`` (the range test's validation monitor, one
batch) and ``test`` (the score), so the validation curve a reading may use never scores it.
"""

from __future__ import annotations

import functools
import math
import sysconfig
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

#: Characters of the standard library the transformer reads, and how many are held out.
TEXT_CHARS = 400_000
TEXT_HELD_OUT = 20_000
CONTEXT = 32
#: The vocabulary: newline and printable ASCII; everything else maps to one extra id.
VOCAB = ["\n", *map(chr, range(32, 127))]
UNKNOWN = len(VOCAB)

#: Grids of ``max_lr``: seven values spanning three decades; base_lr = max_lr / 3 and / 10.
GRID_SGD = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0)
GRID_ADAM = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
GRID_FINE_TUNE = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
GRID_RATIO = (3.0, 10.0)

PRETRAIN_LR = 3e-3
PRETRAIN_EPOCHS = 10
FINE_TUNE_EXAMPLES = 600
#: The transformer fine-tuning: pre-training on the stdlib text (AdamW, constant rate,
#: batch 32), then characters of English prose to fine-tune on and to hold out.
PRETRAIN_TEXT_LR = 3e-3
PRETRAIN_TEXT_EPOCHS = 2
PROSE_CHARS = 8_000
#: The gratings fine-tuning's pre-training: epochs of the gratings' training split.
PRETRAIN_GRATINGS_EPOCHS = 4


@dataclass(frozen=True)
class Split:
    """``(inputs, targets)`` tensors of one task, three ways."""

    x: torch.Tensor
    y: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


@dataclass(frozen=True)
class Judging:
    """One judging task with one optimizer: data, model, loss, optimizer, budget, score.

    Attributes:
      name: the task's name in the tables.
      optimizer: ``'sgd'``, ``'adam'`` or ``'adamw'``.
      metric: ``'accuracy'`` (test accuracy in %, higher is better) or ``'loss'``
        (test loss, lower is better).
      dataset: the key of :data:`DATASETS`.
      model: the key of :data:`MODELS`.
      batch_size: training and range-test batch size.
      half_cycle: updates per half cycle of the triangular schedule.
      half_cycles: half cycles trained (even: whole cycles, ending at ``base_lr``).
      grid_max: the grid's ``max_lr`` values (each with base_lr = max_lr / 3 and / 10).
      weight_decay: the optimizer's weight decay (AdamW: on matrices only).
      role: ``'judging'``, or ``'fitting'`` for a task moved to the fitting set after its
        first score (:data:`MOVED`): the reading's default was chosen on it since.
    """

    name: str
    optimizer: str
    metric: str
    dataset: str
    model: str
    batch_size: int
    half_cycle: int
    half_cycles: int
    grid_max: tuple[float, ...]
    weight_decay: float = 0.0
    role: str = "judging"

    @property
    def optimizer_name(self) -> str:
        return OPTIMIZER_NAMES[self.optimizer]

    @property
    def fine_tuning(self) -> bool:
        """Whether the task starts from pre-trained weights (read with ``fine_tuning=True``)."""
        return self.model.startswith("finetune")

    @property
    def label(self) -> str:
        return f"{self.name} / {self.optimizer_name}"

    @property
    def grid(self) -> list[tuple[float, float]]:
        """``(max_lr, ratio)`` pairs: ``len(grid_max) * len(GRID_RATIO)`` of them."""
        return [(m, r) for m in self.grid_max for r in GRID_RATIO]

    def data(self) -> Split:
        return DATASETS[self.dataset]()

    def build(self, seed: int, data: Split) -> nn.Module:
        """The model a seed starts from (the fine-tuning task: its pre-trained weights)."""
        return MODELS[self.model](seed, data)

    def criterion(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if self.dataset == "friedman1":
            return F.mse_loss(outputs.squeeze(-1), targets)
        return F.cross_entropy(outputs.reshape(-1, outputs.shape[-1]), targets.reshape(-1))

    def make_optimizer(self, model: nn.Module, lr: float) -> torch.optim.Optimizer:
        if self.optimizer == "sgd":
            return torch.optim.SGD(
                model.parameters(), lr=lr, momentum=0.9, weight_decay=self.weight_decay
            )
        if self.optimizer == "adam":
            return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=self.weight_decay)
        matrices = [p for p in model.parameters() if p.dim() >= 2]
        others = [p for p in model.parameters() if p.dim() < 2]
        groups = [
            {"params": matrices, "weight_decay": self.weight_decay},
            {"params": others, "weight_decay": 0.0},
        ]
        return torch.optim.AdamW(groups, lr=lr)

    def score(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
        """Accuracy in % or the mean loss of ``model`` on ``(x, y)``, in eval mode."""
        model.eval()
        with torch.no_grad():
            outputs = torch.cat([model(xb) for xb in x.split(1024)])
            if self.metric == "accuracy":
                return 100.0 * (outputs.argmax(-1) == y).float().mean().item()
            return self.criterion(outputs, y).item()

    def failed_score(self, data: Split) -> float:
        """The score of a run that diverged: chance, or the loss of predicting nothing."""
        if self.metric == "accuracy":
            return 100.0 / int(data.y.max().item() + 1)
        if self.dataset == "friedman1":
            return float((data.y_test**2).mean())  # the mean of standardized targets: 0
        return math.log(UNKNOWN + 1)  # uniform over the vocabulary


OPTIMIZER_NAMES = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW"}

#: Every task and optimizer of the study. Budgets keep one training run to 1-3 s on one
#: thread. The first five tasks were fixed, and scored once untouched, on 2026-11-30
#: (bench/results/suggest_bounds_judging_first.md); the reading of the training curve
#: missed on the digits ResNet and both fine-tunings there, and the validation curve won
#: on them, so it became the default (item 4 of issue 12). Those three tasks were then
#: moved to the fitting set (``role='fitting'``), and two new judging tasks of the same
#: kinds were added before anything was scored on them: the shapes ResNet (BatchNorm,
#: residual connections) and the GRU fine-tuning. The shapes ResNet missed by 10-12
#: points: its validation passes used BatchNorm's lagging running averages, which
#: ``range_test`` now recalibrates (``bench.bn_validation``); the fix was found on it, so
#: it moved to the fitting set too, and the gratings ResNet (a third residual block,
#: dropout, oriented gratings) was added, its grid checked on one seed before any
#: reading was scored. Then ``BoundsSettings(fine_tuning=True)`` (both bounds a factor 2
#: lower) was fitted on the two fitting fine-tunings (MNIST-1D, transformer), and the
#: gratings fine-tuning added as a new judging task before anything was scored on it.
JUDGING = (
    Judging(
        "char transformer",
        "adamw",
        "loss",
        "stdlib_text",
        "transformer",
        16,
        120,
        2,
        GRID_ADAM,
        0.1,
    ),
    Judging("Friedman-1 MLP", "sgd", "loss", "friedman1", "regression_mlp", 32, 126, 4, GRID_SGD),
    Judging("Friedman-1 MLP", "adam", "loss", "friedman1", "regression_mlp", 32, 126, 4, GRID_ADAM),
    Judging(
        "gratings ResNet",
        "sgd",
        "accuracy",
        "gratings",
        "gratings_resnet",
        32,
        94,
        2,
        GRID_SGD,
        5e-4,
    ),
    Judging(
        "gratings ResNet", "adam", "accuracy", "gratings", "gratings_resnet", 32, 94, 2, GRID_ADAM
    ),
    Judging(
        "GRU fine-tuning", "adamw", "loss", "prose", "finetune_gru", 16, 120, 2, GRID_FINE_TUNE, 0.1
    ),
    Judging(
        "gratings fine-tuning",
        "adamw",
        "accuracy",
        "gratings_shifted",
        "finetune_gratings",
        32,
        38,
        4,
        GRID_FINE_TUNE,
        0.01,
    ),
    Judging(
        "shapes ResNet",
        "sgd",
        "accuracy",
        "shapes",
        "shapes_resnet",
        32,
        94,
        2,
        GRID_SGD,
        5e-4,
        role="fitting",
    ),
    Judging(
        "shapes ResNet",
        "adam",
        "accuracy",
        "shapes",
        "shapes_resnet",
        32,
        94,
        2,
        GRID_ADAM,
        role="fitting",
    ),
    Judging(
        "digits ResNet",
        "sgd",
        "accuracy",
        "digits",
        "resnet",
        32,
        41,
        4,
        GRID_SGD,
        5e-4,
        role="fitting",
    ),
    Judging(
        "digits ResNet",
        "adam",
        "accuracy",
        "digits",
        "resnet",
        32,
        41,
        4,
        GRID_ADAM,
        role="fitting",
    ),
    Judging(
        "MNIST-1D fine-tuning",
        "adamw",
        "accuracy",
        "mnist1d_shifted",
        "finetune_cnn",
        32,
        38,
        4,
        GRID_FINE_TUNE,
        0.01,
        role="fitting",
    ),
    Judging(
        "transformer fine-tuning",
        "adamw",
        "loss",
        "prose",
        "finetune_transformer",
        16,
        120,
        2,
        GRID_FINE_TUNE,
        0.1,
        role="fitting",
    ),
)
#: The tasks moved from judging to fitting after their first, untouched score.
MOVED = tuple(sorted({job.name for job in JUDGING if job.role == "fitting"}))


# ----------------------------------------------------------------------------- data
def _three_way(x: np.ndarray, y: np.ndarray, val: int, test: int, seed: int) -> Split:
    """Shuffle once (fixed ``seed``), then cut ``val`` and ``test`` examples off the end."""
    order = np.random.default_rng(seed).permutation(len(x))
    xs, ys = torch.from_numpy(x[order]), torch.from_numpy(y[order])
    a, b = len(xs) - val - test, len(xs) - test
    return Split(xs[:a], ys[:a], xs[a:b], ys[a:b], xs[b:], ys[b:])


def _cut(x: np.ndarray, y: np.ndarray, train: int, val: int) -> Split:
    """Data already in random order: the first ``train`` examples train, the next ``val``
    validate, the rest test."""
    t, b = torch.from_numpy, train + val
    return Split(t(x[:train]), t(y[:train]), t(x[train:b]), t(y[train:b]), t(x[b:]), t(y[b:]))


def stdlib_text(chars: int = TEXT_CHARS) -> str:
    """The first ``chars`` characters of the standard library's top-level ``.py`` files.

    Files are read in sorted order, as UTF-8 (undecodable bytes replaced), so the
    text is the same on every machine with the same Python version.

    Raises:
      RuntimeError: the standard library holds fewer than ``chars`` characters of source.
    """
    folder = Path(sysconfig.get_paths()["stdlib"])
    parts, total = [], 0
    for path in sorted(folder.glob("*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        parts.append(text)
        total += len(text)
        if total >= chars:
            return "".join(parts)[:chars]
    raise RuntimeError(
        f"the standard library at {folder} holds {total} characters of .py source; "
        f"the transformer task needs {chars}"
    )


@functools.cache
def text_split() -> Split:
    """Windows of ``CONTEXT + 1`` characters: the last ``TEXT_HELD_OUT`` chars held out.

    Training windows do not overlap; the held-out characters give 64 validation
    windows (the range test's monitor) and the rest test windows (the score).
    """
    lookup = {c: i for i, c in enumerate(VOCAB)}
    ids = np.array([lookup.get(c, UNKNOWN) for c in stdlib_text()], dtype=np.int64)
    n = CONTEXT + 1

    def windows(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a[: len(a) // n * n].reshape(-1, n))

    train, held = windows(ids[:-TEXT_HELD_OUT]), windows(ids[-TEXT_HELD_OUT:])
    val, test = held[:64], held[64:]
    return Split(train[:, :-1], train[:, 1:], val[:, :-1], val[:, 1:], test[:, :-1], test[:, 1:])


def prose_text() -> str:
    """English prose: the help texts of ``pydoc_data.topics``, sorted by topic, joined.

    The documentation ``help()`` shows, shipped with Python (offline): reference prose
    with a little grammar and code, so the stdlib-trained transformer meets a new text.
    """
    from pydoc_data.topics import topics

    return "\n\n".join(topics[key] for key in sorted(topics))


@functools.cache
def prose_split() -> Split:
    """The prose as windows: the first ``PROSE_CHARS`` characters to fine-tune on.

    The last ``TEXT_HELD_OUT`` characters of the prose (other topics) are held out:
    64 validation windows and the rest test windows, as in :func:`text_split`.

    Raises:
      RuntimeError: the prose is too short to hold both parts.
    """
    text = prose_text()
    if len(text) < PROSE_CHARS + TEXT_HELD_OUT:
        raise RuntimeError(
            f"pydoc_data.topics holds {len(text)} characters of prose; the transformer "
            f"fine-tuning needs {PROSE_CHARS + TEXT_HELD_OUT}"
        )
    lookup = {c: i for i, c in enumerate(VOCAB)}
    ids = np.array([lookup.get(c, UNKNOWN) for c in text], dtype=np.int64)
    n = CONTEXT + 1

    def windows(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a[: len(a) // n * n].reshape(-1, n))

    train, held = windows(ids[:PROSE_CHARS]), windows(ids[-TEXT_HELD_OUT:])
    val, test = held[:64], held[64:]
    return Split(train[:, :-1], train[:, 1:], val[:, :-1], val[:, 1:], test[:, :-1], test[:, 1:])


@functools.cache
def digits_split() -> Split:
    """sklearn's 8x8 digits in [0, 1]: 1297 train, 150 validation, 350 test."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.images / 16.0).astype(np.float32)[:, None]
    return _three_way(x, data.target.astype(np.int64), 150, 350, seed=1)


def _mnist1d_shifted() -> dict[str, np.ndarray]:
    """MNIST-1D made again with another seed, twice the noise and more shear: the new task."""
    from mnist1d.data import get_dataset_args, make_dataset

    from cyclr.app.datasets import _global_rng_untouched

    args = get_dataset_args()
    args.num_samples, args.train_split, args.seed = 2500, 0.4, 7
    args.corr_noise_scale, args.iid_noise_scale, args.shear_scale = 0.35, 0.03, 0.9
    with _global_rng_untouched():
        return make_dataset(args)


@functools.cache
def mnist1d_pretraining() -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST-1D's 4000 training sequences, all ten digits: the pre-training task."""
    from cyclr.app.datasets import load_mnist1d

    x, y, _, _ = load_mnist1d()
    return torch.from_numpy(x[:, None]), torch.from_numpy(y)


@functools.cache
def mnist1d_shifted() -> Split:
    """The shifted MNIST-1D: 600 sequences to fine-tune on, 200 to validate, 1500 to test."""
    data = _mnist1d_shifted()
    x, y = data["x"].astype(np.float32)[:, None], data["y"].astype(np.int64)
    xt, yt = data["x_test"].astype(np.float32)[:, None], data["y_test"].astype(np.int64)
    n = FINE_TUNE_EXAMPLES
    t = torch.from_numpy
    return Split(t(x[:n]), t(y[:n]), t(x[n : n + 200]), t(y[n : n + 200]), t(xt), t(yt))


@functools.cache
def friedman1_split() -> Split:
    """``make_friedman1`` (3000 points, noise 1.0), standardized on the training part."""
    from sklearn.datasets import make_friedman1

    x, y = make_friedman1(n_samples=3000, n_features=10, noise=1.0, random_state=0)
    x, y = x.astype(np.float32), y.astype(np.float32)
    mean_x, std_x = x[:2000].mean(0), x[:2000].std(0)
    mean_y, std_y = y[:2000].mean(), y[:2000].std()
    x, y = (x - mean_x) / std_x, (y - mean_y) / std_y
    return _cut(x, y, 2000, 500)  # already random: 2000 train, 500 validate, 500 test


#: The shapes task's classes, drawn on a 16x16 canvas.
SHAPES = ("disc", "square", "triangle", "cross", "ring", "bar")


def shape_images(n: int, seed: int, size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """``n`` noisy images of :data:`SHAPES`: random centre, size, angle and brightness.

    Each image has one shape (its class), a distracting stroke of another brightness
    and Gaussian noise (sigma 0.25), so that a small network does not reach 100%.

    >>> x, y = shape_images(4, seed=0)
    >>> x.shape, y.shape, x.dtype
    ((4, 1, 16, 16), (4,), dtype('float32'))
    """
    rng = np.random.default_rng(seed)
    grid_y, grid_x = np.mgrid[0:size, 0:size] + 0.5
    labels = rng.integers(0, len(SHAPES), n)
    images = np.empty((n, 1, size, size), dtype=np.float32)
    for i, label in enumerate(labels):
        cx, cy = rng.uniform(0.3 * size, 0.7 * size, 2)
        r, angle = rng.uniform(0.16 * size, 0.3 * size), rng.uniform(0.0, math.pi)
        dx, dy = grid_x - cx, grid_y - cy
        u = dx * math.cos(angle) + dy * math.sin(angle)
        v = -dx * math.sin(angle) + dy * math.cos(angle)
        d2 = u * u + v * v
        masks = {
            "disc": d2 <= r * r,
            "square": (np.abs(u) <= 0.8 * r) & (np.abs(v) <= 0.8 * r),
            "triangle": (v >= -0.6 * r) & (v <= 0.9 * r - 1.8 * np.abs(u)),
            "cross": ((np.abs(u) <= 0.25 * r) & (np.abs(v) <= r))
            | ((np.abs(v) <= 0.25 * r) & (np.abs(u) <= r)),
            "ring": (d2 <= r * r) & (d2 >= (0.55 * r) ** 2),
            "bar": (np.abs(u) <= r) & (np.abs(v) <= 0.3 * r),
        }
        image = masks[SHAPES[label]] * rng.uniform(0.5, 1.0)
        # a stroke through a random point, at a random angle: clutter, not a class
        px, py, phi = *rng.uniform(0, size, 2), rng.uniform(0.0, math.pi)
        stroke = np.abs((grid_x - px) * math.sin(phi) - (grid_y - py) * math.cos(phi)) <= 0.5
        image = np.maximum(image, stroke * rng.uniform(0.2, 0.6))
        images[i, 0] = image + rng.normal(0.0, 0.25, (size, size))
    return images, labels.astype(np.int64)


@functools.cache
def shapes_split() -> Split:
    """4000 shape images: 3000 train, 200 validation, 800 test (made with seed 11)."""
    return _cut(*shape_images(4000, seed=11), 3000, 200)


#: The gratings task's classes: the orientation of the stripes, in degrees.
ORIENTATIONS = (0, 30, 60, 90, 120, 150)


def grating_images(
    n: int, seed: int, size: int = 16, noise: float = 0.6
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` noisy 16x16 gratings; the class is the stripes' orientation (:data:`ORIENTATIONS`).

    Each image: a sinusoidal grating at its class's angle (jittered by up to 10 degrees),
    a random frequency (0.08 to 0.3 cycles per pixel), phase and contrast (0.3 to 1), a
    Gaussian envelope of random width around a random centre, a second grating of
    random angle at half the contrast, and Gaussian noise (sigma ``noise``, 0.6):
    neighbouring angles are confused by a small network.

    >>> x, y = grating_images(4, seed=0)
    >>> x.shape, y.shape, x.dtype
    ((4, 1, 16, 16), (4,), dtype('float32'))
    """
    rng = np.random.default_rng(seed)
    grid_y, grid_x = np.mgrid[0:size, 0:size] + 0.5
    labels = rng.integers(0, len(ORIENTATIONS), n)
    images = np.empty((n, 1, size, size), dtype=np.float32)
    for i, label in enumerate(labels):
        angle = math.radians(ORIENTATIONS[label] + rng.uniform(-10.0, 10.0))
        other = rng.uniform(0.0, math.pi)
        freq, freq2 = rng.uniform(0.08, 0.3, 2)
        contrast = rng.uniform(0.3, 1.0)
        cx, cy = rng.uniform(0.3 * size, 0.7 * size, 2)
        width = rng.uniform(0.25 * size, 0.6 * size)
        envelope = np.exp(-((grid_x - cx) ** 2 + (grid_y - cy) ** 2) / (2 * width * width))

        def wave(theta: float, f: float) -> np.ndarray:
            along = grid_x * math.cos(theta) + grid_y * math.sin(theta)
            return np.sin(2 * math.pi * f * along + rng.uniform(0.0, 2 * math.pi))

        image = contrast * envelope * (wave(angle, freq) + 0.5 * wave(other, freq2))
        images[i, 0] = image + rng.normal(0.0, noise, (size, size))
    return images, labels.astype(np.int64)


@functools.cache
def gratings_split() -> Split:
    """4000 gratings: 3000 train, 200 validation, 800 test (made with seed 13)."""
    return _cut(*grating_images(4000, seed=13), 3000, 200)


@functools.cache
def gratings_shifted() -> Split:
    """The gratings in half as much noise again (sigma 0.9), the fine-tuning's new data:
    600 train, 200 validation, 2000 test (seed 19; the pre-trained network scores about
    61% on it)."""
    images = grating_images(2800, seed=19, noise=0.9)
    return _cut(*images, FINE_TUNE_EXAMPLES, 200)


DATASETS: dict[str, Callable[[], Split]] = {
    "shapes": shapes_split,
    "gratings": gratings_split,
    "stdlib_text": text_split,
    "digits": digits_split,
    "mnist1d_shifted": mnist1d_shifted,
    "friedman1": friedman1_split,
    "prose": prose_split,
    "gratings_shifted": gratings_shifted,
}


# ----------------------------------------------------------------------------- models
class CharTransformer(nn.Module):
    """A decoder-only transformer over characters: pre-norm layers, a causal mask.

    >>> CharTransformer(10, 8)(torch.zeros(2, 8, dtype=torch.long)).shape
    torch.Size([2, 8, 10])
    """

    def __init__(self, vocab: int, context: int, width: int = 48, heads: int = 4, layers: int = 2):
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.position = nn.Parameter(0.02 * torch.randn(context, width))
        layer = nn.TransformerEncoderLayer(
            width, heads, 4 * width, dropout=0.0, batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab)
        self.mask: torch.Tensor
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(context))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        n = ids.shape[1]
        h = self.embed(ids) + self.position[:n]
        h = self.blocks(h, mask=self.mask[:n, :n], is_causal=True)
        return self.head(self.norm(h))


class CharGRU(nn.Module):
    """A character-level GRU language model: embedding, one GRU layer, a linear head.

    >>> CharGRU(10)(torch.zeros(2, 8, dtype=torch.long)).shape
    torch.Size([2, 8, 10])
    """

    def __init__(self, vocab: int, width: int = 48, hidden: int = 128):
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.gru = nn.GRU(width, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(self.embed(ids))
        return self.head(out)


class Residual(nn.Module):
    """Two 3x3 convolutions with BatchNorm, added to the input (a 1x1 projection if needed)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.skip = (
            nn.Identity()
            if stride == 1 and c_in == c_out
            else nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x) + self.skip(x))


def resnet(classes: int = 10) -> nn.Module:
    """Stem (16 channels), a residual block at 8x8, one at 4x4 (32), global pooling, linear.

    >>> resnet()(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 10])
    """
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, 1, 1, bias=False),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        Residual(16, 16),
        Residual(16, 32, stride=2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, classes),
    )


def wide_resnet(classes: int) -> nn.Module:
    """Stem (16 channels), a residual block at 16x16, two at 8x8 (32), dropout 0.2, linear.

    >>> wide_resnet(6)(torch.zeros(2, 1, 16, 16)).shape
    torch.Size([2, 6])
    """
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, 1, 1, bias=False),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        Residual(16, 16),
        Residual(16, 32, stride=2),
        Residual(32, 32),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(0.2),
        nn.Linear(32, classes),
    )


def fine_tune_cnn(classes: int = 10) -> nn.Module:
    """A 1-D CNN for MNIST-1D's length-40 sequences (three convolutions, GELU, linear head).

    >>> fine_tune_cnn()(torch.zeros(2, 1, 40)).shape
    torch.Size([2, 10])
    """
    return nn.Sequential(
        nn.Conv1d(1, 32, 5, padding=2),
        nn.GELU(),
        nn.Conv1d(32, 32, 3, stride=2, padding=1),
        nn.GELU(),
        nn.Conv1d(32, 32, 3, stride=2, padding=1),
        nn.GELU(),
        nn.Flatten(),
        nn.Linear(32 * 10, 64),
        nn.GELU(),
        nn.Linear(64, classes),
    )


def _batches(
    x: torch.Tensor, y: torch.Tensor, size: int, seed: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(20_000 + seed)
    for idx in torch.randperm(len(x), generator=generator).split(size):
        yield x[idx], y[idx]


@functools.cache
def pretrained(seed: int) -> dict[str, torch.Tensor]:
    """The fine-tuning task's starting weights for ``seed``: pre-trained on MNIST-1D.

    AdamW at a constant ``PRETRAIN_LR`` for ``PRETRAIN_EPOCHS`` epochs (batch 64), once
    per seed per process, kept in memory.
    """
    x, y = mnist1d_pretraining()
    torch.manual_seed(seed)
    model = fine_tune_cnn()
    opt = torch.optim.AdamW(model.parameters(), lr=PRETRAIN_LR, weight_decay=0.01)
    return _pretrain(model, opt, x, y, 64, PRETRAIN_EPOCHS, seed)


def _pretrain(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    epochs: int,
    seed: int,
) -> dict[str, torch.Tensor]:
    """Train ``model`` on ``(x, y)`` at the optimizer's constant rate; its weights, detached.

    Cross-entropy over the outputs' last axis (a sequence model's every position), for
    ``epochs`` epochs of ``batch_size``, each epoch's order drawn from ``seed``.
    """
    model.train()
    for epoch in range(epochs):
        for xb, yb in _batches(x, y, batch_size, 1000 * seed + epoch):
            outputs = model(xb)
            loss = F.cross_entropy(outputs.reshape(-1, outputs.shape[-1]), yb.reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _pretrain_on_text(model: nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """Train ``model`` on the stdlib text; its weights, detached.

    AdamW (weight decay 0.1 on the matrices) at a constant ``PRETRAIN_TEXT_LR`` for
    ``PRETRAIN_TEXT_EPOCHS`` epochs of the char transformer's training windows (batch 32),
    the batch order drawn from ``seed``.
    """
    data = text_split()
    matrices = [p for p in model.parameters() if p.dim() >= 2]
    others = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": matrices, "weight_decay": 0.1}, {"params": others, "weight_decay": 0.0}],
        lr=PRETRAIN_TEXT_LR,
    )
    return _pretrain(model, opt, data.x, data.y, 32, PRETRAIN_TEXT_EPOCHS, seed)


@functools.cache
def pretrained_transformer(seed: int) -> dict[str, torch.Tensor]:
    """The transformer fine-tuning's starting weights for ``seed``: trained on the stdlib
    (:func:`_pretrain_on_text`), once per seed per process, kept in memory."""
    return _pretrain_on_text(_transformer(seed, text_split()), seed)


@functools.cache
def pretrained_gru(seed: int) -> dict[str, torch.Tensor]:
    """The GRU fine-tuning's starting weights for ``seed``, as :func:`pretrained_transformer`."""
    torch.manual_seed(seed)
    return _pretrain_on_text(CharGRU(UNKNOWN + 1), seed)


@functools.cache
def pretrained_gratings(seed: int) -> dict[str, torch.Tensor]:
    """The gratings fine-tuning's starting weights for ``seed``: the gratings ResNet
    trained on the gratings' training split (AdamW at ``PRETRAIN_LR``, weight decay 0.01,
    ``PRETRAIN_GRATINGS_EPOCHS`` epochs, batch 32), once per seed per process."""
    data = gratings_split()
    model = _gratings_resnet(seed, data)
    opt = torch.optim.AdamW(model.parameters(), lr=PRETRAIN_LR, weight_decay=0.01)
    return _pretrain(model, opt, data.x, data.y, 32, PRETRAIN_GRATINGS_EPOCHS, seed)


def _fine_tune_gratings(seed: int, data: Split) -> nn.Module:
    model = wide_resnet(classes=len(ORIENTATIONS))
    model.load_state_dict(pretrained_gratings(seed))
    return model


def _fine_tune_gru(seed: int, data: Split) -> nn.Module:
    model = CharGRU(UNKNOWN + 1)
    model.load_state_dict(pretrained_gru(seed))
    return model


def _shapes_resnet(seed: int, data: Split) -> nn.Module:
    torch.manual_seed(seed)
    return resnet(classes=len(SHAPES))


def _gratings_resnet(seed: int, data: Split) -> nn.Module:
    torch.manual_seed(seed)
    return wide_resnet(classes=len(ORIENTATIONS))


def _transformer(seed: int, data: Split) -> nn.Module:
    torch.manual_seed(seed)
    return CharTransformer(UNKNOWN + 1, CONTEXT)


def _resnet(seed: int, data: Split) -> nn.Module:
    torch.manual_seed(seed)
    return resnet()


def _fine_tune(seed: int, data: Split) -> nn.Module:
    model = fine_tune_cnn()
    model.load_state_dict(pretrained(seed))
    return model


def _fine_tune_transformer(seed: int, data: Split) -> nn.Module:
    model = CharTransformer(UNKNOWN + 1, CONTEXT)
    model.load_state_dict(pretrained_transformer(seed))
    return model


def _regression_mlp(seed: int, data: Split) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1)
    )


MODELS: dict[str, Callable[[int, Split], nn.Module]] = {
    "transformer": _transformer,
    "resnet": _resnet,
    "finetune_cnn": _fine_tune,
    "finetune_transformer": _fine_tune_transformer,
    "regression_mlp": _regression_mlp,
    "shapes_resnet": _shapes_resnet,
    "gratings_resnet": _gratings_resnet,
    "finetune_gru": _fine_tune_gru,
    "finetune_gratings": _fine_tune_gratings,
}
