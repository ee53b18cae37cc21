"""A tiny BERT, token data with a learnable rule, and Trainer settings for the HF tests."""

import torch
import transformers

VOCAB = 24
LENGTH = 8
N_SAMPLES = 96
BATCH = 8


class Tokens(torch.utils.data.Dataset):
    """Random token ids; the label says whether token 3 occurs in the sequence."""

    def __init__(self, n=N_SAMPLES, seed=0, labels=True):
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(4, VOCAB, (n, LENGTH), generator=g)
        marked = torch.rand(n, generator=g) < 0.5
        self.ids[marked, torch.randint(0, LENGTH, (int(marked.sum()),), generator=g)] = 3
        self.labels = (self.ids == 3).any(dim=1).long()
        self.with_labels = labels

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, i):
        item = {"input_ids": self.ids[i].tolist()}
        if self.with_labels:
            item["labels"] = int(self.labels[i])
        return item


def collate(items):
    """The data collator: lists of ids to tensors, with an attention mask."""
    batch = {"input_ids": torch.tensor([it["input_ids"] for it in items])}
    batch["attention_mask"] = torch.ones_like(batch["input_ids"])
    if "labels" in items[0]:
        batch["labels"] = torch.tensor([it["labels"] for it in items])
    return batch


def model(seed=0):
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


def arguments(tmp_path, **kwargs):
    settings = dict(
        output_dir=str(tmp_path),
        report_to=[],
        use_cpu=True,
        per_device_train_batch_size=BATCH,
        num_train_epochs=1,
        save_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
        seed=0,
        dataloader_num_workers=0,
    )
    settings.update(kwargs)
    return transformers.TrainingArguments(**settings)


class Rates(transformers.TrainerCallback):
    """The lr and beta_1 of each optimizer update, read just before it."""

    def __init__(self):
        self.lrs, self.betas = [], []

    def on_pre_optimizer_step(self, args, state, control, optimizer=None, **kwargs):
        self.lrs.append(optimizer.param_groups[0]["lr"])
        self.betas.append(optimizer.param_groups[0]["betas"][0])


def trainer(tmp_path, labels=True, optimizers=(None, None), callbacks=None, **kwargs):
    return transformers.Trainer(
        model=model(),
        args=arguments(tmp_path, **kwargs),
        train_dataset=Tokens(labels=labels),
        data_collator=collate,
        optimizers=optimizers,
        callbacks=callbacks,
    )
