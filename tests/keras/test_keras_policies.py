"""A range test's schedule for each policy, in the graph: ``KerasSchedule`` as the rate."""

import pathlib
import re

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from keras_probe import assert_lrs, probe_fit, probe_model

import cyclr
from cyclr.keras import KerasSchedule
from cyclr.rangetest.policies import POLICIES

ROOT = pathlib.Path(__file__).parents[2]
#: A recorded range test (MNIST-1D, an MLP) with a reading for every policy.
RESULT = cyclr.RangeTestResult.from_json(
    ROOT / "tests" / "rangetest" / "fixtures" / "mnist1d_mlp.json"
)
TOTAL, PER_EPOCH = 16, 4  # the probe's 4 epochs of 4 updates


@pytest.mark.parametrize("policy", POLICIES)
def test_each_policys_schedule_runs_in_fit_as_the_core_computes_it(policy):
    # a file without its optimizer or batchnorm, so both are given (an MLP: no BatchNorm
    # layers): Adam's factors keep every peak below 1, where the update's float32 error
    # stays within the 2e-7 checked below
    core = RESULT.schedule(
        policy, TOTAL, steps_per_epoch=PER_EPOCH, optimizer="adam", batchnorm=False
    )
    assert core(np.arange(TOTAL)).max() < 1.0
    schedule = KerasSchedule(core)
    rec = probe_fit(probe_model(keras.optimizers.SGD(schedule)), epochs=5)  # 4 past the end
    expected = core(np.arange(5 * PER_EPOCH))
    assert rec.steps == list(range(5 * PER_EPOCH))
    assert_lrs(rec.lrs, expected)
    # what each update applied, computed inside the train step: w grows by its lr
    np.testing.assert_allclose(rec.deltas, expected, rtol=0, atol=2e-7)
    assert KerasSchedule.from_config(schedule.get_config()).schedule == core


def test_the_guides_policy_example_runs():
    page = ROOT / "docs" / "getting-started" / "keras.md"
    text = page.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    section = text[text.index("## A schedule for the policy you run") :]
    example = re.findall(r"```python\n(.*?)```", section, flags=re.S)[0]
    scope = {}
    for block in (blocks[0], blocks[1], example):  # the model, the range test, the policy
        exec(compile(block, str(page), "exec"), scope)
    optimizer, result = scope["model"].optimizer, scope["result"]
    schedule = result.schedule("cosine", 64, steps_per_epoch=16)
    assert scope["schedule"] == schedule and isinstance(schedule, cyclr.WarmupCosine)
    assert int(keras.ops.convert_to_numpy(optimizer.iterations)) == 64
    for step in (1, 3, 40):
        optimizer.iterations.assign(step)
        lr = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        assert lr == pytest.approx(schedule(step), rel=1e-6)
