"""``cyclr find`` reads every policy; ``cyclr train --policy cosine|wsd|linear|schedulefree``
trains at that reading (issue 26; docs/semantics.md, *Readings per schedule*)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from cli_helpers import assert_lr_column_is_the_schedule, assert_run_folder, one_line_error

import cyclr
from cyclr.app.readings import policy_readings, readings_lines
from cyclr.rangetest import lr_ladder, smooth_losses
from cyclr.rangetest.policies import PEAK_READINGS, PEAKED, POLICIES, peak_lr, peak_schedule

pytest.importorskip("torch")
pytest.importorskip("schedulefree")

#: A small PyTorch run on the bundled digits: 1150 training images, 72 steps an epoch.
DATA = ("--framework", "torch", "--model", "mlp", "--batch-size", "16", "--num-steps", "150")


def _cyclr(tmp, *args):
    env = dict(os.environ, MPLCONFIGDIR=str(tmp / "mpl"), KERAS_HOME=str(tmp / "keras"))
    return subprocess.run(
        [sys.executable, "-m", "cyclr", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    """``cyclr find --optimizer adam`` once: its folder and what it printed."""
    tmp = tmp_path_factory.mktemp("find")
    proc = _cyclr(tmp, "find", *DATA, "--optimizer", "adam", "--out", tmp / "find")
    assert proc.returncode == 0, proc.stderr
    return tmp / "find", proc.stdout


def test_find_prints_and_records_every_policys_reading(found):
    out, stdout = found
    result = cyclr.RangeTestResult.from_json(out / "range_test.json")
    readings = json.loads((out / "summary.json").read_text())["policies"]
    assert list(readings) == list(POLICIES)
    assert result.optimizer == "Adam"  # find --optimizer adam: the Adam family's factors
    assert result.batchnorm is False  # the MLP has no BatchNorm layers: Adam's own factors
    base, top = result.bounds()
    assert readings["triangular"] == {"base_lr": base, "max_lr": top}
    assert readings["wsd"] == {"peak_lr": top * PEAK_READINGS["wsd"]["adam"]}
    lines = stdout.splitlines()
    assert f"  triangular  base_lr={base:.3g}  max_lr={top:.3g}" in lines
    for policy in POLICIES[1:]:
        assert readings[policy] == {"peak_lr": peak_lr(result, policy)}
        line = next(x for x in lines if x.startswith(f"  {policy:<10}  "))
        assert f"peak_lr={peak_lr(result, policy):.3g}" in line
    assert "(cyclr train --policy schedulefree: schedule-free AdamW)" in stdout


def test_the_snippet_reads_the_saved_range_test_for_another_policy(found):
    out, _ = found
    code = (out / "snippet.py").read_text()
    lines = [x[2:] for x in code.splitlines() if x.startswith(("# result =", "# schedule ="))]
    assert len(lines) == 2 and repr(str(out / "range_test.json")) in lines[0]
    space = {"cyclr": cyclr, "total_steps": 500}
    exec("\n".join(lines), space)  # the commented lines, as a user uncomments them
    result = cyclr.RangeTestResult.from_json(out / "range_test.json")
    assert space["schedule"] == result.schedule("cosine", 500)


def test_train_cosine_trains_the_reading_of_the_saved_range_test(found, tmp_path):
    out = tmp_path / "cosine"
    args = ("train", *DATA, "--policy", "cosine", "--epochs", "2", "--quiet")
    proc = _cyclr(tmp_path, *args, "--range-test", found[0], "--out", out)
    assert proc.returncode == 0, proc.stderr
    rows = assert_run_folder(out)
    summary = json.loads((out / "summary.json").read_text())
    result = cyclr.RangeTestResult.from_json(found[0] / "range_test.json")
    reading = result.schedule("cosine", 2 * 72, steps_per_epoch=72)
    assert summary["range_test_reused"] and len(rows) == summary["steps"] == 144
    assert summary["schedule"] == summary["reading"] == repr(reading)
    assert summary["optimizer"] == "adamw" and summary["test_accuracy"] > 0.5
    assert_lr_column_is_the_schedule(rows, reading, rtol=1e-12)


def test_train_schedulefree_runs_the_constant_reading_in_the_optimizer(found, tmp_path):
    out = tmp_path / "free"
    args = ("train", *DATA, "--policy", "schedulefree", "--epochs", "1", "--quiet")
    proc = _cyclr(tmp_path, *args, "--range-test", found[0], "--out", out)
    assert proc.returncode == 0, proc.stderr
    rows = assert_run_folder(out)
    summary = json.loads((out / "summary.json").read_text())
    result = cyclr.RangeTestResult.from_json(found[0] / "range_test.json")
    reading = result.schedule("constant", 72, steps_per_epoch=72)
    assert summary["optimizer"] == "schedulefree" and summary["reading"] == repr(reading)
    # the warm-up is the optimizer's own (its warmup_steps); the lr it is given is the peak
    assert summary["warmup_steps"] == reading.warmup_steps == 4
    assert {float(r["lr"]) for r in rows} == {reading.peak_lr}


def test_train_wsd_at_a_given_peak_runs_no_range_test(tmp_path):
    out = tmp_path / "wsd"
    args = ("train", *DATA, "--policy", "wsd", "--max-lr", "0.003", "--epochs", "1", "--quiet")
    proc = _cyclr(tmp_path, *args, "--out", out)
    assert proc.returncode == 0, proc.stderr
    rows = assert_run_folder(out, range_test=False)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["bounds_from"] == "--max-lr" and "reading" not in summary
    assert not (out / "range_test.json").exists()
    assert_lr_column_is_the_schedule(rows, peak_schedule("wsd", 0.003, 72), rtol=1e-12)


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ("--policy", "cosnie"),
            "argument --policy: invalid choice: 'cosnie' (choose from 'fixed', 'triangular', "
            "'triangular2', 'exp_range', 'sine', 'parabolic', 'onecycle', 'adam', 'adam+clr', "
            "'cosine', 'wsd', 'linear', 'schedulefree')",
        ),
        (
            ("--policy", "schedulefree", "--framework", "keras"),
            "--policy schedulefree trains with schedule-free AdamW, which runs with --framework "
            "torch only here; received --framework=keras",
        ),
        (
            ("--policy", "cosine", "--framework", "torch", "--optimizer", "sgd"),
            "--policy cosine trains with AdamW, read off a range test with Adam; received "
            "--optimizer=sgd",
        ),
        (
            ("--policy", "linear", "--framework", "torch", "--base-lr", "0.1", "--max-lr", "1"),
            "--base-lr does not apply to --policy linear (one peak rate: give --max-lr alone); "
            "received --base-lr=0.1",
        ),
        (
            ("--policy", "wsd", "--framework", "torch", "--max-lr", "1", "--range-test", "x"),
            "--range-test does not apply with --base-lr/--max-lr (no range test); received "
            "--range-test=x",
        ),
        (
            ("--policy", "cosine", "--framework", "torch", "--cycles", "2"),
            "--cycles does not apply to --policy cosine (no cycles)",
        ),
    ],
)
def test_train_refuses_a_reading_policy_it_cannot_run_in_one_line(tmp_path, args, message):
    proc = _cyclr(tmp_path, "train", *args, "--out", tmp_path / "run")
    one_line_error(proc, message)
    assert not (tmp_path / "run").exists()


def test_a_policy_whose_reading_raises_is_unavailable_with_the_reason():
    lrs = lr_ladder(1e-5, 10.0, 100)
    flat = np.full(100, 2.0)  # no descent: no reading for any policy
    result = cyclr.RangeTestResult(lrs, flat, smooth_losses(flat, 0.98), "end_of_ladder")
    readings = policy_readings(result, "sgd")
    assert list(readings) == list(POLICIES)
    for policy, reading in readings.items():
        assert list(reading) == ["unavailable"]
        assert reading["unavailable"].startswith(
            f"this range test gives no reliable rate for policy={policy!r}: "
        )
    lines = readings_lines(readings, "sgd")  # printed as unavailable, with no rate
    assert lines[1:] == [f"  {p:<10}  unavailable: {r['unavailable']}" for p, r in readings.items()]


def test_the_readings_take_the_factors_of_the_optimizer_the_test_ran_with():
    lrs = lr_ladder(1e-5, 10.0, 450)
    x = np.log10(lrs)
    loss = 2.3 - 1.5 / (1 + np.exp(-(x + 3) * 3)) + np.exp((x - 0.2) * 4)
    smoothed = smooth_losses(loss, 0.98)
    result = cyclr.RangeTestResult(lrs, loss, smoothed, "end_of_ladder")
    base, top = result.bounds()
    # Adam's factors are those of a model with BatchNorm layers or without, as recorded
    for batchnorm, adam in ((False, "adam"), (True, "adam_batchnorm")):
        recorded = cyclr.RangeTestResult(lrs, loss, smoothed, "end_of_ladder", batchnorm=batchnorm)
        for optimizer, kind in (("sgd", "sgd"), ("adam", adam)):
            readings = policy_readings(recorded, optimizer)
            assert readings["triangular"] == {"base_lr": base, "max_lr": top}
            for policy in PEAKED:
                assert readings[policy] == {"peak_lr": top * PEAK_READINGS[policy][kind]}
    unknown = policy_readings(result)  # this result records no optimizer: no peak is guessed
    assert unknown["triangular"] == {"base_lr": base, "max_lr": top}
    assert all("received optimizer=None" in unknown[p]["unavailable"] for p in PEAKED)
    no_batchnorm = policy_readings(result, "adam")  # nor Adam's, with batchnorm unknown
    assert no_batchnorm["triangular"] == {"base_lr": base, "max_lr": top}
    assert all("received batchnorm=None" in no_batchnorm[p]["unavailable"] for p in PEAKED)
    assert policy_readings(result, "sgd") == policy_readings(recorded, "sgd")


def test_a_saved_range_test_written_before_batchnorm_was_recorded_is_refused(found, tmp_path):
    """An older ``range_test.json`` (no ``batchnorm``) with its record intact: ``train``
    refuses to read it, naming the file and the field, rather than guess the factor."""
    import hashlib
    import shutil

    old = tmp_path / "old"
    shutil.copytree(found[0], old)
    data = json.loads((old / "range_test.json").read_text())
    del data["batchnorm"]
    (old / "range_test.json").write_text(json.dumps(data))
    record = json.loads((old / "range_test_run.json").read_text())
    record["sha256"] = hashlib.sha256((old / "range_test.json").read_bytes()).hexdigest()
    (old / "range_test_run.json").write_text(json.dumps(record))
    args = ("train", *DATA, "--policy", "cosine", "--epochs", "1", "--quiet")
    proc = _cyclr(tmp_path, *args, "--range-test", old, "--out", tmp_path / "run")
    one_line_error(proc, "batchnorm=None")
    assert "run the range test again" in proc.stderr and repr(str(old)) in proc.stderr
    assert not (tmp_path / "run").exists()
