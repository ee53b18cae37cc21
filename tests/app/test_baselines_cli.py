"""``cyclr compare`` with the AdamW policies (issues 16, 26): ``--grid``, readings, framework."""

import pytest
from cli_helpers import read_csv

import cyclr
from cyclr.rangetest.policies import peak_lr

pytest.importorskip("torch")
pytest.importorskip("schedulefree")

#: A small run: one epoch, one seed, a short Adam range test.
SMALL = ("--framework", "torch", "--model", "mlp", "--epochs", "1", "--seeds", "1")
SMALL += ("--num-steps", "100", "--target", "0.5")


def test_compare_grid_tunes_each_policy_and_trains_each_reading_beside_it(cyclr_cli, tmp_path):
    out = tmp_path / "cmp"
    proc = cyclr_cli(
        *("compare", *SMALL, "--policies", "wsd,schedulefree,adam"), "--grid", "3", "--out", out
    )
    assert proc.returncode == 0, proc.stderr
    rows = read_csv(out / "compare.csv")
    grid = {
        p: sorted(float(r["grid_lr"]) for r in rows if (r["policy"], r["rate_from"]) == (p, "grid"))
        for p in ("wsd", "schedulefree")
    }
    assert grid["wsd"] == pytest.approx([1e-4, 1e-3, 1e-2])
    assert grid["schedulefree"] == pytest.approx([2.5e-4, 2.5e-3, 2.5e-2])
    assert [(r["grid_lr"], r["rate_from"]) for r in rows if r["policy"] == "adam"] == [
        ("", "default")  # --grid tunes the AdamW policies, not Smith's Adam
    ]
    # beside each grid, one run at the reading of the Adam range test the run recorded
    result = cyclr.RangeTestResult.from_json(out / "range_test_adam.json")
    for policy, core in (("wsd", "wsd"), ("schedulefree", "constant")):
        (reading,) = [r for r in rows if (r["policy"], r["rate_from"]) == (policy, "reading")]
        assert reading["grid_lr"] == ""
        assert float(reading["max_lr"]) == pytest.approx(peak_lr(result, core), rel=1e-12)
    table = (out / "compare.md").read_text()
    assert table.count("kept") == 2 and "| schedulefree | schedulefree |" in table
    for label in ("wsd@reading", "schedulefree@reading"):
        assert table.count(f"| {label} |") == 2  # its row in the table and in the grid's
    assert f"wsd@reading lr {peak_lr(result, 'wsd'):.3g} seed 0" in proc.stdout


def test_compare_trains_a_reading_policy_without_a_grid_at_its_reading(cyclr_cli, tmp_path):
    out = tmp_path / "cmp"
    proc = cyclr_cli("compare", *SMALL, "--policies", "cosine", "--out", out)
    assert proc.returncode == 0, proc.stderr
    (row,) = read_csv(out / "compare.csv")
    assert (row["policy"], row["optimizer"], row["rate_from"], row["grid_lr"]) == (
        "cosine",
        "adamw",
        "reading",
        "",
    )
    result = cyclr.RangeTestResult.from_json(out / "range_test_adam.json")
    assert float(row["max_lr"]) == pytest.approx(peak_lr(result, "cosine"), rel=1e-12)
    assert "| cosine@reading | adamw |" in (out / "compare.md").read_text()


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ("--framework", "keras", "--policies", "fixed,wsd,onecycle-valley"),
            "--policies wsd,onecycle-valley run with --framework torch only; "
            "received --framework=keras",
        ),
        (
            ("--framework", "keras", "--policies", "fixed,cosine,linear"),
            "--policies cosine,linear run with --framework torch only; received --framework=keras",
        ),
        (
            ("--framework", "torch", "--grid", "1"),
            "--grid needs at least 2 rates; received --grid=1",
        ),
        (
            ("--framework", "torch", "--policies", "fixed,adam", "--grid", "3"),
            "--grid tunes adamw+cosine, cosine, wsd, linear, schedulefree, which --policies "
            "does not name; received --grid=3 with --policies='fixed,adam'",
        ),
        (
            ("--framework", "torch", "--policies", "fixed,constant"),
            "received --policies='fixed,constant'",
        ),
    ],
)
def test_compare_refuses_bad_baseline_options_in_one_line(cyclr_cli, tmp_path, args, message):
    proc = cyclr_cli("compare", *args, "--out", tmp_path / "cmp", timeout=120)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr
    assert not (tmp_path / "cmp").exists()
