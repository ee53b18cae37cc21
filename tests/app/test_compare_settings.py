"""CompareSettings: what ``cyclr compare`` and the time-to-accuracy bench agree to run."""

import pytest

from cyclr.app.compare import CompareSettings
from cyclr.app.policies import RANGE_TEST_DEFAULTS


def test_range_tests_fall_back_to_the_validated_ladders_and_stay_hashable():
    s = CompareSettings("torch", "mlp", ["fixed", "adam+clr"], range_tests={"sgd": (1e-3, 1, 50)})
    assert s.range_test("sgd") == (1e-3, 1, 50)
    assert s.range_test("adam") == RANGE_TEST_DEFAULTS["adam"]
    assert s.range_tested == ["adam", "sgd"] and s.policies == ("fixed", "adam+clr")
    assert hash(s) == hash(
        CompareSettings(
            "torch", "mlp", ("fixed", "adam+clr"), range_tests=(("sgd", (1e-3, 1, 50)),)
        )
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(framework="jax"), "framework=.jax."),
        (dict(policies=["fixed", "cosine"]), "policies=.*cosine"),
        (dict(policies=[]), r"policies=\(\)"),
        (dict(seeds=0), "seeds=0"),
        (dict(policies=["triangular"]), "must include 'fixed'"),
        (dict(target=1.5), "target=1.5"),
        (dict(framework="keras", device="cuda"), "device='cuda'"),
    ],
)
def test_bad_settings_name_the_setting_and_value(kwargs, message):
    settings = dict(framework="torch", model="mlp", policies=["fixed"]) | kwargs
    with pytest.raises(ValueError, match=message):
        CompareSettings(**settings)
