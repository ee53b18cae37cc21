"""cyclr.hf.range_test in a transformers.Trainer on a CUDA device with fp16 (the
Accelerator's autocast and loss scaler): skipped without a GPU (CI has none)."""

import copy

import pytest

pytest.importorskip("transformers")
import torch
from hf_setup import trainer
from test_hf import LADDER, same

import cyclr.hf

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def test_fp16_on_the_gpu_restores_model_optimizer_scaler_and_rng(tmp_path):
    t = trainer(tmp_path, use_cpu=False, fp16=True, gradient_accumulation_steps=2)
    t.create_optimizer()
    model = t.model
    assert next(model.parameters()).device.type == "cuda"
    batch = {k: v.cuda() for k, v in next(iter(t.get_train_dataloader())).items()}
    model(**batch).loss.backward()
    t.optimizer.step()
    model_state = copy.deepcopy(model.state_dict())
    optimizer_state = copy.deepcopy(t.optimizer.state_dict())
    scaler = t.accelerator.scaler
    assert scaler is not None  # fp16: the Accelerator scales the loss
    scaler_state = copy.deepcopy(scaler.state_dict())
    cuda_rng = torch.cuda.get_rng_state()

    result = cyclr.hf.range_test(t, settings=LADDER)

    assert len(result.lrs) >= 10
    assert same(model.state_dict(), model_state)
    assert same(t.optimizer.state_dict(), optimizer_state)
    assert scaler.state_dict() == scaler_state
    assert torch.equal(torch.cuda.get_rng_state(), cuda_rng)
    base_lr, max_lr = result.bounds()
    assert 0 < base_lr < max_lr
