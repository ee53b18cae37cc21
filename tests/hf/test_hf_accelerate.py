"""cyclr.hf.range_test under ``accelerate launch`` with 2 CPU processes (gloo).

accelerate_worker.py runs on each process, with the helpers here, so both sides build the
same Trainer; the single-process reference runs the same helpers in this process. The
model has no dropout (its masks would differ between one batch of 8 and two of 4) and
runs in float64: the runs then differ only in the order of additions (a mean over 8
samples against the mean of two means over 4, one gradient against the average of two),
~1e-16 relative, which 40 Adam updates up to lr=10 amplify to 2e-10 at worst (measured).
Gradients left unaveraged (each process updating its own copy on its half of the batch)
are off by 2e-6 from the first update on and by a factor 9 at the end.
"""

import copy
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from hf_setup import LENGTH, VOCAB, Tokens, collate

from cyclr.rangetest import RangeTestResult, RangeTestSettings

HERE = os.path.dirname(os.path.abspath(__file__))
GLOBAL_BATCH = 8
#: 16 global batches of training data, 4 of validation data, in every process count
N_TRAIN, N_EVAL = 128, 32
LADDER = RangeTestSettings(1e-5, 10.0, 40, val_every=4)
RTOL = 1e-7


def model():
    config = transformers.BertConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=LENGTH,
        num_labels=2,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    torch.manual_seed(0)
    return transformers.BertForSequenceClassification(config).double()


def trainer(out, processes):
    """A Trainer whose updates take the same global batches in any number of processes."""
    args = transformers.TrainingArguments(
        output_dir=str(out),
        report_to=[],
        use_cpu=True,
        per_device_train_batch_size=GLOBAL_BATCH // processes,
        per_device_eval_batch_size=GLOBAL_BATCH // processes,
        save_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
        seed=0,
        dataloader_num_workers=0,
    )
    return transformers.Trainer(
        model=model(),
        args=args,
        train_dataset=Tokens(N_TRAIN),
        eval_dataset=Tokens(N_EVAL, seed=1),
        data_collator=collate,
    )


def one_update(t):
    """The Trainer's optimizer with some state to put back: one update on the same 4 samples."""
    t.create_optimizer()
    batch = collate([t.train_dataset[i] for i in range(4)])
    t.model(**batch).loss.backward()
    t.optimizer.step()


def state(t):
    """Everything the range test must put back: weights, gradients, optimizer state."""
    return (
        {k: v.clone() for k, v in t.model.state_dict().items()},
        [None if p.grad is None else p.grad.clone() for p in t.model.parameters()],
        copy.deepcopy(t.optimizer.state_dict()),
    )


def same(a, b):
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_agree_restore_each_and_match_one_process(tmp_path):
    import cyclr.hf

    # --multi_gpu starts the processes through torchrun; the Trainer's use_cpu=True then
    # makes them CPU processes on gloo (test_torch_launchers.py says why not --cpu).
    env = dict(os.environ, OMP_NUM_THREADS="1")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "accelerate.commands.launch",
            "--multi_gpu",
            "--num_processes=2",
            "--num_machines=1",
            "--mixed_precision=no",
            "--dynamo_backend=no",
            f"--main_process_port={free_port()}",
            os.path.join(HERE, "accelerate_worker.py"),
            str(tmp_path),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    zero, one = json.loads((tmp_path / "ranks.json").read_text())
    assert [zero["rank"], one["rank"], zero["world"]] == [0, 1, 2]
    # Every process restored its own model, gradients and optimizer state bit for bit, and
    # every process holds the same result (and, after the test, the same weights).
    assert zero["restored"] and one["restored"]
    assert zero["result"] == one["result"]
    assert zero["weights"] == one["weights"]
    result = RangeTestResult.from_dict(zero["result"])
    assert RangeTestResult.from_json(tmp_path / "result.json") == result

    # One process on the same global batches: the same curves.
    single = trainer(tmp_path / "single", processes=1)
    one_update(single)
    before = state(single)
    reference = cyclr.hf.range_test(single, settings=LADDER)
    assert same(state(single), before)
    assert result.stop_reason == reference.stop_reason
    assert len(result.losses) == len(reference.losses) > 10
    np.testing.assert_allclose(result.losses, reference.losses, rtol=RTOL)
    assert np.isfinite(result.val_losses).sum() >= 5
    np.testing.assert_allclose(result.val_losses, reference.val_losses, rtol=RTOL)
    # and the same reading (the validation loss of so small a task never falls)
    assert result.bounds(monitor="loss") == reference.bounds(monitor="loss")
