"""cyclr.torch.range_test: the losses it records, and that it leaves no trace."""

import math
import os
from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch.utils.data import DataLoader, TensorDataset

from cyclr import RangeTestSettings
from cyclr.rangetest import RangeTestResult
from cyclr.torch import range_test


class Scale(torch.nn.Module):
    """``out = w * x``: with ``criterion = out.mean()`` the loss is ``w * mean(x)`` and the
    gradient is ``mean(x)``, so every number below can be worked out by hand."""

    def __init__(self, w=100.0):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(w))
        self.modes = []

    def forward(self, x):
        self.modes.append(self.training)
        return self.w * x


def mean_loss(out, target):
    return out.mean()


def const_batches(*values):
    return [(torch.full((4,), float(v)), torch.zeros(4)) for v in values]


def test_each_rung_records_its_own_batchs_loss_and_short_loaders_cycle():
    model = Scale()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    # Ladder 1, 2, 4, 8, 16 over batches x = 1, 2, 3, 1, 2 (the loader has three):
    # w: 100 -> 99 -> 95 -> 83 -> 75; loss = w * x.
    result = range_test(
        model, opt, mean_loss, const_batches(1, 2, 3), settings=RangeTestSettings(1.0, 16.0, 5)
    )
    assert result.lrs.tolist() == [1, 2, 4, 8, 16]
    assert result.losses.tolist() == [100, 198, 285, 83, 150]
    assert result.stop_reason == "end_of_ladder"
    assert model.w.item() == 100.0 and opt.param_groups[0]["lr"] == 0.5
    assert result.optimizer == "SGD"  # the class of the optimizer the test ran with


def test_the_result_records_the_optimizers_class_for_the_policies_factor():
    model = Scale()
    opt = torch.optim.AdamW(model.parameters(), lr=0.5)
    result = range_test(
        model, opt, mean_loss, const_batches(1), settings=RangeTestSettings(1, 2, 2)
    )
    assert (result.optimizer, result.batchnorm) == ("AdamW", False)  # no BatchNorm layers
    back = RangeTestResult.from_json(result.to_json())
    assert (back.optimizer, back.batchnorm) == ("AdamW", False)


def normed_mlp(*norm):
    """``Linear -> *norm -> ReLU -> Linear`` on 6 features, two classes."""
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 8), *norm, torch.nn.ReLU(), torch.nn.Linear(8, 2))


@pytest.mark.parametrize(
    "model, batchnorm",
    [
        (lambda: normed_mlp(), False),
        (lambda: normed_mlp(torch.nn.BatchNorm1d(8)), True),
        (lambda: normed_mlp(torch.nn.Sequential(torch.nn.BatchNorm1d(8))), True),  # nested
        (lambda: normed_mlp(torch.nn.LayerNorm(8)), False),
    ],
    ids=["plain", "batchnorm", "nested-batchnorm", "layernorm"],
)
def test_the_result_records_whether_the_model_has_batchnorm_layers(model, batchnorm):
    model = model()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 6, generator=g)
    batches = [(x[i : i + 8], (x[i : i + 8, 0] > 0).long()) for i in range(0, 32, 8)]
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    before = [t.clone() for t in model.state_dict().values()]
    result = range_test(
        model,
        opt,
        torch.nn.functional.cross_entropy,
        batches,
        settings=RangeTestSettings(1e-4, 1.0, 6),
    )
    assert (result.optimizer, result.batchnorm) == ("Adam", batchnorm)
    assert RangeTestResult.from_json(result.to_json()).batchnorm is batchnorm
    assert all(torch.equal(a, b) for a, b in zip(before, model.state_dict().values(), strict=True))


def test_every_kind_of_batchnorm_layer_counts_and_other_norms_do_not():
    from cyclr.torch.rangetest import has_batchnorm

    norms = [
        torch.nn.BatchNorm1d(8),
        torch.nn.BatchNorm2d(8),
        torch.nn.BatchNorm3d(8),
        torch.nn.SyncBatchNorm(8),
        torch.nn.LazyBatchNorm1d(),
    ]
    for norm in norms:
        assert has_batchnorm(torch.nn.Sequential(torch.nn.Linear(8, 8), norm)), norm
    others = [torch.nn.LayerNorm(8), torch.nn.GroupNorm(2, 8), torch.nn.InstanceNorm1d(8)]
    for norm in others:
        assert not has_batchnorm(torch.nn.Sequential(torch.nn.Linear(8, 8), norm)), norm
    assert not has_batchnorm(Scale())
    # a wrapper holding the model as ``.module`` (DDP's, FSDP's shape) and a compiled model
    wrapper = torch.nn.Module()
    wrapper.module = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.BatchNorm1d(8))
    assert has_batchnorm(wrapper)
    assert has_batchnorm(torch.compile(wrapper.module))
    assert not has_batchnorm(torch.compile(torch.nn.Linear(8, 8)))


def test_accumulation_averages_the_batches_of_a_rung_and_updates_once():
    model = Scale()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    # Rung 0: x = 1, 2 -> loss (100 + 200) / 2, gradient 1.5, w = 100 - 1 * 1.5 = 98.5.
    # Rung 1: x = 3, 4 -> 98.5 * 3.5 = 344.75, w = 98.5 - 2 * 3.5 = 91.5.  Rung 2: 91.5 * 5.5.
    result = range_test(
        model,
        opt,
        mean_loss,
        const_batches(1, 2, 3, 4, 5, 6),
        settings=RangeTestSettings(1.0, 4.0, 3),
        accumulation_steps=2,
    )
    assert result.losses.tolist() == [150.0, 344.75, 503.25]


def test_validation_loss_every_second_rung_in_eval_mode():
    model = Scale()
    model.eval()  # put back afterwards
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    # Validated after the rung's update: w = 99, 93, 69 at rungs 0, 2, 4 (x = 10).
    result = range_test(
        model,
        opt,
        mean_loss,
        const_batches(1),
        settings=RangeTestSettings(1.0, 16.0, 5),  # val_every=2, the default
        val_loader=const_batches(10),
    )
    assert result.losses.tolist() == [100, 99, 97, 93, 85]
    np.testing.assert_array_equal(result.val_losses, [990, np.nan, 930, np.nan, 690])
    assert result.settings.monitor == "val_loss"
    # train, eval (validation), train, train, eval, ...: the test trains in train mode.
    assert model.modes == [True, False, True, True, False, True, True, False]
    assert not model.training


class TwoInputs(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Parameter(torch.tensor(1.0))
        self.b = torch.nn.Parameter(torch.tensor(2.0))

    def forward(self, left, right):
        return self.a * left + self.b * right


def test_the_result_holds_the_settings_given_with_the_monitor_and_start_chosen():
    settings = RangeTestSettings(
        1.0, 16.0, 5, beta=0.5, diverge_factor=8.0, min_steps_before_stop=2, val_every=3
    )
    model = Scale()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    plain = range_test(model, opt, mean_loss, const_batches(1), settings=settings)
    assert plain.settings == replace(settings, monitor="loss")
    validated = range_test(
        model, opt, mean_loss, const_batches(1), settings=settings, val_loader=const_batches(10)
    )
    assert validated.settings == replace(settings, monitor="val_loss")
    assert np.isnan(validated.val_losses).tolist() == [False, True, True, False, True]
    tuned = replace(settings, start_lr=None, fine_tuning=True)
    result = range_test(model, opt, mean_loss, const_batches(1), settings=tuned)
    assert result.settings == replace(tuned, start_lr=0.5, monitor="loss")
    assert result.lrs[0] == 0.5


@pytest.mark.parametrize("pack", ["args", "kwargs"])
def test_dict_batches_through_batch_fn(pack):
    batches = [{"left": torch.ones(3), "right": torch.full((3,), 10.0), "label": torch.zeros(3)}]

    def unpack(batch):
        if pack == "args":
            return (batch["left"], batch["right"]), batch["label"]
        return {"left": batch["left"], "right": batch["right"]}, batch["label"]

    model = TwoInputs()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    # loss = a + 10 b; gradients 1 and 10: after lr 0.01, a = 0.99, b = 1.9 -> loss 19.99.
    result = range_test(
        model,
        opt,
        mean_loss,
        batches,
        settings=RangeTestSettings(0.01, 0.02, 2, step_mode="linear"),
        batch_fn=unpack,
    )
    assert result.losses.tolist() == pytest.approx([21.0, 19.99], rel=1e-6)
    assert model.a.item() == 1.0 and model.b.item() == 2.0


def test_a_nan_loss_stops_the_test_and_everything_is_restored():
    calls = []

    def nan_on_fourth(out, target):
        calls.append(1)
        loss = out.mean()
        return loss * math.nan if len(calls) == 4 else loss

    model = Scale()
    opt = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    result = range_test(
        model, opt, nan_on_fourth, const_batches(1), settings=RangeTestSettings(1e-3, 1e-2, 10)
    )
    assert result.stop_reason == "non_finite_loss" and len(result.losses) == 4
    assert math.isnan(result.losses[-1])
    assert model.w.item() == 100.0 and opt.state_dict()["state"] == {}


def test_start_lr_none_starts_the_ladder_at_the_optimizers_lr():
    model = Scale()
    opt = torch.optim.SGD(model.parameters(), lr=torch.tensor(2.0))
    result = range_test(
        model,
        opt,
        mean_loss,
        const_batches(1),
        settings=RangeTestSettings(start_lr=None, end_lr=16.0, num_steps=4),
    )
    assert result.lrs.tolist() == pytest.approx([2, 4, 8, 16], rel=1e-15)
    assert opt.param_groups[0]["lr"].item() == 2.0 and model.w.item() == 100.0


def test_start_lr_none_refuses_an_lr_it_cannot_start_from():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.0)
    with pytest.raises(ValueError, match=r"cannot start at received lr=0\.0"):
        range_test(
            Scale(),
            opt,
            mean_loss,
            const_batches(1),
            settings=RangeTestSettings(start_lr=None, num_steps=3),
        )


class TwoScales(torch.nn.Module):
    """``out = a * x + b * x``: with ``mean_loss`` both gradients are ``mean(x)``."""

    def __init__(self):
        super().__init__()
        self.a = torch.nn.Parameter(torch.tensor(100.0))
        self.b = torch.nn.Parameter(torch.tensor(100.0))

    def forward(self, x):
        return self.a * x + self.b * x


def trained_lrs(opt):
    """Every group's lr at each optimizer.step() (a real hook, not a mock)."""
    seen = []
    opt.register_step_pre_hook(
        lambda o, args, kwargs: seen.append([g["lr"] for g in o.param_groups])
    )
    return seen


@pytest.mark.parametrize("start_lr", [1.0, None])
def test_groups_keep_their_lr_ratios_and_the_ladder_is_the_largest_groups(start_lr):
    model = TwoScales()
    # discriminative rates: the head (b) at 10x the body (a); start_lr=None reads the head's
    opt = torch.optim.SGD([{"params": [model.a], "lr": 0.1}, {"params": [model.b], "lr": 1.0}])
    seen = trained_lrs(opt)
    result = range_test(
        model, opt, mean_loss, const_batches(1), settings=RangeTestSettings(start_lr, 4.0, 3)
    )
    assert result.lrs.tolist() == [1, 2, 4]
    np.testing.assert_allclose(seen, [[0.1, 1], [0.2, 2], [0.4, 4]], rtol=1e-15)
    # loss = a + b: 200 -> a, b = 99.9, 99 -> 99.7, 97
    assert result.losses.tolist() == pytest.approx([200, 198.9, 196.7], rel=1e-6)  # float32
    assert [g["lr"] for g in opt.param_groups] == [0.1, 1.0]


def test_an_lr_scale_key_is_the_groups_ratio_as_in_cyclic_lr():
    from cyclr import CyclicSchedule
    from cyclr.torch import CyclicLR

    model = TwoScales()
    groups = [{"params": [model.a], "lr_scale": 0.25}, {"params": [model.b]}]  # timm's layout
    opt = torch.optim.SGD(groups, lr=0.5)
    seen = trained_lrs(opt)
    result = range_test(
        model, opt, mean_loss, const_batches(1), settings=RangeTestSettings(1.0, 2.0, 2)
    )
    assert result.lrs.tolist() == [1, 2] and seen == [[0.25, 1], [0.5, 2]]
    # CyclicLR reads the key the same way, by default and with group_scale='initial_lr'
    for group_scale in (None, "initial_lr"):
        sched = CyclicLR(opt, CyclicSchedule(1.0, 2.0, step_size=1), group_scale=group_scale)
        assert sched.group_scale == [0.25, 1.0]
        assert [g["lr"] for g in opt.param_groups] == [0.25, 1.0]


def test_cyclic_lr_initial_lr_scales_by_the_largest_group_as_the_range_test_does():
    from cyclr import CyclicSchedule
    from cyclr.torch import CyclicLR

    model = TwoScales()
    opt = torch.optim.SGD([{"params": [model.a], "lr": 0.01}, {"params": [model.b], "lr": 0.1}])
    seen = trained_lrs(opt)
    result = range_test(
        model, opt, mean_loss, const_batches(1), settings=RangeTestSettings(1.0, 2.0, 2)
    )
    base, top = result.lrs.tolist()
    sched = CyclicLR(opt, CyclicSchedule(base, top, step_size=1), group_scale="initial_lr")
    assert sched.group_scale == pytest.approx([0.1, 1.0], rel=1e-15)
    # The scheduler's rates are the rates the range test trained at, rung for rung.
    np.testing.assert_allclose([sched.lrs_at(0), sched.lrs_at(1)], seen, rtol=1e-15)


@pytest.mark.parametrize("bad", [-1.0, "0.5", math.nan])
def test_a_bad_lr_scale_is_refused_naming_it(bad):
    from cyclr import CyclicSchedule
    from cyclr.torch import CyclicLR

    model = TwoScales()
    opt = torch.optim.SGD([{"params": [model.a], "lr_scale": bad}, {"params": [model.b]}], lr=0.1)
    with pytest.raises(ValueError, match=rf"lr_scale={bad!r} in parameter group 0"):
        range_test(
            model, opt, mean_loss, const_batches(1), settings=RangeTestSettings(1e-3, num_steps=3)
        )
    with pytest.raises(ValueError, match=rf"lr_scale={bad!r} in parameter group 0"):
        CyclicLR(opt, CyclicSchedule(0.1, 1.0, step_size=2))


def test_start_lr_none_from_zero_on_a_linear_ladder():
    model = Scale()
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    result = range_test(
        model,
        opt,
        mean_loss,
        const_batches(1),
        settings=RangeTestSettings(start_lr=None, end_lr=3.0, num_steps=4, step_mode="linear"),
    )
    assert result.lrs.tolist() == [0, 1, 2, 3]


# -- bit-for-bit restoration on a real model --------------------------------------------------


def digits(batch_size=64, shuffle=True):
    from cyclr.app.datasets import load_digits

    x, y, xt, yt = load_digits()
    train = DataLoader(
        TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
        batch_size=batch_size,
        shuffle=shuffle,
    )
    test = DataLoader(TensorDataset(torch.from_numpy(xt), torch.from_numpy(yt)), batch_size=180)
    return train, test


def mlp(seed=0):
    from cyclr.app.torch_models import MLP

    torch.manual_seed(seed)
    return MLP(64, hidden=(64,))


def train(model, opt, loader, steps):
    done = 0
    while done < steps:
        for x, y in loader:
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
            done += 1
            if done == steps:
                return


def everything(model, opt):
    """Copies of every tensor and number the range test might change."""
    state = opt.state_dict()
    return {
        "model": {k: v.clone() for k, v in model.state_dict().items()},
        "opt_state": {i: {k: v.clone() for k, v in s.items()} for i, s in state["state"].items()},
        "groups": state["param_groups"],
        "grads": [None if p.grad is None else p.grad.clone() for p in model.parameters()],
        "modes": [m.training for m in model.modules()],
        "rng": torch.get_rng_state(),
    }


def assert_same(before, after):
    assert before["model"].keys() == after["model"].keys()
    for k in before["model"]:
        assert torch.equal(before["model"][k], after["model"][k]), k
    assert before["opt_state"].keys() == after["opt_state"].keys()
    for i in before["opt_state"]:
        assert before["opt_state"][i].keys() == after["opt_state"][i].keys()
        for k, v in before["opt_state"][i].items():
            assert torch.equal(v, after["opt_state"][i][k]), (i, k)
    assert before["groups"] == after["groups"]
    for a, b in zip(before["grads"], after["grads"], strict=False):
        assert (a is None and b is None) or torch.equal(a, b)
    assert before["modes"] == after["modes"]
    assert torch.equal(before["rng"], after["rng"])


@pytest.fixture
def trained():
    """An MLP on digits after 5 Adam steps (non-empty optimizer state), left in eval mode."""
    train_loader, test_loader = digits()
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    train(model, opt, train_loader, 5)
    model.eval()
    return model, opt, train_loader, test_loader


def test_real_range_test_diverges_suggests_bounds_and_restores_bit_for_bit(trained, tmp_path):
    model, opt, train_loader, test_loader = trained
    before = everything(model, opt)
    result = range_test(
        model,
        opt,
        torch.nn.functional.cross_entropy,
        train_loader,
        settings=RangeTestSettings(1e-5, 1e3, 80, val_every=10, monitor="loss"),
        val_loader=test_loader,
        val_accuracy=True,
        json_path=tmp_path / "result.json",
    )
    assert_same(before, everything(model, opt))
    assert result.stop_reason in ("diverged", "non_finite_loss")
    assert 20 < len(result.losses) < 80
    # The loss falls well below chance (ln 10 = 2.30) before it blows up.
    assert result.losses[0] > 2.0 and result.losses.min() < 1.5
    base, top = result.bounds()[:2]
    # The reading itself is the core's (tested there); here: it reads this curve, below the
    # rate where it blew up.
    assert result.lrs[0] <= base < top < result.lrs[-1]
    accuracies = result.val_accuracies[~np.isnan(result.val_accuracies)]
    assert len(accuracies) == math.ceil(len(result.losses) / 10) and accuracies.max() > 0.5
    assert RangeTestResult.from_json(tmp_path / "result.json") == result


def test_training_after_the_test_is_the_training_without_it():
    """Weights, optimizer and the random generator are back: the shuffles come out the same."""
    finals = []
    for run_test in (False, True):
        train_loader, _ = digits()
        model = mlp()
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        torch.manual_seed(7)
        if run_test:
            range_test(
                model,
                opt,
                torch.nn.functional.cross_entropy,
                train_loader,
                settings=RangeTestSettings(1e-4, 1.0, 20),
            )
        train(model, opt, train_loader, 30)
        finals.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.equal(finals[0], finals[1])


class Boom(Exception):
    pass


@pytest.mark.parametrize("error", [Boom, KeyboardInterrupt])
@pytest.mark.parametrize("checkpoint", [False, True])
def test_an_exception_or_interrupt_restores_then_propagates(trained, tmp_path, error, checkpoint):
    model, opt, train_loader, _ = trained
    before = everything(model, opt)
    calls = []

    def fails_on_seventh(out, target):
        calls.append(1)
        if len(calls) == 7:
            raise error()
        return torch.nn.functional.cross_entropy(out, target)

    with pytest.raises(error):
        range_test(
            model,
            opt,
            fails_on_seventh,
            train_loader,
            settings=RangeTestSettings(1e-3, 1.0, 20),
            checkpoint_dir=tmp_path if checkpoint else None,
        )
    assert len(calls) == 7
    assert_same(before, everything(model, opt))
    assert os.listdir(tmp_path) == []  # the temporary checkpoint is gone


def test_amp_runs_the_forward_pass_in_bfloat16_on_cpu():
    dtypes = []
    model = mlp()
    model.net[1].register_forward_hook(lambda m, i, out: dtypes.append(out.dtype))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    before = everything(model, opt)
    train_loader, _ = digits()
    result = range_test(
        model,
        opt,
        torch.nn.functional.cross_entropy,
        train_loader,
        settings=RangeTestSettings(1e-3, 0.1, 5),
        amp=True,
    )
    assert dtypes == [torch.bfloat16] * 5 and np.isfinite(result.losses).all()
    assert_same(before, everything(model, opt))


def test_a_progress_bar_only_when_asked_or_on_a_terminal(capsys):
    model = Scale()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    range_test(model, opt, mean_loss, const_batches(1), settings=RangeTestSettings(1e-3, 1e-2, 3))
    assert capsys.readouterr().err == ""  # pytest's stderr is not a terminal
    range_test(
        model,
        opt,
        mean_loss,
        const_batches(1),
        settings=RangeTestSettings(1e-3, 1e-2, 3),
        progress=True,
    )
    assert "range test" in capsys.readouterr().err


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(accumulation_steps=0), "accumulation_steps=0"),
        (
            dict(settings={"num_steps": 40}),
            r"settings must be a cyclr\.RangeTestSettings; received settings=\{'num_steps': 40\}",
        ),
        (dict(settings=RangeTestSettings(monitor="val_loss")), "monitor='val_loss' reads a vali"),
        (dict(val_accuracy=True), "val_loader=None"),
        (dict(batch_fn="xy"), "batch_fn='xy'"),
        (dict(criterion="xy"), "criterion='xy'"),
        (dict(amp="fp16"), "amp='fp16'"),
        (dict(max_grad_norm=0.0), "max_grad_norm=0.0"),
        (dict(grad_scaler=object()), "grad_scaler=<object"),
        (dict(train_loader=[]), "no batches"),
        (dict(train_loader=[{"x": torch.ones(2)}]), r"keys \['x'\]"),
        (dict(criterion=lambda out, t: out), r"scalar loss tensor; received \(4,\)"),
        (dict(val_step_fn="loss"), "val_step_fn='loss'"),
        (dict(val_step_fn=lambda b: 1.0), "val_loader=None with .* val_step_fn=<function"),
        (
            dict(val_step_fn=lambda b: 1.0, val_loader=const_batches(1), val_accuracy=True),
            r"with val_accuracy, val_step_fn must return \(loss, accuracy\) for the batch; "
            "received a float",
        ),
    ],
)
def test_errors_name_the_parameter_and_the_value(kwargs, message):
    model = Scale()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    args = dict(criterion=mean_loss, train_loader=const_batches(1))
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        range_test(model, opt, args.pop("criterion"), args.pop("train_loader"), **args)
    assert model.w.item() == 100.0


def test_a_loader_with_its_own_generator_gives_the_same_batches_after_the_test():
    """The test draws batches from the loader's generator; it puts that state back too."""
    x, y = torch.randn(64, 5), torch.randint(0, 3, (64,))
    firsts = []
    for run_test in (False, True):
        loader = torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(x, y),
            batch_size=8,
            shuffle=True,
            generator=torch.Generator().manual_seed(3),
        )
        np.random.seed(11)
        if run_test:
            model = torch.nn.Linear(5, 3)
            opt = torch.optim.SGD(model.parameters(), lr=0.01)
            range_test(
                model,
                opt,
                torch.nn.functional.cross_entropy,
                loader,
                settings=RangeTestSettings(1e-4, 1.0, 20),
            )
        firsts.append((next(iter(loader))[1].tolist(), np.random.randint(1000)))
    assert firsts[0] == firsts[1]


# -- BatchNorm in the validation passes ---------------------------------------------------


class Normed(torch.nn.Module):
    """Linear -> BatchNorm -> Linear; ``frozen`` keeps the norm in eval mode in training."""

    def __init__(self, frozen=False):
        super().__init__()
        torch.manual_seed(0)
        self.inner = torch.nn.Linear(4, 6)
        self.norm = torch.nn.BatchNorm1d(6)
        self.outer = torch.nn.Linear(6, 3)
        self.frozen = frozen

    def train(self, mode=True):
        super().train(mode)
        if self.frozen:
            self.norm.eval()
        return self

    def forward(self, x):
        return self.outer(torch.relu(self.norm(self.inner(x))))


def normed_data(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g) * 3 + 1
    return x, (x[:, 0] > 1).long() + (x[:, 1] > 1).long()


def val_loss_after_one_update(model, batch, val, lr, recalibrate):
    """By hand: one SGD update on ``batch``, then the loss of ``val`` in eval mode."""
    model.train()
    torch.optim.SGD(model.parameters(), lr=lr).zero_grad()
    loss = torch.nn.functional.cross_entropy(model(batch[0]), batch[1])
    loss.backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= lr * p.grad
        model.eval()
        if recalibrate:  # the means over the validation batches of 16 of their statistics
            h = model.inner(val[0]).reshape(-1, 16, 6)
            model.norm.running_mean.copy_(h.mean(1).mean(0))
            model.norm.running_var.copy_(h.var(1, unbiased=True).mean(0))
        return float(torch.nn.functional.cross_entropy(model(val[0]), val[1]))


@pytest.mark.parametrize("frozen", [False, True])
def test_batchnorm_is_validated_with_averages_recalibrated_on_the_validation_set(frozen):
    x, y = normed_data(64, seed=1)
    val = normed_data(48, seed=2)
    train_loader = DataLoader(TensorDataset(x, y), batch_size=16)
    val_loader = DataLoader(TensorDataset(*val), batch_size=16)  # three batches, pooled
    results, states = [], []
    for loader in (None, val_loader):
        model = Normed(frozen)
        model.eval()
        before = {k: v.clone() for k, v in model.state_dict().items()}
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        results.append(
            range_test(
                model,
                opt,
                torch.nn.functional.cross_entropy,
                train_loader,
                settings=RangeTestSettings(0.05, 0.5, 6),
                val_loader=loader,
            )
        )
        states.append(model.state_dict())
        assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
        assert model.norm.momentum == 0.1 and not model.norm.training
    # The validation passes leave training as it was: the same losses with and without.
    assert results[0].losses.tolist() == results[1].losses.tolist()
    by_hand = val_loss_after_one_update(
        Normed(frozen), next(iter(train_loader)), val, 0.05, recalibrate=not frozen
    )
    assert results[1].val_losses[0] == pytest.approx(by_hand, rel=1e-5)
    # ... and it is not what eval mode with the lagging averages gives.
    lagging = val_loss_after_one_update(
        Normed(frozen), next(iter(train_loader)), val, 0.05, recalibrate=False
    )
    assert (by_hand == lagging) == frozen


def test_validation_batches_of_one_keep_the_running_averages():
    x, y = normed_data(32, seed=1)
    val = normed_data(3, seed=2)
    model = Normed()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    result = range_test(
        model,
        opt,
        torch.nn.functional.cross_entropy,
        DataLoader(TensorDataset(x, y), batch_size=16),
        settings=RangeTestSettings(0.05, 0.5, 2),
        val_loader=DataLoader(TensorDataset(*val), batch_size=1),  # no variance to measure
    )
    by_hand = val_loss_after_one_update(Normed(), (x[:16], y[:16]), val, 0.05, recalibrate=False)
    assert result.val_losses[0] == pytest.approx(by_hand, rel=1e-5)


def test_val_step_fn_measures_the_validation_batches_as_the_criterion_would():
    """An engine's validation step: the same pooled losses, BatchNorm recalibrated through it."""
    x, y = normed_data(64, seed=1)
    val = normed_data(40, seed=2)
    train_loader = DataLoader(TensorDataset(x, y), batch_size=16)
    val_loader = DataLoader(TensorDataset(*val), batch_size=16)  # 16, 16 and 8: weighted
    results, seen = [], []
    for engine in (False, True):
        model = Normed()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)

        def val_step(batch, model=model):
            seen.append((model.norm.training, torch.is_grad_enabled()))
            return torch.nn.functional.cross_entropy(model(batch[0]), batch[1])

        results.append(
            range_test(
                model,
                opt,
                torch.nn.functional.cross_entropy,
                train_loader,
                settings=RangeTestSettings(0.05, 0.5, 6, val_every=2),
                val_loader=val_loader,
                val_step_fn=val_step if engine else None,
            )
        )
    plain, engine = results
    assert engine.losses.tolist() == plain.losses.tolist()
    np.testing.assert_allclose(engine.val_losses, plain.val_losses, rtol=1e-6)
    assert np.isnan(engine.val_losses[1]) and not np.isnan(engine.val_losses[2])
    # three passes (rungs 0, 2, 4), each three recalibration batches then three in eval mode
    assert seen == ([(True, False)] * 3 + [(False, False)] * 3) * 3


@pytest.mark.parametrize(
    "returned, error, message",
    [
        (torch.ones(2), ValueError, r"val_step_fn must return the batch's loss: .* shape \(2,\)"),
        ("0.5", TypeError, "val_step_fn must return the batch's loss: .* received a str"),
    ],
)
def test_val_step_fn_that_returns_no_loss_is_named_and_the_model_restored(returned, error, message):
    model = Scale()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    with pytest.raises(error, match=message):
        range_test(
            model,
            opt,
            mean_loss,
            const_batches(1),
            settings=RangeTestSettings(1.0, 16.0, 5),
            val_loader=const_batches(10),
            val_step_fn=lambda batch: returned,
        )
    assert model.w.item() == 100.0
