"""The data of the judging tasks (``bench.judging``): every split, made or read offline.

Holds :class:`Split` (a task's train, validation and test tensors), the stdlib text and
the English prose the char models read, sklearn's digits, the shifted MNIST-1D, its
pre-training set and a fresh MNIST-1D, Friedman-1, the drawn shapes and gratings, and
:data:`DATASETS`, the registry a :class:`bench.judging.Judging` names its data by.
"""

from __future__ import annotations

import functools
import math
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

#: Characters of the standard library the transformer reads, and how many are held out.
TEXT_CHARS = 400_000
TEXT_HELD_OUT = 20_000
CONTEXT = 32
#: The vocabulary: newline and printable ASCII; everything else maps to one extra id.
VOCAB = ["\n", *map(chr, range(32, 127))]
UNKNOWN = len(VOCAB)
#: Examples of a fine-tuning task's training split.
FINE_TUNE_EXAMPLES = 600
#: Characters of English prose the transformer fine-tuning trains on (and holds out).
PROSE_CHARS = 8_000


@dataclass(frozen=True)
class Split:
    """``(inputs, targets)`` tensors of one task, three ways."""

    x: torch.Tensor
    y: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


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
def mnist1d_fresh() -> Split:
    """MNIST-1D made again with seed 23 (the package's other defaults: 5000 sequences, its
    noise and shear), a set no fitting task trained on: 3800 train, 200 validation, 1000
    test."""
    from mnist1d.data import get_dataset_args, make_dataset

    from cyclr.app.datasets import _global_rng_untouched

    args = get_dataset_args()
    args.seed = 23
    with _global_rng_untouched():
        data = make_dataset(args)
    x, y = data["x"].astype(np.float32)[:, None], data["y"].astype(np.int64)
    xt, yt = data["x_test"].astype(np.float32)[:, None], data["y_test"].astype(np.int64)
    t, n = torch.from_numpy, len(x) - 200
    return Split(t(x[:n]), t(y[:n]), t(x[n:]), t(y[n:]), t(xt), t(yt))


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
    "mnist1d_fresh": mnist1d_fresh,
    "friedman1": friedman1_split,
    "prose": prose_split,
    "gratings_shifted": gratings_shifted,
}
