"""The range test's snapshot: everything it changes, saved first and put back after."""

from __future__ import annotations

import copy
import os
import random
import tempfile
from typing import Any, Literal

import numpy as np
import torch


class Snapshot:
    """Everything the range test changes, saved on entry and put back on exit (any exit).

    The model's and the optimizer's ``state_dict()`` (in memory, or in a
    temporary file inside ``checkpoint_dir``), the parameters' ``.grad``, each
    module's train/eval mode, the random number generators (torch's global ones,
    every ``torch.Generator`` a loader or its samplers hold, NumPy's and Python's
    global ones: so the batches, augmentations and dropout masks of the training
    that follows are those it would have had without the test) and a
    ``DistributedSampler``'s epoch.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: Any,
        loaders: list[Any],
        checkpoint_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.model, self.optimizer, self.checkpoint_dir = model, optimizer, checkpoint_dir
        self.samplers = [getattr(loader, "sampler", None) for loader in loaders]
        self.generators = _generators(loaders)

    def __enter__(self) -> Snapshot:
        params = list(self.model.parameters())
        grads = [None if p.grad is None else p.grad.detach().clone() for p in params]
        if self.checkpoint_dir is None:
            self.state = {
                "model": {k: v.detach().clone() for k, v in self.model.state_dict().items()},
                "optimizer": copy.deepcopy(self.optimizer.state_dict()),
                "grads": grads,
            }
            self.path = None
        else:
            handle, self.path = tempfile.mkstemp(
                prefix="cyclr-range-test-", suffix=".pt", dir=self.checkpoint_dir
            )
            os.close(handle)
            torch.save(
                {
                    "model": self.model.state_dict(),
                    "optimizer": self.optimizer.state_dict(),
                    "grads": grads,
                },
                self.path,
            )
            del grads
        self.modes = [m.training for m in self.model.modules()]
        self.rng = torch.get_rng_state()
        self.cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
        self.epochs = [getattr(s, "epoch", None) for s in self.samplers]
        self.generator_states = [g.get_state() for g in self.generators]
        self.host_rng = (np.random.get_state(), random.getstate())
        return self

    def __exit__(self, *exc_info: object) -> Literal[False]:
        try:
            # Our own file, written a moment ago: the optimizer's state_dict may hold
            # values a weights-only load refuses (custom optimizers).
            state = self.state if self.path is None else torch.load(self.path, weights_only=False)
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            with torch.no_grad():
                for p, g in zip(self.model.parameters(), state["grads"], strict=False):
                    p.grad = None if g is None else g.to(p.device)
            for m, mode in zip(self.model.modules(), self.modes, strict=False):
                m.training = mode
            torch.set_rng_state(self.rng)
            if self.cuda_rng is not None:
                torch.cuda.set_rng_state_all(self.cuda_rng)
            for sampler, epoch in zip(self.samplers, self.epochs, strict=True):
                if sampler is not None and epoch is not None:
                    sampler.epoch = epoch
            for generator, saved in zip(self.generators, self.generator_states, strict=False):
                generator.set_state(saved)
            np.random.set_state(self.host_rng[0])
            random.setstate(self.host_rng[1])
        finally:
            if self.path is not None:
                os.remove(self.path)
        return False  # an exception (KeyboardInterrupt included) goes on up


def _generators(loaders: list[Any]) -> list[torch.Generator]:
    """Every distinct ``torch.Generator`` held by the loaders and their samplers."""
    found: list[torch.Generator] = []
    for loader in loaders:
        sampler = getattr(loader, "sampler", None)
        batch_sampler = getattr(loader, "batch_sampler", None)
        for owner in (
            loader,
            sampler,
            batch_sampler,
            getattr(batch_sampler, "sampler", None),
            getattr(sampler, "sampler", None),
        ):
            g = getattr(owner, "generator", None)
            if isinstance(g, torch.Generator) and all(g is not f for f in found):
                found.append(g)
    return found
