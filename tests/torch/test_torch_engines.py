"""cyclr.torch.range_test on models that compute their own loss, engines' steps
(``step_fn``) and optimizers that are not ``torch.optim.Optimizer`` subclasses."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from test_torch_range_test import (
    Scale,
    assert_same,
    const_batches,
    digits,
    everything,
    mean_loss,
    mlp,
    train,
)
from torch.utils.data import DataLoader

from cyclr import RangeTestSettings
from cyclr.torch import range_test

VOCAB, LENGTH = 48, 10


def token_batches(n=96, batch_size=16, seed=0, labels="class"):
    """Dict batches as a Hugging Face collator gives them; the label is the first token's parity
    (a classifier learns it), or the tokens themselves (a language model's labels)."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, VOCAB, (n, LENGTH), generator=g)
    rows = [
        {
            "input_ids": row,
            "attention_mask": torch.ones(LENGTH, dtype=torch.long),
            "labels": row[0] % 2 if labels == "class" else row,
        }
        for row in ids
    ]
    return DataLoader(
        rows, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed)
    )


def tiny_bert(seed=0):
    config = transformers.BertConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=LENGTH,
        num_labels=2,
    )
    torch.manual_seed(seed)
    return transformers.BertForSequenceClassification(config)


def tiny_gpt2(seed=0):
    config = transformers.GPT2Config(
        vocab_size=VOCAB,
        n_embd=32,
        n_layer=2,
        n_head=2,
        n_positions=LENGTH,
        bos_token_id=0,
        eos_token_id=0,
    )
    torch.manual_seed(seed)
    return transformers.GPT2LMHeadModel(config)


def warmed_up(model, loader, steps=3):
    """A few AdamW steps (a non-empty optimizer state), then eval mode (put back after)."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for _, batch in zip(range(steps), loader, strict=False):
        opt.zero_grad()
        model(**batch).loss.backward()
        opt.step()
    model.eval()
    return opt


# -- criterion=None: the model's own loss ----------------------------------------------------


def test_a_hugging_face_model_trains_on_its_own_loss_validates_and_restores_bit_for_bit():
    loader, val = token_batches(), token_batches(n=32, seed=1)
    model = tiny_bert()
    opt = warmed_up(model, loader)
    before = everything(model, opt)
    result = range_test(
        model,
        opt,
        None,
        loader,
        settings=RangeTestSettings(1e-4, 100.0, 30, val_every=4),
        val_loader=val,
    )
    assert_same(before, everything(model, opt))
    assert result.settings.monitor == "val_loss"
    measured = ~np.isnan(result.val_losses)
    assert measured.tolist() == [i % 4 == 0 for i in range(len(result.losses))]
    # a 2-class loss, near ln 2 at the start, validated on the model's own loss too
    assert 0.4 < result.losses[0] < 1.2 and 0.4 < result.val_losses[0] < 1.2
    assert result.stop_reason in ("diverged", "non_finite_loss", "end_of_ladder")


def test_own_loss_is_the_loss_a_criterion_on_the_logits_gives():
    """criterion=None reads outputs.loss; the same numbers as cross-entropy on the logits."""
    results = []
    for own in (True, False):
        loader = token_batches()
        model = tiny_bert()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        if own:
            result = range_test(model, opt, None, loader, settings=RangeTestSettings(1e-3, 1.0, 8))
        else:

            def unpack(batch):
                inputs = {k: v for k, v in batch.items() if k != "labels"}
                return inputs, batch["labels"]

            def criterion(outputs, targets):
                return torch.nn.functional.cross_entropy(outputs.logits, targets)

            result = range_test(
                model,
                opt,
                criterion,
                loader,
                settings=RangeTestSettings(1e-3, 1.0, 8),
                batch_fn=unpack,
            )
        results.append(result.losses)
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6)


def test_a_language_model_trains_on_its_own_loss_and_restores():
    loader = token_batches(labels="tokens")
    model = tiny_gpt2()
    opt = warmed_up(model, loader)
    before = everything(model, opt)
    result = range_test(model, opt, None, loader, settings=RangeTestSettings(1e-4, 10.0, 12))
    assert_same(before, everything(model, opt))
    # next-token loss over 48 tokens starts near ln 48 = 3.87
    assert len(result.losses) >= 5 and 3.0 < result.losses[0] < 4.5


def test_a_model_output_without_a_loss_says_to_pass_a_criterion_or_labels():
    loader = token_batches()
    unlabelled = [{k: v for k, v in batch.items() if k != "labels"} for batch in loader]
    model = tiny_bert()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    before = everything(model, opt)
    with pytest.raises(
        ValueError,
        match=r"returned a SequenceClassifierOutput with no loss; pass a criterion, or put "
        r"the labels in the batch",
    ):
        range_test(model, opt, None, unlabelled, settings=RangeTestSettings(1e-3, num_steps=3))
    assert_same(before, everything(model, opt))
    # a plain module returns a tensor: no loss either
    plain = Scale()
    with pytest.raises(ValueError, match="returned a Tensor with no loss"):
        range_test(plain, torch.optim.SGD(plain.parameters(), lr=0.1), None, [torch.ones(2)])
    assert plain.w.item() == 100.0


class DictLoss(torch.nn.Module):
    """``model(x, y) -> {'loss': mean((w x - y) ** 2)}``: its own loss, in a plain dict."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(2.0))

    def forward(self, x, y):
        return {"loss": ((self.w * x - y) ** 2).mean()}


def test_own_loss_from_a_tuple_batch_and_a_dict_output():
    model = DictLoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    data = torch.utils.data.TensorDataset(torch.ones(4), torch.zeros(4))
    # x = 1, y = 0: loss w ** 2 = 4, gradient 2 w = 4; after lr 0.1, w = 1.6 -> loss 2.56.
    result = range_test(
        model,
        opt,
        None,
        DataLoader(data, batch_size=4),  # batches are [x, y] lists: model(x, y)
        settings=RangeTestSettings(0.1, 0.2, 2, step_mode="linear"),
    )
    assert result.losses.tolist() == pytest.approx([4.0, 2.56], rel=1e-6)
    assert model.w.item() == 2.0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(val_accuracy=True), "received criterion=None with val_accuracy=True"),
        (dict(batch_fn=lambda b: (b, b)), "with criterion=None the batch goes to the model"),
    ],
)
def test_own_loss_refuses_what_needs_a_criterion(kwargs, message):
    model = tiny_bert()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=message):
        range_test(model, opt, None, token_batches(), val_loader=token_batches(), **kwargs)


# -- step_fn: an engine does the step ---------------------------------------------------------


def manual_step(model, opt):
    """What an engine does: forward, backward, update, at the lr it finds in the groups."""

    def step_fn(batch):
        x, y = batch
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step_fn


def test_step_fn_trains_at_the_ladders_lrs_and_records_what_the_criterion_path_records():
    results, stepped = [], []
    for engine in (False, True):
        train_loader, _ = digits()
        model = mlp()
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        seen = []
        opt.register_step_pre_hook(lambda o, a, k, seen=seen: seen.append(o.param_groups[0]["lr"]))
        torch.manual_seed(3)
        kwargs = dict(settings=RangeTestSettings(1e-4, 10.0, 40))
        if engine:
            result = range_test(
                model, opt, None, train_loader, step_fn=manual_step(model, opt), **kwargs
            )
        else:
            result = range_test(
                model, opt, torch.nn.functional.cross_entropy, train_loader, **kwargs
            )
        results.append(result)
        stepped.append(seen)
    # Bit for bit: the same batches, the same updates, the same training losses.
    assert results[0].losses.tolist() == results[1].losses.tolist()
    assert stepped[1] == results[1].lrs.tolist() == stepped[0]


def test_step_fn_validates_through_the_models_own_loss():
    loader, val = token_batches(), token_batches(n=32, seed=1)
    model = tiny_bert()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step_fn(batch):
        opt.zero_grad()
        loss = model(**batch).loss
        loss.backward()
        opt.step()
        return loss.item()  # a Python float is a loss too

    before = everything(model, opt)
    result = range_test(
        model,
        opt,
        None,
        loader,
        settings=RangeTestSettings(1e-4, 1.0, 6, val_every=2),
        step_fn=step_fn,
        val_loader=val,
    )
    assert_same(before, everything(model, opt))
    assert np.isfinite(result.val_losses[::2]).all() and np.isnan(result.val_losses[1::2]).all()


class Boom(Exception):
    pass


@pytest.mark.parametrize("checkpoint", [False, True])
def test_step_fn_restores_bit_for_bit_after_finishing_and_after_an_exception(tmp_path, checkpoint):
    train_loader, _ = digits()
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    train(model, opt, train_loader, 5)
    model.eval()
    before = everything(model, opt)
    step = manual_step(model, opt)
    result = range_test(
        model,
        opt,
        None,
        train_loader,
        settings=RangeTestSettings(1e-5, 1e3, 60),
        step_fn=step,
        checkpoint_dir=tmp_path if checkpoint else None,
    )
    assert result.stop_reason in ("diverged", "non_finite_loss") and len(result.losses) > 10
    assert_same(before, everything(model, opt))
    calls = []

    def fails_on_fifth(batch):
        calls.append(1)
        if len(calls) == 5:
            raise Boom()
        return step(batch)

    with pytest.raises(Boom):
        range_test(
            model,
            opt,
            None,
            train_loader,
            settings=RangeTestSettings(1e-3, num_steps=20),
            step_fn=fails_on_fifth,
        )
    assert_same(before, everything(model, opt))


@pytest.mark.parametrize(
    "returned, error, message",
    [
        (torch.ones(3), ValueError, r"step_fn must return .*received a tensor of shape \(3,\)"),
        ("1.0", TypeError, "step_fn must return .*received a str"),
        (None, TypeError, "step_fn must return .*received a NoneType"),
        (
            transformers.modeling_outputs.SequenceClassifierOutput(loss=torch.tensor(1.0)),
            TypeError,
            "received a SequenceClassifierOutput; return outputs.loss",
        ),
    ],
)
def test_step_fn_returning_something_other_than_a_loss_is_refused(returned, error, message):
    model = Scale()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    with pytest.raises(error, match=message):
        range_test(
            model,
            opt,
            None,
            const_batches(1),
            settings=RangeTestSettings(num_steps=3),
            step_fn=lambda b: returned,
        )
    assert model.w.item() == 100.0 and opt.param_groups[0]["lr"] == 0.5


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(criterion=mean_loss), "give step_fn or criterion, not both"),
        (dict(grad_scaler=torch.amp.GradScaler("cpu")), "received step_fn with grad_scaler="),
        (
            dict(accumulation_steps=2, amp=True, max_grad_norm=1.0),
            "received step_fn with accumulation_steps=2, amp=True, max_grad_norm=1.0",
        ),
        (dict(amp="float16"), "received step_fn with amp='float16'"),
        (dict(batch_fn=lambda b: b), "received step_fn with batch_fn="),
        (dict(step_fn="step"), "step_fn must be callable; received step_fn='step'"),
    ],
)
def test_step_fn_refuses_what_is_the_engines_business(kwargs, message):
    model = Scale()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    args = dict(criterion=None, step_fn=lambda batch: 1.0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        range_test(model, opt, args.pop("criterion"), const_batches(1), **args)


# -- optimizers that are not torch.optim.Optimizer subclasses ---------------------------------


def test_a_schedule_free_wrapper_is_an_optimizer_too_and_is_restored():
    schedulefree = pytest.importorskip("schedulefree")
    train_loader, _ = digits()
    model = mlp()
    opt = schedulefree.ScheduleFreeWrapper(torch.optim.SGD(model.parameters(), lr=0.05))
    assert not isinstance(opt, torch.optim.Optimizer)
    opt.train()
    train(model, opt, train_loader, 4)
    before = everything(model, opt)
    result = range_test(
        model,
        opt,
        torch.nn.functional.cross_entropy,
        train_loader,
        settings=RangeTestSettings(1e-4, 10.0, 30),
    )
    assert len(result.losses) > 10 and result.losses.min() < result.losses[0]
    assert_same(before, everything(model, opt))


class NotAnOptimizer:
    def __init__(self, params):
        self.params = list(params)


class NoState:
    def __init__(self, params):
        self.param_groups = [{"params": list(params), "lr": 0.1}]


@pytest.mark.parametrize(
    "make, step_fn, message",
    [
        (
            NotAnOptimizer,
            None,
            r"optimizer must be a torch.optim.Optimizer or an object with param_groups .*"
            r"received optimizer of type test_torch_engines.NotAnOptimizer without param_groups",
        ),
        (
            NoState,
            None,
            r"optimizer needs state_dict\(\), load_state_dict\(\), step\(\), zero_grad\(\)"
            r" .*received optimizer of type test_torch_engines.NoState",
        ),
        (
            NoState,
            lambda batch: 1.0,  # the engine steps: only the state is needed
            r"optimizer needs state_dict\(\), load_state_dict\(\) \(the test restores its state\)",
        ),
    ],
)
def test_an_optimizer_without_param_groups_or_state_is_refused_naming_its_type(
    make, step_fn, message
):
    model = Scale()
    with pytest.raises(TypeError, match=message):
        range_test(
            model,
            make(model.parameters()),
            None if step_fn else mean_loss,
            const_batches(1),
            step_fn=step_fn,
        )


# -- real engines -----------------------------------------------------------------------------


@pytest.fixture
def accelerator():
    accelerate = pytest.importorskip("accelerate")
    yield accelerate.Accelerator(cpu=True)
    accelerate.state.AcceleratorState._reset_state(reset_partial_state=True)


def test_accelerate_steps_through_step_fn_with_its_accelerated_optimizer(accelerator):
    model = tiny_gpt2()
    raw = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model, opt, loader = accelerator.prepare(model, raw, token_batches(labels="tokens"))
    assert type(opt).__name__ == "AcceleratedOptimizer" and opt.optimizer is raw
    seen = []
    raw.register_step_pre_hook(lambda o, a, k: seen.append([g["lr"] for g in o.param_groups]))

    def step_fn(batch):
        opt.zero_grad()
        loss = model(**batch).loss
        accelerator.backward(loss)
        opt.step()
        return loss

    for batch, _ in zip(loader, range(3), strict=False):  # a state to restore
        step_fn(batch)
    seen.clear()
    model.eval()
    before = everything(model, opt)
    result = range_test(
        model, opt, None, loader, settings=RangeTestSettings(1e-4, 10.0, 15), step_fn=step_fn
    )
    assert_same(before, everything(model, opt))
    assert seen == [[lr] for lr in result.lrs.tolist()]
    assert 3.0 < result.losses[0] < 4.5
    assert result.optimizer == "AdamW"  # the optimizer inside accelerate's wrapper


def test_lightning_fabric_steps_through_step_fn():
    fabric_module = pytest.importorskip("lightning.fabric")
    fabric = fabric_module.Fabric(accelerator="cpu", devices=1)
    train_loader, _ = digits()
    raw_model = mlp()
    raw_opt = torch.optim.SGD(raw_model.parameters(), lr=0.1, momentum=0.9)
    model, opt = fabric.setup(raw_model, raw_opt)
    loader = fabric.setup_dataloaders(train_loader)

    def step_fn(batch):
        x, y = batch
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        fabric.backward(loss)
        opt.step()
        return loss

    train(raw_model, raw_opt, train_loader, 3)
    before = everything(raw_model, raw_opt)
    result = range_test(
        model, opt, None, loader, settings=RangeTestSettings(1e-4, 10.0, 40), step_fn=step_fn
    )
    assert_same(before, everything(raw_model, raw_opt))
    assert result.losses.min() < result.losses[0] and math.isfinite(result.losses[0])
    assert type(opt).__name__ != "SGD" and result.optimizer == "SGD"  # inside Fabric's wrapper


class TinyGPT(torch.nn.Module):
    """``logits, loss = model(idx, targets)``, as the popular minimal GPTs return them;
    ``loss`` is ``None`` without targets."""

    def __init__(self, vocab=16, width=8, loss_first=False):
        super().__init__()
        torch.manual_seed(0)
        self.embed = torch.nn.Embedding(vocab, width)
        self.head = torch.nn.Linear(width, vocab)
        self.loss_first = loss_first

    def forward(self, idx, targets=None):
        logits = self.head(self.embed(idx))
        loss = None
        if targets is not None:
            loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())
        return (loss, logits) if self.loss_first else (logits, loss)


def next_token_batches(n=6, batch=4, length=10, vocab=16):
    g = torch.Generator().manual_seed(1)
    out = []
    for _ in range(n):
        seq = torch.randint(0, vocab, (batch, length + 1), generator=g)
        out.append((seq[:, :-1], seq[:, 1:]))
    return out


@pytest.mark.parametrize("loss_first", [False, True])
def test_a_model_returning_logits_and_loss_trains_on_its_loss(loss_first):
    """(x, y) batches go in as model(x, y); the one scalar tensor returned is the loss."""
    model = TinyGPT(loss_first=loss_first)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loader = next_token_batches()
    before = everything(model, opt)
    result = range_test(
        model, opt, None, loader, settings=RangeTestSettings(1e-4, 1.0, 8), val_loader=loader[:2]
    )
    assert_same(before, everything(model, opt))
    x, y = loader[0]
    loss = TinyGPT(loss_first=loss_first)(x, y)[0 if loss_first else 1]
    assert result.losses[0] == pytest.approx(float(loss), rel=1e-6)
    assert np.isfinite(result.val_losses[0]) and len(result.lrs) == 8


def test_the_documented_adapter_names_the_loss_of_a_tuple():
    """Where outputs hold no one scalar, the user names the loss (the docs' two lambdas)."""

    class TwoLosses(TinyGPT):
        def forward(self, idx, targets=None):
            logits, loss = super().forward(idx, targets)
            return logits, loss, loss.detach() * 0  # an auxiliary scalar too

    model = TwoLosses()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = next_token_batches()
    with pytest.raises(ValueError, match=r"received several, at \[1, 2\] among outputs") as error:
        range_test(model, opt, None, loader, settings=RangeTestSettings(1e-3, num_steps=3))
    assert "batch_fn=lambda batch: (tuple(batch), batch)" in str(error.value)
    result = range_test(
        model,
        opt,
        lambda outputs, batch: outputs[1],
        loader,
        settings=RangeTestSettings(1e-4, 1.0, 6),
        batch_fn=lambda batch: (tuple(batch), batch),
    )
    x, y = loader[0]
    assert result.losses[0] == pytest.approx(float(TinyGPT()(x, y)[1]), rel=1e-6)


def test_val_step_fn_gives_loss_and_accuracy_for_the_accuracy_curve():
    """An engine's validation step returns (loss, accuracy): the curve equals the one the
    criterion's (outputs, targets) give, weighted by batch size."""
    train_loader, val_loader = digits(batch_size=32)
    results = []
    for engine in (False, True):
        model = mlp()
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

        def val_step(batch, model=model):
            x, y = batch
            out = model(x)
            loss = torch.nn.functional.cross_entropy(out, y)
            return loss, (out.argmax(dim=-1) == y).float().mean()

        torch.manual_seed(0)
        results.append(
            range_test(
                model,
                opt,
                torch.nn.functional.cross_entropy,
                train_loader,
                settings=RangeTestSettings(1e-3, 1.0, 12, val_every=3, monitor="val_accuracy"),
                val_loader=val_loader,
                val_step_fn=val_step if engine else None,
            )
        )
    plain, engine = results
    assert plain.settings.monitor == engine.settings.monitor == "val_accuracy"
    np.testing.assert_allclose(engine.val_accuracies, plain.val_accuracies, rtol=1e-12)
    np.testing.assert_allclose(engine.val_losses, plain.val_losses, rtol=1e-6)
    assert np.isfinite(engine.val_accuracies[::3]).all()
