"""The models of the judging tasks (``bench.judging``) and their pre-training.

Holds the char transformer and GRU, the vision transformer, the LSTM classifier, the
residual networks, the fine-tuning CNN, the pre-training of the fine-tuning tasks (once
per seed, cached in memory), the builders that give each seed its starting weights, and
:data:`MODELS`, the registry a :class:`bench.judging.Judging` names its model by.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator

import torch
from torch import nn
from torch.nn import functional as F

from bench.judging_data import (
    CONTEXT,
    ORIENTATIONS,
    SHAPES,
    UNKNOWN,
    Split,
    gratings_split,
    mnist1d_pretraining,
    text_split,
)

PRETRAIN_LR = 3e-3
PRETRAIN_EPOCHS = 10
#: The transformer fine-tuning's pre-training on the stdlib text (AdamW, constant rate,
#: batch 32).
PRETRAIN_TEXT_LR = 3e-3
PRETRAIN_TEXT_EPOCHS = 2
#: The gratings fine-tuning's pre-training: epochs of the gratings' training split.
PRETRAIN_GRATINGS_EPOCHS = 4


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


class PatchViT(nn.Module):
    """A vision transformer: square patches embedded, a class token, learned positions,
    pre-norm layers (GELU), the class token's final state into a linear head.

    >>> PatchViT(10, size=8, patch=2)(torch.zeros(3, 1, 8, 8)).shape
    torch.Size([3, 10])
    """

    def __init__(
        self, classes: int, size: int, patch: int, width: int = 64, heads: int = 4, layers: int = 2
    ):
        super().__init__()
        self.embed = nn.Conv2d(1, width, patch, stride=patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, width))
        self.position = nn.Parameter(0.02 * torch.randn((size // patch) ** 2 + 1, width))
        layer = nn.TransformerEncoderLayer(
            width,
            heads,
            2 * width,
            dropout=0.0,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        tokens = self.embed(images).flatten(2).transpose(1, 2)
        tokens = torch.cat([self.cls.expand(len(tokens), -1, -1), tokens], 1) + self.position
        return self.head(self.norm(self.blocks(tokens))[:, 0])


class SequenceLSTM(nn.Module):
    """An LSTM classifier over a sequence read ``chunk`` samples a step: its last hidden
    state into a linear head.

    >>> SequenceLSTM(10)(torch.zeros(3, 1, 40)).shape
    torch.Size([3, 10])
    """

    def __init__(self, classes: int, chunk: int = 4, hidden: int = 128):
        super().__init__()
        self.chunk = chunk
        self.lstm = nn.LSTM(chunk, hidden, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x.reshape(len(x), -1, self.chunk))
        return self.head(out[:, -1])


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


def _vit(seed: int, data: Split) -> nn.Module:
    """A :class:`PatchViT` over 2x2 patches of an 8x8 image (16 tokens and the class's)."""
    torch.manual_seed(seed)
    return PatchViT(int(data.y.max()) + 1, size=data.x.shape[-1], patch=2)


def _lstm(seed: int, data: Split) -> nn.Module:
    torch.manual_seed(seed)
    return SequenceLSTM(int(data.y.max()) + 1)


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
    "vit": _vit,
    "lstm": _lstm,
}
#: The models of :data:`MODELS` with BatchNorm layers (the residual networks).
BATCHNORM_MODELS = frozenset({"resnet", "shapes_resnet", "gratings_resnet", "finetune_gratings"})
