"""LRFinder and find_lr: the batch's own loss, restore bit-for-bit, divergence, NaN, inputs."""

import dataclasses
import re
import warnings

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import cyclr
import cyclr.keras as ck
from cyclr.keras import backend as kb

N, BATCH = 64, 16  # four batches per epoch


def ladder(start_lr, end_lr, num_steps, **kwargs):
    """A RangeTestSettings of ``num_steps`` rungs from ``start_lr`` to ``end_lr``."""
    return cyclr.RangeTestSettings(start_lr, end_lr, num_steps, **kwargs)


def data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, 6)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64") + (x[:, 2] > 0.5)
    return x, y


def classifier(lr=0.01, train_first=True):
    """A tiny softmax classifier with Adam, already trained a little (nonzero slots)."""
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(
        keras.optimizers.Adam(lr), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    if train_first:
        x, y = data(1)
        model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
    return model


def state(model):
    kb.sync(model)
    return [np.array(v.numpy()) for v in [*model.weights, *model.optimizer.variables]]


def assert_bit_identical(before, after):
    assert len(before) == len(after)
    for a, b in zip(before, after, strict=False):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes()


class WeightsBefore(keras.callbacks.Callback):
    """Copies the weights before every batch, to recompute that batch's loss by hand."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def on_train_batch_begin(self, batch, logs=None):
        kb.sync(self.model)
        self.seen.append([np.array(w.numpy()) for w in self.model.weights])


class Boom(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if batch == 2:
            raise RuntimeError("boom")


def test_recorded_loss_is_the_batch_loss_computed_by_hand():
    model = classifier()
    x, y = data()
    finder, before = ck.LRFinder(min_lr=1e-3, max_lr=1e-1), WeightsBefore()  # spans the fit
    model.fit(
        x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0, callbacks=[finder, before]
    )
    result = finder.result
    assert result.stop_reason == "end_of_ladder" and len(result.losses) == 8
    np.testing.assert_allclose(result.lrs, np.geomspace(1e-3, 1e-1, 8), rtol=1e-12)
    probe = classifier(train_first=False)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    for i, weights in enumerate(before.seen):
        probe.set_weights(weights)
        rows = slice((i % 4) * BATCH, (i % 4 + 1) * BATCH)
        by_hand = kb.to_float(loss_fn(y[rows], probe(x[rows], training=False)))
        assert result.losses[i] == pytest.approx(by_hand, rel=1e-5)
    # the epoch's running mean would differ from the batch loss by now
    assert not np.allclose(result.losses[4:], np.cumsum(result.losses[4:]) / np.arange(1, 5))


def test_weights_and_optimizer_state_restored_after_the_ladder():
    model = classifier()
    x, y = data()
    before = state(model)
    finder = ck.LRFinder(min_lr=1e-3, max_lr=1e-1)
    model.fit(x, y, batch_size=BATCH, epochs=2, verbose=0, callbacks=[finder])
    assert finder.result.stop_reason == "end_of_ladder"
    assert_bit_identical(before, state(model))


def test_divergence_stops_fit_and_restores():
    model = classifier()
    x, y = data()
    before = state(model)
    finder = ck.LRFinder(ladder(1e-2, 1e6, 40))
    model.fit(x, y, batch_size=BATCH, epochs=10, verbose=0, callbacks=[finder])
    assert finder.result.stop_reason in ("diverged", "non_finite_loss")
    assert 5 <= len(finder.result.losses) < 40
    assert_bit_identical(before, state(model))


def test_nan_loss_stops_at_that_rung():
    model = classifier()
    x, y = data()
    weights = np.ones(N, "float32")
    weights[2 * BATCH + 3] = np.nan  # the third batch's loss is NaN, on every backend
    before = state(model)
    finder = ck.LRFinder(min_lr=1e-3, max_lr=1e-2)
    model.fit(
        x,
        y,
        sample_weight=weights,
        batch_size=BATCH,
        epochs=3,
        shuffle=False,
        verbose=0,
        callbacks=[finder],
    )
    assert finder.result.stop_reason == "non_finite_loss"
    assert len(finder.result.losses) == 3 and np.isnan(finder.result.losses[-1])
    assert_bit_identical(before, state(model))


def test_exception_mid_fit_restores_with_the_context_manager():
    model = classifier()
    x, y = data()
    before = state(model)
    with pytest.raises(RuntimeError, match="boom"), ck.LRFinder(min_lr=1e-3, max_lr=1.0) as finder:
        model.fit(x, y, batch_size=BATCH, epochs=3, verbose=0, callbacks=[finder, Boom()])
    assert finder.result.stop_reason == "interrupted"
    assert len(finder.result.losses) == 3
    assert_bit_identical(before, state(model))


def test_find_lr_restores_after_an_exception():
    model = classifier()
    x, y = data()
    before = state(model)
    with pytest.raises(RuntimeError, match="boom"):
        ck.find_lr(
            model, x, y, batch_size=BATCH, settings=ladder(1e-3, 1.0, 10), callbacks=[Boom()]
        )
    assert_bit_identical(before, state(model))


def test_find_lr_on_arrays_returns_a_result_with_bounds(tmp_path, png_header):
    model = classifier()
    x, y = data()
    before = state(model)
    result = ck.find_lr(model, x, y, batch_size=BATCH, settings=ladder(1e-4, 10.0, 60))
    assert result.lrs[0] == pytest.approx(1e-4) and len(result.losses) <= 60
    assert result.stop_reason in ("end_of_ladder", "diverged", "non_finite_loss")
    assert_bit_identical(before, state(model))
    bounds = result.bounds()
    base_lr, max_lr = bounds
    # rates of the lr axis; the indexes are the rungs nearest them
    x = np.log10(result.lrs)
    assert np.argmin(np.abs(x - np.log10(base_lr))) == bounds.base_index
    assert np.argmin(np.abs(x - np.log10(max_lr))) == bounds.max_index
    assert 4.0 * (1 - 1e-9) <= max_lr / base_lr <= 10.0 * (1 + 1e-9)  # Smith's ratio window
    assert result.smoothed[bounds.max_index] < result.smoothed[bounds.base_index]
    path = tmp_path / "rt.png"
    result.plot(str(path))
    assert path.read_bytes()[:8] == png_header
    # the same test of a model that starts from trained weights: read a factor 2 lower
    from cyclr.rangetest.bounds import FINE_TUNING_DECADES

    fit = dict(batch_size=BATCH, shuffle=False)
    keras.utils.set_random_seed(0)
    plain = ck.find_lr(model, *data(), settings=ladder(1e-4, 10.0, 60), **fit)
    keras.utils.set_random_seed(0)
    tuned = ck.find_lr(model, *data(), settings=ladder(1e-4, 10.0, 60, fine_tuning=True), **fit)
    assert tuned.settings.fine_tuning and tuned.losses.tolist() == plain.losses.tolist()
    lowered = 10.0**FINE_TUNING_DECADES
    assert tuned.bounds().max_lr == pytest.approx(plain.bounds().max_lr / lowered, rel=1e-12)


def test_the_result_records_the_class_of_the_optimizer_inside_its_wrapper():
    model = classifier(train_first=False)
    x, y = data()
    result = ck.find_lr(model, x, y, batch_size=BATCH, settings=ladder(1e-4, 1.0, 4))
    assert (result.optimizer, result.batchnorm) == ("Adam", False)  # no BatchNormalization
    back = cyclr.RangeTestResult.from_json(result.to_json())
    assert (back.optimizer, back.batchnorm) == ("Adam", False)
    model.compile(
        keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.01)),
        "sparse_categorical_crossentropy",
    )
    finder = ck.LRFinder(ladder(1e-4, 1.0, 4))
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, callbacks=[finder])
    assert finder.result is not None and finder.result.optimizer == "SGD"
    assert finder.result.batchnorm is False


class HoldsNorm(keras.layers.Layer):
    """A layer of its own that holds a ``BatchNormalization``."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(8, activation="relu")
        self.norm = keras.layers.BatchNormalization()

    def call(self, x, training=None):
        return self.norm(self.dense(x), training=training)


def with_batchnorm(where):
    """The classifier with a ``BatchNormalization``: its own, in a sub-model, in a layer's."""
    keras.utils.set_random_seed(1)
    if where == "layer":
        hidden = [keras.layers.Dense(8, activation="relu"), keras.layers.BatchNormalization()]
    elif where == "sub-model":
        inner = [keras.Input((6,)), keras.layers.Dense(8), keras.layers.BatchNormalization()]
        hidden = [keras.Sequential(inner, name="inner")]
    else:
        hidden = [HoldsNorm()]
    model = keras.Sequential(
        [keras.Input((6,)), *hidden, keras.layers.Dense(3, activation="softmax")]
    )
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    return model


@pytest.mark.parametrize("where", ["layer", "sub-model", "custom layer"])
def test_the_result_records_whether_the_model_has_batchnorm_layers(where):
    model = with_batchnorm(where)
    x, y = data()
    result = ck.find_lr(model, x, y, batch_size=BATCH, settings=ladder(1e-4, 1.0, 4))
    assert (result.optimizer, result.batchnorm) == ("Adam", True)
    assert cyclr.RangeTestResult.from_json(result.to_json()).batchnorm is True
    finder = ck.LRFinder(ladder(1e-4, 1.0, 4))
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, callbacks=[finder])
    assert finder.result is not None and finder.result.batchnorm is True


def test_find_lr_reads_a_validation_metric():
    model = classifier()
    x, y = data()
    xv, yv = data(2)
    result = ck.find_lr(
        model,
        x,
        y,
        batch_size=BATCH,
        settings=ladder(1e-3, 1.0, 10, monitor="val_accuracy", val_every=1),  # every rung
        validation_data=(xv[:32], yv[:32]),
    )
    assert result.val_accuracies is not None
    assert len(result.val_accuracies) == len(result.losses)
    assert np.all((result.val_accuracies >= 0) & (result.val_accuracies <= 1))


class Batches(keras.utils.PyDataset):
    def __init__(self, x, y):
        super().__init__()
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x) // BATCH

    def __getitem__(self, i):
        return self.x[i * BATCH : (i + 1) * BATCH], self.y[i * BATCH : (i + 1) * BATCH]


def test_find_lr_takes_a_pydataset_and_a_generator():
    x, y = data()

    def forever():
        while True:
            for i in range(N // BATCH):
                yield x[i * BATCH : (i + 1) * BATCH], y[i * BATCH : (i + 1) * BATCH]

    for source in (Batches(x, y), forever()):
        result = ck.find_lr(classifier(), source, settings=ladder(1e-3, 1e-1, 10))
        assert len(result.losses) == 10 and result.stop_reason == "end_of_ladder"


def test_errors_name_the_parameter_and_value():
    with pytest.raises(ValueError, match="end_lr"):
        ck.LRFinder(min_lr=1.0, max_lr=0.1)
    with pytest.raises(ValueError, match=r"settings\.monitor='val_loss' reads a validation curve"):
        ck.LRFinder(cyclr.RangeTestSettings(monitor="val_loss"))
    model = classifier()
    model.compile(
        keras.optimizers.SGD(ck.CyclicalLearningRate(0.1, 1.0, 2)),
        "sparse_categorical_crossentropy",
    )
    with pytest.raises(ValueError, match="learning_rate=CyclicalLearningRate"):
        ck.find_lr(model, *data(), settings=ladder(1e-3, 1.0, 4))
    with pytest.raises(RuntimeError, match="has not run"):
        ck.LRFinder().plot("x.png")


@pytest.mark.parametrize("settings", [{"num_steps": 10}, 0.01, "loss"])
def test_settings_that_are_not_a_range_test_settings_are_refused_by_name(settings):
    message = r"settings must be a cyclr.RangeTestSettings; received settings="
    with pytest.raises(ValueError, match=message + re.escape(repr(settings))):
        ck.LRFinder(settings)
    with pytest.raises(ValueError, match=message):
        ck.find_lr(classifier(train_first=False), *data(), settings=settings)


def test_the_ladder_keywords_are_gone():
    """One settings object: the old keywords are a TypeError, with no shim."""
    with pytest.raises(TypeError, match="num_steps"):
        ck.LRFinder(num_steps=10)
    with pytest.raises(TypeError, match="start_lr"):
        ck.find_lr(classifier(train_first=False), *data(), start_lr=1e-3)


def test_the_result_holds_the_settings_passed_monitor_resolved():
    x, y = data()
    xv, yv = data(2)
    settings = ladder(1e-3, 1e-1, 6, beta=0.5, diverge_factor=50.0, val_every=3)
    plain = ck.find_lr(classifier(), x, y, batch_size=BATCH, settings=settings)
    assert settings.monitor is None
    assert plain.settings == dataclasses.replace(settings, monitor="loss")
    held_out = ck.find_lr(
        classifier(), x, y, batch_size=BATCH, settings=settings, validation_data=(xv, yv)
    )
    assert held_out.settings == dataclasses.replace(settings, monitor="val_loss")
    finder = ck.LRFinder(settings)
    classifier().fit(x, y, batch_size=BATCH, epochs=5, verbose=0, callbacks=[finder])
    assert finder.result.settings == dataclasses.replace(settings, monitor="loss")
    assert len(finder.result.losses) == 6  # fit stopped at the ladder's end, not its 20 batches


def test_without_settings_the_ladder_spans_the_fit_with_the_default_settings():
    x, y = data()
    finder = ck.LRFinder()
    classifier().fit(x, y, batch_size=BATCH, epochs=3, verbose=0, callbacks=[finder])
    # 4 batches a pass, 3 passes: 12 rungs of the default ladder, 1e-5 -> 10
    expected = cyclr.RangeTestSettings(num_steps=12, monitor="loss")
    assert finder.result.settings == expected
    np.testing.assert_allclose(finder.result.lrs, np.geomspace(1e-5, 10.0, 12), rtol=1e-12)


def test_start_lr_none_starts_at_the_compiled_optimizers_rate():
    """settings.start_lr=None: the optimizer's learning rate when fit begins (as torch-lr-finder
    starts); the optimizer's rate is put back afterwards."""
    model = classifier(lr=0.003)
    before = state(model)
    settings = cyclr.RangeTestSettings(start_lr=None, end_lr=0.3, num_steps=8)
    result = ck.find_lr(model, *data(), batch_size=BATCH, settings=settings)
    start = result.lrs[0]
    assert start == pytest.approx(0.003, rel=1e-6)  # the float32 variable's value
    assert result.settings == dataclasses.replace(settings, start_lr=start, monitor="loss")
    np.testing.assert_allclose(result.lrs, np.geomspace(result.lrs[0], 0.3, 8), rtol=1e-12)
    assert_bit_identical(before, state(model))
    # a rate at or above end_lr cannot start the ladder: named when fit begins
    with pytest.raises(ValueError, match="end_lr"):
        ck.find_lr(classifier(lr=0.5), *data(), batch_size=BATCH, settings=settings)


def test_the_gists_min_lr_max_lr_work_as_there():
    """LRFinder(min_lr, max_lr) is the gist's spelling: kept for its users, no warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        finder = ck.LRFinder(min_lr=1e-3, max_lr=1e-1)
    assert finder._settings.start_lr == 1e-3 and finder._settings.end_lr == 1e-1
    # with settings of the default ladder, they set its ends; with its own ends, refused
    finder = ck.LRFinder(cyclr.RangeTestSettings(num_steps=10), min_lr=1e-3, max_lr=1e-1)
    assert finder._settings == ladder(1e-3, 1e-1, 10, monitor="loss")
    with pytest.raises(ValueError, match=r"settings.start_lr=0\.01, min_lr=0\.001"):
        ck.LRFinder(cyclr.RangeTestSettings(start_lr=1e-2), min_lr=1e-3)
    with pytest.raises(ValueError, match=r"settings.end_lr=1\.0, max_lr=0\.1"):
        ck.LRFinder(cyclr.RangeTestSettings(end_lr=1.0), max_lr=1e-1)


def test_the_default_monitor_follows_validation_data():
    x, y = data()
    xv, yv = data(2)
    fit = dict(batch_size=BATCH, settings=ladder(1e-3, 1e-1, 6, val_every=1))  # every rung
    plain = ck.find_lr(classifier(), x, y, **fit)
    assert plain.settings.monitor == "loss" and plain.val_losses is None
    held_out = ck.find_lr(classifier(), x, y, validation_data=(xv, yv), **fit)
    assert held_out.settings.monitor == "val_loss"
    assert held_out.val_losses is not None and np.all(np.isfinite(held_out.val_losses))
    # the validation curve is a different curve from the training one
    assert not np.allclose(held_out.val_losses, held_out.losses)
    asked = ck.find_lr(
        classifier(),
        x,
        y,
        validation_data=(xv, yv),
        batch_size=BATCH,
        settings=ladder(1e-3, 1e-1, 6, monitor="loss"),
    )
    assert asked.settings.monitor == "loss"
    assert ck.LRFinder().test is None and ck.LRFinder()._settings.monitor == "loss"
    assert ck.LRFinder(validation_data=(xv, yv))._settings.monitor == "val_loss"


def test_val_every_measures_every_nth_rung_after_its_update():
    model = classifier()
    x, y = data()
    xv, yv = data(2)
    before = state(model)
    finder = ck.LRFinder(ladder(1e-3, 1e-1, 12, val_every=3), validation_data=(xv, yv))
    seen = WeightsBefore()
    model.fit(x, y, batch_size=BATCH, epochs=3, shuffle=False, verbose=0, callbacks=[seen, finder])
    result = finder.result
    assert result.stop_reason == "end_of_ladder" and len(result.losses) == 12
    measured = np.flatnonzero(np.isfinite(result.val_losses))
    np.testing.assert_array_equal(measured, [0, 3, 6, 9])  # from rung 0, NaN at the others
    probe = classifier(train_first=False)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    for i in measured:  # after rung i's update: the weights the next batch starts from
        probe.set_weights(seen.seen[i + 1])
        by_hand = kb.to_float(loss_fn(yv, probe(xv, training=False)))
        assert result.val_losses[i] == pytest.approx(by_hand, rel=1e-4)
    assert_bit_identical(before, state(model))


def test_the_result_reads_the_validation_curve_by_default():
    model = classifier(lr=0.001)
    x, y = data()
    xv, yv = data(2)
    before = state(model)
    result = ck.find_lr(
        model,
        x,
        y,
        batch_size=BATCH,
        settings=ladder(1e-4, 10.0, 80),
        validation_data=(xv, yv),
        validation_batch_size=N,
    )
    assert_bit_identical(before, state(model))
    assert result.settings.val_every == 2  # the default: every second rung, from rung 0
    measured = np.isfinite(result.val_losses)
    assert measured[::2].all() and not measured[1::2].any()
    assert result.bounds() == result.bounds(monitor="val_loss")
    assert "suggested bounds (val_loss)" in result.summary()
    lrs, values, _ = result.curve()
    assert len(lrs) == measured.sum() and np.array_equal(values, result.val_losses[measured])


def test_validation_errors_name_the_parameter_and_value():
    xv, yv = data(2)
    with pytest.raises(ValueError, match=r"monitor='val_accuracy'.*validation_data=None"):
        ck.find_lr(classifier(), *data(), settings=cyclr.RangeTestSettings(monitor="val_accuracy"))
    with pytest.raises(ValueError, match="validation_data must be a pair"):
        ck.LRFinder(validation_data=(xv, yv, xv))


def normed(trainable_norm=True):
    """Dense -> BatchNormalization -> Dropout -> softmax, with SGD; ``trainable_norm=False``
    freezes the norm (Keras then runs it in inference mode, in training too)."""
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8),
            keras.layers.BatchNormalization(momentum=0.9, trainable=trainable_norm),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    return model


def val_loss_by_hand(weights, xv, yv, trainable_norm, recalibrate, batch=16):
    """The loss of ``(xv, yv)`` at ``weights``, the norm's averages recalibrated or not."""
    probe = normed(trainable_norm)
    probe.set_weights(weights)
    dense, norm = probe.layers[0], probe.layers[1]
    if recalibrate:  # the mean over the validation batches of their statistics
        h = kb.to_numpy(dense(xv)).reshape(-1, batch, 8)
        norm.moving_mean.assign(h.mean(1).mean(0))
        norm.moving_variance.assign(h.var(1).mean(0))
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    return kb.to_float(loss_fn(yv, probe(xv, training=False)))


@pytest.mark.parametrize("trainable_norm", [True, False])
def test_batchnorm_is_validated_with_averages_recalibrated_on_validation_data(trainable_norm):
    x, y = data()
    xv, yv = data(2)
    losses = []
    for validation in (None, (xv, yv)):
        model = normed(trainable_norm)
        before = state(model)
        finder, seen = (
            ck.LRFinder(
                # every rung validated: rung 5 below is odd
                ladder(1e-3, 1.0, 8, val_every=1),
                validation_data=validation,
                validation_batch_size=16,
            ),
            WeightsBefore(),
        )
        model.fit(
            x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0, callbacks=[seen, finder]
        )
        assert_bit_identical(before, state(model))
        assert model.layers[1].momentum == 0.9 and model.layers[2].rate == 0.5
        losses.append(finder.result.losses)
    # The validation passes leave training as it was: the same losses with and without.
    np.testing.assert_array_equal(losses[0], losses[1])
    result = finder.result
    for i in (0, 5):  # after rung i's update: the weights the next batch starts from
        by_hand = val_loss_by_hand(seen.seen[i + 1], xv, yv, trainable_norm, trainable_norm)
        assert result.val_losses[i] == pytest.approx(by_hand, rel=1e-4)
        lagging = val_loss_by_hand(seen.seen[i + 1], xv, yv, trainable_norm, False)
        assert (by_hand == pytest.approx(lagging, rel=1e-4)) != trainable_norm


def test_validation_split_holds_out_the_last_samples_as_validation_data():
    """As model.fit's validation_split: the last fraction of the arrays, read for the bounds
    (before, it went on to fit, which validated at the epoch's end, and cyclr read the
    training loss)."""
    x, y = data()
    fit = dict(batch_size=BATCH, settings=ladder(1e-3, 1e-1, 6), shuffle=False)
    split = ck.find_lr(classifier(), x, y, validation_split=0.25, **fit)
    assert split.settings.monitor == "val_loss"
    explicit = ck.find_lr(classifier(), x[:48], y[:48], validation_data=(x[48:], y[48:]), **fit)
    np.testing.assert_array_equal(split.losses, explicit.losses)
    np.testing.assert_array_equal(split.val_losses, explicit.val_losses)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(validation_split=1.5), r"validation_split must be a number in \(0, 1\); received "),
        (dict(validation_split="0.1"), r"received validation_split='0.1'"),
        (
            dict(validation_split=0.1, validation_data=data(2)),
            "give validation_data or validation_split, not both",
        ),
    ],
)
def test_a_bad_validation_split_is_named(kwargs, message):
    x, y = data()
    with pytest.raises(ValueError, match=message):
        ck.find_lr(classifier(), x, y, batch_size=BATCH, settings=ladder(1e-3, 1.0, 4), **kwargs)


def test_validation_split_of_a_generator_is_refused_with_a_message():
    x, y = data()

    def batches():
        while True:
            yield x[:BATCH], y[:BATCH]

    with pytest.raises(ValueError, match="with a dataset, a PyDataset or a generator pass"):
        ck.find_lr(classifier(), batches(), settings=ladder(1e-3, 1.0, 4), validation_split=0.2)


class OwnLoss(keras.Model):
    """A model that computes its own loss (``add_loss``), compiled without one."""

    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1)

    def call(self, inputs):
        x, target = inputs
        prediction = self.dense(x)[:, 0]
        self.add_loss(keras.ops.mean((prediction - target) ** 2))
        return prediction


def test_a_model_that_adds_its_own_loss_is_tested_on_that_loss():
    """docs/getting-started/keras.md: find_lr trains through fit, so a model whose loss is
    its own (add_loss, compile without a loss) reads that loss, one batch per rung."""
    keras.utils.set_random_seed(0)
    x, _ = data()
    target = (x[:, 0] - 2 * x[:, 1]).astype("float32")
    model = OwnLoss()
    model.compile(keras.optimizers.SGD(0.01))
    model((x[:2], target[:2]))  # build
    before = [w.copy() for w in model.get_weights()]
    result = ck.find_lr(
        model,
        (x, target),
        batch_size=BATCH,
        settings=ladder(1e-3, 1.0, 8),
        shuffle=False,
    )
    # rung 0's loss is the first batch's mean squared error at the starting weights
    model.set_weights(before)
    first = keras.ops.convert_to_numpy(model((x[:BATCH], target[:BATCH])))
    expected = float(np.mean((first - target[:BATCH]) ** 2))
    assert result.losses[0] == pytest.approx(expected, rel=1e-5)
    assert len(result.losses) == 8 and np.all(np.isfinite(result.losses))
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), before, strict=True))
