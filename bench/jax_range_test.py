"""Per-rung cost of ``cyclr.jax.range_test`` against the same jitted step in a plain loop.

On bench/overhead.py's tiny model (an MLP 40-64-10 on MNIST-1D-sized random data, batch
32, SGD with momentum), where the test's own work shows most, and on a wider one (an MLP
784-256-10 on MNIST-sized random data, batch 128, a millisecond a step), for each way the
rate reaches the step (an argument, ``train_step(state, batch, lr)``; or
``optax.inject_hyperparams``, ``train_step(state, batch)``):

- plain loop: ``state, loss = step(state, batch, ...)`` over the batches, the step
  jitted with its state donated, no loss read (the baseline);
- plain loop reading each loss: the same, with ``float(loss)`` after every step, as
  any loop that decides from the loss must (a range test stops on it);
- ``cyclr.jax.range_test``: the whole call (its copy of the state, the ladder, the
  recorder, the result) divided by its rungs; every rung runs (a ladder too narrow
  to diverge).

Method (bench/overhead_measure.py): the variants run interleaved (rounds of A B C, the
order rotated each round) after a warm-up round that compiles everything; each round
times one pass over the batches. The table gives the median time per rung, the median
over rounds of the ratio to the plain loop of the same round, its quartiles and the
ratio of the fastest rounds. It also counts how often the step was traced, warm-up and
every round together (the goal: once; a second test with the same step compiles
nothing). Goal (issue 29): at most 1.05x the plain loop.

From the repository root:

    .venv/bin/python -m bench.jax_range_test            # ~1.5 min on 2 cores
    .venv/bin/python -m bench.jax_range_test --quick --out /tmp/jax_rt.md  # ~15 s smoke run

Prints a markdown table and writes it under the provenance header (bench/common.py) to
bench/results/jax_range_test.md (a ``--quick`` run: only to ``--out``). Timings taken
while other work runs are not trustworthy: a warning is printed when the load average
is high.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from bench import common
from bench.overhead_measure import (
    BATCH,
    CONSTANT_LR,
    HIDDEN,
    MOMENTUM,
    N_CLASSES,
    N_FEATURES,
    interleaved,
)

TITLE = "Per-rung cost of the JAX range test against a plain loop (issue 29)"
GOAL = 1.05
LOAD_WARNING = 1.5
#: model name -> (features, hidden units, classes, batch)
MODELS = {
    f"MLP {N_FEATURES}-{HIDDEN}-{N_CLASSES}, batch {BATCH}": (N_FEATURES, HIDDEN, N_CLASSES, BATCH),
    "MLP 784-256-10, batch 128": (784, 256, 10, 128),
}
#: (rungs per round, rounds) for each model, in MODELS' order
SIZES = {"full": ((200, 150), (100, 20)), "quick": ((50, 5), (20, 3))}
PLAIN = "plain loop (jitted step, state donated)"
READING = "plain loop reading each loss"
RANGE_TEST = "`cyclr.jax.range_test`"
IDIOMS = ("`train_step(state, batch, lr)`", "`optax.inject_hyperparams`")


def _one_thread() -> None:
    """One XLA compute thread, as bench/overhead.py's JAX backend runs (set before jax loads)."""
    flags = os.environ.get("XLA_FLAGS", "")
    os.environ["XLA_FLAGS"] = (
        flags + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    ).strip()


def _model(features: int, hidden: int, classes: int):
    """``(init_params, loss_fn)`` of the MLP."""
    import jax
    import jax.numpy as jnp
    import optax

    k1, k2 = jax.random.split(jax.random.key(0))
    params = {
        "w1": jax.random.normal(k1, (features, hidden)) / features**0.5,
        "b1": jnp.zeros(hidden),
        "w2": jax.random.normal(k2, (hidden, classes)) / hidden**0.5,
        "b2": jnp.zeros(classes),
    }

    def loss_fn(p, batch):
        logits = jax.nn.relu(batch[0] @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]
        return optax.softmax_cross_entropy_with_integer_labels(logits, batch[1]).mean()

    return params, loss_fn


def _steps(idiom: str, shape: tuple):
    """``(state, make_step)``: the idiom's state, and ``make_step(traces)``, a new function
    of its step that appends to ``traces`` each time it is traced."""
    import jax
    import optax

    params, loss_fn = _model(*shape[:3])
    if idiom == IDIOMS[0]:
        tx = optax.trace(decay=MOMENTUM)

        def make_step(traces):
            def step(state, batch, lr):
                traces.append(1)
                params, opt_state = state
                loss, grads = jax.value_and_grad(loss_fn)(params, batch)
                updates, opt_state = tx.update(grads, opt_state, params)
                params = optax.apply_updates(params, jax.tree.map(lambda u: -lr * u, updates))
                return (params, opt_state), loss

            return step

    else:
        tx = optax.inject_hyperparams(optax.sgd)(learning_rate=CONSTANT_LR, momentum=MOMENTUM)

        def make_step(traces):
            def step(state, batch):
                traces.append(1)
                params, opt_state = state
                loss, grads = jax.value_and_grad(loss_fn)(params, batch)
                updates, opt_state = tx.update(grads, opt_state, params)
                return (optax.apply_updates(params, updates), opt_state), loss

            return step

    return (params, tx.init(params)), make_step


def _variants(idiom: str, shape: tuple, batches: list, traces: list) -> tuple[dict, dict]:
    """The three variants of one idiom, ``name -> (one_round, None)``, and the same plain
    loop and range test over the first 2 batches; ``traces`` counts the range test's traces
    of its step. Each returns its seconds per rung."""
    import dataclasses

    import jax

    import cyclr
    from cyclr.jax import range_test

    state, make_step = _steps(idiom, shape)
    extra = (CONSTANT_LR,) if idiom == IDIOMS[0] else ()
    plain_step = jax.jit(make_step([]), donate_argnums=0)
    # a ladder too narrow to diverge: every rung runs, at the plain loop's rate
    settings = cyclr.RangeTestSettings(
        CONSTANT_LR, CONSTANT_LR * 1.001, len(batches), diverge_factor=1e9
    )
    tested_step = make_step(traces)  # its own function: its traces are the range test's

    def plain(read: bool, batches: list):
        def one_round() -> float:
            own = jax.tree.map(lambda x: x.copy(), state)
            jax.block_until_ready(own)
            start = time.perf_counter()
            for batch in batches:
                own, loss = plain_step(own, batch, *extra)
                if read:
                    float(loss)
            jax.block_until_ready(own)
            return (time.perf_counter() - start) / len(batches)

        return one_round

    def tested(batches: list):
        ladder = dataclasses.replace(settings, num_steps=len(batches))

        def one_round() -> float:
            start = time.perf_counter()
            result = range_test(tested_step, state, batches, settings=ladder, progress=False)
            seconds = time.perf_counter() - start
            assert len(result.lrs) == len(batches), result.stop_reason
            return seconds / len(batches)

        return one_round

    variants = {
        PLAIN: (plain(False, batches), None),
        READING: (plain(True, batches), None),
        RANGE_TEST: (tested(batches), None),
    }
    return variants, {"plain": plain(False, batches[:2]), "test": tested(batches[:2])}


def _fixed_cost_us(two: dict) -> float:
    """A call's own work: a range test of 2 rungs less 2 rungs of the plain loop, in µs.

    50 of each, interleaved; each the fastest (other work only ever adds time).
    """
    times: dict = {"plain": [], "test": []}
    for _ in range(51):
        for name, one_round in two.items():
            times[name].append(one_round())
    return 2e6 * (min(times["test"][1:]) - min(times["plain"][1:]))


def run(quick: bool) -> tuple[list[dict], dict]:
    _one_thread()
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    rows, fixed, sizes = [], {}, {}
    for (model, shape), (rungs, rounds) in zip(
        MODELS.items(), SIZES["quick" if quick else "full"], strict=True
    ):
        features, _, classes, batch = shape
        rng = np.random.default_rng(0)
        batches = [
            (
                jnp.asarray(rng.standard_normal((batch, features), dtype=np.float32)),
                jnp.asarray(rng.integers(0, classes, batch)),
            )
            for _ in range(rungs)
        ]
        sizes[model] = (rungs, rounds)
        for idiom in IDIOMS:
            common.log(f"  {model}, {idiom}: {rounds} rounds of {rungs} rungs")
            traces: list = []
            variants, two = _variants(idiom, shape, batches, traces)
            measured = interleaved(variants, rounds, PLAIN)
            fixed[model, idiom] = _fixed_cost_us(two)
            for row in measured:
                row.update(model=model, idiom=idiom)
                row["traces"] = len(traces) if row["variant"] == RANGE_TEST else None
                rows.append(row)
    info = {
        "sizes": sizes,
        "fixed": fixed,
        "versions": {"jax": jax.__version__, "optax": optax.__version__},
    }
    return rows, info


def table(rows: list[dict]) -> str:
    header = [
        "model",
        "rate reaches the step",
        "variant",
        "µs / rung",
        "ratio vs plain loop",
        "quartiles",
        "ratio of fastest rounds",
        f"goal <= {GOAL}x",
        "traces of the step",
    ]
    body = []
    for row in rows:
        goal = ""
        if row["variant"] == RANGE_TEST:
            goal = "met" if row["ratio"] <= GOAL else "**not met**"
        body.append(
            [
                row["model"],
                row["idiom"],
                row["variant"],
                f"{row['us']:,.1f}",
                f"{row['ratio']:.3f}x",
                f"{row['q1']:.3f}-{row['q3']:.3f}",
                f"{row['best']:.3f}x",
                goal,
                "" if row["traces"] is None else str(row["traces"]),
            ]
        )
    align = ["---", "---", "---", "---:", "---:", "---:", "---:", "---", "---:"]
    return common.markdown_table(header, body, align)


def method_notes(info: dict, warning: str) -> str:
    from cyclr.jax.rangetest import AHEAD, AHEAD_SECONDS, MAX_AHEAD

    fixed = "; ".join(
        f"{model}, {idiom}: {us:,.0f} µs" for (model, idiom), us in info["fixed"].items()
    )
    sizes = "; ".join(
        f"{model}: {rounds} of {rungs} rungs" for model, (rungs, rounds) in info["sizes"].items()
    )
    return "\n".join(
        [
            (
                f"- models: MLPs with SGD momentum {MOMENTUM} on random data on the CPU, one "
                "XLA compute thread"
            ),
            (
                f"- rounds: {sizes} per variant, interleaved, order rotated each round, after "
                "a warm-up round that compiles everything"
            ),
            (
                "- µs / rung: median over rounds; ratio: median over rounds of the variant's "
                "time over the plain loop's in the same round (the goal is judged on it); "
                "quartiles: its 25th and 75th percentiles; ratio of fastest rounds: the "
                "variant's fastest round over the plain loop's fastest"
            ),
            (
                "- traces of the step: how often the range test traced (and so compiled) the "
                "step in all its calls, the warm-up round's included"
            ),
            (
                f"- the range test reads each rung's loss (it stops on it) {AHEAD} rungs after "
                f"dispatching it, up to {MAX_AHEAD} for short steps (as many as take "
                f"{AHEAD_SECONDS * 1e3:g} ms), so JAX runs those while Python reads and "
                "records; a call's own work "
                "(its copy of the state, the checks, the result: a 2-rung test less 2 rungs of "
                f"the plain loop, the fastest of each): {fixed}; in the range test's time per "
                "rung above, once per call"
            ),
        ]
        + ([f"- {warning}"] if warning else [])
        + (
            [f"- run at niceness {os.nice(0)} (a shared machine: ahead of the other work)"]
            if os.nice(0)
            else []
        )
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="fewer, shorter rounds (~15 s); writes only to --out"
    )
    parser.add_argument("--out", help="markdown file (default bench/results/jax_range_test.md)")
    args = parser.parse_args(argv)
    out = common.output_path("jax_range_test", quick=args.quick, out=args.out)
    started = common.start()
    warning = ""
    if started.load is not None and started.load[0] > LOAD_WARNING:
        warning = (
            f"WARNING: 1-minute load average {started.load[0]:.2f} > {LOAD_WARNING} on "
            f"{os.cpu_count()} cores at the start: other work shares the CPUs, so these "
            "ratios are noisier than on a quiet machine."
        )
        common.log(warning)
    rows, info = run(args.quick)
    body = method_notes(info, warning) + "\n\n" + table(rows)
    print(body)
    if out is not None:
        header = common.provenance(
            started,
            common.command("jax_range_test", argv),
            seeds="0 (random data and initial weights)",
            threads=1,
            versions=info["versions"],
        )
        common.log(f"wrote {common.write_result(out, TITLE, header, body)}")
    return 0


if __name__ == "__main__":
    sys.exit(common.guarded("jax_range_test", main))
