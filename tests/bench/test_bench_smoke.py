"""The benchmarks run end to end, as ``python -m bench.NAME`` subprocesses; numbers unchecked.

What is checked is where they write: a ``--quick`` run writes only where ``--out``
says, never into ``bench/results/``, and every table starts with the same
provenance header. The runs that train take 15-30 s on one thread, so they are
marked slow: ``pytest -m "not slow"`` skips them.
"""

import os
import pathlib
import subprocess
import sys

import pytest

from cyclr.rangetest.policies import PEAK_READINGS

ROOT = pathlib.Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
HEADER = (
    "- command: `",
    "- date: ",
    "- machine: ",
    "- load average (1, 5, 15 min): ",
    "- versions: Python ",
    "- git commit: ",
    "- seeds: ",
)


def run_bench(name, *args, timeout=300):
    """``python -m bench.NAME ARGS`` from the repository root."""
    env = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.run(
        [sys.executable, "-m", f"bench.{name}", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


@pytest.fixture
def committed_results():
    """Fails the test if it changed, added or removed anything in bench/results/."""

    def snapshot():  # every file, the policy study's cache folder included
        return {
            str(p.relative_to(RESULTS)): p.read_bytes() for p in RESULTS.rglob("*") if p.is_file()
        }

    before = snapshot()
    yield
    assert snapshot() == before, "a bench run changed bench/results/"


def assert_header(text, command):
    """The provenance header, first thing after the title, naming ``command``."""
    lines = text.splitlines()
    assert lines[0].startswith("# ") and lines[1] == ""
    assert [line[: len(h)] for line, h in zip(lines[2:9], HEADER, strict=True)] == list(HEADER)
    assert lines[2] == f"- command: `{command}`"


def test_quick_run_without_out_writes_nothing(committed_results):
    done = run_bench("schedule_speed", "--quick")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| triangular |" in done.stdout


def test_quick_run_writes_where_out_says_with_the_header(tmp_path, committed_results):
    out = tmp_path / "speed.md"
    done = run_bench("schedule_speed", "--quick", "--out", out)
    assert done.returncode == 0, done.stderr[-2000:]
    written = out.read_text()
    assert_header(written, f".venv/bin/python -m bench.schedule_speed --quick --out {out}")
    assert "| one-cycle |" in written


def test_quick_run_refuses_an_out_in_bench_results(committed_results):
    done = run_bench("schedule_speed", "--quick", "--out", "bench/results/schedule_speed.md")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "schedule_speed: --out must lie outside bench/results/ for a --quick run (its numbers "
        "are a smoke test, not results); received --out='bench/results/schedule_speed.md'"
    ]


def test_results_page_dry_run_prints_the_page_and_changes_nothing():
    page = (ROOT / "docs" / "results.md").read_bytes()
    done = run_bench("readme_results", "--dry-run")
    assert done.returncode == 0, done.stderr[-2000:]
    assert (ROOT / "docs" / "results.md").read_bytes() == page
    table_row = next(
        line
        for line in (RESULTS / "suggest_bounds.md").read_text().splitlines()
        if line.startswith("| digits / seed CNN | suggest_bounds |")
    )
    assert "### Do the suggested bounds train well?" in done.stdout
    assert table_row in done.stdout.split("<!-- results:start -->")[1]
    # a result file's own headings nest under its section: no second top-level "## The grids"
    assert "\n#### The grids\n" in done.stdout
    assert "\n## The grids\n" not in done.stdout


def test_results_page_is_up_to_date_with_bench_results():
    done = run_bench("readme_results", "--check")
    assert done.returncode == 0, done.stderr[-2000:]


def test_time_to_accuracy_refuses_cuda_without_a_gpu(tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    done = run_bench(
        "time_to_accuracy",
        "--dataset",
        "digits",
        "--device",
        "cuda",
        "--out",
        tmp_path / "x.md",
        timeout=120,
    )
    assert done.returncode == 2
    assert "--device='cuda'" in done.stderr and "sees no CUDA device" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_time_to_accuracy_needs_the_fixed_policy_for_its_target(tmp_path):
    done = run_bench(
        "time_to_accuracy", "--policies", "triangular,adam", "--out", tmp_path / "x.md", timeout=120
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "time_to_accuracy: --policies must name fixed and any of fixed, triangular, "
        "triangular2, exp_range, onecycle, adam, adam+clr, onecycle-valley, adamw+cosine, "
        "wsd, schedulefree; received --policies='triangular,adam'"
    ]
    assert not (tmp_path / "x.md").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (("--grid", "4"), "--grid must be at least 5 (each baseline's rate is tuned over a grid"),
        (("--amp", "fp8"), "--amp must be one of none, bf16, fp16; received --amp='fp8'"),
        (("--amp", "fp16"), "--amp fp16 needs --device cuda (its gradient scaler); received "),
    ],
)
def test_time_to_accuracy_refuses_a_short_grid_and_unknown_precisions(tmp_path, args, message):
    done = run_bench("time_to_accuracy", *args, "--out", tmp_path / "x.md", timeout=120)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr
    assert not (tmp_path / "x.md").exists()


@pytest.mark.slow
def test_time_to_accuracy_quick_runs_on_cuda_with_mixed_precision(tmp_path, committed_results):
    """The CUDA path (issue 16): ``--device cuda`` with bf16 autocast; skipped without a GPU."""
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    pytest.importorskip("mnist1d")
    out = tmp_path / "tta_cuda.md"
    done = run_bench(
        "time_to_accuracy", "--quick", "--device", "cuda", "--amp", "bf16", "--out", out
    )
    assert done.returncode == 0, done.stderr[-2000:]
    written = out.read_text()
    assert "cuda (bf16 autocast)" in written
    assert (
        "Cost to a good model (mnist1d)" in written and "Cost to a good model (digits)" in written
    )
    for policy in ("onecycle", "adamw+cosine", "wsd", "schedulefree"):
        row = next(line for line in written.splitlines() if line.startswith(f"| {policy} | "))
        final = float(row.split(" | ")[-2].split(" ± ")[0])  # final accuracy %, a real one
        assert 20 < final <= 100


@pytest.mark.slow
def test_time_to_accuracy_quick_prints_and_writes_the_table(tmp_path, committed_results):
    pytest.importorskip("torch")
    pytest.importorskip("mnist1d")
    out = tmp_path / "tta.md"
    done = run_bench("time_to_accuracy", "--quick", "--out", out)
    assert done.returncode == 0, done.stderr[-2000:]
    for policy in (
        "fixed",
        "triangular",
        "triangular2",
        "exp_range",
        "onecycle",
        "adam",
        "adam+clr",
        "onecycle-valley",
        "adamw+cosine",
        "wsd",
        "schedulefree",
    ):
        assert f"| {policy} |" in done.stdout
    written = out.read_text()
    assert_header(written, f".venv/bin/python -m bench.time_to_accuracy --quick --out {out}")
    assert "**mnist1d**" in written and "**digits**" in written
    assert "| × budget | × fixed's | seconds to target |" in written
    # every baseline's grid of 5, one rate kept each, and the headline cost table per task
    for baseline in ("adamw+cosine", "wsd", "schedulefree"):
        grid_rows = [line for line in written.splitlines() if line.startswith(f"| {baseline} | ")]
        grid_rows = [line for line in grid_rows if line.count("|") == 6]
        assert len(grid_rows) == 2 * 5 and sum("kept" in line for line in grid_rows) == 2
    assert written.count("Cost to a good model (") == 2
    assert written.count("| grid of 5 |") == 2 * 3
    assert "Goal: a cyclr one-run policy within 0.3 points of" in written


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ("--dataset", "transformer", "--device", "cuda"),
            "--dataset transformer trains on the CPU in float32 only; received --device='cuda'",
        ),
        (
            ("--dataset", "transformer", "--epochs", "3"),
            "--epochs overrides the app tasks' settings (mnist1d, digits, cifar10); --dataset "
            "transformer counts its budget in updates",
        ),
        (
            ("--dataset", "transformer", "--policies", "fixed,adam"),
            "--dataset transformer runs triangular, onecycle, cosine@reading, wsd@reading, "
            "linear@reading, schedulefree@reading, onecycle-valley, adamw+cosine, wsd, "
            "schedulefree: --policies must name some of them; received --policies=",
        ),
        (("--dataset", "transformers"), "--dataset must name some of mnist1d, digits, cifar10, "),
    ],
)
def test_time_to_accuracy_refuses_what_the_transformer_task_cannot_do(tmp_path, args, message):
    done = run_bench("time_to_accuracy", *args, "--out", tmp_path / "x.md", timeout=120)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr
    assert not (tmp_path / "x.md").exists()


@pytest.mark.slow
def test_time_to_accuracy_quick_runs_the_transformer_task(tmp_path, committed_results):
    """Issue 16: the char transformer, judged by held-out loss, against grid-tuned AdamW."""
    pytest.importorskip("torch")
    pytest.importorskip("schedulefree")
    out = tmp_path / "tta_transformer.md"
    done = run_bench("time_to_accuracy", "--quick", "--dataset", "transformer", "--out", out)
    assert done.returncode == 0, done.stderr[-2000:]
    written = out.read_text()
    assert_header(
        written,
        f".venv/bin/python -m bench.time_to_accuracy --quick --dataset transformer --out {out}",
    )
    assert "**transformer**" in written and "**mnist1d**" not in written
    assert "bounds on the validation curve" in written
    body = written.split("\n\n", 2)[2]
    assert body.strip() in done.stdout
    lines = written.splitlines()
    # the policy table, then the cost table: every policy once in each, with a real loss
    # (below predicting nothing: log of the 96-symbol vocabulary, 4.56 nats)
    policies = ("triangular", "onecycle", "onecycle-valley", "adamw+cosine", "wsd", "schedulefree")
    for policy in policies:
        rows = [line for line in lines if line.startswith(f"| {policy} | ")]
        wide = [row for row in rows if row.count("|") in (8, 11)]
        assert len(wide) == 2, rows
        for row in wide:
            loss = next(c for c in row.split(" | ") if " ± " in c)
            assert 0.5 < float(loss.split(" ± ")[0]) < 4.56
    # every baseline's grid of 5, the kept rate the one with the lowest loss
    for baseline in ("adamw+cosine", "wsd", "schedulefree"):
        grid = [line for line in lines if line.startswith(f"| {baseline} | ")]
        grid = [line for line in grid if line.count("|") == 6]
        assert len(grid) == 5
        losses = [float(line.split(" | ")[2].split(" ± ")[0]) for line in grid]
        kept = [i for i, line in enumerate(grid) if line.rstrip().endswith("| kept |")]
        assert kept == [losses.index(min(losses))]
    assert written.count("| grid of 5 |") == 3
    assert written.count("| range test (adamw) |") == 3
    assert "Cost to a good model (transformer): the best grid-tuned baseline is **" in written
    assert "Goal: a cyclr one-run policy within 1% of " in written
    assert "± is the standard error of the mean over seeds" in written


@pytest.mark.slow
def test_finder_peers_quick_prints_and_writes_the_table(tmp_path, committed_results):
    pytest.importorskip("torch_lr_finder")
    pytest.importorskip("keras")
    out = tmp_path / "peers.md"
    done = run_bench("finder_peers", "--quick", "--out", out)
    assert done.returncode == 0, done.stderr[-2000:]
    written = out.read_text()
    assert_header(written, f".venv/bin/python -m bench.finder_peers --quick --out {out}")
    for finder in ("cyclr range test", "torch-lr-finder (README", "Wittmann-style"):
        assert finder in done.stdout and finder in written


@pytest.mark.slow
def test_suggest_bounds_quick_writes_every_method_and_the_noise_row_to_out(
    tmp_path, committed_results
):
    pytest.importorskip("torch")
    pytest.importorskip("mnist1d")
    out = tmp_path / "suggest_bounds.md"
    done = run_bench("suggest_bounds", "--quick", "--out", out)
    assert done.returncode == 0, done.stderr[-2000:]
    written = out.read_text()
    assert_header(written, f".venv/bin/python -m bench.suggest_bounds --quick --out {out}")
    rows = [line for line in written.splitlines() if line.startswith("| MNIST-1D / MLP |")]
    assert [row.split(" | ")[1] for row in rows] == [
        "suggest_bounds",
        "steepest / 4",
        "valley / 4",
        "minimum / 4",
        "best grid pair",
        "best grid pair x 0.99 (noise)",
    ]
    assert all(row in done.stdout for row in rows)


@pytest.mark.slow
def test_ladders_quick_reads_every_ladder_against_the_default(tmp_path, committed_results):
    pytest.importorskip("torch")
    pytest.importorskip("mnist1d")
    out = tmp_path / "ladders.md"
    done = run_bench("ladders", "--quick", "--out", out)
    assert done.returncode == 0, done.stderr[-2000:]
    written = out.read_text()
    assert_header(written, f".venv/bin/python -m bench.ladders --quick --out {out}")
    rows = [line for line in written.splitlines() if line.startswith("| MNIST-1D / MLP |")]
    assert len(rows) == 6
    # the default ladder first, its own reference; every other one a ratio with its error
    assert "1e-05 -> 10, 450 rungs" in rows[0] and rows[0].endswith("| 1 | 1 | 1 |")
    assert "1e-07 -> 10, 100 rungs" in rows[1]
    assert all(row.count(" x/ ") == 3 for row in rows[1:])
    assert "farthest is" in written and "without the delay correction" in written


@pytest.mark.slow
def test_overhead_quick_runs_its_torch_part_in_a_child_process(tmp_path, committed_results):
    pytest.importorskip("torch")
    out = tmp_path / "overhead.md"
    done = run_bench("overhead", "--quick", "--only", "torch", "--out", out)
    assert done.returncode == 0, done.stderr[-2000:]
    written = out.read_text()
    assert_header(written, f".venv/bin/python -m bench.overhead --quick --only torch --out {out}")
    variants = [
        line.split(" | ")[1]
        for line in written.splitlines()
        if line.startswith("| PyTorch (plain loop) |")
    ]
    assert variants == [
        "constant lr (no scheduler)",
        "floor: a Python object writing a precomputed lr",
        "`cyclr.torch.CyclicLR`",
        "`torch.optim.lr_scheduler.CyclicLR`",
        "`cyclr.torch.CyclicLR` + momentum",
        "`torch...CyclicLR` + momentum",
    ]


@pytest.mark.slow
def test_jax_range_test_quick_times_both_idioms_against_the_plain_loop(tmp_path, committed_results):
    pytest.importorskip("jax")
    pytest.importorskip("optax")
    out = tmp_path / "jax_range_test.md"
    done = run_bench("jax_range_test", "--quick", "--out", out)
    assert done.returncode == 0, done.stderr[-2000:]
    written = out.read_text()
    assert_header(written, f".venv/bin/python -m bench.jax_range_test --quick --out {out}")
    lines = [line for line in written.splitlines() if line.startswith("| MLP ")]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    assert [row[:3] for row in rows] == [
        [model, idiom, variant]
        for model in ("MLP 40-64-10, batch 32", "MLP 784-256-10, batch 128")
        for idiom in ("`train_step(state, batch, lr)`", "`optax.inject_hyperparams`")
        for variant in (
            "plain loop (jitted step, state donated)",
            "plain loop reading each loss",
            "`cyclr.jax.range_test`",
        )
    ]
    # the range test traced its step once, over the warm-up and every round
    assert [row[-1] for row in rows] == ["", "", "1"] * 4
    assert all(line in done.stdout for line in lines)


@pytest.mark.slow
def test_suggest_bounds_judging_quick_scores_every_reading_on_every_judging_task(
    tmp_path, committed_results
):
    pytest.importorskip("torch")
    pytest.importorskip("mnist1d")
    out = tmp_path / "judging.md"
    done = run_bench("suggest_bounds", "--judging", "--quick", "--out", out, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    written = out.read_text()
    assert_header(
        written, f".venv/bin/python -m bench.suggest_bounds --judging --quick --out {out}"
    )
    tasks = (
        "char transformer",
        "Friedman-1 MLP",
        "gratings ResNet",
        "GRU fine-tuning",
        "gratings fine-tuning",
        "digits ViT",
        "MNIST-1D LSTM",
    )
    methods, roles = {}, {}
    for line in written.splitlines():
        if line.startswith("| ") and (" | judging | " in line or " | fitting | " in line):
            task, role, optimizer, method = line[2:].split(" | ")[:4]
            methods.setdefault(f"{task} / {optimizer}", []).append(method)
            roles[task] = role
    default, training = (
        "suggest_bounds on val_loss (the default)",
        "suggest_bounds on the training loss",
    )
    singles = ["steepest / 4", "valley / 4", "minimum / 4"]
    last = ["best grid pair", "best grid pair x 0.99 (noise)"]
    val_acc = "suggest_bounds on val_accuracy"
    tuned = "suggest_bounds, fine_tuning=True (for fine-tuning)"
    loss_task = [default, training, *singles, *last]
    accuracy_task = [default, training, *singles, val_acc, *last]
    # the quick run: one optimizer of each judging task; the moved tasks run the same code
    assert methods == {
        "char transformer / AdamW": loss_task,
        "Friedman-1 MLP / SGD": loss_task,
        "gratings ResNet / SGD": accuracy_task,
        "GRU fine-tuning / AdamW": [default, training, tuned, *singles, *last],
        "gratings fine-tuning / AdamW": [default, training, tuned, *singles, val_acc, *last],
        "digits ViT / AdamW": accuracy_task,
        "MNIST-1D LSTM / Adam": accuracy_task,
    }
    assert roles == dict.fromkeys(tasks, "judging")
    assert "## The grids" in written and "**char transformer / AdamW** (mean test loss)" in written
    body = written.split("\n\n", 2)[2]
    assert body.strip() in done.stdout


@pytest.mark.slow
def test_bn_validation_quick_reads_three_curves(tmp_path, committed_results):
    pytest.importorskip("torch")
    out = tmp_path / "bn.md"
    done = run_bench("bn_validation", "--quick", "--out", out)
    assert done.returncode == 0, done.stderr[-2000:]
    written = out.read_text()
    assert_header(written, f".venv/bin/python -m bench.bn_validation --quick --out {out}")
    rows = [line for line in written.splitlines() if line.startswith("| digits ResNet |")]
    assert [row.split(" | ")[3] for row in rows] == [
        "val_loss, running averages (before)",
        "val_loss, recalibrated averages (shipped)",
        "training loss",
    ]
    # The lagging averages read the validation loss's rise early; recalibrated, it is not.
    before, shipped = (float(row.split(" | ")[4].split(" .. ")[1]) for row in rows[:2])
    assert shipped > 3 * before


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ("--only", "Friedman", "--only", "no such task"),
            "--only must be part of a judging task's label (",
        ),
        (
            ("--only", "Friedman", "--out", "bench/results/suggest_bounds_judging.md"),
            "--out must not be suggest_bounds_judging.md for an --only run (a part of the study "
            "would overwrite its table); received --out='bench/results/suggest_bounds_judging.md'",
        ),
    ],
)
def test_suggest_bounds_only_names_real_tasks_and_never_overwrites_the_study(
    args, message, committed_results
):
    done = run_bench("suggest_bounds", "--judging", *args, timeout=120)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr
    if "no such task" in args:
        assert done.stderr.strip().endswith("received --only='no such task'")


@pytest.mark.slow
def test_curve_landmarks_quick_orders_the_landmarks_and_reads_the_study(
    tmp_path, committed_results
):
    pytest.importorskip("torch")
    out = tmp_path / "l.md"
    done = run_bench("curve_landmarks", "--quick", "--out", out)
    assert done.returncode == 0, done.stderr[-2000:]
    written = out.read_text()
    assert_header(written, f".venv/bin/python -m bench.curve_landmarks --quick --out {out}")
    study = (RESULTS / "suggest_bounds_judging.md").read_text().splitlines()
    for task, optimizer in (("Friedman-1 MLP", "SGD"), ("digits ResNet", "Adam")):
        row = next(line for line in written.splitlines() if line.startswith(f"| {task} |"))
        cells = row.strip("| ").split(" | ")
        assert cells[2] == optimizer
        best_pair = next(
            line
            for line in study
            if line.startswith(f"| {task} |") and f"| {optimizer} | best grid pair |" in line
        )
        best = float(cells[3])
        assert best == float(best_pair.split(" | ")[4].split(" .. ")[1])
        assert best in [float(rate) for rate in cells[4].split(", ")]
        reading, done_, bottom, floor_end, climb, ratio = (float(c) for c in cells[5:])
        # the fall ends before its bottom, the floor after it; the reading stays on the floor
        assert done_ <= bottom <= floor_end <= climb
        assert reading <= floor_end
        assert ratio == pytest.approx(reading / best, rel=0.06)


@pytest.mark.slow
def test_bounds_check_quick_keeps_one_of_its_two_candidates(tmp_path, committed_results):
    pytest.importorskip("torch")
    out = tmp_path / "c.md"
    done = run_bench("bounds_check", "--quick", "--workers", "1", "--out", out)
    assert done.returncode == 0, done.stderr[-2000:]
    written = out.read_text()
    assert_header(
        written, f".venv/bin/python -m bench.bounds_check --quick --workers 1 --out {out}"
    )
    for task in ("| Friedman-1 MLP | judging | SGD |", "| digits ResNet | fitting | Adam |"):
        rows = [line.split(" | ") for line in written.splitlines() if line.startswith(task)]
        assert [row[3] for row in rows] == [
            "the reading",
            "the reading / 3",
            "the better by a short run",
        ]
        reading, lower, kept = (row[4] for row in rows)
        high, low = (float(pair.split(" .. ")[1]) for pair in (reading, lower))
        assert low == pytest.approx(high / 3, rel=0.05)
        # the run kept is one of the two candidates, and says which
        assert kept in (reading, lower)
        assert rows[2][7].strip(" |") == ("1/1" if kept == lower else "0/1")
        assert rows[2][5] in (rows[0][5], rows[1][5])  # its regret is that candidate's


@pytest.mark.slow
def test_policy_study_quick_caches_every_run_and_trains_nothing_the_second_time(
    tmp_path, committed_results
):
    """Issue 26: the per-policy study's smoke run; run again on its cache, it trains nothing."""
    for package in ("torch", "schedulefree", "torch_lr_finder", "lightning"):
        pytest.importorskip(package)
    out, cache = tmp_path / "policy.md", tmp_path / "cache"
    args = ("--quick", "--out", out, "--cache", cache)
    first = run_bench("policy_study", *args)
    assert first.returncode == 0, first.stderr[-2000:]
    written = out.read_text()
    assert_header(written, f".venv/bin/python -m bench.policy_study {' '.join(map(str, args))}")
    rows = [line for line in written.splitlines() if line.startswith("| Friedman-1 MLP | ")]
    methods = {}
    for row in rows:
        policy, optimizer, _, method = row.split(" | ")[2:6]
        methods.setdefault((policy, optimizer), []).append(method)
    readings = [
        "cyclr: result.schedule()",  # what RangeTestResult.schedule runs at, first
        "bounds() max_lr",
        "bounds() base_lr",
        "steepest",
        "valley",
        "minimum",
    ]
    peers = [
        "Lightning suggestion (lr_find defaults) (peer)",
        "torch-lr-finder suggestion (README setup) (peer)",
    ]
    noise = ["best grid rate x 0.99 (noise)"]
    assert methods == {
        ("cosine", "SGD"): ["best grid rate", *readings, *peers, *noise],
        ("constant", "schedule-free SGD"): ["best grid rate", *readings, *noise],
    }
    peaks = {(r.split(" | ")[2], r.split(" | ")[5]): float(r.split(" | ")[6]) for r in rows}
    for policy in ("cosine", "constant"):  # the shipped reading is the fitted factor on max_lr
        factor = PEAK_READINGS[policy]["sgd"]  # the quick task is SGD's
        shipped = peaks[(policy, "cyclr: result.schedule()")]
        assert shipped == pytest.approx(factor * peaks[(policy, "bounds() max_lr")], rel=0.01)
    assert "## The grids" in written and "**Friedman-1 MLP / SGD** (mean test loss" in written
    runs = (cache / "runs.jsonl").read_text().splitlines()
    trained = f"policy_study: trained {len(runs)} runs and 3 range tests; 0 runs and 0 range"
    assert trained in first.stderr
    assert len(list((cache / "range_tests").iterdir())) == 3
    second = run_bench("policy_study", *args)
    assert second.returncode == 0, second.stderr[-2000:]
    again = f"policy_study: trained 0 runs and 0 range tests; {len(runs)} runs and 3 range"
    assert again in second.stderr
    assert (cache / "runs.jsonl").read_text().splitlines() == runs
    assert [line for line in out.read_text().splitlines() if line.startswith("| ")] == [
        line for line in written.splitlines() if line.startswith("| ")
    ]
