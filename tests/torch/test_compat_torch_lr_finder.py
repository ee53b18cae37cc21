"""torch-lr-finder's documented usage, mapped to cyclr.torch.range_test.

torch-lr-finder's README::

    optimizer = optim.Adam(model.parameters(), lr=1e-7, weight_decay=1e-2)
    lr_finder = LRFinder(model, optimizer, criterion, device="cuda")
    lr_finder.range_test(trainloader, end_lr=100, num_iter=100)
    lr_finder.plot()
    lr_finder.reset()

and "Leslie Smith's approach"::

    optimizer = optim.Adam(model.parameters(), lr=0.1, weight_decay=1e-2)
    lr_finder.range_test(trainloader, val_loader=val_loader, end_lr=1, num_iter=100,
                         step_mode="linear")

In cyclr the same is one call, ``range_test(model, optimizer, criterion, trainloader,
settings=RangeTestSettings(start_lr=None, end_lr=..., num_steps=..., step_mode=...))``:
``start_lr=None`` is the finder's default (the optimizer's own lr), ``num_iter`` is
``num_steps``, and there is no ``reset()`` to forget: the model and the optimizer are restored
when the call returns.
"""

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch.utils.data import DataLoader, TensorDataset

from cyclr import RangeTestSettings
from cyclr.torch import range_test


def data(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long()
    return DataLoader(
        TensorDataset(x, y),
        batch_size=32,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )


def model_and_adam(lr):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    return model, torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-2)


def assert_restored(model, optimizer, model_before, optimizer_before):
    for name, value in model.state_dict().items():
        assert torch.equal(value, model_before[name]), name
    assert optimizer.state_dict() == optimizer_before


def test_readme_usage_start_lr_is_the_optimizers_own_lr():
    model, optimizer = model_and_adam(lr=1e-7)
    model_before = copy.deepcopy(model.state_dict())
    optimizer_before = copy.deepcopy(optimizer.state_dict())
    # lr_finder.range_test(trainloader, end_lr=100, num_iter=100)
    result = range_test(
        model,
        optimizer,
        torch.nn.CrossEntropyLoss(),
        data(),
        settings=RangeTestSettings(start_lr=None, end_lr=100, num_steps=100),
    )
    ladder = 1e-7 * (100 / 1e-7) ** (np.arange(len(result.lrs)) / 99)
    np.testing.assert_allclose(result.lrs, ladder, rtol=1e-12)
    assert result.lrs[0] == 1e-7 and len(result.lrs) > 50
    # no lr_finder.reset(): nothing was left changed
    assert_restored(model, optimizer, model_before, optimizer_before)


def test_leslie_smiths_approach_linear_ladder_with_validation():
    model, optimizer = model_and_adam(lr=0.1)
    model_before = copy.deepcopy(model.state_dict())
    optimizer_before = copy.deepcopy(optimizer.state_dict())
    # lr_finder.range_test(trainloader, val_loader=val_loader, end_lr=1, num_iter=100,
    #                      step_mode="linear")
    result = range_test(
        model,
        optimizer,
        torch.nn.CrossEntropyLoss(),
        data(),
        settings=RangeTestSettings(start_lr=None, end_lr=1, num_steps=100, step_mode="linear"),
        val_loader=data(n=64, seed=1),
    )
    n = len(result.lrs)
    np.testing.assert_allclose(result.lrs, 0.1 + 0.9 * np.arange(n) / 99, rtol=1e-12)
    assert result.settings.monitor == "val_loss" and np.isfinite(result.val_losses[0])
    assert_restored(model, optimizer, model_before, optimizer_before)
