"""The module, data and Trainer settings the Lightning tests (and ddp_worker.py) share."""

import copy

import lightning.pytorch as pl
import torch

import cyclr
from cyclr.lightning import scheduler_config

N_SAMPLES = 192
BATCH = 16
STEP_SIZE = 3
LADDER = cyclr.RangeTestSettings(1e-3, 30.0, 40)


class Samples(torch.utils.data.Dataset):
    """Dicts ``{"x": (8,), "y": class}``: a batch that is not an (inputs, targets) pair."""

    def __init__(self, n=N_SAMPLES, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 8, generator=g)
        self.y = self.x[:, :3].argmax(dim=1)  # a rule the model can learn

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return {"x": self.x[i], "y": self.y[i]}


class Classifier(pl.LightningModule):
    """A small MLP; its configure_optimizers reads base_lr and max_lr from hparams."""

    def __init__(self, base_lr=0.01, max_lr=0.1, optimizer="sgd", shuffle=False, returns="loss"):
        super().__init__()
        self.save_hyperparameters()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(
            torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)
        )
        self.calls = 0  # training_step calls
        self.autocast_seen = []

    def train_dataloader(self):
        g = torch.Generator().manual_seed(1)
        return torch.utils.data.DataLoader(
            Samples(), batch_size=BATCH, shuffle=self.hparams.shuffle, generator=g
        )

    def training_step(self, batch, batch_idx):
        self.calls += 1
        self.autocast_seen.append(torch.is_autocast_enabled("cpu"))
        loss = torch.nn.functional.cross_entropy(self.net(batch["x"]), batch["y"])
        self.log("train_loss", loss)
        if self.hparams.returns == "loss":
            return loss
        if self.hparams.returns == "dict":
            return {"loss": loss, "extra": 1}
        if self.hparams.returns == "no-loss":
            return {"logits": loss}
        return None

    def schedule(self):
        return cyclr.CyclicSchedule(
            self.hparams.base_lr,
            self.hparams.max_lr,
            step_size=STEP_SIZE,
            base_momentum=0.85,
            max_momentum=0.95,
        )

    def configure_optimizers(self):
        if self.hparams.optimizer == "adam":
            opt = torch.optim.Adam(self.parameters(), lr=self.hparams.base_lr)
        else:
            opt = torch.optim.SGD(self.parameters(), lr=self.hparams.base_lr, momentum=0.9)
        return {"optimizer": opt, "lr_scheduler": scheduler_config(self.schedule(), opt)}


class Validated(Classifier):
    """With BatchNorm, a validation loader (three batches of 16) and a validation_step."""

    def __init__(self, logs="val_loss", returns_val=False, **kwargs):
        super().__init__(**kwargs)
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(
            torch.nn.Linear(8, 16),
            torch.nn.BatchNorm1d(16),
            torch.nn.Tanh(),
            torch.nn.Linear(16, 3),
        )
        self.logs, self.returns_val = logs, returns_val
        self.val_modes = []

    def val_dataloader(self):
        return torch.utils.data.DataLoader(Samples(48, seed=5), batch_size=16)

    def validation_step(self, batch, batch_idx):
        self.val_modes.append((self.net[1].training, self.net[0].training))
        loss = torch.nn.functional.cross_entropy(self.net(batch["x"]), batch["y"])
        if self.logs:
            self.log(self.logs, loss)
        return loss if self.returns_val else None


def trainer(**kwargs):
    settings = dict(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    settings.update(kwargs)
    return pl.Trainer(**settings)


class RateRecorder(pl.Callback):
    """The lr and momentum of every optimizer step (as used by it), and the batches seen."""

    def __init__(self):
        self.lrs, self.momenta, self.batches = [], [], 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.batches += 1

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        group = optimizer.param_groups[0]
        self.lrs.append(group["lr"])
        self.momenta.append(group["momentum"] if "momentum" in group else group["betas"][0])


def state_copy(module, optimizer):
    return (
        {k: v.detach().clone() for k, v in module.state_dict().items()},
        copy.deepcopy(optimizer.state_dict()),
    )


def same(a, b):
    """Equal nested containers, tensors compared bit for bit."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b
