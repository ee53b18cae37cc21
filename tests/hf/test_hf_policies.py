"""One range test, the rate of the Trainer's own schedule or a cyclr schedule for a policy."""

import pytest

pytest.importorskip("transformers")
import torch
import transformers
from hf_setup import BATCH, N_SAMPLES, VOCAB, Rates, Tokens, arguments, collate, trainer

import cyclr
import cyclr.hf
from cyclr.rangetest.policies import COOLDOWN_FRACTION, PEAK_READINGS, peak_lr, warmup_steps
from cyclr.torch import CyclicLR

LADDER = cyclr.RangeTestSettings(1e-5, 10.0, 40)
TOTAL = 40  # optimizer updates, by max_steps: 12 per epoch (96 samples in batches of 8)
WARMUP = warmup_steps(TOTAL)  # 2: the warm-up of result.schedule(policy, TOTAL)
COOLDOWN = round(COOLDOWN_FRACTION * TOTAL)  # 8: WSD's cool-down there


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    """One range test, read by every test here (a result is plain data)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return cyclr.hf.range_test(trainer(tmp_path_factory.mktemp("test")), settings=LADDER)
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize(
    "kind, kwargs, policy",
    [
        ("cosine", None, "cosine"),
        ("linear", None, "linear"),
        ("warmup_stable_decay", {"num_decay_steps": COOLDOWN, "decay_type": "linear"}, "wsd"),
        ("constant_with_warmup", None, "constant"),
    ],
)
def test_the_trainers_own_schedule_runs_at_the_policys_reading(
    tmp_path, result, kind, kwargs, policy
):
    """With cyclr's warm-up (and WSD's cool-down), the Trainer's own schedule at the rate set
    is the policy's schedule, update for update."""
    rates = Rates()
    own = {} if kwargs is None else {"lr_scheduler_kwargs": kwargs}
    t = trainer(
        tmp_path,
        callbacks=[rates],
        max_steps=TOTAL,
        lr_scheduler_type=kind,
        warmup_steps=WARMUP,
        **own,
        logging_steps=1,
        logging_strategy="steps",
    )
    rate = cyclr.hf.set_learning_rate(t, result)
    assert rate == t.args.learning_rate == peak_lr(result, policy) != 5e-5  # not the default
    t.train()
    schedule = result.schedule(policy, TOTAL)
    expected = [schedule(k) for k in range(TOTAL)]
    assert max(expected) == pytest.approx(rate, rel=1e-12)
    assert rates.lrs == pytest.approx(expected, rel=1e-12, abs=1e-15 * rate)
    # and the rate the Trainer logs for each update (logging_steps=1)
    logged = [entry["learning_rate"] for entry in t.state.log_history if "learning_rate" in entry]
    assert logged == pytest.approx(expected, rel=1e-12, abs=1e-15 * rate)


def test_the_trainers_constant_schedule_runs_at_the_constant_policys_peak(tmp_path, result):
    rates = Rates()
    t = trainer(tmp_path, callbacks=[rates], lr_scheduler_type="constant")
    rate = cyclr.hf.set_learning_rate(t, result)
    t.train()
    assert rate == result.schedule("constant", N_SAMPLES // BATCH).peak_lr
    assert rates.lrs == [rate] * (N_SAMPLES // BATCH)


def test_each_schedule_type_reads_its_own_policy(tmp_path, result, monkeypatch):
    # Factors apart, so that a wrong policy gives a wrong rate (the study may set them so).
    factors = {"cosine": 0.5, "linear": 0.25, "wsd": 2.0, "constant": 0.125}
    for policy, factor in factors.items():  # the Trainer's AdamW, a BERT without BatchNorm
        monkeypatch.setitem(
            PEAK_READINGS, policy, {"sgd": 3.0, "adam": factor, "adam_batchnorm": 5.0}
        )
    expected = {
        "cosine": "cosine",
        "linear": "linear",
        "warmup_stable_decay": "wsd",
        "constant_with_warmup": "constant",
        "constant": "constant",
    }
    for kind, policy in expected.items():
        t = trainer(tmp_path, lr_scheduler_type=kind)
        rate = cyclr.hf.set_learning_rate(t, result)
        assert rate == t.args.learning_rate == result.bounds().max_lr * factors[policy]


def test_the_result_records_the_trainers_optimizer_whose_family_the_rate_takes(tmp_path, result):
    assert result.optimizer == "AdamW"  # the Trainer's default, built for the test
    assert result.batchnorm is False  # a BERT: LayerNorm, no BatchNorm layers
    top = result.bounds().max_lr
    t = trainer(tmp_path, lr_scheduler_type="warmup_stable_decay")
    assert cyclr.hf.set_learning_rate(t, result) == top * PEAK_READINGS["wsd"]["adam"]
    rate = cyclr.hf.set_learning_rate(t, result, optimizer="sgd")  # the family given instead
    assert rate == t.args.learning_rate == top * PEAK_READINGS["wsd"]["sgd"]
    rate = cyclr.hf.set_learning_rate(t, result, batchnorm=True)  # BatchNorm's, given instead
    assert rate == t.args.learning_rate == top * PEAK_READINGS["wsd"]["adam_batchnorm"]
    unknown = cyclr.RangeTestResult(result.lrs, result.losses, result.smoothed, result.stop_reason)
    with pytest.raises(ValueError, match=r"policy='wsd'.*received optimizer=None"):
        cyclr.hf.set_learning_rate(t, unknown)


class Normed(torch.nn.Module):
    """Token ids to a class through a BatchNorm layer: the loss of its own, as a HF model."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.embed = torch.nn.Embedding(VOCAB, 16)
        self.norm = torch.nn.BatchNorm1d(16)
        self.head = torch.nn.Linear(16, 2)

    def forward(self, input_ids, attention_mask=None, labels=None):
        logits = self.head(self.norm(self.embed(input_ids).mean(dim=1)))
        return {"loss": torch.nn.functional.cross_entropy(logits, labels), "logits": logits}


def test_a_model_with_batchnorm_layers_reads_adams_batchnorm_factor(tmp_path):
    def normed(**kwargs):
        return transformers.Trainer(
            model=Normed(),
            args=arguments(tmp_path, **kwargs),
            train_dataset=Tokens(),
            data_collator=collate,
        )

    tested = cyclr.hf.range_test(normed(), settings=LADDER)
    assert (tested.optimizer, tested.batchnorm) == ("AdamW", True)
    t = normed(lr_scheduler_type="cosine")
    rate = cyclr.hf.set_learning_rate(t, tested)
    top = tested.bounds().max_lr
    assert rate == t.args.learning_rate == top * PEAK_READINGS["cosine"]["adam_batchnorm"]
    without = cyclr.hf.set_learning_rate(t, tested, batchnorm=False)  # given instead
    assert without == top * PEAK_READINGS["cosine"]["adam"] != rate


def test_an_adam_result_without_batchnorm_recorded_is_refused_unless_it_is_given(tmp_path, result):
    old = cyclr.RangeTestResult(  # an AdamW test saved before batchnorm was recorded
        result.lrs, result.losses, result.smoothed, result.stop_reason, optimizer="AdamW"
    )
    top = old.bounds().max_lr
    t = trainer(tmp_path, lr_scheduler_type="cosine")
    message = (
        r"^policy='cosine' with Adam peaks at a factor of max_lr fitted for models with "
        r"BatchNorm layers and without, .*received batchnorm=None$"
    )
    with pytest.raises(ValueError, match=message):
        cyclr.hf.set_learning_rate(t, old)
    assert t.args.learning_rate == 5e-5  # left as it was
    for batchnorm, kind in ((False, "adam"), (True, "adam_batchnorm")):
        rate = cyclr.hf.set_learning_rate(t, old, batchnorm=batchnorm)
        assert rate == t.args.learning_rate == top * PEAK_READINGS["cosine"][kind]
    with pytest.raises(ValueError, match=r"received batchnorm='no'$"):
        cyclr.hf.set_learning_rate(t, old, batchnorm="no")


def test_a_schedule_type_without_a_policy_is_refused_by_name(tmp_path, result):
    t = trainer(tmp_path, lr_scheduler_type="cosine_with_restarts")
    with pytest.raises(ValueError, match="lr_scheduler_type='cosine_with_restarts'") as error:
        cyclr.hf.set_learning_rate(t, result)
    assert "['constant', 'constant_with_warmup', 'cosine', 'linear', 'warmup_stable_decay']" in str(
        error.value
    )
    assert t.args.learning_rate == 5e-5  # left as it was


def test_a_trainer_that_would_not_use_the_rate_is_refused(tmp_path, result):
    built = trainer(tmp_path)
    built.create_optimizer()
    with pytest.raises(ValueError, match=r"received trainer\.optimizer=AdamW"):
        cyclr.hf.set_learning_rate(built, result)
    scheduled = trainer(tmp_path)
    scheduled.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(
        torch.optim.SGD([torch.zeros(1, requires_grad=True)]), lambda k: 1.0
    )
    with pytest.raises(ValueError, match=r"received trainer\.lr_scheduler=LambdaLR"):
        cyclr.hf.set_learning_rate(scheduled, result)
    own = transformers.Trainer(
        model=built.model,
        args=built.args,
        train_dataset=built.train_dataset,
        optimizer_cls_and_kwargs=(torch.optim.AdamW, {"lr": 1e-3}),
    )
    with pytest.raises(ValueError, match=r"optimizer_cls_and_kwargs\[1\]\['lr'\]=0.001"):
        cyclr.hf.set_learning_rate(own, result)
    with pytest.raises(ValueError, match="received trainer=str"):
        cyclr.hf.set_learning_rate("trainer", result)
    with pytest.raises(ValueError, match="received result=BoundsSuggestion"):
        cyclr.hf.set_learning_rate(trainer(tmp_path), result.bounds())
    assert built.args.learning_rate == own.args.learning_rate == 5e-5


def test_a_curve_without_a_reading_names_the_policy(tmp_path):
    flat = cyclr.RangeTestResult(
        [1e-4, 1e-3, 1e-2], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0], "end_of_ladder"
    )
    t = trainer(tmp_path, lr_scheduler_type="warmup_stable_decay")
    with pytest.raises(ValueError, match="policy='wsd'"):
        cyclr.hf.set_learning_rate(t, flat)


@pytest.mark.parametrize(
    "policy, given_as",
    [("onecycle", "lr_scheduler"), ("wsd", "optimizers"), ("triangular", "lr_scheduler")],
)
def test_a_policys_schedule_drives_the_trainer_as_a_cyclic_lr(tmp_path, result, policy, given_as):
    updates_per_epoch = N_SAMPLES // BATCH // 2
    schedule = result.schedule(policy, TOTAL, steps_per_epoch=updates_per_epoch)
    rates = Rates()
    t = trainer(tmp_path, callbacks=[rates], max_steps=TOTAL, gradient_accumulation_steps=2)
    optimizer = t.create_optimizer()  # the Trainer's own AdamW, from its arguments
    if given_as == "lr_scheduler":
        t.lr_scheduler = CyclicLR(optimizer, schedule)
    else:
        t = transformers.Trainer(
            model=t.model,
            args=t.args,
            train_dataset=t.train_dataset,
            data_collator=t.data_collator,
            optimizers=(optimizer, CyclicLR(optimizer, schedule)),
            callbacks=[rates],
        )
    t.train()
    assert rates.lrs == [schedule(k) for k in range(TOTAL)]
    assert max(rates.lrs) == pytest.approx(peak_lr(result, policy), rel=1e-12)
    if schedule.has_momentum:  # OneCycle's momentum drives AdamW's beta_1
        assert rates.betas == [schedule.momentum(k) for k in range(TOTAL)]
