"""RangeTestResult: JSON round trip, summary, the plot, recommend."""

import json
import math

import numpy as np
import pytest

from cyclr.rangetest import RangeTest, RangeTestResult, RangeTestSettings, lr_ladder, smooth_losses

PNG = b"\x89PNG\r\n\x1a\n"


def sigmoid_curve(n=120, noise=0.05, seed=0):
    """A descent from 2.3 to 0.3 centred at lr=1e-2, then a blow-up past lr=0.3."""
    lrs = lr_ladder(1e-5, 10.0, n)
    z = np.log10(lrs)
    losses = 2.3 - 2.0 / (1.0 + np.exp(-3.0 * (z + 2.0))) + 40.0 * np.clip(z + 0.5, 0, None) ** 2
    return lrs, losses + noise * np.random.default_rng(seed).standard_normal(n)


def recorded(n=120, **metrics):
    _lrs, losses = sigmoid_curve(n)
    test = RangeTest(RangeTestSettings(1e-5, 10.0, n))
    for i, loss in enumerate(losses):
        if not test.record(loss, **{k: v[i] for k, v in metrics.items()}):
            break
    return test.result()


def test_json_round_trip_is_exact():
    result = recorded(val_loss=np.linspace(2.0, 1.0, 120))
    again = RangeTestResult.from_json(result.to_json())
    assert again == result
    assert again.lrs.tolist() == result.lrs.tolist()  # bit for bit
    assert again.smoothed.tolist() == result.smoothed.tolist()
    assert again.settings == result.settings and again.stop_reason == "diverged"


def test_json_round_trip_through_a_file(tmp_path):
    result = recorded()
    path = tmp_path / "rt.json"
    text = result.to_json(path)
    assert json.loads(path.read_text()) == json.loads(text)
    assert RangeTestResult.from_json(path) == result
    assert RangeTestResult.from_json(str(path)) == result


def test_non_finite_values_survive_as_strict_json():
    test = RangeTest(RangeTestSettings(1e-3, 1.0, 10))
    for loss in (2.0, 1.0, math.inf):
        test.record(loss)
    text = test.result().to_json()
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))
    assert data["losses"][-1] == "Infinity" and data["smoothed"][-1] == "Infinity"
    again = RangeTestResult.from_json(text)
    assert again.losses[-1] == math.inf and again == test.result()
    nan = RangeTestResult([1.0, 2.0], [1.0, math.nan], [1.0, math.nan], "non_finite_loss")
    assert json.loads(nan.to_json())["losses"] == [1.0, "NaN"]
    assert math.isnan(RangeTestResult.from_json(nan.to_json()).losses[1])


def test_json_carries_settings_and_the_suggestions_for_readers():
    data = json.loads(recorded().to_json())
    assert data["format"] == "cyclr.range_test" and data["version"] == 1
    assert data["settings"] == {
        "start_lr": 1e-5,
        "end_lr": 10.0,
        "num_steps": 120,
        "step_mode": "exp",
        "beta": 0.98,
        "diverge_factor": 4.0,
        "min_steps_before_stop": 5,
        "val_every": 2,
        "monitor": "loss",
        "fine_tuning": False,
    }
    assert set(data["suggestions"]) == {"bounds", "steepest", "valley", "minimum"}


@pytest.mark.parametrize(
    "text,message",
    [
        ('{"format": "other"}', "not a cyclr range-test result"),
        ('{"format": "cyclr.range_test", "version": 99}', "unsupported range-test result version"),
        ('{"format": "cyclr.range_test", "version": 1}', "malformed range-test result"),
        ('{"format": ', "not valid JSON"),
    ],
)
def test_from_json_rejects_what_it_cannot_read(text, message):
    with pytest.raises(ValueError, match=message):
        RangeTestResult.from_json(text)


def test_result_arrays_are_read_only_and_lengths_checked():
    result = recorded()
    with pytest.raises(ValueError, match="read-only"):
        result.losses[0] = 1.0
    with pytest.raises(ValueError, match="losses must have one value per rung"):
        RangeTestResult([1.0, 2.0], [1.0], [1.0], "interrupted")
    with pytest.raises(ValueError, match="stop_reason must be one of"):
        RangeTestResult([1.0], [1.0], [1.0], "bored")


def test_equality_compares_values():
    a = RangeTestResult([1.0, 2.0], [3.0, math.nan], [3.0, math.nan], "non_finite_loss")
    b = RangeTestResult(np.array([1.0, 2.0]), [3.0, math.nan], [3.0, math.nan], "non_finite_loss")
    c = RangeTestResult([1.0, 2.0], [3.0, 4.0], [3.0, math.nan], "non_finite_loss")
    assert a == b and a != c


def test_suggestions_of_a_result_are_those_of_its_curve():
    from cyclr.rangetest import minimum, steepest, suggest_bounds, valley

    result = recorded()
    found = result.suggestions()
    assert sorted(found) == ["minimum", "steepest", "valley"]
    assert result.bounds() == suggest_bounds(result.lrs, result.losses)
    assert found["steepest"] == steepest(result.lrs, result.losses)
    assert found["valley"] == valley(result.lrs, result.losses)
    assert found["minimum"] == minimum(result.lrs, result.losses)


def recorded_fine_tuning(n=120):
    _lrs, losses = sigmoid_curve(n)
    test = RangeTest(RangeTestSettings(1e-5, 10.0, n, fine_tuning=True))
    for loss in losses:
        if not test.record(loss):
            break
    return test.result()


def test_a_fine_tuning_test_reads_its_bounds_for_fine_tuning_and_keeps_it_in_json():
    from cyclr.rangetest import BoundsSettings, suggest_bounds
    from cyclr.rangetest.bounds import FINE_TUNING_DECADES

    plain, tuned = recorded(), recorded_fine_tuning()
    assert tuned.settings.fine_tuning and not plain.settings.fine_tuning
    assert tuned.losses.tolist() == plain.losses.tolist()
    lowered = 10.0**FINE_TUNING_DECADES
    assert tuned.bounds().max_lr == pytest.approx(plain.bounds().max_lr / lowered, rel=1e-12)
    assert tuned.bounds() == suggest_bounds(
        tuned.lrs, tuned.losses, settings=BoundsSettings(fine_tuning=True)
    )
    # settings given are read as given; the plain test read for fine-tuning agrees
    assert tuned.bounds(settings=BoundsSettings()) == plain.bounds()
    assert plain.bounds(settings=BoundsSettings(fine_tuning=True)) == tuned.bounds()
    assert "suggested bounds (loss, fine-tuning)" in tuned.summary()
    again = RangeTestResult.from_json(tuned.to_json())
    assert again.settings.fine_tuning and again.bounds() == tuned.bounds()
    # a result written before fine_tuning existed reads as trained from scratch
    old = json.loads(plain.to_json())
    del old["settings"]["fine_tuning"]
    assert RangeTestResult.from_dict(old).settings.fine_tuning is False
    with pytest.raises(ValueError, match=r"fine_tuning must be True or False.*fine_tuning=1"):
        RangeTestSettings(fine_tuning=1)


def test_suggestions_that_cannot_be_read_are_none():
    result = RangeTestResult([1.0, 2.0, 3.0], [1.0, 0.5, 0.2], [1.0, 0.7, 0.5], "interrupted")
    assert result.suggestions() == {"steepest": None, "valley": None, "minimum": None}
    with pytest.raises(ValueError, match="at least 10 finite losses"):
        result.bounds()
    assert "none" in result.summary()


def test_readings_are_computed_once_per_curve(monkeypatch):
    from cyclr.rangetest import bounds, suggestions

    result = recorded()
    calls = []
    for module, name in ((bounds, "robust_smooth"), (suggestions, "smooth_losses")):
        real = getattr(module, name)
        monkeypatch.setattr(
            module, name, lambda *a, _real=real, **k: calls.append(1) or _real(*a, **k)
        )
    result.summary()
    result.to_dict()
    first = len(calls)
    result.summary()
    result.to_dict()
    result.bounds()
    assert first == 4 and len(calls) == first  # bounds + three single readings, once


def test_suggestions_hold_the_single_rate_readings_only():
    result = recorded()
    assert sorted(result.suggestions()) == ["minimum", "steepest", "valley"]
    with pytest.raises(KeyError):
        result.suggestions()["bounds"]  # the bounds are result.bounds()


def test_validation_curves_are_read_on_their_measured_rungs():
    n = 120
    acc = np.full(n, math.nan)
    acc[::2] = 0.1 + 0.8 / (1.0 + np.exp(-3.0 * (np.log10(lr_ladder(1e-5, 10.0, n)[::2]) + 2)))
    result = recorded(val_accuracy=acc)
    lrs, values, mode = result.curve("val_accuracy")
    np.testing.assert_array_equal(values, acc[: result.lrs.size][::2])
    assert mode == "accuracy" and lrs.tolist() == result.lrs[::2].tolist()
    assert result.bounds("val_accuracy").base_lr < 1e-2 < result.bounds("val_accuracy").max_lr
    with pytest.raises(ValueError, match="recorded no val_loss"):
        result.curve("val_loss")


def test_summary_names_the_stop_and_the_bounds():
    result = recorded()
    text = result.summary()
    bounds = result.bounds()
    assert "stopped: diverged" in text
    assert f"base_lr={bounds.base_lr:.3g}, max_lr={bounds.max_lr:.3g}" in text


@pytest.mark.parametrize("monitor", ["loss", "val_accuracy"])
def test_plot_writes_a_png(tmp_path, monitor):
    n = 120
    result = recorded(val_accuracy=np.linspace(0.1, 0.9, n))
    out = result.plot(tmp_path / "rt.png", monitor=monitor, title="t")
    assert (tmp_path / "rt.png").read_bytes()[:8] == PNG and out == tmp_path / "rt.png"


def test_plot_of_a_linear_ladder_and_of_a_short_test(tmp_path):
    lrs = lr_ladder(0.0, 1.0, 40, "linear")
    losses = 2.0 - np.tanh(8 * (lrs - 0.3))
    linear = RangeTestResult(
        lrs,
        losses,
        smooth_losses(losses),
        "end_of_ladder",
        RangeTestSettings(0.0, 1.0, 40, "linear"),
    )
    linear.plot(tmp_path / "linear.png")
    short = RangeTestResult([1e-3, 1e-2], [2.0, math.nan], [2.0, math.nan], "non_finite_loss")
    short.plot(tmp_path / "short.png")
    for name in ("linear.png", "short.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG
    with pytest.raises(ValueError, match="no rungs"):
        RangeTestResult([], [], [], "interrupted").plot(tmp_path / "empty.png")


def test_to_json_path_is_replaced_only_once_complete(tmp_path, monkeypatch):
    import cyclr._files

    result = recorded()
    path = tmp_path / "r.json"
    result.to_json(path)
    before = path.read_text()

    def disk_full_after_writing(path_, write):
        def write_then_fail(tmp):
            write(tmp)
            raise OSError("disk full")

        return cyclr._files.replace_atomically(path_, write_then_fail)

    monkeypatch.setattr("cyclr.rangetest.result.replace_atomically", disk_full_after_writing)
    with pytest.raises(OSError, match="disk full"):
        recorded(n=60).to_json(path)
    assert path.read_text() == before and len(list(tmp_path.iterdir())) == 1
