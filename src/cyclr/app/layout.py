"""How images meet a user's model: the axes and channels each framework's models take.

The data of a run keeps images channels-last, grayscale ``(N, H, W)`` or ``(N, H, W, C)``
(:mod:`cyclr.app.data`); the built-in models take them so. A user's model gets the layout
of its framework: Keras ``(H, W, C)``, as ``keras.utils.image_dataset_from_directory``
gives (``(H, W, 1)`` for grayscale), PyTorch ``(C, H, W)``, as ``torchvision`` gives. A model
that declares another layout (a saved Keras model's input shape, a PyTorch model's first
``Conv2d``) gets that one: the channel axis added or dropped, or moved first, and grayscale
repeated into RGB, or RGB (or RGBA) made grayscale with ITU-R 601's luma, the weights
Pillow's ``convert("L")`` uses. Only a change of the pixels is said (:func:`conversion_note`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: The channel counts an image may have: grayscale, RGB, RGBA.
IMAGE_CHANNELS = (1, 3, 4)
#: ITU-R 601-2 luma: ``L = 0.299 R + 0.587 G + 0.114 B`` (Pillow's ``convert("L")``).
LUMA = (0.299, 0.587, 0.114)
#: Channel counts each count converts to (an alpha channel is never made up).
_CONVERTS = {1: (3,), 3: (1,), 4: (3, 1)}
_NAMES = {1: "grayscale", 3: "RGB", 4: "RGBA"}


def image_shape(shape: Sequence[int]) -> tuple[int, int, int] | None:
    """``(H, W, C)`` of channels-last image inputs ``shape`` (no batch axis), else None.

    ``(H, W)`` is a grayscale image (``C = 1``); ``(H, W, C)`` one with ``C`` of
    :data:`IMAGE_CHANNELS`. Sequences ``(L,)`` and CSV features ``(F,)`` are not images.

    >>> image_shape((28, 28)), image_shape((32, 32, 3)), image_shape((40,))
    ((28, 28, 1), (32, 32, 3), None)
    """
    dims = tuple(int(d) for d in shape)
    if len(dims) == 2:
        return (*dims, 1)
    if len(dims) == 3 and dims[-1] in IMAGE_CHANNELS:
        return (dims[0], dims[1], dims[2])
    return None


@dataclass(frozen=True)
class Layout:
    """The axes a model takes images in, and their channel count.

    ``axes``: ``'hwc'`` (channels last), ``'chw'`` (channels first) or ``'hw'``
    (grayscale without a channel axis).
    """

    axes: str
    channels: int

    def shape(self, height: int, width: int) -> tuple[int, ...]:
        """The model's input shape, no batch axis."""
        if self.axes == "hw":
            return (height, width)
        if self.axes == "chw":
            return (self.channels, height, width)
        return (height, width, self.channels)


def converts(own: int, channels: int) -> bool:
    """Whether images of ``own`` channels can be made ``channels`` (another count).

    >>> converts(1, 3), converts(3, 1), converts(1, 4), converts(3, 3)
    (True, True, False, False)
    """
    return channels in _CONVERTS.get(own, ())


def framework_layout(framework: str, channels: int) -> Layout:
    """Keras's ``(H, W, C)`` or PyTorch's ``(C, H, W)``, keeping the images' channels."""
    return Layout("chw" if framework == "torch" else "hwc", channels)


def _fits(shape: tuple[int, ...], declared: Sequence[int | None]) -> bool:
    return len(shape) == len(declared) and all(
        d is None or d == s for s, d in zip(shape, declared, strict=True)
    )


def declared_layout(images: tuple[int, int, int], declared: Sequence[int | None]) -> Layout | None:
    """The layout of ``images`` (``(H, W, C)``) a model declaring ``declared`` takes, or None.

    ``declared`` is the model's input shape without the batch axis, None for a free axis.
    The images' own channels come first, channels last before channels first, then a
    conversion (grayscale <-> RGB, RGBA -> RGB or grayscale).

    >>> declared_layout((28, 28, 1), (28, 28, 1))
    Layout(axes='hwc', channels=1)
    >>> declared_layout((28, 28, 1), (None, None, 3))
    Layout(axes='hwc', channels=3)
    >>> declared_layout((8, 8, 3), (8, 8)), declared_layout((8, 8, 1), (6, 6, 1))
    (Layout(axes='hw', channels=1), None)
    """
    height, width, own = images
    for channels in (own, *_CONVERTS.get(own, ())):
        for axes in ("hwc", "hw", "chw"):
            if axes == "hw" and channels != 1:
                continue
            layout = Layout(axes, channels)
            if _fits(layout.shape(height, width), declared):
                return layout
    return None


def convert(x: np.ndarray, layout: Layout) -> np.ndarray:
    """Channels-last images ``x`` (``(N, H, W)`` or ``(N, H, W, C)``) in ``layout``, float32.

    Raises:
      ValueError: a channel count ``layout`` cannot be made from ``x``'s.
    """
    x = x[..., None] if x.ndim == 3 else x
    own = x.shape[-1]
    if layout.channels != own:
        if not converts(own, layout.channels):
            raise ValueError(
                f"images with {own} channels cannot become {layout.channels}; received "
                f"channels={layout.channels!r}"
            )
        if layout.channels == 3 and own == 1:
            x = np.repeat(x, 3, axis=-1)
        elif layout.channels == 3:  # RGBA -> RGB: the alpha channel dropped
            x = x[..., :3]
        else:
            x = (x[..., :3] @ np.asarray(LUMA, dtype=np.float32))[..., None]
    if layout.axes == "hw":
        x = x[..., 0]
    elif layout.axes == "chw":
        x = np.moveaxis(x, -1, 1)
    return np.ascontiguousarray(x, dtype=np.float32)


def in_layout(data: Any, layout: Layout) -> Any:
    """``data`` (a :class:`cyclr.app.data.Data` of images) with its inputs in ``layout``."""
    return dataclasses.replace(
        data,
        x_train=convert(data.x_train, layout),
        x_val=convert(data.x_val, layout),
        x_test=convert(data.x_test, layout),
    )


def conversion_note(own: int, layout: Layout, model: str) -> str | None:
    """The line saying how the pixels changed for ``model`` (``"the model takes ..."``), or None.

    >>> conversion_note(1, Layout("hwc", 3), "the model takes inputs (8, 8, 3)")
    'the images are grayscale (1 channel) and the model takes inputs (8, 8, 3): each image is repeated into R, G and B'
    """  # noqa: E501
    if own == layout.channels:
        return None
    what = f"the images are {_NAMES[own]} ({own} channel{'s' if own > 1 else ''}) and {model}"
    if layout.channels == 3 and own == 1:
        return f"{what}: each image is repeated into R, G and B"
    if layout.channels == 3:
        return f"{what}: the alpha channel of each image is dropped"
    luma = " + ".join(f"{w:g} {c}" for w, c in zip(LUMA, "RGB", strict=True))
    drop = "the alpha channel dropped, " if own == 4 else ""
    return f"{what}: each image is converted to grayscale, {drop}L = {luma}"
