"""Chapter 02: sentence-pair pretraining - next-sentence prediction (BERT) and sentence-order prediction (ALBERT)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from course_utils.losses import IGNORE_INDEX
from course_utils.masking import mask_tokens
from course_utils.train import History, fit

if TYPE_CHECKING:
    from course_utils.config import MLMConfig

TASKS = ("nsp", "sop")  # label 1: b is the segment that follows a; 0: a random segment (nsp) or a swap (sop)


def cut_segments(ids: list[int], length: int) -> torch.Tensor:
    """Consecutive segments of `length` tokens from one token stream (the tail is dropped)."""
    if length < 1:
        raise ValueError(f"segment length must be at least 1 token, got {length}")
    count = len(ids) // length
    if count < 3:
        raise ValueError(f"{len(ids)} tokens give {count} segments of {length}: sentence pairs need at least 3")
    return torch.tensor(ids[: count * length]).view(count, length)  # (segments, length)


def draw_pairs(
    segments: torch.Tensor,  # (segments, length)
    firsts: torch.Tensor,  # (pairs,): index of each pair's first segment
    task: str,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(a, b, label) for each first segment i: half true continuations (label 1); the
    rest a random segment other than i + 1 as b (nsp), or a and b swapped (sop)."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    last = len(segments) - 2  # segment i + 1 must exist
    if len(firsts) and (firsts.min() < 0 or firsts.max() > last):
        raise ValueError(f"first segments must lie in [0, {last}]: i + 1 must exist")
    label = torch.randint(2, (len(firsts),), generator=generator)  # (pairs,)
    a, b = segments[firsts], segments[firsts + 1]  # (pairs, length) each
    false = label == 0
    if task == "nsp":  # any segment but the true next one: shift a draw past i + 1
        other = torch.randint(len(segments) - 1, (len(firsts),), generator=generator)
        other = other + (other >= firsts + 1).long()
        b = torch.where(false[:, None], segments[other], b)
    else:
        a, b = torch.where(false[:, None], b, a), torch.where(false[:, None], a, b)
    return a, b, label


def pair_inputs(a: torch.Tensor, b: torch.Tensor, cls_id: int, sep_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """[CLS] a [SEP] b [SEP] and its token types: 0 up to the first [SEP], 1 after it."""
    cls = torch.full((len(a), 1), cls_id)
    sep = torch.full((len(a), 1), sep_id)
    input_ids = torch.cat([cls, a, sep, b, sep], dim=1)  # (pairs, 2 * length + 3)
    token_types = torch.zeros_like(input_ids)
    token_types[:, a.shape[1] + 2 :] = 1
    return input_ids, token_types


@dataclass
class PairCollator:
    """Batches of masked sentence pairs for `task`, drawn afresh each time from first-segment indices."""

    tokenizer: object
    segments: torch.Tensor  # (segments, length)
    task: str
    mlm_probability: float = 0.15
    seed: int | None = None

    def __post_init__(self) -> None:
        self.generator = torch.Generator().manual_seed(self.seed) if self.seed is not None else None
        self.special_ids = torch.tensor(self.tokenizer.all_special_ids)

    def __call__(self, firsts: list[int]) -> dict[str, torch.Tensor]:
        a, b, label = draw_pairs(self.segments, torch.as_tensor(firsts), self.task, self.generator)
        input_ids, token_types = pair_inputs(a, b, self.tokenizer.cls_token_id, self.tokenizer.sep_token_id)
        special = torch.isin(input_ids, self.special_ids)
        inputs, labels = mask_tokens(
            input_ids, special, self.tokenizer.mask_token_id, len(self.tokenizer), self.mlm_probability, self.generator
        )
        return {
            "input_ids": inputs,
            "token_type_ids": token_types,
            "attention_mask": torch.ones_like(inputs),
            "labels": labels,
            "pair_labels": label,
        }


def fixed_pair_batches(
    tokenizer, segments: torch.Tensor, task: str, batch_size: int = 64, seed: int = 1
) -> list[dict[str, torch.Tensor]]:
    """Every held-out first segment once, paired and masked (15%) with a fixed seed: the same batches each time."""
    collate = PairCollator(tokenizer, segments, task, 0.15, seed=seed)
    firsts = list(range(len(segments) - 1))
    return [collate(firsts[i : i + batch_size]) for i in range(0, len(firsts), batch_size)]


def pair_loss(model, batch: dict, pair_weight: float) -> torch.Tensor:
    """Masked-token loss plus `pair_weight` x the pair task's cross-entropy on [CLS] (BertForPreTraining)."""
    out = model.bert(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], token_type_ids=batch["token_type_ids"]
    )
    masked = batch["labels"] != IGNORE_INDEX  # (batch, seq)
    mlm = torch.nn.functional.cross_entropy(
        model.cls.predictions(out.last_hidden_state[masked]), batch["labels"][masked]
    )  # the vocabulary projection only where the loss looks
    pair_logits = model.cls.seq_relationship(out.pooler_output)  # (batch, 2) from [CLS]
    return mlm + pair_weight * torch.nn.functional.cross_entropy(pair_logits, batch["pair_labels"])


def pretrain_pairs(
    model, tokenizer, segments: torch.Tensor, task: str, pair_weight: float, cfg: MLMConfig, progress: bool = True
) -> History:
    """`cfg.pair_steps` steps of MLM (masking at `cfg.train_mlm_probability`) + pair_weight x `task` on fresh pairs."""
    loader = torch.utils.data.DataLoader(
        list(range(len(segments) - 1)),  # every segment that has a successor starts a pair
        batch_size=cfg.batch_size,
        shuffle=True,
        collate_fn=PairCollator(tokenizer, segments, task, cfg.train_mlm_probability, seed=cfg.seed),
    )
    return fit(
        model, loader, cfg.pair_train_config(), loss_fn=lambda m, b: pair_loss(m, b, pair_weight), progress=progress
    )


@torch.no_grad()
def pair_predictions(model, batches) -> tuple[torch.Tensor, torch.Tensor]:
    """(predicted, true) pair labels over all batches, from the model's [CLS] head."""
    model.eval()
    device = next(model.parameters()).device
    predicted, true = [], []
    for batch in batches:
        batch = {k: v.to(device) for k, v in batch.items()}
        out = model.bert(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], token_type_ids=batch["token_type_ids"]
        )
        predicted.append(model.cls.seq_relationship(out.pooler_output).argmax(-1).cpu())
        true.append(batch["pair_labels"].cpu())
    model.train()
    return torch.cat(predicted), torch.cat(true)


@torch.no_grad()
def masked_losses(model, batches) -> torch.Tensor:
    """(blocks, 2): each block's summed masked-token loss and its number of masked tokens."""
    model.eval()
    device = next(model.parameters()).device
    rows = []
    for batch in batches:
        batch = {k: v.to(device) for k, v in batch.items()}
        hidden = model.bert(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            token_type_ids=batch.get("token_type_ids"),  # None for single blocks: all zeros
        ).last_hidden_state
        labels = batch["labels"]
        masked = labels != IGNORE_INDEX  # (batch, seq)
        token_loss = torch.zeros(labels.shape, device=device)
        token_loss[masked] = torch.nn.functional.cross_entropy(
            model.cls.predictions(hidden[masked]).float(), labels[masked], reduction="none"
        )
        rows.append(torch.stack([token_loss.sum(1), masked.sum(1).float()], dim=1).double().cpu())
    model.train()
    return torch.cat(rows)


def perplexity(losses: torch.Tensor) -> float:
    """exp(total masked loss / masked tokens) of a (blocks, 2) table from `masked_losses`."""
    total, count = losses.sum(0).tolist()
    if count == 0:
        raise ValueError("no masked token in the table: the perplexity is undefined")
    return math.exp(total / count)


def overlap(a: torch.Tensor, b: torch.Tensor, ignore: torch.Tensor) -> torch.Tensor:
    """(pairs,): the Jaccard overlap of a's and b's distinct tokens (outside `ignore`) - symmetric, so order-blind."""
    shares, skip = [], set(ignore.tolist())
    for first, second in zip(a.tolist(), b.tolist(), strict=True):
        kept_a, kept_b = set(first) - skip, set(second) - skip
        shares.append(len(kept_a & kept_b) / max(len(kept_a | kept_b), 1))
    return torch.tensor(shares)


def best_threshold(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """The cut that classifies `scores > cut` as label 1 most accurately on these (training) pairs."""
    candidates = torch.cat([scores.unique(), scores.min().reshape(1) - 1])
    accuracy = [float(((scores > c).long() == labels).double().mean()) for c in candidates]
    return float(candidates[max(range(len(accuracy)), key=accuracy.__getitem__)])
