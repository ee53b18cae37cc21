"""PyTorch's documented CyclicLR/OneCycleLR usage, run against cyclr.torch.CyclicLR.

Each test builds PyTorch's scheduler and cyclr's from the same arguments, as PyTorch's docs
write them, and compares the rates every step (1e-12 relative; docs/semantics.md,
*Cyclical schedules*).
"""

import io

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import cyclr
from cyclr.torch import CyclicLR

lr_scheduler = torch.optim.lr_scheduler


def sgd(groups=1, lr=0.1):
    params = [{"params": [torch.nn.Parameter(torch.zeros(2))]} for _ in range(groups)]
    return torch.optim.SGD(params, lr=lr, momentum=0.9)


def run(opt, sched, steps):
    """Per step, every group's (lr, momentum) as the optimizer holds them."""
    rows = []
    for _ in range(steps):
        rows.append([(float(g["lr"]), float(g["momentum"])) for g in opt.param_groups])
        opt.step()
        sched.step()
    return np.array(rows)


def assert_same_run(theirs, ours, steps):
    np.testing.assert_allclose(run(*ours, steps), run(*theirs, steps), rtol=1e-12, atol=0)


def test_cyclic_lr_docs_example_with_its_defaults():
    # PyTorch's docstring: CyclicLR(optimizer, base_lr=0.01, max_lr=0.1), step_size_up=2000
    theirs, ours = sgd(), sgd()
    assert_same_run(
        (theirs, lr_scheduler.CyclicLR(theirs, base_lr=0.01, max_lr=0.1)),
        (ours, CyclicLR(ours, base_lr=0.01, max_lr=0.1)),
        4100,
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(step_size_up=5, mode="triangular2"),
        dict(step_size_up=5, step_size_down=9, mode="exp_range", gamma=0.97),
        dict(step_size_up=4, base_momentum=0.7, max_momentum=0.95),
    ],
)
def test_cyclic_lr_keyword_forms(kwargs):
    theirs, ours = sgd(), sgd()
    assert_same_run(
        (theirs, lr_scheduler.CyclicLR(theirs, base_lr=0.01, max_lr=0.1, **kwargs)),
        (ours, CyclicLR(ours, base_lr=0.01, max_lr=0.1, **kwargs)),
        60,
    )


def test_zero_dim_tensors_as_bounds_and_momenta_like_pytorch():
    tensors = {
        name: torch.tensor(value, dtype=torch.float64)
        for name, value in dict(
            base_lr=0.01, max_lr=0.1, base_momentum=0.8, max_momentum=0.9
        ).items()
    }
    # Compared with PyTorch given the tensors' values: PyTorch 2.x puts the base_lr tensor
    # itself into the param group and then fills it in place, so its own base_lr drifts.
    floats = {name: t.item() for name, t in tensors.items()}
    theirs, ours = sgd(), sgd()
    assert_same_run(
        (theirs, lr_scheduler.CyclicLR(theirs, step_size_up=6, **floats)),
        (ours, CyclicLR(ours, step_size_up=6, **tensors)),
        30,
    )
    assert tensors["base_lr"].item() == 0.01  # cyclr reads the tensor, never writes it


def test_float32_tensors_and_numpy_scalars_are_read_as_their_exact_values():
    as_floats = CyclicLR(
        sgd(),
        base_lr=float(torch.tensor(0.01)),
        max_lr=0.1,
        step_size_up=4,
        base_momentum=float(np.float32(0.8)),
    )
    for given in [
        dict(base_lr=torch.tensor(0.01), base_momentum=np.float32(0.8)),
        dict(
            base_lr=np.array(float(torch.tensor(0.01))),
            base_momentum=torch.tensor(0.8, dtype=torch.float32),
        ),
    ]:
        sched = CyclicLR(sgd(), max_lr=np.float64(0.1), step_size_up=4, **given)
        assert sched.schedules == as_floats.schedules
        assert type(sched.schedules[0].base_lr) is float


def test_a_tensor_with_more_than_one_value_is_refused_by_name():
    with pytest.raises(ValueError, match="base_lr must be a real number; received base_lr=tensor"):
        CyclicLR(sgd(), base_lr=torch.tensor([0.01, 0.02]), max_lr=0.1)


def test_per_group_lists_also_of_tensors():
    lists = dict(
        base_lr=[0.01, 0.001],
        max_lr=[0.1, 0.02],
        base_momentum=[0.8, 0.85],
        max_momentum=[0.9, 0.95],
        step_size_up=3,
        step_size_down=7,
    )
    theirs, ours = sgd(groups=2), sgd(groups=2)
    with_tensor = dict(lists, max_lr=[0.1, torch.tensor(0.02, dtype=torch.float64)])
    assert_same_run(
        (theirs, lr_scheduler.CyclicLR(theirs, **lists)), (ours, CyclicLR(ours, **with_tensor)), 40
    )
    with pytest.raises(ValueError, match=r"base_lr=\[0.01, 0.02, 0.03\]"):
        CyclicLR(sgd(groups=2), base_lr=[0.01, 0.02, 0.03], max_lr=0.1)


class Decay:
    """A scale_fn that is a callable object, as PyTorch's docs allow (its __dict__ is saved)."""

    def __init__(self, factor):
        self.factor = factor

    def __call__(self, cycle):
        return self.factor ** (cycle - 1)


def test_callable_object_scale_fn_gives_pytorchs_values():
    theirs, ours = sgd(), sgd()
    kwargs = dict(base_lr=0.01, max_lr=0.1, step_size_up=3, scale_fn=Decay(0.5), scale_mode="cycle")
    assert_same_run(
        (theirs, lr_scheduler.CyclicLR(theirs, **kwargs)), (ours, CyclicLR(ours, **kwargs)), 25
    )


def saved(sched):
    buffer = io.BytesIO()
    torch.save(sched.state_dict(), buffer)
    return buffer.getvalue()


def test_callable_object_scale_fn_checkpoint_is_stable_and_loads_into_an_equal_instance():
    def build(fn):
        opt = sgd()
        return opt, CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=3, scale_fn=fn)

    opt, sched = build(Decay(0.5))
    run(opt, sched, 7)
    data = saved(sched)
    # Another run, another instance with the same settings: the same bytes (no address).
    opt2, sched2 = build(Decay(0.5))
    run(opt2, sched2, 7)
    assert saved(sched2) == data
    entry = sched.state_dict()["schedules"][0]["scale_fn"]
    assert entry == {"class": f"{Decay.__module__}.Decay", "state": {"factor": 0.5}}

    state = torch.load(io.BytesIO(data), weights_only=True)
    opt3, fresh = build(Decay(0.5))
    fresh.load_state_dict(state)
    assert fresh.step_count == 7
    assert run(opt3, fresh, 5).tolist() == run(opt2, sched2, 5).tolist()
    with pytest.raises(ValueError, match=r"'state': \{'factor': 0.5\}"):
        build(Decay(0.25))[1].load_state_dict(state)


@pytest.mark.parametrize(
    "max_lr, momenta",
    [
        (0.01, {}),
        (
            torch.tensor(0.01, dtype=torch.float64),
            dict(
                base_momentum=torch.tensor(0.8, dtype=torch.float64),
                max_momentum=torch.tensor(0.9, dtype=torch.float64),
            ),
        ),
    ],
)
def test_one_cycle_lr_docs_example_with_epochs_and_steps_per_epoch(max_lr, momenta):
    # PyTorch's docstring: OneCycleLR(optimizer, max_lr=0.01,
    #                                 steps_per_epoch=len(data_loader), epochs=10)
    loader = torch.utils.data.DataLoader(torch.arange(40.0), batch_size=4)
    theirs, ours = sgd(lr=1e-4), sgd(lr=1e-4)
    expected = lr_scheduler.OneCycleLR(
        theirs, max_lr=max_lr, steps_per_epoch=len(loader), epochs=10, **momenta
    )
    schedule = cyclr.OneCycle(max_lr, steps_per_epoch=len(loader), epochs=10, **momenta)
    assert schedule.total_steps == 100
    assert_same_run((theirs, expected), (ours, CyclicLR(ours, schedule)), 100)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(), "give total_steps, or both epochs and steps_per_epoch; received total_steps=None"),
        (dict(epochs=10), "received total_steps=None, epochs=10, steps_per_epoch=None"),
        (
            dict(total_steps=100, epochs=10, steps_per_epoch=10),
            "not both; received total_steps=100",
        ),
        (dict(epochs=0, steps_per_epoch=10), "epochs must be >= 1; received epochs=0"),
    ],
)
def test_one_cycle_needs_total_steps_or_epochs_and_steps_per_epoch(kwargs, message):
    with pytest.raises(ValueError, match=message):
        cyclr.OneCycle(0.01, **kwargs)
