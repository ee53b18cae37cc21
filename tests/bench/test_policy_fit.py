"""``bench.policy_fit``: the factor it fits is the one the grids say, on fitting tasks only."""

import math

import pytest

pytest.importorskip("torch")

from bench.judging import JUDGING
from bench.policy_fit import budget_moves, cell_regret, fit
from bench.policy_report import Cell, Method, TaskResult

RATES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)


def cell(policy, best_at, reading, multiple=1, seeds=3):
    """Accuracy falling 10 points a decade away from ``best_at``; max_lr read at ``reading``."""
    grid = {
        r: tuple(90.0 - 10.0 * abs(math.log10(r / best_at)) + 0.01 * s for s in range(seeds))
        for r in RATES
    }
    best = max(grid, key=lambda r: sum(grid[r]))
    methods = (Method("bounds() max_lr", (0.0,) * seeds, (reading,) * seeds),)
    return Cell(policy, "AdamW", multiple, 100, grid, best, "", methods)


def task(role, metric, cells):
    job = next(j for j in JUDGING if j.role == role and j.metric == metric)
    return TaskResult(job, tuple(cells), (0, 0, 0, 0), 0.0)


def test_the_fitted_factor_is_where_the_grid_peaks_over_the_reading():
    results = [
        task("fitting", "accuracy", [cell("cosine", 3e-3, 1e-3), cell("wsd", 1e-3, 1e-3)]),
        task("judging", "accuracy", [cell("cosine", 1e-1, 1e-3)]),  # never read
    ]
    fitted = fit(results)
    assert fitted[("cosine", 1)][0] == pytest.approx(10**0.5, rel=0.01)
    assert fitted[("wsd", 1)][0] == pytest.approx(1.0)
    assert fitted[("cosine", 1)][2] == 1  # the judging task did not count


def test_a_rate_off_the_grid_has_no_regret():
    c = cell("cosine", 3e-3, 5e-2)
    assert cell_regret(c, "accuracy", 1.0) is not None
    assert cell_regret(c, "accuracy", 10.0) is None  # 0.5 > the grid's top rate
    assert cell_regret(c, "accuracy", 1.0) == pytest.approx(
        (10.0 * math.log10(5e-2 / 3e-3)) / 0.5, rel=1e-6
    )


def test_budget_moves_are_the_4x_best_over_the_1x_best():
    one, four = cell("cosine", 3e-3, 1e-3, 1), cell("cosine", 1e-3, 1e-3, 4)
    moves = budget_moves([task("fitting", "accuracy", [one, four])])
    assert moves["cosine"] == [pytest.approx(math.log10(1e-3 / 3e-3))]


def test_adam_is_fitted_apart_with_batchnorm_and_without():
    from bench.policy_tasks import TASKS

    fitting = [j for j in TASKS if j.role == "fitting" and j.optimizer != "sgd"]
    norms = next(j for j in fitting if j.batchnorm)
    plain = next(
        j for j in fitting if not (j.batchnorm or j.fine_tuning) and j.metric == "accuracy"
    )
    results = [
        TaskResult(norms, (cell("cosine", 1e-3, 1e-2),), (0, 0, 0, 0), 0.0),
        TaskResult(plain, (cell("cosine", 3e-3, 3e-3),), (0, 0, 0, 0), 0.0),
    ]
    assert fit(results, "Adam, BatchNorm")[("cosine", 1)][0] == pytest.approx(0.1, rel=0.01)
    assert fit(results, "Adam")[("cosine", 1)][0] == pytest.approx(1.0)
    assert "cosine" not in {p for p, _ in fit(results, "SGD")}


def test_the_tasks_batchnorm_flag_is_what_the_range_test_records():
    """``Judging.batchnorm`` (what the study passes) matches ``has_batchnorm`` (what
    ``range_test`` records) on every model but the two pre-trained on text, whose
    pre-training takes a minute (their architectures, a transformer and a GRU, have none)."""
    from bench.policy_tasks import TASKS
    from cyclr.torch.rangetest import has_batchnorm

    built = {}
    for job in TASKS:
        if job.model in built or job.model in ("finetune_gru", "finetune_transformer"):
            continue
        built[job.model] = (has_batchnorm(job.build(0, job.data())), job.batchnorm)
    assert all(recorded == flag for recorded, flag in built.values()), built
    assert sum(flag for _, flag in built.values()) == 4  # the residual networks
