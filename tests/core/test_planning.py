"""steps_per_epoch, step_size_for and check()."""

from cyclr import CyclicSchedule, OneCycle, check, step_size_for, steps_per_epoch


def codes(findings):
    return [f.code for f in findings]


def test_steps_per_epoch_rounds_up():
    assert steps_per_epoch(60000, 50) == 1200
    assert steps_per_epoch(1797, 32) == 57


def test_step_size_for_is_whole_epochs_of_steps():
    assert step_size_for(60000, 50) == 4800  # the seed: 4 * 60000 / 50
    assert step_size_for(1000, 30, epochs=2) == 68  # 2 * ceil(1000 / 30)
    assert step_size_for(1000, 30, epochs=2.5) == 85


def test_a_good_run_has_no_findings():
    s = CyclicSchedule(1e-4, 1e-2, step_size=4 * 100)
    assert check(s, total_steps=3 * 800, steps_per_epoch=100) == []


def test_seed_run_of_15_epochs_ends_mid_cycle_with_too_few_cycles():
    s = CyclicSchedule(1e-4, 1e-2, step_size=4800)
    assert codes(check(s, 15 * 1200, steps_per_epoch=1200)) == ["not_cycle_boundary", "few_cycles"]


def test_step_size_outside_two_to_ten_epochs():
    s = CyclicSchedule(1e-4, 1e-2, step_size=100)
    found = check(s, 3 * 200, steps_per_epoch=100)
    assert codes(found) == ["step_size_epochs", "step_size_epochs"]
    assert "1 epochs" in found[0].message
    assert codes(check(CyclicSchedule(1e-4, 1e-2, step_size=1100), 6600, 100)) == [
        "step_size_epochs",
        "step_size_epochs",
    ]


def test_vanishing_amplitude_is_reported_with_its_step():
    s = CyclicSchedule(1e-4, 1e-2, step_size=10, mode="triangular2")
    # the scale is 1/2**(cycle-1) < 0.01 from cycle 8, i.e. from step 7 * 20 = 140
    found = check(s, 200)
    assert codes(found) == ["amplitude_vanishes"] and "step 140 " in found[0].message
    assert check(s, 140) == []
    e = CyclicSchedule(1e-4, 1e-2, step_size=10, mode="exp_range", gamma=0.99)
    # 0.99**t < 0.01 from t = 459
    assert "step 459 " in check(e, 460)[0].message


def test_onecycle_length_mismatch():
    assert check(OneCycle(0.1, 1000), 1000) == []
    assert codes(check(OneCycle(0.1, 1000), 1200)) == ["onecycle_length"]
