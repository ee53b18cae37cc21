"""The char transformer at GPU scale (issue 26, item 6): ``--dataset transformer-gpu``.

Its ``--quick`` run is the CPU smoke run of the GPU-sized code path (every policy, cyclr's
readings per schedule included); the same run on CUDA with bf16 is skipped without a GPU.
"""

import math
import re

import numpy as np
import pytest
from test_bench_smoke import assert_header, committed_results, run_bench  # noqa: F401

torch = pytest.importorskip("torch")

import cyclr
from bench import common
from bench.judging_data import UNKNOWN
from bench.time_to_accuracy import parse_args
from bench.time_to_accuracy_gpu import (
    QUICK_GPU,
    TextModel,
    reading_plan,
    text_job,
)
from bench.time_to_accuracy_text import (
    READING_ROWS,
    TEXT_POLICIES,
    TRANSFORMER_POLICIES,
    TextTask,
    train_text,
)
from cyclr.rangetest import lr_ladder, smooth_losses
from cyclr.rangetest.policies import peak_lr

#: The loss of predicting nothing (a diverged run's score): log of the 97 outputs.
UNIFORM = math.log(UNKNOWN + 1)
NOT_FINITE = re.compile(r"\b(nan|inf)\b", re.IGNORECASE)


@pytest.fixture(scope="module")
def curve():
    """A falling-then-exploding curve on the default ladder: it has a reading."""
    lrs = lr_ladder(1e-5, 10.0, 450)
    x = np.log10(lrs)
    loss = 2.3 - 1.5 / (1 + np.exp(-(x + 3) * 3)) + np.exp((x - 0.2) * 4)
    return cyclr.RangeTestResult(lrs, loss, smooth_losses(loss, 0.98), "end_of_ladder")


def test_reading_rows_train_the_core_schedule_at_its_reading(curve):
    for row, core in READING_ROWS.items():
        plan = reading_plan(row, curve, 1000)
        assert plan.policy == row
        if core == "constant":  # schedule-free AdamW, its warm-up run by the optimizer
            assert plan.optimizer == "schedulefree"
            assert plan.schedule == cyclr.WarmupConstant(
                peak_lr(curve, core, optimizer="adam", batchnorm=False), 0
            )
            assert (
                plan.warmup_steps
                == curve.schedule(core, 1000, optimizer="adam", batchnorm=False).warmup_steps
                == 50
            )
        else:
            assert plan.optimizer == "adamw" and plan.warmup_steps == 0
            assert plan.schedule == curve.schedule(core, 1000, optimizer="adam", batchnorm=False)
            assert plan.lr_range[1] == peak_lr(curve, core, optimizer="adam", batchnorm=False)


@pytest.mark.parametrize(
    "argv, app, text",
    [
        (["--dataset", "transformer-gpu", "--quick"], None, list(TEXT_POLICIES)),
        (["--dataset", "transformer"], None, list(TRANSFORMER_POLICIES)),
        (
            ["--dataset", "transformer", "--policies", "wsd@reading,triangular"],
            None,
            ["triangular", "wsd@reading"],
        ),
        (
            [
                "--dataset",
                "digits,transformer-gpu",
                "--device",
                "cuda",
                "--policies",
                "fixed,wsd@reading,wsd",
            ],
            ["fixed", "wsd"],
            ["wsd@reading", "wsd"],
        ),
    ],
)
def test_each_transformer_task_runs_its_policies(argv, app, text):
    args = parse_args(argv)
    name = args.names[-1]
    assert args.text_policies == {name: text}
    if app is not None:
        assert args.policy_list == app


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--dataset", "transformer-gpu"],
            "--dataset transformer-gpu is sized for a GPU (~16 s an update on one CPU thread): "
            "give --device cuda, or --quick for its small CPU smoke run; received --device='cpu'",
        ),
        (
            ["--dataset", "transformer-gpu", "--device", "cuda", "--amp", "fp16"],
            "--dataset transformer-gpu trains in float32 (--amp none) or under bf16 autocast "
            "(--amp bf16), with no gradient scaler for float16; received --amp='fp16'",
        ),
        (
            ["--dataset", "digits", "--policies", "fixed,wsd@reading"],
            "--policies must name fixed and any of fixed, triangular, triangular2, exp_range, "
            "onecycle, adam, adam+clr, onecycle-valley, adamw+cosine, wsd, schedulefree; "
            "received --policies='fixed,wsd@reading'",
        ),
        (
            ["--dataset", "transformer-gpu", "--quick", "--policies", "cosine"],
            "--policies must name any of fixed, triangular, triangular2, exp_range, onecycle, "
            "adam, adam+clr, onecycle-valley, adamw+cosine, wsd, schedulefree, cosine@reading, "
            "wsd@reading, linear@reading, schedulefree@reading; received --policies='cosine'",
        ),
    ],
)
def test_the_gpu_task_refuses_what_it_cannot_do(argv, message):
    with pytest.raises(common.BenchError) as caught:
        parse_args(argv)
    assert str(caught.value) == message


def test_the_gpu_task_refuses_cuda_on_a_machine_without_it(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    out = tmp_path / "x.md"
    args = ("--dataset", "transformer-gpu", "--device", "cuda", "--amp", "bf16", "--out", out)
    done = run_bench("time_to_accuracy", *args, timeout=120)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert "--device='cuda'" in done.stderr and "sees no CUDA device" in done.stderr
    assert not out.exists()


@pytest.mark.parametrize("amp", [None, "bf16"])
def test_the_loop_trains_and_scores_under_the_precision_asked_for(curve, amp):
    """``--amp bf16``: every forward pass under bf16 autocast, the evaluations' too."""
    task = TextTask(
        updates=4,
        half_cycle=1,
        batch_size=4,
        evaluations=2,
        name="transformer-gpu",
        model=TextModel(1, 16, 2, 16, 50_000, 5_000),
    )
    job = text_job(task, "cpu")
    seen = []

    class Recorded:  # the job, with the head's output dtype recorded at every forward pass
        def __getattr__(self, name):
            return getattr(job, name)

        def build(self, seed, data):
            model = job.build(seed, data)
            model.head.register_forward_hook(lambda m, i, out: seen.append((m.training, out.dtype)))
            return model

    data = job.data()
    run = train_text(
        Recorded(), data, task, "wsd@reading", reading_plan("wsd@reading", curve, 4), 0, None, amp
    )
    dtype = torch.float32 if amp is None else torch.bfloat16
    assert [t for t, _ in seen] == [True] * 2 + [False] + [True] * 2 + [False]
    assert {d for _, d in seen} == {dtype}
    assert [step for step, _ in run.curve] == [2, 4]
    assert not run.diverged and all(math.isfinite(loss) and loss > 0 for _, loss in run.curve)


def rows_of(written):
    """The policy table's rows and the cost table's, by policy."""
    lines = written.splitlines()
    policy, cost = {}, {}
    for line in lines:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and cells[0] in TEXT_POLICIES:
            policy[cells[0]] = cells
        elif len(cells) == 10 and cells[0] in TEXT_POLICIES:
            cost[cells[0]] = cells
    return policy, cost


def assert_every_row(written, updates):
    """Every policy once in each table, every number finite, the costs counted in steps."""
    policy, cost = rows_of(written)
    assert list(policy) == list(TEXT_POLICIES) and list(cost) == list(TEXT_POLICIES)
    rungs = int(re.search(r"validation batch every 2 rungs\): (\d+) rungs \(", written)[1])
    for name in TEXT_POLICIES:
        for row in (policy[name], cost[name]):
            assert not NOT_FINITE.search(" ".join(row)), row
        final = float(policy[name][5].split(" ± ")[0])
        assert 0.5 < final < UNIFORM and cost[name][2] == policy[name][5]
        tuning, total = (int(c.replace(",", "")) for c in cost[name][6:8])
        gridded = cost[name][1] == "grid of 5"
        assert gridded == (name in ("adamw+cosine", "wsd", "schedulefree"))
        assert tuning == (4 * updates if gridded else rungs) and total == tuning + updates
    for name in READING_ROWS:
        assert cost[name][1] == "range test (adamw)"


@pytest.mark.slow
def test_gpu_transformer_quick_runs_every_policy_on_the_cpu(tmp_path, committed_results):  # noqa: F811
    """The CPU smoke run of the GPU-sized code path: every row, the readings' too."""
    pytest.importorskip("schedulefree")
    out = tmp_path / "tta_gpu.md"
    done = run_bench("time_to_accuracy", "--quick", "--dataset", "transformer-gpu", "--out", out)
    assert done.returncode == 0, done.stderr[-2000:]
    written = out.read_text()
    assert_header(
        written,
        f".venv/bin/python -m bench.time_to_accuracy --quick --dataset transformer-gpu --out {out}",
    )
    assert written.startswith("# Time to accuracy at GPU scale: the char transformer\n")
    assert (
        "**transformer-gpu**, `bench/judging_models.py`'s `CharTransformer` at 2 pre-norm"
        in written
    )
    assert "autocast" not in written
    assert written.split("\n\n", 2)[2].strip() in done.stdout
    assert_every_row(written, QUICK_GPU.updates)
    assert "Cost to a good model (transformer-gpu): the best grid-tuned baseline is **" in written
    assert "Goal: a cyclr one-run policy within 1% of " in written
    assert "schedulefree@reading" in written.split("Goal: ")[1]


@pytest.mark.slow
def test_gpu_transformer_quick_runs_on_cuda_in_bf16(tmp_path, committed_results):  # noqa: F811
    """What the GPU machine runs: the quick variant on CUDA under bf16 autocast."""
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    pytest.importorskip("schedulefree")
    out = tmp_path / "tta_gpu_cuda.md"
    args = ("--quick", "--dataset", "transformer-gpu", "--device", "cuda", "--amp", "bf16")
    done = run_bench("time_to_accuracy", *args, "--out", out)
    assert done.returncode == 0, done.stderr[-2000:]
    written = out.read_text()
    machine = next(line for line in written.splitlines() if line.startswith("- machine: "))
    assert f"device cuda (bf16 autocast) ({torch.cuda.get_device_name(0)})" in machine
    assert " Under bf16 autocast: the range test, every training step, the evaluations." in written
    assert_every_row(written, QUICK_GPU.updates)
