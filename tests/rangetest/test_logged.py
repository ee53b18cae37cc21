"""RangeTestResult from sweeps logged elsewhere: CSV files, TensorBoard events, Lightning."""

import csv
import logging
import math
from pathlib import Path

import numpy as np
import pytest

from cyclr import RangeTestResult
from cyclr.rangetest import smooth_losses
from cyclr.rangetest.logged import read_csv, read_lightning, read_tensorboard, unsmooth

FIXTURES = Path(__file__).parent / "fixtures"
#: real cyclr range tests: one that ran its whole ladder, one that diverged
CURVES = ["digits_seed_cnn.json", "mnist1d_mlp.json"]


def original(name):
    return RangeTestResult.from_json(FIXTURES / name)


def write_csv(path, header, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


# -- CSV -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CURVES)
def test_csv_round_trip_gives_the_original_bounds(tmp_path, name):
    result = original(name)
    rows = [
        (i, repr(float(lr)), repr(float(x)))
        for i, (lr, x) in enumerate(zip(result.lrs, result.losses, strict=True))
    ]
    path = write_csv(tmp_path / "sweep.csv", ["step", "lr", "loss"], rows)

    read = RangeTestResult.from_csv(path)
    np.testing.assert_array_equal(read.lrs, result.lrs)
    np.testing.assert_array_equal(read.losses, result.losses)
    np.testing.assert_allclose(read.smoothed, result.smoothed, rtol=1e-12)
    assert read.bounds() == result.bounds()
    assert read.suggestions() == result.suggestions()
    assert read.settings.start_lr == result.lrs[0] and read.settings.end_lr == result.lrs[-1]
    assert read.settings.num_steps == result.lrs.size
    assert read.settings.step_mode == "exp"
    assert read.stop_reason == "end_of_ladder"
    # and it is a result like any other: JSON round trip
    assert RangeTestResult.from_json(read.to_json()) == read


def test_csv_of_smoothed_losses_is_unsmoothed_back(tmp_path):
    result = original("digits_seed_cnn.json")
    rows = [
        (repr(float(lr)), repr(float(s))) for lr, s in zip(result.lrs, result.smoothed, strict=True)
    ]
    path = write_csv(tmp_path / "smoothed.csv", ["learning_rate", "smooth"], rows)

    read = RangeTestResult.from_csv(path, loss_column="smooth", smoothed_beta=0.98)
    np.testing.assert_allclose(read.losses, result.losses, rtol=1e-9)
    assert read.bounds().base_index == result.bounds().base_index
    assert read.bounds().max_index == result.bounds().max_index
    # read as if raw, the smoothed curve is smoothed twice and lags: the bounds move right
    lagged = RangeTestResult.from_csv(path, loss_column="smooth")
    assert lagged.bounds().max_lr > 1.25 * result.bounds().max_lr


def test_csv_common_names_blank_cells_and_linear_ladders(tmp_path):
    lrs = np.linspace(0.01, 1.0, 30)
    losses = 2.0 - np.sin(np.linspace(0, 3, 30))
    rows = []
    for lr, loss in zip(lrs, losses, strict=True):
        rows.append(("", repr(float(loss)), repr(float(lr))))
        rows.append(("0.5", "", ""))  # a row of another metric, as Lightning's CSVLogger writes
    path = write_csv(tmp_path / "lightning.csv", ["val_loss", "train_loss", "learning_rate"], rows)
    read = read_csv(path)
    np.testing.assert_array_equal(read.lrs, lrs)
    np.testing.assert_array_equal(read.losses, losses)
    assert read.settings.step_mode == "linear"


def test_csv_semicolons_and_a_non_finite_loss(tmp_path):
    path = tmp_path / "semi.csv"
    path.write_text("lr;loss\n0.001;2.0\n0.01;1.0\n0.1;nan\n")
    read = RangeTestResult.from_csv(path, delimiter=";")
    assert read.stop_reason == "non_finite_loss"
    assert math.isnan(read.losses[-1]) and math.isnan(read.smoothed[-1])


def test_csv_without_the_lr_column_names_file_column_and_columns_found(tmp_path):
    path = write_csv(tmp_path / "nolr.csv", ["step", "rate", "loss"], [(0, 0.1, 1.0)])
    with pytest.raises(ValueError, match=r"nolr.csv: no column lr_column") as info:
        RangeTestResult.from_csv(path)
    message = str(info.value)
    assert "nolr.csv" in message and "lr_column" in message
    assert "'lr'" in message and "'learning_rate'" in message  # the names tried
    assert "['step', 'rate', 'loss']" in message
    with pytest.raises(ValueError, match=r"no column lr_column='speed'; the columns found are"):
        RangeTestResult.from_csv(path, lr_column="speed")
    with pytest.raises(ValueError, match=r"no column loss_column='cost'"):
        RangeTestResult.from_csv(path, lr_column="rate", loss_column="cost")
    # with the right name it reads (one row is too few for a ladder, though)
    with pytest.raises(ValueError, match=r"at least 2 logged points; received 1"):
        RangeTestResult.from_csv(path, lr_column="rate")


def test_csv_bad_cells_and_bad_ladders(tmp_path):
    path = write_csv(tmp_path / "text.csv", ["lr", "loss"], [(0.1, 1.0), (0.2, "high")])
    with pytest.raises(
        ValueError,
        match=r"text.csv, line 3: column 'loss' must hold a number; "
        r"received 'high'",
    ):
        read_csv(path)
    path = write_csv(tmp_path / "down.csv", ["lr", "loss"], [(0.2, 1.0), (0.1, 1.0), (0.3, 1.0)])
    with pytest.raises(
        ValueError,
        match=r"down.csv: the learning rates must be finite, > 0 and "
        r"strictly increasing.*received lrs=\[0.2, 0.1, 0.3\]",
    ):
        read_csv(path)
    path = write_csv(tmp_path / "zero.csv", ["lr", "loss"], [(0.0, 1.0), (0.1, 1.0)])
    with pytest.raises(ValueError, match=r"> 0 and strictly increasing"):
        read_csv(path)
    path = write_csv(tmp_path / "ok.csv", ["lr", "loss"], [(0.1, 1.0), (0.2, 1.0)])
    with pytest.raises(
        ValueError,
        match=r"smoothed_beta must be in \[0, 1\); received "
        r"smoothed_beta=1.5",
    ):
        read_csv(path, smoothed_beta=1.5)
    with pytest.raises(ValueError, match=r"lr_column must be a string; received lr_column=3"):
        read_csv(path, lr_column=3)
    with pytest.raises(FileNotFoundError):
        read_csv(tmp_path / "missing.csv")


def test_unsmooth_inverts_smooth_losses():
    rng = np.random.default_rng(0)
    losses = rng.uniform(0.5, 3.0, 200)
    np.testing.assert_allclose(unsmooth(smooth_losses(losses, 0.98), 0.98), losses, rtol=1e-9)
    np.testing.assert_array_equal(unsmooth(losses, 0.0), losses)
    with pytest.raises(ValueError, match=r"start must be"):
        unsmooth(losses, 0.9, start=-1)


# -- TensorBoard ---------------------------------------------------------------------------


def summary_writer(path):
    pytest.importorskip("tensorboard")
    tensorboard = pytest.importorskip("torch.utils.tensorboard")
    return tensorboard.SummaryWriter(str(path))


@pytest.mark.parametrize("name", CURVES)
def test_tensorboard_scalars_from_summary_writer_give_the_original_bounds(tmp_path, name):
    result = original(name)
    writer = summary_writer(tmp_path / "run")
    for step, (lr, loss) in enumerate(zip(result.lrs, result.losses, strict=True)):
        writer.add_scalar("lr", lr, step)
        writer.add_scalar("loss", loss, step)
        writer.add_scalar("grad_norm", 1.0, step)
    writer.close()

    read = RangeTestResult.from_tensorboard(tmp_path / "run")
    # event files hold float32: the curve comes back to float32 precision
    np.testing.assert_allclose(read.lrs, result.lrs, rtol=1e-7)
    np.testing.assert_allclose(read.losses, result.losses, rtol=1e-7)
    # float32 may move a bound by a rung; a bound's tolerance is a factor 1.25
    # (docs/semantics.md, *The bounds reading*)
    assert abs(read.bounds().base_index - result.bounds().base_index) <= 1
    assert abs(read.bounds().max_index - result.bounds().max_index) <= 1
    np.testing.assert_allclose(read.bounds()[:2], result.bounds()[:2], rtol=0.05)
    # one event file reads the same as its folder
    (event_file,) = (tmp_path / "run").glob("events.out.tfevents.*")
    assert RangeTestResult.from_tensorboard(event_file) == read


def test_tensorboard_pairs_by_step_with_other_tags_and_smoothed_losses(tmp_path):
    lrs = np.geomspace(1e-4, 1.0, 60)
    raw = 2.0 / (1.0 + 50 * lrs) + 10 * lrs**2
    writer = summary_writer(tmp_path / "run")
    for step, (lr, s) in enumerate(zip(lrs, smooth_losses(raw, 0.9), strict=True)):
        writer.add_scalar("train/lr", lr, 100 + step)
        if step % 7:  # a step without a loss is left out
            writer.add_scalar("train/smooth_loss", s, 100 + step)
    writer.add_scalar("train/lr", 2.0, 500)  # a step without a loss, after the sweep
    writer.close()
    read = read_tensorboard(
        tmp_path / "run", lr_tag="train/lr", loss_tag="train/smooth_loss", smoothed_beta=None
    )
    kept = [step for step in range(60) if step % 7]
    np.testing.assert_allclose(read.lrs, lrs[kept], rtol=1e-6)
    assert read.lrs.size == len(kept)

    full = tmp_path / "full"
    writer = summary_writer(full)
    for step, (lr, s) in enumerate(zip(lrs, smooth_losses(raw, 0.9), strict=True)):
        writer.add_scalar("learning_rate", lr, step)
        writer.add_scalar("train_loss", s, step)
    writer.close()
    read = read_tensorboard(full, smoothed_beta=0.9)
    np.testing.assert_allclose(read.losses, raw, rtol=1e-4)  # float32, amplified by 1/(1-beta)


def test_tensorboard_reads_keras_style_tensor_summaries(tmp_path):
    tf = pytest.importorskip("tensorflow")
    writer = tf.summary.create_file_writer(str(tmp_path / "train"))
    lrs = np.geomspace(1e-3, 1.0, 20)
    with writer.as_default():
        for step, lr in enumerate(lrs):
            tf.summary.scalar("lr", lr, step=step)
            tf.summary.scalar("loss", 1.0 / (1.0 + step), step=step)
    writer.close()
    read = read_tensorboard(tmp_path / "train")
    np.testing.assert_allclose(read.lrs, lrs, rtol=1e-6)
    np.testing.assert_allclose(read.losses, 1.0 / (1.0 + np.arange(20)), rtol=1e-6)


def test_tensorboard_missing_tags_list_what_was_found(tmp_path):
    writer = summary_writer(tmp_path / "logs" / "train")
    for step in range(5):
        writer.add_scalar("rate", 0.1 * (step + 1), step)
        writer.add_scalar("loss", 1.0, step)
    writer.close()
    run = tmp_path / "logs" / "train"
    with pytest.raises(ValueError, match=r"train: no scalar lr_tag") as info:
        RangeTestResult.from_tensorboard(run)
    message = str(info.value)
    assert "no scalar lr_tag (none given; tried 'lr', 'learning_rate')" in message
    assert "the scalar tags found are ['loss', 'rate']" in message
    with pytest.raises(
        ValueError,
        match=r"no scalar loss_tag='cost'; the scalar tags found are "
        r"\['loss', 'rate'\]",
    ):
        RangeTestResult.from_tensorboard(run, lr_tag="rate", loss_tag="cost")
    assert RangeTestResult.from_tensorboard(run, lr_tag="rate").lrs.size == 5
    # the parent folder has no event files of its own: the error points at the run
    with pytest.raises(
        ValueError, match=r"event files are in the subfolders \['train'\]: pass one"
    ):
        RangeTestResult.from_tensorboard(tmp_path / "logs")
    with pytest.raises(FileNotFoundError, match=r"no such TensorBoard folder or file"):
        RangeTestResult.from_tensorboard(tmp_path / "nowhere")


def test_tensorboard_without_a_common_step(tmp_path):
    writer = summary_writer(tmp_path / "run")
    for step in range(3):
        writer.add_scalar("lr", 0.1 * (step + 1), step)
        writer.add_scalar("loss", 1.0, step + 10)
    writer.close()
    with pytest.raises(
        ValueError,
        match=r"no step has both 'lr' \(steps 0..2\) and 'loss' "
        r"\(steps 10..12\)",
    ):
        read_tensorboard(tmp_path / "run")


# -- Lightning -----------------------------------------------------------------------------


def lightning_lr_find(num_training, max_lr, early_stop_threshold=4.0):
    """A real ``Tuner(trainer).lr_find`` on a tiny module; also the raw losses it saw."""
    torch = pytest.importorskip("torch")
    pl = pytest.importorskip("lightning.pytorch")
    from lightning.pytorch.tuner import Tuner
    from torch.utils.data import DataLoader, TensorDataset

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    torch.manual_seed(0)
    x = torch.randn(1024, 8)  # 64 batches: one epoch holds a sweep of 60
    y = x[:, :1] * 2 - x[:, 1:2] + torch.randn(1024, 1)

    class Tiny(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Linear(8, 1)
            self.lr = 1e-3
            self.raw = []

        def training_step(self, batch, index):
            loss = torch.nn.functional.mse_loss(self.net(batch[0]), batch[1])
            self.raw.append(loss.item())
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.lr)

        def train_dataloader(self):
            return DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)

    module = Tiny()
    trainer = pl.Trainer(
        max_epochs=1,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    finder = Tuner(trainer).lr_find(
        module,
        min_lr=1e-4,
        max_lr=max_lr,
        num_training=num_training,
        early_stop_threshold=early_stop_threshold,
        update_attr=False,
    )
    return finder, module.raw


def test_lightning_finder_is_read_with_its_smoothing_undone():
    finder, raw = lightning_lr_find(num_training=60, max_lr=0.5, early_stop_threshold=None)
    assert len(finder.results["lr"]) == 60  # ran its whole ladder
    result = RangeTestResult.from_lightning(finder)
    np.testing.assert_array_equal(result.lrs, finder.results["lr"])
    np.testing.assert_allclose(result.losses, raw, rtol=1e-9)  # the batches' own losses
    np.testing.assert_allclose(result.smoothed, smooth_losses(raw), rtol=1e-12)
    assert result.stop_reason == "end_of_ladder"
    assert result.settings.num_steps == 60 and result.settings.end_lr == finder.results["lr"][-1]
    base_lr, max_lr = result.bounds()
    assert result.lrs[0] <= base_lr < max_lr <= result.lrs[-1]
    assert read_lightning(finder) == result


def test_lightning_finder_that_diverged():
    finder, raw = lightning_lr_find(num_training=60, max_lr=100.0)
    n = len(finder.results["lr"])
    assert n < 60  # Lightning stopped it on its divergence rule
    result = RangeTestResult.from_lightning(finder)
    assert result.stop_reason == "diverged"
    np.testing.assert_allclose(result.losses, raw[:n], rtol=1e-9)


def test_lightning_finder_that_ran_out_of_batches():
    finder, raw = lightning_lr_find(num_training=100, max_lr=0.1)
    assert len(finder.results["lr"]) == 64  # one epoch of 64 batches, not 100 rungs
    result = RangeTestResult.from_lightning(finder)
    assert result.stop_reason == "interrupted"
    np.testing.assert_allclose(result.losses, raw, rtol=1e-9)


class _Finder:
    def __init__(self, results, num_training=100):
        self.results = results
        self.num_training = num_training


def test_lightning_bad_input_names_what_was_received():
    with pytest.raises(
        ValueError,
        match=r"lr_finder must be what Lightning's Tuner.lr_find "
        r"returned.*received lr_finder of type dict with results keys None",
    ):
        RangeTestResult.from_lightning({"lr": [0.1], "loss": [1.0]})
    with pytest.raises(ValueError, match=r"results keys \['lrs'\]"):
        RangeTestResult.from_lightning(_Finder({"lrs": [0.1, 0.2]}))
    with pytest.raises(ValueError, match=r"one loss per lr; received 3 lr and 2 loss values"):
        RangeTestResult.from_lightning(_Finder({"lr": [0.1, 0.2, 0.3], "loss": [1.0, 1.0]}))
    with pytest.raises(ValueError, match=r"start_step must be"):
        RangeTestResult.from_lightning(
            _Finder({"lr": [0.1, 0.2], "loss": [1.0, 1.0]}), start_step=-2
        )
    nan = _Finder({"lr": [0.1, 0.2, 0.3], "loss": [1.0, 0.9, float("nan")]}, num_training=3)
    assert RangeTestResult.from_lightning(nan).stop_reason == "non_finite_loss"
