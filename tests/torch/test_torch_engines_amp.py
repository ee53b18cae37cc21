"""cyclr.torch.range_test with float16 and a GradScaler, and gradient clipping.

On CPU, torch 2.13 runs float16 autocast and ``torch.amp.GradScaler("cpu")``, so
everything here runs without a GPU.
"""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from test_torch_range_test import Scale, assert_same, digits, everything, mean_loss, mlp, train

from cyclr import RangeTestSettings
from cyclr.torch import range_test
from cyclr.torch.rangetest import MIN_LOSS_SCALE


def const_batches(*values):
    return [(torch.full((4,), float(v)), torch.zeros(4)) for v in values]


def poisoned(model, calls):
    """Make ``model.w``'s gradient infinite on the backward passes numbered in ``calls``
    (1-based), as an overflowing float16 backward would; return the list of passes."""
    passes = []

    def hook(grad):
        passes.append(1)
        return grad * math.inf if len(passes) in calls else grad

    model.w.register_hook(hook)
    return passes


def stepped_lrs(opt):
    seen = []
    opt.register_step_pre_hook(lambda o, a, k: seen.append(o.param_groups[0]["lr"]))
    return seen


def test_an_update_the_scaler_skips_is_not_a_rung_the_lr_trains_again_on_the_next_batch():
    model = Scale()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    scaler = torch.amp.GradScaler("cpu", init_scale=16.0)
    passes = poisoned(model, {2, 3, 5})
    seen = stepped_lrs(opt)
    scaler_before = scaler.state_dict()
    # Batches x = 1..7, gradient x, loss w * x. Pass 1 (x=1, lr 1): loss 100, w = 99.
    # Passes 2, 3 (lr 2) are skipped; pass 4 (x=4, lr 2): loss 396, w = 91.
    # Pass 5 (lr 4) is skipped; pass 6 (x=6, lr 4): loss 546, w = 67.
    result = range_test(
        model,
        opt,
        mean_loss,
        const_batches(1, 2, 3, 4, 5, 6, 7),
        settings=RangeTestSettings(1.0, 4.0, 3),
        grad_scaler=scaler,
    )
    assert len(passes) == 6
    assert result.lrs.tolist() == [1, 2, 4] and seen == [1, 2, 4]  # each lr once
    assert result.losses.tolist() == [100, 396, 546]
    assert result.stop_reason == "end_of_ladder"
    assert model.w.item() == 100.0 and opt.param_groups[0]["lr"] == 0.5
    assert scaler.state_dict() == scaler_before  # the scale backed off 3 times; put back


def test_the_users_scaler_works_after_the_test_even_one_interrupted_mid_step():
    model = Scale()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    scaler = torch.amp.GradScaler("cpu", init_scale=16.0)
    calls = []

    def interrupt_in_step(o, args, kwargs):  # after unscale_, before update
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt

    handle = opt.register_step_pre_hook(interrupt_in_step)
    with pytest.raises(KeyboardInterrupt):
        range_test(
            model,
            opt,
            mean_loss,
            const_batches(1),
            settings=RangeTestSettings(1.0, 4.0, 3),
            grad_scaler=scaler,
            max_grad_norm=10.0,  # unscale_ before the step
        )
    handle.remove()
    assert model.w.item() == 100.0 and scaler.get_scale() == 16.0
    # The user's own step: unscale_ would refuse if the interrupted one were remembered.
    opt.zero_grad()
    scaler.scale(model(torch.ones(4)).mean()).backward()
    scaler.unscale_(opt)
    scaler.step(opt)
    scaler.update()
    assert model.w.item() == 99.5


def test_a_scaler_that_skips_every_update_stops_once_its_scale_is_down_to_one():
    model = Scale()
    opt = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    scaler = torch.amp.GradScaler("cpu", init_scale=16.0)
    passes = poisoned(model, set(range(2, 100)))
    # lr 2 is skipped at scales 16, 8, 4, 2 and then 1 (MIN_LOSS_SCALE): the gradients
    # overflow unscaled, so the test stops there
    with pytest.warns(
        RuntimeWarning,
        match=r"skipped 5 updates in a row at lr=2 \(rung 1\), the last at loss "
        r"scale 1: the float16 gradients overflow unscaled",
    ):
        result = range_test(
            model,
            opt,
            mean_loss,
            const_batches(1),
            settings=RangeTestSettings(1.0, 4.0, 3),
            grad_scaler=scaler,
        )
    assert MIN_LOSS_SCALE == 1.0 and len(passes) == 1 + 5
    assert result.stop_reason == "non_finite_loss"
    assert result.losses.tolist() == [100, math.inf] and result.lrs.tolist() == [1, 2]
    assert (
        model.w.item() == 100.0 and scaler.get_scale() == 16.0 and opt.state_dict()["state"] == {}
    )


def test_a_huge_initial_loss_scale_backs_off_as_long_as_it_takes(recwarn):
    """init_scale=2**127: about a hundred halvings before float16 gradients fit. The test
    goes on while the scaler backs off (before, it stopped at rung 0 after 10 skips)."""
    train_loader, _ = digits()
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**127)
    before, scaler_before = everything(model, opt), scaler.state_dict()
    seen = stepped_lrs(opt)
    result = range_test(
        model,
        opt,
        torch.nn.functional.cross_entropy,
        train_loader,
        settings=RangeTestSettings(1e-3, 1.0, 20),
        amp="float16",
        grad_scaler=scaler,
    )
    assert not [w for w in recwarn if "grad_scaler skipped" in str(w.message)]
    assert result.stop_reason == "end_of_ladder" and len(result.lrs) == 20
    assert np.isfinite(result.losses).all()
    assert seen == result.lrs.tolist()  # every rung trained once, after the skips
    assert_same(before, everything(model, opt))
    assert scaler.state_dict() == scaler_before


def test_a_non_finite_loss_with_a_scaler_stops_at_once_not_retried():
    model = Scale()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    losses = []

    def nan_on_second(out, target):
        losses.append(1)
        return out.mean() * (math.nan if len(losses) == 2 else 1.0)

    result = range_test(
        model,
        opt,
        nan_on_second,
        const_batches(1),
        settings=RangeTestSettings(1.0, 4.0, 5),
        grad_scaler=torch.amp.GradScaler("cpu"),
    )
    assert len(losses) == 2 and result.stop_reason == "non_finite_loss"
    assert math.isnan(result.losses[-1])


def test_float16_with_a_huge_initial_scale_skips_updates_counts_none_and_restores():
    train_loader, _ = digits()
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    train(model, opt, train_loader, 5)
    model.eval()
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**24)  # the first steps overflow
    forwards, dtypes = [], []
    model.net[1].register_forward_hook(lambda m, i, out: dtypes.append(out.dtype))
    model.register_forward_hook(lambda m, i, out: forwards.append(1))
    seen = stepped_lrs(opt)
    before, scaler_before = everything(model, opt), scaler.state_dict()
    result = range_test(
        model,
        opt,
        torch.nn.functional.cross_entropy,
        train_loader,
        settings=RangeTestSettings(1e-4, 1.0, 30),
        amp="float16",
        grad_scaler=scaler,
    )
    assert set(dtypes) == {torch.float16}
    assert len(forwards) > len(result.losses)  # some updates were skipped ...
    assert seen == result.lrs.tolist()  # ... and every lr trained (and was recorded) once
    np.testing.assert_allclose(result.lrs, np.geomspace(1e-4, 1.0, 30)[: len(result.lrs)])
    assert_same(before, everything(model, opt))
    assert scaler.state_dict() == scaler_before


def test_amp_float16_without_a_scaler_scales_with_one_of_its_own():
    model = Scale()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    passes = poisoned(model, {2})  # only a scaler skips this update
    result = range_test(
        model,
        opt,
        lambda out, t: out.float().mean(),
        const_batches(1, 2, 3),
        settings=RangeTestSettings(1.0, 2.0, 2),
        amp="float16",
    )
    # Pass 2's infinite gradient is skipped (a scaler's doing) and lr 2 trains on x = 3;
    # unscaled, it would have trained w to -inf and recorded 198.
    assert len(passes) == 3 and result.losses.tolist() == [100, 297]


@pytest.mark.parametrize("scaler", [None, "cpu"])
def test_max_grad_norm_clips_the_true_gradient_before_the_update(scaler):
    model = Scale()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    # x = 2: gradient 2, clipped to 0.5; rung 0 (lr 1): w = 99.5; rung 1: loss 2 * 99.5.
    # Clipping the scaled gradient (2 * 1024) instead would move w by 0.5 / 1024.
    result = range_test(
        model,
        opt,
        mean_loss,
        const_batches(2),
        settings=RangeTestSettings(1.0, 2.0, 2),
        max_grad_norm=0.5,
        grad_scaler=None if scaler is None else torch.amp.GradScaler(scaler, init_scale=1024.0),
    )
    assert result.losses.tolist() == [200, 199]
    assert model.w.item() == 100.0


@pytest.mark.parametrize("seed", [0, 1])
def test_float16_with_a_scaler_reads_the_same_bounds_as_float32(seed):
    """Within the ladder's resolution: at most two rungs apart."""
    readings = []
    for amp in (False, "float16"):
        train_loader, _ = digits()
        model = mlp(seed)
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        torch.manual_seed(100 + seed)
        result = range_test(
            model,
            opt,
            torch.nn.functional.cross_entropy,
            train_loader,
            settings=RangeTestSettings(1e-4, 10.0, 60),
            amp=amp,
            grad_scaler=torch.amp.GradScaler("cpu") if amp else None,
        )
        readings.append(result.bounds())
    full, half = readings
    assert abs(full.base_index - half.base_index) <= 2
    assert abs(full.max_index - half.max_index) <= 2
    assert full.base_index < full.max_index
