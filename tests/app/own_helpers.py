"""Tiny user data for the own-model/own-data tests: an image folder and CSVs on disk."""

from pathlib import Path

import numpy as np


def digits_folder(
    root: Path, classes=(0, 1, 2), per_class: int = 40, rgb: bool = False, size: int = 8
) -> Path:
    """scikit-learn's 8x8 digits as PNG files, one subfolder per class (``digit_3/17.png``).

    ``size``: the images are scaled up to ``size`` x ``size`` pixels (28: MNIST's size).
    """
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    for label in classes:
        folder = root / f"digit_{label}"
        folder.mkdir(parents=True, exist_ok=True)
        images = digits.images[digits.target == label][:per_class]
        for i, image in enumerate(images):
            pixels = (image * 255 / 16).astype(np.uint8)
            picture = Image.fromarray(pixels)
            if size != 8:
                picture = picture.resize((size, size))
            (picture.convert("RGB") if rgb else picture).save(folder / f"{i}.png")
    return root


def colour_folder(root: Path, classes: int = 2, per_class: int = 10, size: int = 8) -> Path:
    """RGB PNGs whose three channels differ (random colours), one subfolder per class."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for label in range(classes):
        folder = root / f"class_{label}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"{i}.png")  # uint8 (H, W, 3): RGB
    return root


def write_csv(path: Path, header, rows) -> Path:
    lines = [",".join(header)] + [",".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def blobs_csv(path: Path, n: int = 240, label: str = "species") -> Path:
    """Two numeric features and a named class in a third column (two separable blobs)."""
    rng = np.random.default_rng(0)
    names = ("setosa", "virginica", "versicolor")
    rows = []
    for i in range(n):
        k = i % 3
        x = rng.normal(loc=2.0 * k, scale=0.5, size=2)
        rows.append((f"{x[0]:.4f}", names[k], f"{x[1]:.4f}"))
    return write_csv(path, ("f1", label, "f2"), rows)


TORCH_FACTORY = """
import torch
from torch import nn


def make(input_shape, num_classes):
    size = 1
    for d in input_shape:
        size *= d
    return nn.Sequential(nn.Flatten(), nn.Linear(size, 32), nn.ReLU(), nn.Linear(32, num_classes))


def fixed_size(input_shape, num_classes):
    return nn.Sequential(nn.Flatten(), nn.Linear(5, num_classes))


def not_a_module(input_shape, num_classes):
    return "a string"
"""
