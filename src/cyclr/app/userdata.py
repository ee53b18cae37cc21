"""A user's own data: a folder of images (one subfolder per class) or a CSV of numeric features.

Both are read without a deep-learning framework (images with Pillow, which matplotlib
already needs), checked before anything trains, and split into train and test sets by a
fixed shuffle (:data:`cyclr.app.datasets.SPLIT_SEED`), so the same files always give the
same split. Every error names ``data`` (the file or folder, as :func:`cyclr.app.data.load_data`
takes it), the file in it, and what is wrong.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import NoReturn

import numpy as np

from cyclr.app.datasets import SPLIT_SEED

#: Image files a folder may hold (others, such as ``.DS_Store`` or ``README``, are skipped).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
#: The fraction of a folder or CSV held out as the test set.
TEST_FRACTION = 0.2

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def fail(data: Path | str, message: str) -> NoReturn:
    """Raise the ValueError of user data: ``data='PATH': message``."""
    raise ValueError(f"data={str(data)!r}: {message}")


def _split(x: np.ndarray, y: np.ndarray, path: Path) -> Arrays:
    """A fixed shuffle, then the last :data:`TEST_FRACTION` as the test set."""
    if len(x) < 2:
        fail(path, f"holds {len(x)} sample(s); need at least 2 (train and test)")
    order = np.random.default_rng(SPLIT_SEED).permutation(len(x))
    x, y = x[order], y[order]
    n_test = max(1, round(len(x) * TEST_FRACTION))
    cut = len(x) - n_test
    return x[:cut], y[:cut], x[cut:], y[cut:]


# ----------------------------------------------------------------------------- images
def _parse_size(image_size: tuple[int, int] | None) -> tuple[int, int] | None:
    if image_size is None:
        return None
    height, width = (int(v) for v in image_size)
    if height < 1 or width < 1:
        raise ValueError(
            f"image_size must be two positive integers; received image_size={image_size!r}"
        )
    return height, width


def load_image_folder(data: Path | str, image_size: tuple[int, int] | None = None) -> Arrays:
    """Images in one subfolder per class, as ``keras.utils.image_dataset_from_directory`` reads.

    Classes are the subfolders' names in sorted order (label 0 is the first). Images are
    grayscale ``(H, W)`` when every file is, else RGB ``(H, W, 3)``; pixels become float32
    in ``[0, 1]``. Without ``image_size`` every image must have the same size.

    Args:
      data: the folder.
      image_size: ``(height, width)`` to resize every image to, or None.

    Returns:
      ``(x_train, y_train, x_test, y_test)`` after a fixed shuffle and a 20% test split.

    Raises:
      ValueError: a missing folder, fewer than two classes, an empty class, a file that
        is not a readable image, or sizes that differ (naming the file).
    """
    root = Path(data)
    size = _parse_size(image_size)
    if not root.is_dir():
        fail(root, "no such folder")
    classes = folder_classes(root)
    if len(classes) < 2:
        found = f"found {len(classes)} ({', '.join(classes)})" if classes else "found none"
        fail(
            root,
            f"needs one subfolder per class and at least 2 classes; {found} "
            "(layout: FOLDER/CLASS_NAME/image.png)",
        )
    images: list[np.ndarray] = []
    labels: list[int] = []
    modes: list[bool] = []  # grayscale?
    first: tuple[Path, tuple[int, int]] | None = None
    for label, name in enumerate(classes):
        files = sorted(
            f for f in (root / name).iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
        )
        if not files:
            fail(root, f"class folder {name!r} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        for file in files:
            pixels, gray = _read_image(root, file, size)
            hw = (pixels.shape[0], pixels.shape[1])
            if first is None:
                first = (file, hw)
            elif hw != first[1]:
                fail(
                    root,
                    f"{file.relative_to(root)} is {hw[0]}x{hw[1]} but "
                    f"{first[0].relative_to(root)} is {first[1][0]}x{first[1][1]}; images "
                    "must have one size, or be resized to one (image_size)",
                )
            images.append(pixels)
            labels.append(label)
            modes.append(gray)
    if all(modes):
        x = np.stack(images)
    else:
        x = np.stack([np.repeat(i[..., None], 3, -1) if i.ndim == 2 else i for i in images])
    return _split(x, np.asarray(labels, dtype=np.int64), root)


def _read_image(root: Path, file: Path, size: tuple[int, int] | None) -> tuple[np.ndarray, bool]:
    """A folder's image as float32 pixels in ``[0, 1]``, and whether it is grayscale."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as image:
            image.load()
            gray = image.mode in ("1", "L", "I", "I;16", "F")
            image = image.convert("L" if gray else "RGB")
            if size is not None:
                image = image.resize((size[1], size[0]))
            return np.asarray(image, dtype=np.float32) / 255.0, gray
    except (UnidentifiedImageError, OSError) as exc:
        fail(root, f"{file.relative_to(root)}: not a readable image ({exc})")


def folder_classes(path: Path | str) -> list[str]:
    """The class names of an image folder, in label order."""
    return sorted(p.name for p in Path(path).iterdir() if p.is_dir() and not p.name.startswith("."))


# ----------------------------------------------------------------------------- CSV
def load_csv(data: Path | str, label: str | None, regression: bool = False) -> Arrays:
    """``data``, a CSV with a header row: numeric feature columns and the label column ``label``.

    For classification, labels may be integers or names; they become class indices in
    sorted order. For regression (``regression=True``) the label must be numeric and is
    kept as float32.

    Returns:
      ``(x_train, y_train, x_test, y_test)``, features ``(N, F)`` float32, after a fixed
      shuffle and a 20% test split.

    Raises:
      ValueError: a missing file, no ``label``, an unknown label column, a non-numeric
        or missing feature value (naming the column and the line), fewer than two classes.
    """
    file = Path(data)
    if not file.is_file():
        fail(file, "no such file")
    try:
        with open(file, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        fail(file, f"not a readable CSV file ({exc})")
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        fail(file, "is empty; expected a header row and one row per sample")
    header = [h.strip() for h in rows[0]]
    if label is None:
        fail(
            file,
            f"label must name the label column, one of {', '.join(header)}; received label=None",
        )
    if label not in header:
        fail(file, f"has no column label={label!r}; the columns are {', '.join(header)}")
    if len(header) < 2:
        fail(file, f"has no feature columns besides the label {label!r}")
    features, targets = _columns(file, header, rows[1:], label)
    if not features:
        fail(file, "has a header but no rows")
    x = np.asarray(features, dtype=np.float32)
    if regression:
        try:
            y = np.asarray([float(t) for t in targets], dtype=np.float32)
        except ValueError:
            bad = next(t for t in targets if not _is_number(t))
            fail(file, f"label column {label!r} must be numeric for regression; found {bad!r}")
        return _split(x, y, file)
    names = sorted(set(targets), key=_label_key)
    if len(names) < 2:
        fail(file, f"label column {label!r} holds a single class ({names[0]!r}); need at least 2")
    index = {n: i for i, n in enumerate(names)}
    y = np.asarray([index[t] for t in targets], dtype=np.int64)
    return _split(x, y, file)


def _columns(
    file: Path, header: list[str], rows: list[list[str]], label: str
) -> tuple[list[list[float]], list[str]]:
    """The feature values and the label cells of a CSV's ``rows`` (line 2 on)."""
    at = header.index(label)
    features: list[list[float]] = []
    targets: list[str] = []
    for line, row in enumerate(rows, start=2):
        if len(row) != len(header):
            fail(file, f"line {line} has {len(row)} values; the header has {len(header)}")
        values = []
        for column, cell in zip(header, row, strict=True):
            if column == label:
                continue
            try:
                value = float(cell)
            except ValueError:
                fail(
                    file,
                    f"column {column!r} is not numeric: line {line} holds {cell.strip()!r} "
                    "(features must be numbers; encode or drop the column)",
                )
            if not math.isfinite(value):
                fail(file, f"column {column!r} holds {cell.strip()!r} at line {line}")
            values.append(value)
        features.append(values)
        targets.append(row[at].strip())
    return features, targets


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _label_key(text: str) -> tuple[int, float, str]:
    """Numeric labels in numeric order (2 before 10), names after them alphabetically."""
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0.0, text)
