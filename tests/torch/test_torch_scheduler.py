"""cyclr.torch.CyclicLR: the rates it writes into the optimizer, its state, PyTorch interplay."""

import io
import types

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import cyclr
from cyclr import CyclicSchedule, Linear, OneCycle
from cyclr.compose import Join
from cyclr.torch import CyclicLR


def read_groups(opt, sched, steps, train=None):
    """Per step: every group's (lr, momentum-or-beta1) as the optimizer sees them."""
    lrs, moms = [], []
    for _ in range(steps):
        lrs.append([g["lr"] for g in opt.param_groups])
        moms.append(
            [g["betas"][0] if "betas" in g else g.get("momentum") for g in opt.param_groups]
        )
        if train is not None:
            train()
        opt.step()
        sched.step()
    return np.array(lrs, dtype=float), np.array(moms, dtype=float)


def two_groups(optimizer="sgd", lrs=(0.1, 0.01)):
    a, b = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(3))
    groups = [{"params": [a], "lr": lrs[0]}, {"params": [b], "lr": lrs[1]}]
    if optimizer == "sgd":
        return torch.optim.SGD(groups, lr=lrs[0], momentum=0.9)
    return torch.optim.Adam(groups, lr=lrs[0], betas=(0.9, 0.999))


def test_triangle_read_from_param_groups_is_hand_checkable():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=123.0)
    sched = CyclicLR(opt, CyclicSchedule(1.0, 5.0, step_size=4))
    lrs, _ = read_groups(opt, sched, 11)
    assert lrs[:, 0].tolist() == [1, 2, 3, 4, 5, 4, 3, 2, 1, 2, 3]
    # Eleven updates applied: the optimizer now holds the rate for update number 11.
    assert sched.get_last_lr() == [4.0] and sched.last_epoch == sched.step_count == 11


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(base_lr=1e-4, max_lr=1e-2, step_size_up=20),
        dict(base_lr=1e-4, max_lr=1e-2, step_size_up=20, mode="triangular2"),
        dict(base_lr=1e-4, max_lr=1e-2, step_size_up=20, mode="exp_range", gamma=0.99),
        dict(base_lr=[0.01, 0.001], max_lr=[0.3, 0.02], step_size_up=7, step_size_down=13),
    ],
)
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_keyword_form_equals_torch_cyclic_lr(kwargs, optimizer):
    """Side by side with PyTorch's scheduler, lr and momentum/beta1, every step, 1e-12 relative."""
    theirs_opt, ours_opt = two_groups(optimizer), two_groups(optimizer)
    theirs = torch.optim.lr_scheduler.CyclicLR(theirs_opt, **kwargs)
    ours = CyclicLR(ours_opt, **kwargs)
    expected_lr, expected_m = read_groups(theirs_opt, theirs, 150)
    got_lr, got_m = read_groups(ours_opt, ours, 150)
    np.testing.assert_allclose(got_lr, expected_lr, rtol=1e-12, atol=0)
    np.testing.assert_allclose(got_m, expected_m, rtol=1e-12, atol=0)


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
@pytest.mark.parametrize("waveform", ["triangular", "sine", "parabolic"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_every_group_gets_the_core_value_times_its_ratio(mode, waveform, optimizer):
    s = CyclicSchedule(
        0.02,
        0.2,
        step_size=5,
        mode=mode,
        waveform=waveform,
        gamma=0.97 if mode == "exp_range" else 1.0,
        base_momentum=0.8,
        max_momentum=0.95,
    )
    opt = two_groups(optimizer, lrs=(0.5, 0.125))
    lrs, moms = read_groups(opt, CyclicLR(opt, s, group_scale="initial_lr"), 40)
    steps = np.arange(40)
    np.testing.assert_allclose(lrs[:, 0], s(steps), rtol=1e-15, atol=0)
    np.testing.assert_allclose(lrs[:, 1], s(steps) * 0.25, rtol=1e-15, atol=0)
    np.testing.assert_allclose(moms, np.stack([s.momentum(steps)] * 2, axis=1), rtol=1e-15)


def test_one_schedule_per_group_and_explicit_scales():
    fast, slow = CyclicSchedule(1.0, 3.0, step_size=2), CyclicSchedule(0.0, 1.0, step_size=1)
    opt = two_groups()
    lrs, moms = read_groups(opt, CyclicLR(opt, [fast, slow]), 5)
    assert lrs.tolist() == [[1, 0], [2, 1], [3, 0], [2, 1], [1, 0]]
    assert moms.tolist() == [[0.9, 0.9]] * 5  # no momentum in the schedules: left alone
    opt = two_groups()
    lrs, _ = read_groups(opt, CyclicLR(opt, fast, group_scale=[1.0, 0.5]), 3)
    assert lrs.tolist() == [[1, 0.5], [2, 1], [3, 1.5]]


def test_onecycle_drives_adam_beta1_like_torch_onecycle_lr():
    theirs_opt, ours_opt = two_groups("adam"), two_groups("adam")
    theirs = torch.optim.lr_scheduler.OneCycleLR(theirs_opt, max_lr=0.3, total_steps=60)
    ours = CyclicLR(ours_opt, OneCycle(0.3, 60))
    expected = read_groups(theirs_opt, theirs, 60)
    got = read_groups(ours_opt, ours, 60)
    for e, g in zip(expected, got, strict=False):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=0)
    assert ours_opt.param_groups[0]["betas"][1] == 0.999


def test_joined_warmup_then_cycles():
    s = Join([Linear(0.0, 1.0, 4), CyclicSchedule(1.0, 3.0, step_size=2)], [4])
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.0)
    lrs, _ = read_groups(opt, CyclicLR(opt, s), 10)
    assert lrs[:, 0].tolist() == [0, 0.25, 0.5, 0.75, 1, 2, 3, 2, 1, 2]


def test_inside_sequential_lr_after_a_constant_warmup():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    warm = torch.optim.lr_scheduler.ConstantLR(opt, factor=0.5, total_iters=3)
    cyc = CyclicLR(opt, CyclicSchedule(1.0, 5.0, step_size=4))
    seq = torch.optim.lr_scheduler.SequentialLR(opt, [warm, cyc], milestones=[3])
    lrs, _ = read_groups(opt, seq, 9)
    # Three warm-up steps at 0.5, then the cycle from its own step 0.
    assert lrs[:, 0].tolist() == [0.5, 0.5, 0.5, 1, 2, 3, 4, 5, 4]
    assert cyc.step_count == 6  # nine updates, the last six in the cycle


@pytest.mark.parametrize("save_at", [2, 6])
def test_sequential_lr_resumes_before_and_after_the_milestone(save_at):
    def build():
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        warm = torch.optim.lr_scheduler.ConstantLR(opt, factor=0.5, total_iters=3)
        cyc = CyclicLR(opt, CyclicSchedule(1.0, 5.0, step_size=4))
        return opt, torch.optim.lr_scheduler.SequentialLR(opt, [warm, cyc], milestones=[3])

    opt, seq = build()
    first, _ = read_groups(opt, seq, save_at)
    buffer = io.BytesIO()
    torch.save({"opt": opt.state_dict(), "seq": seq.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    opt, seq = build()
    opt.load_state_dict(saved["opt"])
    seq.load_state_dict(saved["seq"])
    rest, _ = read_groups(opt, seq, 9 - save_at)
    assert first[:, 0].tolist() + rest[:, 0].tolist() == [0.5, 0.5, 0.5, 1, 2, 3, 4, 5, 4]


def small_model(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))


def batches(n, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [
        (torch.randn(16, 4, generator=g), torch.randint(0, 3, (16,), generator=g)) for _ in range(n)
    ]


def train_steps(model, opt, sched, data):
    lrs = []
    for x, y in data:
        lrs.append(opt.param_groups[0]["lr"])
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        sched.step()
    return lrs


def train_and_checkpoint(make_opt, schedule, data, at, *, with_scheduler):
    """The lrs of an uninterrupted run; those of a run stopped after ``at`` steps, and the
    weights-only checkpoint it left (model, optimizer and, if asked, scheduler)."""
    model = small_model()
    opt = make_opt(model.parameters())
    full = train_steps(model, opt, CyclicLR(opt, schedule), data)
    model = small_model()
    opt = make_opt(model.parameters())
    sched = CyclicLR(opt, schedule)
    first = train_steps(model, opt, sched, data[:at])
    state = {"model": model.state_dict(), "opt": opt.state_dict()}
    if with_scheduler:
        state["sched"] = sched.state_dict()
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return full, first, torch.load(buffer, weights_only=True)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_resume_through_weights_only_checkpoint_equals_uninterrupted_run(optimizer):
    s = CyclicSchedule(
        0.01, 0.1, step_size=6, mode="triangular2", base_momentum=0.85, max_momentum=0.95
    )
    make_opt = {
        "sgd": lambda p: torch.optim.SGD(p, lr=0.0, momentum=0.9),
        "adam": lambda p: torch.optim.Adam(p, lr=0.0),
    }[optimizer]
    data = batches(30)
    full, first, saved = train_and_checkpoint(make_opt, s, data, 13, with_scheduler=True)

    # A fresh process would build everything again, here with a different schedule that the
    # checkpoint then replaces.
    model2 = small_model(seed=99)
    opt2 = make_opt(model2.parameters())
    sched2 = CyclicLR(opt2, CyclicSchedule(1.0, 2.0, step_size=100))
    model2.load_state_dict(saved["model"])
    opt2.load_state_dict(saved["opt"])
    sched2.load_state_dict(saved["sched"])
    assert sched2.step_count == 13 and sched2.schedules == [s]
    rest = train_steps(model2, opt2, sched2, data[13:])
    assert first + rest == full

    reference = small_model()
    opt = make_opt(reference.parameters())
    train_steps(reference, opt, CyclicLR(opt, s), data)
    for a, b in zip(reference.state_dict().values(), model2.state_dict().values(), strict=False):
        assert torch.equal(a, b)


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "rmsprop"])
def test_a_scheduler_built_after_a_resume_continues_from_the_optimizers_count(optimizer):
    # The step continues from the restored optimizer's update count (docs/semantics.md,
    # *Time*), also when only the model and optimizer were saved and the scheduler is built
    # anew
    s = CyclicSchedule(0.01, 0.1, step_size=6, mode="triangular2")
    make_opt = {
        "adam": lambda p: torch.optim.Adam(p, lr=0.0),
        "adamw": lambda p: torch.optim.AdamW(p, lr=0.0),
        "rmsprop": lambda p: torch.optim.RMSprop(p, lr=0.0),
    }[optimizer]
    data = batches(30)
    full, first, saved = train_and_checkpoint(make_opt, s, data, 13, with_scheduler=False)
    model2 = small_model(seed=99)
    opt2 = make_opt(model2.parameters())
    model2.load_state_dict(saved["model"])
    opt2.load_state_dict(saved["opt"])
    sched2 = CyclicLR(opt2, s)
    assert sched2.step_count == 13 and opt2.param_groups[0]["lr"] == s(13)
    assert first + train_steps(model2, opt2, sched2, data[13:]) == full
    # start_step=0 starts a new cycle on the trained optimizer
    fresh = CyclicLR(opt2, s, start_step=0)
    assert fresh.step_count == 0 and opt2.param_groups[0]["lr"] == s(0)


def test_sgd_keeps_no_count_so_a_new_scheduler_starts_at_zero_or_at_start_step():
    s = CyclicSchedule(0.01, 0.1, step_size=6)
    model = small_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.0, momentum=0.9)
    train_steps(model, opt, CyclicLR(opt, s), batches(5))
    assert CyclicLR(opt, s).step_count == 0
    sched = CyclicLR(opt, s, start_step=5.0)  # an integral float, as elsewhere
    assert sched.step_count == 5 and opt.param_groups[0]["lr"] == s(5)
    for bad, message in [
        (-1, "start_step must be >= 0; received start_step=-1"),
        (2.5, "start_step must be an integer; received start_step=2.5"),
    ]:
        with pytest.raises(ValueError, match=message):
            CyclicLR(opt, s, start_step=bad)


def test_state_dict_is_the_step_and_the_serialized_schedule():
    s = CyclicSchedule(0.1, 1.0, step_size=3, mode="exp_range", gamma=0.9)
    opt = two_groups(lrs=(0.5, 0.125))
    sched = CyclicLR(opt, s, group_scale="initial_lr")
    for _ in range(4):
        opt.step()
        sched.step()
    assert sched.state_dict() == {
        "step": 4,
        "schedules": [cyclr.serialize(s)],
        "group_scale": [1.0, 0.25],
    }


def test_load_state_dict_writes_the_saved_step_rates_at_once():
    opt = two_groups()
    sched = CyclicLR(opt, CyclicSchedule(1.0, 5.0, step_size=4), group_scale=[1.0, 2.0])
    state = dict(sched.state_dict(), step=6)
    other = two_groups()
    CyclicLR(other, CyclicSchedule(0.5, 0.6, step_size=1)).load_state_dict(state)
    assert [g["lr"] for g in other.param_groups] == [3.0, 6.0]


def halve_each_cycle(cycle):
    return 0.5 ** (cycle - 1)


def other_decay(cycle):
    return 1.0


def weights_only_round_trip(state):
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def test_custom_scale_fn_is_saved_by_name_with_the_bounds_and_checked_on_load():
    s = CyclicSchedule(1.0, 5.0, step_size=4, scale_fn=halve_each_cycle, scale_mode="cycle")
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.0)
    sched = CyclicLR(opt, s)
    for _ in range(10):
        opt.step()
        sched.step()
    state = weights_only_round_trip(sched.state_dict())
    entry = state["schedules"][0]
    assert entry["scale_fn"] == f"{halve_each_cycle.__module__}.halve_each_cycle"
    assert "scale_fn" not in entry["config"] and entry["config"]["base_lr"] == 1.0

    # the bounds come from the checkpoint, the function from the scheduler loaded into
    same = CyclicLR(
        opt, CyclicSchedule(2.0, 3.0, step_size=1, scale_fn=halve_each_cycle, scale_mode="cycle")
    )
    same.load_state_dict(state)
    assert same.schedules == [s]
    assert opt.param_groups[0]["lr"] == 1.0 + 4 * 0.5 * 0.5  # step 10: cycle 2, h 0.5
    other = CyclicLR(
        opt, CyclicSchedule(1.0, 5.0, step_size=4, scale_fn=other_decay, scale_mode="cycle")
    )
    with pytest.raises(ValueError, match="halve_each_cycle"):
        other.load_state_dict(state)


def test_a_checkpoint_of_cyclr_0_1_with_a_named_scale_fn_still_loads():
    s = CyclicSchedule(1.0, 5.0, step_size=4, scale_fn=halve_each_cycle, scale_mode="cycle")
    old = {
        "step": 10,
        "group_scale": [1.0],
        "schedules": [
            {
                "class_name": "CyclicSchedule",
                "config": None,
                "scale_fn": f"{halve_each_cycle.__module__}.halve_each_cycle",
            }
        ],
    }
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.0)
    sched = CyclicLR(opt, s)
    sched.load_state_dict(old)
    assert sched.schedules == [s] and opt.param_groups[0]["lr"] == 2.0


def test_tensor_learning_rates_are_filled_in_place_for_compiled_optimizers():
    param = torch.nn.Parameter(torch.zeros(1))
    lr = torch.tensor(0.0)
    opt = torch.optim.SGD([param], lr=lr)
    sched = CyclicLR(opt, CyclicSchedule(1.0, 5.0, step_size=4))
    opt.step()
    sched.step()
    assert opt.param_groups[0]["lr"] is lr and lr.item() == 2.0
    assert isinstance(sched.get_last_lr()[0], torch.Tensor)


def test_compiled_model_trains_with_the_same_rates_and_weights():
    data = batches(8)
    results = []
    for compiled in (False, True):
        model = small_model()
        net = torch.compile(model, backend="aot_eager") if compiled else model
        opt = torch.optim.SGD(model.parameters(), lr=0.0, momentum=0.9)
        lrs = train_steps(net, opt, CyclicLR(opt, CyclicSchedule(0.01, 0.1, step_size=3)), data)
        results.append((lrs, [p.detach().clone() for p in model.parameters()]))
    assert results[0][0] == results[1][0]
    for a, b in zip(results[0][1], results[1][1], strict=False):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda o: CyclicLR(o, 0.1), "schedule=0.1"),
        (lambda o: CyclicLR(o), "base_lr=None"),
        (lambda o: CyclicLR(o, base_lr=0.1, max_lr=0.01), "max_lr=0.01"),
        (lambda o: CyclicLR(o, base_lr=[0.1], max_lr=1.0), r"base_lr=\[0.1\]"),
        (lambda o: CyclicLR(o, CyclicSchedule(0.1, 1.0, 4), base_lr=0.1), "base_lr=0.1"),
        (lambda o: CyclicLR(o, "fast"), "schedule='fast'"),
        (
            lambda o: CyclicLR(o, CyclicSchedule(0.1, 1.0, 4), group_scale="ratio"),
            "group_scale='ratio'",
        ),
        (
            lambda o: CyclicLR(o, CyclicSchedule(0.1, 1.0, 4), group_scale=[1.0, -2.0]),
            r"group_scale=\[1.0, -2.0\]",
        ),
        (
            lambda o: CyclicLR(o, CyclicSchedule(0.1, 1.0, 4), cycle_momentum=True),
            "cycle_momentum=True",
        ),
        (lambda o: CyclicLR(o, [CyclicSchedule(0.1, 1.0, 4)] * 3), "received 3 schedules"),
    ],
)
def test_errors_name_the_parameter_and_the_value(make, message):
    with pytest.raises(ValueError, match=message):
        make(two_groups())


def test_momentum_needs_an_optimizer_that_has_one():
    opt = torch.optim.Adagrad([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="Adagrad"):
        CyclicLR(opt, base_lr=0.1, max_lr=1.0, step_size_up=2)
    CyclicLR(opt, base_lr=0.1, max_lr=1.0, step_size_up=2, cycle_momentum=False)
    with pytest.raises(ValueError, match="keys"):
        CyclicLR(opt, base_lr=0.1, max_lr=1.0, cycle_momentum=False).load_state_dict(
            {"last_epoch": 3}
        )


def test_a_scale_mode_given_with_a_built_in_mode_is_honoured():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.0)
    sched = CyclicLR(
        opt,
        base_lr=1.0,
        max_lr=5.0,
        step_size_up=4,
        mode="exp_range",
        gamma=0.5,
        scale_mode="cycle",
        cycle_momentum=False,
    )
    lrs, _ = read_groups(opt, sched, 9)
    # scale = gamma**cycle: 1/2 in the first cycle, 1/4 in the second (PyTorch would use
    # gamma**step here and ignore scale_mode).
    assert lrs[:, 0].tolist() == [1, 1.5, 2, 2.5, 3, 2.5, 2, 1.5, 1]
    assert sched.get_last_lr() == [1.0 + 4 * 0.25 * 0.25]


def test_keywords_a_given_schedule_would_ignore_are_refused():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r"mode='exp_range', gamma=0\.5"):
        CyclicLR(opt, CyclicSchedule(0.1, 1.0, 4), mode="exp_range", gamma=0.5)
    with pytest.raises(ValueError, match="waveform='sine'"):
        CyclicLR(opt, CyclicSchedule(0.1, 1.0, 4), waveform="sine")


def test_keywords_next_to_a_schedule_are_refused_even_at_their_default_values():
    # Both equal PyTorch's defaults for step_size_up/base_momentum; cyclr 0.1 dropped them
    # silently because it compared them with the defaults to decide what was given.
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
    schedule = CyclicSchedule(0.01, 0.1, step_size=10)
    with pytest.raises(
        ValueError,
        match=r"step_size_up=2000, base_momentum=0.8; received "
        r"schedule=CyclicSchedule\(base_lr=0.01",
    ):
        CyclicLR(opt, schedule, step_size_up=2000, base_momentum=0.8)
    for name, default in [
        ("mode", "triangular"),
        ("gamma", 1.0),
        ("scale_mode", None),
        ("max_momentum", 0.9),
        ("waveform", "triangular"),
    ]:
        with pytest.raises(ValueError, match=f"{name}={default!r}"):
            CyclicLR(opt, schedule, **{name: default})


def test_momentum_bounds_with_cycle_momentum_false_are_refused_not_ignored():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r"received base_momentum=0\.7"):
        CyclicLR(opt, base_lr=0.1, max_lr=1.0, cycle_momentum=False, base_momentum=0.7)
    sched = CyclicLR(opt, base_lr=0.1, max_lr=1.0, cycle_momentum=False)
    assert not sched.schedules[0].has_momentum and opt.param_groups[0]["momentum"] == 0.9


def test_unknown_keywords_name_the_scheduler_and_last_epoch_says_what_to_write():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
    with pytest.raises(TypeError, match=r"CyclicLR\(\) got an unexpected keyword argument 'lr'"):
        CyclicLR(opt, base_lr=0.1, max_lr=1.0, lr=0.5)
    with pytest.raises(TypeError, match=r"start_step=last_epoch \+ 1.*received last_epoch=4"):
        CyclicLR(opt, base_lr=0.1, max_lr=1.0, last_epoch=4)


def test_signature_shows_pytorchs_keywords_and_defaults_once_written_in_the_core():
    import inspect

    params = inspect.signature(CyclicLR).parameters
    core = inspect.signature(CyclicSchedule.from_torch_kwargs).parameters
    assert list(params)[:2] == ["optimizer", "schedule"]
    for name in ("base_lr", "max_lr", "step_size_up", "mode", "base_momentum", "waveform"):
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY
    for name in ("step_size_up", "mode", "base_momentum", "waveform"):
        assert params[name].default == core[name].default
    assert params["step_size_up"].default == 2000 and params["base_momentum"].default == 0.8
    assert params["base_lr"].default is None  # required only without a schedule
    assert params["cycle_momentum"].default is None  # the scheduler's own: follow the schedule
    assert "keywords" not in params and "start_step" in params


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_get_last_momentum_is_the_momentum_the_next_update_uses(optimizer):
    model = torch.nn.Linear(2, 1)
    opt = (
        torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        if optimizer == "sgd"
        else torch.optim.Adam(model.parameters(), lr=0.1)
    )
    schedule = cyclr.CyclicSchedule(0.01, 0.1, step_size=4, base_momentum=0.8, max_momentum=0.9)
    scheduler = cyclr.torch.CyclicLR(opt, schedule)
    for step in range(10):
        assert scheduler.get_last_momentum() == pytest.approx([schedule.momentum(step)])
        opt.step()
        scheduler.step()


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_rates_computed_ahead_equal_the_cores_scalar_values_across_refills(optimizer):
    """600 updates cross two refills of the rates computed ahead; each equals schedule(step)."""
    s = CyclicSchedule(
        0.01,
        0.1,
        step_size=37,
        mode="exp_range",
        gamma=0.999,
        waveform="sine",
        base_momentum=0.85,
        max_momentum=0.95,
    )
    opt = two_groups(optimizer, lrs=(0.5, 0.125))
    sched = CyclicLR(opt, s, group_scale="initial_lr")
    lrs, moms = read_groups(opt, sched, 600)
    assert lrs[:, 0].tolist() == [s(i) for i in range(600)]  # bit for bit
    assert lrs[:, 1].tolist() == [s(i) * 0.25 for i in range(600)]
    assert moms[:, 1].tolist() == [s.momentum(i) for i in range(600)]
    assert sched.get_last_lr() == [s(600), s(600) * 0.25]
    # Jumping back (a resume, SequentialLR) and changing the schedule are seen at once.
    sched.load_state_dict({**sched.state_dict(), "step": 3})
    assert opt.param_groups[0]["lr"] == s(3)
    other = CyclicSchedule(1.0, 2.0, step_size=4)
    sched.schedules = [other]
    sched.cycle_momentum = False
    opt.step()
    sched.step()
    assert [g["lr"] for g in opt.param_groups] == [other(4), other(4) * 0.25]
    sched.group_scale = [1.0, 1.0]
    opt.step()
    sched.step()
    assert [g["lr"] for g in opt.param_groups] == [other(5)] * 2


def test_optimizer_step_is_left_unwrapped_and_the_order_warning_still_fires(recwarn):
    """PyTorch wraps optimizer.step to check the order once; cyclr undoes that per-update
    cost and checks with a post hook that the scheduler's first step removes."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = CyclicLR(opt, CyclicSchedule(0.1, 1.0, step_size=4))
    assert "step" not in vars(opt)  # the class's own step, no wrapper
    opt.step()
    sched.step()
    assert not opt._optimizer_step_post_hooks  # off the update path from then on
    assert not [w for w in recwarn if "optimizer.step()" in str(w.message)]

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = CyclicLR(opt, CyclicSchedule(0.1, 1.0, step_size=4))
    with pytest.warns(UserWarning, match=r"lr_scheduler.step\(\)` before `optimizer.step\(\)"):
        sched.step()

    # An optimizer whose step the user replaced keeps that replacement.
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    calls = []

    def counted(self, *args, **kwargs):
        calls.append(1)
        return type(self).step(self, *args, **kwargs)

    own_step = opt.step = types.MethodType(counted, opt)  # a bound method, as PyTorch needs
    sched = CyclicLR(opt, CyclicSchedule(0.1, 1.0, step_size=4))
    assert opt.step is own_step
    opt.step()
    sched.step()
    assert calls == [1] and opt.param_groups[0]["lr"] == pytest.approx(0.325)


def test_a_users_post_hook_after_the_scheduler_runs_and_optimizer_step_does_not_crash():
    """PyTorch loops over the post hooks' dict: one removed inside that loop broke it
    ("OrderedDict mutated during iteration") for every hook registered after it."""
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    sched = CyclicLR(opt, OneCycle(0.1, total_steps=10))
    calls = []
    opt.register_step_post_hook(lambda *_: calls.append(opt.param_groups[0]["lr"]))
    for _ in range(3):
        opt.step()
        sched.step()
    assert calls == [OneCycle(0.1, total_steps=10)(k) for k in range(3)]


def test_two_schedulers_on_one_optimizer_both_step():
    """A second scheduler on the same optimizer, built to load a state into on resume
    (PyTorch's test_onecycle_lr_legacy_state_dict) or chained: two post hooks."""
    schedule = OneCycle(0.1, total_steps=10)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
    first = CyclicLR(opt, schedule)
    second = CyclicLR(opt, schedule)  # its hook comes after the first's
    for _ in range(4):
        opt.step()
        first.step()
    second.load_state_dict(first.state_dict())
    opt.step()
    second.step()
    assert opt.param_groups[0]["lr"] == schedule(5) == second.get_last_lr()[0]


def test_a_tensor_lr_stays_a_tensor_and_follows_one_cycle():
    """PyTorch's test_constant_initial_params_onecyclelr, for cyclr: a tensor lr and a
    user's post hook; the optimizer's tensor is filled in place, never replaced."""
    lr = torch.as_tensor(0.1)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.randn(2, 2))], lr=lr)
    schedule = OneCycle(0.1, total_steps=10)
    sched = CyclicLR(opt, schedule)
    opt.register_step_post_hook(lambda *_: None)
    tensor = opt.param_groups[0]["lr"]
    for k in range(1, 4):
        opt.step()
        sched.step()
        assert opt.param_groups[0]["lr"] is tensor
        assert float(tensor) == pytest.approx(schedule(k), rel=1e-6)  # float32


def test_a_float32_tensor_bound_is_read_as_its_float32_value():
    """docs/getting-started/pytorch.md: as PyTorch's schedulers read it."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    CyclicLR(opt, base_lr=torch.as_tensor(0.1), max_lr=torch.as_tensor(1.0), step_size_up=2)
    assert opt.param_groups[0]["lr"] == float(torch.as_tensor(0.1)) == 0.10000000149011612
