"""The DDP side of test_lightning_ddp.py: ``python ddp_worker.py OUT`` (Lightning starts rank 1).

Every rank writes what it read (bounds, hparams, the range-test curves: the validation
loss is read, pooled over the ranks' validation batches) and its trained weights to
OUT/rank{r}.json.
"""

import json
import os
import sys


def main(out):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from lightning_setup import LADDER, Validated, trainer

    from cyclr.lightning import RangeTestCallback

    seen = {}

    def on_bounds(trainer, pl_module, bounds):
        seen.update(
            bounds=list(bounds),
            hparams=[pl_module.hparams.base_lr, pl_module.hparams.max_lr],
            losses=callback.result.losses.tolist(),
            val_losses=[v for v in callback.result.val_losses.tolist() if v == v],
            monitor=callback.result.settings.monitor,
            world_size=trainer.world_size,
        )

    callback = RangeTestCallback(LADDER, on_bounds=on_bounds, verbose=False)
    module = Validated(shuffle=True)
    fit = trainer(strategy="ddp", devices=2, max_steps=3, callbacks=[callback])
    fit.fit(module)
    seen["weights"] = [p.detach().flatten().tolist() for p in module.parameters()]
    with open(os.path.join(out, f"rank{fit.global_rank}.json"), "w") as handle:
        json.dump(seen, handle)


if __name__ == "__main__":
    main(sys.argv[1])
    # Lightning never destroys a gloo process group: leave before interpreter finalization,
    # where gloo's threads may abort a finished rank (tests/torch/worker_exit.py says why).
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "torch"))
    from worker_exit import leave

    leave()
