"""``cyclr compare`` with the baselines (issue 16): ``--grid`` and their framework."""

import pytest
from cli_helpers import read_csv

pytest.importorskip("torch")
pytest.importorskip("schedulefree")


def test_compare_grid_tunes_the_baselines_and_writes_every_grid_point(cyclr_cli, tmp_path):
    out = tmp_path / "cmp"
    proc = cyclr_cli(
        "compare",
        "--framework",
        "torch",
        "--model",
        "mlp",
        "--policies",
        "wsd,schedulefree,adam",
        "--target",
        "0.5",
        "--grid",
        "3",
        "--epochs",
        "1",
        "--seeds",
        "1",
        "--out",
        out,
    )
    assert proc.returncode == 0, proc.stderr
    rows = read_csv(out / "compare.csv")
    wsd = sorted(float(r["grid_lr"]) for r in rows if r["policy"] == "wsd")
    assert wsd == pytest.approx([1e-4, 1e-3, 1e-2])
    assert sorted(float(r["grid_lr"]) for r in rows if r["policy"] == "schedulefree") == (
        pytest.approx([2.5e-4, 2.5e-3, 2.5e-2])
    )
    assert [r["grid_lr"] for r in rows if r["policy"] == "adam"] == [""]  # not a baseline
    table = (out / "compare.md").read_text()
    assert table.count("kept") == 2 and "| schedulefree | schedulefree |" in table


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ("--framework", "keras", "--policies", "fixed,wsd,onecycle-valley"),
            "--policies wsd,onecycle-valley run with --framework torch only; "
            "received --framework=keras",
        ),
        (
            ("--framework", "torch", "--grid", "1"),
            "--grid needs at least 2 rates; received --grid=1",
        ),
        (
            ("--framework", "torch", "--policies", "fixed,cosine"),
            "received --policies='fixed,cosine'",
        ),
    ],
)
def test_compare_refuses_bad_baseline_options_in_one_line(cyclr_cli, tmp_path, args, message):
    proc = cyclr_cli("compare", *args, "--out", tmp_path / "cmp", timeout=120)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr
    assert not (tmp_path / "cmp").exists()
