"""PyTorch models for the example tasks; each returns logits (use ``CrossEntropyLoss``).

Inputs are channels-last as ``cyclr.app.datasets`` returns them: images
``(N, H, W)`` or ``(N, H, W, C)``, sequences ``(N, L)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class SeedCNN(nn.Module):
    """The seed's CNN: Conv 32 3x3, max-pool, Conv 64 3x3, max-pool, Dense 256, Dense 128, out.

    Images smaller than 28 pixels (the 8x8 digits) get ``'same'`` padding so
    both poolings still leave a feature map (8 -> 4 -> 2); larger ones use
    valid convolutions as the seed does (28 -> 26 -> 13 -> 11 -> 5).

    Args:
      input_shape: ``(H, W)`` or ``(H, W, C)``, channels last.
      num_classes: the number of logits.

    >>> SeedCNN((8, 8))(torch.zeros(2, 8, 8)).shape
    torch.Size([2, 10])
    """

    def __init__(self, input_shape=(28, 28), num_classes=10):
        super().__init__()
        h, w, c = (*input_shape, 1) if len(input_shape) == 2 else tuple(input_shape)
        padding = "same" if min(h, w) < 28 else "valid"
        self.features = nn.Sequential(
            nn.Conv2d(c, 32, 3, padding=padding),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=padding),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        with torch.no_grad():
            width = self.features(torch.zeros(1, c, h, w)).shape[1]
        self.head = nn.Sequential(
            nn.Linear(width, 256),
            nn.ReLU(),
            nn.Linear(256, 128),
            nn.ReLU(),
            nn.Linear(128, num_classes),
        )
        self.channels = c

    def forward(self, x):
        x = x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2)
        return self.head(self.features(x))


class ConvNet1D(nn.Module):
    """The MNIST-1D paper's CNN.

    Three 1-D convolutions of 25 channels (kernels 5, 3, 3, stride 2, padding 1, ReLU),
    then a linear layer to the classes.

    Args:
      length: the sequence length (40 for MNIST-1D).
      num_classes: the number of logits.
      channels: channels of each convolution.

    >>> ConvNet1D(40)(torch.zeros(2, 40)).shape
    torch.Size([2, 10])
    """

    def __init__(self, length=40, num_classes=10, channels=25):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(1, channels, 5, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv1d(channels, channels, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv1d(channels, channels, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            width = self.features(torch.zeros(1, 1, length)).shape[1]
        self.head = nn.Linear(width, num_classes)

    def forward(self, x):
        return self.head(self.features(x.unsqueeze(1)))


class MLP(nn.Module):
    """A multilayer perceptron on the flattened input, ReLU between layers (default 100-100).

    >>> MLP(40)(torch.zeros(2, 40)).shape
    torch.Size([2, 10])
    """

    def __init__(self, in_features, num_classes=10, hidden=(100, 100)):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


def build(name: str, input_shape, num_classes=10) -> nn.Module:
    """A model by name (``'seed_cnn'``, ``'cnn1d'``, ``'mlp'``) for inputs of ``input_shape``.

    ``input_shape`` excludes the batch axis, e.g. ``(8, 8)`` or ``(40,)``.

    Raises:
      ValueError: an unknown name, or a shape the model cannot take.

    >>> type(build("mlp", (40,))).__name__
    'MLP'
    """
    shape = tuple(int(d) for d in input_shape)
    if name == "seed_cnn":
        if len(shape) not in (2, 3):
            raise ValueError(
                f"seed_cnn needs images (H, W) or (H, W, C); received input_shape={shape!r}"
            )
        return SeedCNN(shape, num_classes)
    if name == "cnn1d":
        if len(shape) != 1:
            raise ValueError(f"cnn1d needs sequences (L,); received input_shape={shape!r}")
        return ConvNet1D(shape[0], num_classes)
    if name == "mlp":
        return MLP(math.prod(shape), num_classes)
    raise ValueError(f"model must be one of ('seed_cnn', 'cnn1d', 'mlp'); received model={name!r}")
