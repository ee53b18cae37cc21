"""The PyTorch objects an app run is set up with: its device, its optimizer, its batches.

:class:`cyclr.app.torch_runner.TorchRunner` builds its runs from these.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from cyclr.app.usermodel import first_line

#: The values of ``amp`` and the dtype each autocasts to.
AMP_DTYPES: dict[str, torch.dtype] = {"bf16": torch.bfloat16, "fp16": torch.float16}
#: The optimizers a plan may name.
OPTIMIZERS = ("sgd", "adam", "adamw", "schedulefree")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """The PyTorch device of ``device``.

    None: CUDA when PyTorch sees a GPU, else the CPU (as Lightning's and the Hugging Face
    Trainer's defaults pick).

    Raises:
      ValueError: ``device`` names no device type PyTorch knows, or one this PyTorch
        cannot reach (no CUDA device, a CUDA index past the last, no MPS), naming it.
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device must be a PyTorch device such as 'cpu', 'cuda' or 'cuda:1' "
            f"({first_line(exc)}); received device={device!r}"
        ) from None
    if resolved.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(
                f"device={str(device)!r}: this PyTorch ({torch.__version__}) sees no CUDA "
                "device; use device='cpu' or run on a machine with a GPU"
            )
        if resolved.index is not None and resolved.index >= count:
            raise ValueError(
                f"device={str(device)!r}: this machine has {count} CUDA device(s), "
                f"cuda:0 to cuda:{count - 1}"
            )
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device={str(device)!r}: this PyTorch sees no MPS device")
    return resolved


def check_amp(amp: str | None, device: torch.device) -> str | None:
    """``amp`` if ``device`` can run it.

    Raises:
      ValueError: an unknown ``amp``, or ``'fp16'`` (its gradient scaler) off CUDA.
    """
    if amp is not None and amp not in AMP_DTYPES:
        raise ValueError(f"amp must be one of bf16, fp16 or None; received amp={amp!r}")
    if amp == "fp16" and device.type != "cuda":
        raise ValueError(
            f"amp='fp16' needs a CUDA device (its gradient scaler); received amp={amp!r} "
            f"with device={str(device)!r}; use amp='bf16' on the CPU"
        )
    return amp


def make_optimizer(
    name: str,
    params: Iterable[torch.nn.Parameter],
    lr: float,
    momentum: float | None,
    weight_decay: float = 0.0,
    warmup_steps: int = 0,
) -> torch.optim.Optimizer:
    """SGD, Adam, AdamW or schedule-free AdamW (``schedulefree.AdamWScheduleFree``).

    ``momentum``: SGD's momentum, or the Adam family's beta_1 (None: 0.9);
    ``weight_decay``: SGD's/Adam's L2 or AdamW's decoupled decay; ``warmup_steps``:
    schedule-free AdamW's own warm-up (the others warm up through the schedule).

    Raises:
      ValueError: an optimizer not in :data:`OPTIMIZERS`, naming it.
    """
    if name not in OPTIMIZERS:
        raise ValueError(
            f"optimizer must be one of {', '.join(OPTIMIZERS)}; received optimizer={name!r}"
        )
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum or 0.0, weight_decay=weight_decay)
    betas = (0.9 if momentum is None else momentum, 0.999)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=betas, weight_decay=weight_decay)
    if name == "schedulefree":
        import schedulefree  # type: ignore[import-untyped]

        return schedulefree.AdamWScheduleFree(
            params, lr=lr, betas=betas, weight_decay=weight_decay, warmup_steps=warmup_steps
        )
    return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=weight_decay)


def ordered_loader(
    dataset: torch.utils.data.TensorDataset, batch_size: int, seed: int
) -> torch.utils.data.DataLoader:
    """Shuffled batches of ``dataset``, in an order fixed by ``seed``.

    The order is that of ``DataLoader(dataset, batch_size, shuffle=True, generator=...)``;
    each batch is taken from the tensors in one indexing operation rather than stacked
    sample by sample (several times faster for small models).
    """
    generator = torch.Generator().manual_seed(seed)
    # The loader and the sampler share the generator and draw from it in the same
    # order as shuffle=True does, so the batches are the same.
    batches = torch.utils.data.BatchSampler(
        torch.utils.data.RandomSampler(dataset, generator=generator), batch_size, drop_last=False
    )
    return torch.utils.data.DataLoader(
        dataset, sampler=batches, batch_size=None, generator=generator
    )
