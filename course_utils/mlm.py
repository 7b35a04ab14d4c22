"""Chapter 02's masked-LM objective: the loss at masked positions, its evaluation, pretraining, fill-in-the-blank."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from course_utils.losses import IGNORE_INDEX
from course_utils.masking import CORRUPTIONS, MLMCollator, corruption_kind
from course_utils.train import History, fit

if TYPE_CHECKING:
    from course_utils.config import MLMConfig
    from course_utils.mlm_data import MLMData


def mlm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the masked positions only; 0 (still differentiable) when nothing is masked."""
    logits = logits.reshape(-1, logits.shape[-1])  # (batch * seq, vocab)
    labels = labels.reshape(-1)  # (batch * seq,)
    num_masked = (labels != IGNORE_INDEX).sum()
    if num_masked == 0:  # F.cross_entropy would return 0/0 = nan and poison the weights
        return logits.new_zeros(()) + logits.sum() * 0.0  # 0, with a (zero) gradient for every logit
    return torch.nn.functional.cross_entropy(logits, labels, ignore_index=IGNORE_INDEX, reduction="sum") / num_masked


def masked_only_loss(model, batch: dict) -> torch.Tensor:
    """The same loss as `mlm_loss`, computing the vocabulary projection only where the loss looks."""
    hidden = model.bert(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    masked = batch["labels"] != IGNORE_INDEX  # (batch, seq)
    if not masked.any():
        return hidden.sum() * 0.0
    logits = model.cls.predictions(hidden[masked])  # (num_masked, vocab) instead of (batch, seq, vocab)
    return torch.nn.functional.cross_entropy(logits, batch["labels"][masked])


@torch.no_grad()
def evaluate_mlm(model: torch.nn.Module, batches, device: torch.device | str | None = None) -> dict[str, float]:
    """Mean masked-token loss over all batches (summed over tokens, not averaged over batches) and perplexity.

    The batches go to `device`, by default the model's own (a CPU batch cannot index a CUDA embedding).
    """
    device = device or next(model.parameters()).device
    model.eval()
    total_loss, total_masked = 0.0, 0
    for batch in batches:
        batch = {k: v.to(device) for k, v in batch.items()}
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        num_masked = int((batch["labels"] != IGNORE_INDEX).sum())
        total_loss += float(mlm_loss(logits, batch["labels"])) * num_masked
        total_masked += num_masked
    model.train()
    if total_masked == 0:
        raise ValueError("no masked token in the evaluation batches: the perplexity is undefined")
    mean = total_loss / total_masked
    return {"loss": mean, "perplexity": math.exp(mean), "masked_tokens": total_masked}


def pretrain(model, data: MLMData, cfg: MLMConfig, evaluate=None, progress: bool = True) -> History:
    """Pretrain on the training blocks, masked afresh at `cfg.train_mlm_probability`, with the shared loop."""
    loader = torch.utils.data.DataLoader(
        list(data.train_blocks),
        batch_size=cfg.batch_size,
        shuffle=True,
        collate_fn=MLMCollator(data.tokenizer, cfg.train_mlm_probability, seed=cfg.seed),
    )
    return fit(model, loader, cfg.train_config(), evaluate=evaluate, loss_fn=masked_only_loss, progress=progress)


@torch.no_grad()
def loss_by_corruption(model, batches, mask_token_id: int, log_probs: torch.Tensor) -> dict[str, dict[str, float]]:
    """Model and unigram mean loss at [MASK]ed, randomised and kept positions; `gain`: each kind's share of the
    total log-perplexity gap to the unigram (the shares sum to log(model perplexity / unigram perplexity))."""
    model.eval()
    device = next(model.parameters()).device
    sums = {name: [0, 0.0, 0.0] for name in CORRUPTIONS}  # count, model loss, unigram loss
    for batch in batches:
        batch = {k: v.to(device) for k, v in batch.items()}
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        kind = corruption_kind(batch["input_ids"], batch["labels"], mask_token_id)  # (batch, seq)
        scored = kind >= 0
        targets = batch["labels"][scored]  # (num_scored,)
        loss = torch.nn.functional.cross_entropy(logits[scored].float(), targets, reduction="none")
        unigram = -log_probs.to(device)[targets]
        for index, name in enumerate(CORRUPTIONS):
            of_kind = kind[scored] == index
            sums[name][0] += int(of_kind.sum())
            sums[name][1] += float(loss[of_kind].sum())
            sums[name][2] += float(unigram[of_kind].sum())
    model.train()
    total = sum(count for count, _, _ in sums.values())
    if total == 0:
        raise ValueError("no masked token in the evaluation batches: the perplexity is undefined")
    return {
        name: {
            "count": count,
            "loss": model_loss / max(count, 1),
            "unigram_loss": unigram_loss / max(count, 1),
            "ratio": math.exp((model_loss - unigram_loss) / max(count, 1)),  # perplexity / unigram perplexity
            "gain": (model_loss - unigram_loss) / total,
        }
        for name, (count, model_loss, unigram_loss) in sums.items()
    }


@torch.no_grad()
def fill_mask(model, tokenizer, text: str, top_k: int = 5) -> list[list[tuple[str, float]]]:
    """Top-k (token, probability) for each [MASK] in `text`."""
    encoded = tokenizer(text, return_tensors="pt")
    positions = (encoded["input_ids"][0] == tokenizer.mask_token_id).nonzero().flatten()
    if len(positions) == 0:
        raise ValueError(f"no {tokenizer.mask_token} in {text!r}")
    model.eval()
    device = next(model.parameters()).device
    logits = model(**{k: v.to(device) for k, v in encoded.items() if k != "token_type_ids"}).logits[0]  # (seq, vocab)
    probs = logits[positions].softmax(dim=-1)  # (num_masks, vocab)
    top = probs.topk(top_k, dim=-1)
    return [
        [(tokenizer.convert_ids_to_tokens(int(i)), float(p)) for p, i in zip(ps, ids, strict=True)]
        for ps, ids in zip(top.values, top.indices, strict=True)
    ]
