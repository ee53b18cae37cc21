"""cyclr.lightning.RangeTestCallback in a Trainer on a CUDA device, float16 with the
Trainer's own gradient scaler and BatchNorm validated: skipped without a GPU (CI has none)."""

import copy

import pytest

pytest.importorskip("lightning")
import lightning.pytorch as pl
import torch
from lightning_setup import LADDER, Validated, same, state_copy, trainer

from cyclr.lightning import RangeTestCallback

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


class Snapshots(pl.Callback):
    """What the range test may change, before it (first in the list) and after it (last)."""

    def __init__(self):
        self.seen = []

    def on_fit_start(self, trainer, pl_module):
        scaler = trainer.precision_plugin.scaler
        self.seen.append(
            {
                "state": state_copy(pl_module, trainer.optimizers[0]),
                "cuda_rng": torch.cuda.get_rng_state(),
                "scaler": copy.deepcopy(scaler.state_dict()),
                "device": next(pl_module.parameters()).device.type,
            }
        )


def test_range_test_under_16_mixed_on_the_gpu_restores_everything():
    before, after = Snapshots(), Snapshots()
    callback = RangeTestCallback(LADDER, reconfigure=False, verbose=False)
    module = Validated()
    trainer(
        accelerator="gpu", precision="16-mixed", max_steps=1, callbacks=[before, callback, after]
    ).fit(module)
    (old,), (new,) = before.seen, after.seen
    assert old["device"] == "cuda"
    assert same(old["state"], new["state"]) and torch.equal(old["cuda_rng"], new["cuda_rng"])
    assert old["scaler"] == new["scaler"]
    result = callback.result
    assert result.settings.monitor == "val_loss" and len(result.lrs) >= 10
    base_lr, max_lr = callback.bounds
    assert 0 < base_lr < max_lr
