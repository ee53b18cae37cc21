"""``bench.policy_cost``: cyclr's reading against the policy's grid and the best policy."""

import math

import pytest

pytest.importorskip("torch")

from bench.judging import JUDGING
from bench.policy_cost import cost_rows, overall
from bench.policy_readings import SHIPPED
from bench.policy_report import Cell, Method, TaskResult

RATES = (1e-3, 1e-2, 1e-1)


def cell(policy, top, reading_scores, updates=100):
    """Accuracy ``top - 10 * |decade from 1e-2|`` per seed; the reading's scores given."""
    grid = {r: tuple(top - 10.0 * abs(math.log10(r / 1e-2)) + s for s in range(3)) for r in RATES}
    best = max(grid, key=lambda r: sum(grid[r]))
    shipped = Method(SHIPPED, tuple(reading_scores), (2e-2,) * 3)
    return Cell(policy, "AdamW", 1, updates, grid, best, "", (shipped,))


def result(cells):
    job = next(j for j in JUDGING if j.metric == "accuracy")
    return TaskResult(job, tuple(cells), (0, 0, 0, 0), 0.0)


def test_the_best_policy_overall_is_the_best_mean_grid_score_and_its_grid_is_its_cost():
    r = result([cell("cosine", 90.0, (89, 90, 91)), cell("wsd", 92.0, (80, 81, 82), 200)])
    top = overall(r, 1)
    assert (top.cell.policy, top.rate) == ("wsd", 1e-2)
    assert top.cost == 3 * 200  # three grid rates of 200 updates
    assert top.every_grid == 3 * 100 + 3 * 200


def test_regret_is_against_the_policy_and_against_the_best_policy_with_the_cost_ratio():
    r = result([cell("cosine", 90.0, (89, 90, 91)), cell("wsd", 92.0, (80, 81, 82), 200)])
    rows = cost_rows(r, 1, rungs=[300, 340, 320])
    cosine = next(row for row in rows if row[1] == "cosine")
    # cosine's best grid scores 90, 91, 92 per seed; the reading 89, 90, 91: 1 point each
    assert cosine[4] == "+1.00 ± 0.00 pts"
    # wsd's best scores 92, 93, 94: 3 points above cosine's reading on every seed
    assert cosine[5] == "+3.00 ± 0.00 pts"
    assert cosine[6] == "missed"
    assert cosine[7] == "420"  # 320 rungs on average + 100 updates
    assert cosine[9] == f"{420 / 600:.2f}"
