"""The seed's walkthrough with cyclr: range test, bounds, triangular CLR training, plots.

    python examples/keras_mnist.py                      # MNIST through keras.datasets
    python examples/keras_mnist.py --dataset digits     # offline (scikit-learn's 8x8 digits)
    python examples/keras_mnist.py --dataset digits --steps 30 --epochs 2   # a quick look

Runs on any Keras 3 backend (set KERAS_BACKEND). Writes ``range_test.png``,
``range_test.json``, ``clr_training.png`` into ``--out``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys


def load(name: str):
    if name in ("digits", "mnist1d"):
        from cyclr.app.datasets import load as load_offline

        return load_offline(name)
    from cyclr.app.downloads import DownloadError, load_download

    try:
        return load_download(name)
    except DownloadError as error:
        sys.exit(f"keras_mnist.py: {error}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dataset",
        default="mnist",
        choices=["mnist", "fashion_mnist", "cifar10", "digits", "mnist1d"],
    )
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=12, help="training epochs with CLR")
    parser.add_argument("--finder-epochs", type=int, default=1, help="epochs of the range test")
    parser.add_argument(
        "--steps", type=int, default=None, help="cap batches per epoch (a quick run)"
    )
    parser.add_argument("--out", default="keras_mnist_out")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import keras

    import cyclr.keras
    from cyclr.app.keras_models import build

    os.makedirs(args.out, exist_ok=True)
    x_train, y_train, x_test, y_test = load(args.dataset)
    model_name = "cnn1d" if x_train.ndim == 2 else "seed_cnn"
    print(
        f"{args.dataset}: {len(x_train)} training samples {x_train.shape[1:]}, "
        f"model {model_name}, backend {keras.backend.backend()}"
    )
    per_epoch = math.ceil(len(x_train) / args.batch_size)
    steps_per_epoch = per_epoch if args.steps is None else min(args.steps, per_epoch)

    def fresh_model():
        keras.utils.set_random_seed(args.seed)
        model = build(model_name, x_train.shape[1:])
        model.compile(
            optimizer=keras.optimizers.SGD(1e-3),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model

    # 1. The range test, as the seed runs it (the seed's LRFinder(min_lr=1e-4, max_lr=1)) in a fit.
    model = fresh_model()
    finder = cyclr.keras.LRFinder(min_lr=1e-4, max_lr=1)  # the ladder spans the fit
    model.fit(
        x_train,
        y_train,
        batch_size=args.batch_size,
        epochs=args.finder_epochs,
        steps_per_epoch=steps_per_epoch,
        callbacks=[finder],
        verbose=0,
    )
    finder.result.to_json(os.path.join(args.out, "range_test.json"))
    print(finder.result.summary())

    # 2. The bounds, read off the curve (the seed reads them by eye).
    try:
        base_lr, max_lr = finder.result.bounds()
    except ValueError as error:
        base_lr, max_lr = 1e-3, 6e-3
        print(
            f"no bounds from this short a test ({error}); using bckenstler's "
            f"base_lr={base_lr}, max_lr={max_lr}"
        )
    finder.plot(os.path.join(args.out, "range_test.png"))
    print(f"bounds: base_lr={base_lr:.3g}, max_lr={max_lr:.3g}")

    # 3. Triangular CLR with the seed's step size: 4 epochs per half cycle. The
    #    seed's formula gives a float; CyclicLR rounds it (with a warning) when
    #    it is not a whole number of steps.
    step_size = 4 * len(x_train) / args.batch_size
    clr = cyclr.keras.CyclicLR(
        base_lr=base_lr, max_lr=max_lr, step_size=step_size, mode="triangular"
    )
    model = fresh_model()
    history = model.fit(
        x_train,
        y_train,
        batch_size=args.batch_size,
        epochs=args.epochs,
        steps_per_epoch=steps_per_epoch,
        validation_data=(x_test, y_test),
        callbacks=[clr],
        verbose=2,
    )
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"test accuracy {accuracy:.4f}, test loss {loss:.4f}")

    # 4. The plots: the lr the optimizer used at each step, the batch losses, accuracy.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    axes[0].plot(clr.history["iterations"], clr.history["lr"])
    axes[0].set(xlabel="iteration", ylabel="learning rate", title="triangular CLR")
    axes[1].plot(clr.history["iterations"], clr.history["loss"])
    axes[1].set(xlabel="iteration", ylabel="training loss (epoch running mean)")
    axes[2].plot(history.history["accuracy"], label="train")
    axes[2].plot(history.history["val_accuracy"], label="test")
    axes[2].set(xlabel="epoch", ylabel="accuracy")
    axes[2].legend()
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "clr_training.png"))
    print(f"plots in {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
