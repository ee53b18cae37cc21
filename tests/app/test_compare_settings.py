"""CompareSettings: what ``cyclr compare`` and the time-to-accuracy bench agree to run."""

import pytest

from cyclr import RangeTestSettings
from cyclr.app.compare import CompareSettings


def test_one_range_test_settings_serve_every_optimizer_by_default():
    s = CompareSettings("torch", "mlp", ["fixed", "adam+clr"])
    assert s.range_test_of("sgd") == s.range_test_of("adam") == RangeTestSettings()
    assert (s.range_test_of("adam").start_lr, s.range_test_of("adam").num_steps) == (1e-5, 450)
    assert s.range_tested == ["adam", "sgd"] and s.policies == ("fixed", "adam+clr")


def test_range_tests_by_optimizer_stay_hashable_and_must_cover_the_policies():
    sgd, adam = RangeTestSettings(1e-3, 1.0, 50), RangeTestSettings(1e-5, 1.0, 300)
    s = CompareSettings(
        "torch", "mlp", ["fixed", "adam+clr"], range_test={"sgd": sgd, "adam": adam}
    )
    assert (s.range_test_of("sgd"), s.range_test_of("adam")) == (sgd, adam)
    assert hash(s) == hash(
        CompareSettings(
            "torch", "mlp", ("fixed", "adam+clr"), range_test=(("adam", adam), ("sgd", sgd))
        )
    )
    with pytest.raises(ValueError, match=r"range_test holds no settings for adam"):
        CompareSettings("torch", "mlp", ["fixed", "adam+clr"], range_test={"sgd": sgd})
    with pytest.raises(ValueError, match=r"range_test=\{'sgd': \(0\.001, 1, 50\)\}"):
        CompareSettings("torch", "mlp", ["fixed"], range_test={"sgd": (1e-3, 1, 50)})


def test_the_reading_policies_read_the_adam_range_test_with_a_grid_or_without():
    for grid in ({}, {"wsd": (1e-3, 1e-2)}):
        s = CompareSettings("torch", "mlp", ["fixed", "wsd"], grid=grid)
        assert s.range_tested == ["adam", "sgd"] and s.grid_for("wsd") == tuple(grid.get("wsd", ()))
    assert CompareSettings("torch", "mlp", ["fixed", "adamw+cosine"]).range_tested == ["sgd"]
    sgd = RangeTestSettings(1e-3, 1.0, 50)
    with pytest.raises(ValueError, match=r"range_test holds no settings for adam"):
        CompareSettings("torch", "mlp", ["fixed", "cosine"], range_test={"sgd": sgd})


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(framework="jax"), "framework=.jax."),
        (dict(policies=["fixed", "constant"]), "policies=.*constant"),
        (dict(policies=[]), r"policies=\(\)"),
        (dict(seeds=0), "seeds=0"),
        (dict(policies=["triangular"]), "must include 'fixed'"),
        (dict(target=1.5), "target=1.5"),
        (dict(framework="keras", device="cuda"), "device='cuda'"),
        (dict(range_test=RangeTestSettings(monitor="val_accuracy")), "monitor='val_accuracy'"),
        (dict(range_test=RangeTestSettings(start_lr=None)), "start_lr=None"),
    ],
)
def test_bad_settings_name_the_setting_and_value(kwargs, message):
    settings = dict(framework="torch", model="mlp", policies=["fixed"]) | kwargs
    with pytest.raises(ValueError, match=message):
        CompareSettings(**settings)
