"""The core equals torch's CyclicLR and OneCycleLR, computed live, to 1e-12 relative.

See docs/semantics.md, *Cyclical schedules* and *One cycle*.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cyclr import CyclicSchedule, OneCycle


def torch_rates(make_scheduler, steps, momentum_key=None, optimizer="sgd"):
    param = torch.nn.Parameter(torch.zeros(1))
    if optimizer == "sgd":
        opt = torch.optim.SGD([param], lr=0.1, momentum=0.9)
    else:
        opt = torch.optim.Adam([param], lr=0.1)
    sched = make_scheduler(opt)
    lrs, moms = [], []
    for _ in range(steps):
        group = opt.param_groups[0]
        lrs.append(group["lr"])
        if momentum_key == "momentum":
            moms.append(group["momentum"])
        elif momentum_key == "betas":
            moms.append(group["betas"][0])
        opt.step()
        sched.step()
    return np.array(lrs), np.array(moms)


CYCLIC_CASES = [
    dict(base_lr=1e-4, max_lr=1e-2, step_size_up=50),
    dict(base_lr=1e-4, max_lr=1e-2, step_size_up=50, mode="triangular2"),
    dict(base_lr=1e-4, max_lr=1e-2, step_size_up=50, mode="exp_range", gamma=0.999),
    dict(base_lr=0.01, max_lr=0.3, step_size_up=17, step_size_down=43),
    dict(base_lr=0.01, max_lr=0.3, step_size_up=30, step_size_down=10, mode="triangular2"),
]


@pytest.mark.parametrize("kwargs", CYCLIC_CASES)
def test_cyclic_equals_torch_cyclic_lr(kwargs):
    steps = 7 * (kwargs["step_size_up"] + kwargs.get("step_size_down", kwargs["step_size_up"]))
    expected, _ = torch_rates(
        lambda o: torch.optim.lr_scheduler.CyclicLR(o, cycle_momentum=False, **kwargs), steps
    )
    ours = CyclicSchedule(**kwargs)
    np.testing.assert_allclose(ours(np.arange(steps)), expected, rtol=1e-12, atol=0)
    np.testing.assert_allclose([ours(i) for i in range(steps)], expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
def test_cyclic_momentum_equals_torch(mode):
    kwargs = dict(
        base_lr=0.01,
        max_lr=0.1,
        step_size_up=20,
        step_size_down=30,
        mode=mode,
        gamma=0.995 if mode == "exp_range" else 1.0,
    )
    lrs, moms = torch_rates(
        lambda o: torch.optim.lr_scheduler.CyclicLR(
            o, cycle_momentum=True, base_momentum=0.8, max_momentum=0.9, **kwargs
        ),
        250,
        momentum_key="momentum",
    )
    ours = CyclicSchedule(**kwargs, base_momentum=0.8, max_momentum=0.9)
    np.testing.assert_allclose(ours(np.arange(250)), lrs, rtol=1e-12, atol=0)
    np.testing.assert_allclose(ours.momentum(np.arange(250)), moms, rtol=1e-12, atol=0)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(anneal_strategy="cos"),
        dict(anneal_strategy="linear"),
        dict(anneal_strategy="cos", three_phase=True),
        dict(
            anneal_strategy="linear",
            three_phase=True,
            pct_start=0.25,
            div_factor=10.0,
            final_div_factor=100.0,
        ),
    ],
)
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_onecycle_equals_torch_onecycle_lr(kwargs, optimizer):
    total, kwargs = 500, dict(kwargs)
    key = "momentum" if optimizer == "sgd" else "betas"
    lrs, moms = torch_rates(
        lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.3, total_steps=total, **kwargs),
        total,
        momentum_key=key,
        optimizer=optimizer,
    )
    ours = OneCycle(0.3, total, anneal=kwargs.pop("anneal_strategy"), **kwargs)
    np.testing.assert_allclose(ours(np.arange(total)), lrs, rtol=1e-12, atol=0)
    np.testing.assert_allclose(ours.momentum(np.arange(total)), moms, rtol=1e-12, atol=0)
