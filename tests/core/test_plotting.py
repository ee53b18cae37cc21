"""Drawing never touches the user's matplotlib state."""

import pytest

import cyclr
from cyclr.plotting import plot_schedule

matplotlib = pytest.importorskip("matplotlib")


@pytest.fixture
def svg_backend():
    before = matplotlib.get_backend()
    matplotlib.use("svg", force=True)
    yield
    matplotlib.use(before, force=True)


def test_drawing_a_schedule_keeps_the_users_backend(tmp_path, svg_backend, png_header):
    out = plot_schedule(cyclr.CyclicSchedule(0.1, 1.0, step_size=5), 40, tmp_path / "s.png")
    assert matplotlib.get_backend() == "svg"
    assert out.read_bytes()[:8] == png_header


def test_drawing_a_range_test_keeps_the_users_backend(tmp_path, svg_backend, png_header):
    import numpy as np

    from cyclr.rangetest import RangeTestResult, lr_ladder, smooth_losses

    lrs = lr_ladder(1e-4, 1.0, 40)
    losses = 2.0 - np.tanh(np.log10(lrs) + 2.0)
    result = RangeTestResult(lrs, losses, smooth_losses(losses), "end_of_ladder")
    result.plot(tmp_path / "r.png")
    assert matplotlib.get_backend() == "svg"
    assert (tmp_path / "r.png").read_bytes()[:8] == png_header


def test_no_figure_is_left_registered_with_pyplot(tmp_path):
    plt = pytest.importorskip("matplotlib.pyplot")
    before = plt.get_fignums()
    plot_schedule(cyclr.CyclicSchedule(0.1, 1.0, step_size=5), 40, tmp_path / "s.png")
    assert plt.get_fignums() == before
