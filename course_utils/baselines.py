"""The count models a masked LM must beat: the unigram (also the head's starting bias), bigrams, two neighbours."""

from __future__ import annotations

import math
from collections import Counter

import torch

from course_utils.losses import IGNORE_INDEX
from course_utils.masking import corruption_kind


def unigram_log_probs(train_ids: list[int], vocab_size: int) -> torch.Tensor:
    """log p(token) from training-text counts, add-one smoothed so every token has p > 0."""
    counts = torch.ones(vocab_size, dtype=torch.float64)
    for token, count in Counter(train_ids).items():
        counts[token] += count
    return torch.log(counts / counts.sum())


@torch.no_grad()
def init_output_bias(model, log_probs: torch.Tensor) -> None:
    """Start the MLM head's bias at the log unigram frequencies, so the untrained model predicts the unigram."""
    bias = model.get_output_embeddings().bias  # BertForMaskedLM: cls.predictions.bias
    if bias is None or bias.shape != log_probs.shape:
        got = None if bias is None else tuple(bias.shape)
        raise ValueError(
            f"log_probs has shape {tuple(log_probs.shape)}, the output bias {got}: build both from one tokenizer"
        )
    bias.copy_(log_probs - log_probs.mean())  # a constant shift does not change the softmax


def unigram_perplexity(log_probs: torch.Tensor, targets: torch.Tensor) -> float:
    """Perplexity of a context-free model that always predicts the unigram distribution."""
    targets = targets[targets != IGNORE_INDEX]
    return math.exp(-float(log_probs[targets].mean()))


def bigram_counts(ids: list[int], vocab_size: int) -> torch.Tensor:
    """counts[a, b]: how often token b follows token a in the stream `ids`."""
    ids = torch.as_tensor(ids)
    if len(ids) < 2 or ids.min() < 0 or ids.max() >= vocab_size:
        raise ValueError(f"need 2+ token ids in [0, {vocab_size}), got {len(ids)} ids: use the tokenizer's vocab size")
    counts = torch.zeros(vocab_size * vocab_size)
    counts.index_add_(0, ids[:-1] * vocab_size + ids[1:], torch.ones(len(ids) - 1))
    return counts.view(vocab_size, vocab_size)  # (vocab, vocab)


def neighbour_log_probs(
    counts: torch.Tensor, log_probs: torch.Tensor, left: torch.Tensor, right: torch.Tensor, smoothing: float = 0.1
) -> torch.Tensor:
    """A count model that reads only the two neighbours: log p(w | left, right), with p proportional to
    p(w | left) p(w | right) / p(w); each bigram gets `smoothing` x vocab pseudo-counts spread as the unigram,
    so a neighbour never seen in training ([MASK], say) tells it nothing."""
    if smoothing <= 0:
        raise ValueError(f"smoothing must be > 0 (a bigram never seen would get probability 0), got {smoothing}")
    if counts.shape != (len(log_probs), len(log_probs)):
        shapes = f"counts {tuple(counts.shape)} and log_probs {tuple(log_probs.shape)}"
        raise ValueError(f"{shapes}: build both from one tokenizer")
    log_probs = log_probs.float()
    prior = smoothing * len(log_probs) * log_probs.exp()  # (vocab,) pseudo-counts

    def conditional(table: torch.Tensor) -> torch.Tensor:  # rows: smoothed p(w | the row's token)
        table = table + prior
        return (table / table.sum(dim=1, keepdim=True)).log()  # (vocab, vocab)

    after_left = conditional(counts)[left]  # (n, vocab): log p(w | left)
    before_right = conditional(counts.T)[right]  # (n, vocab): log p(w | right)
    return (after_left + before_right - log_probs).log_softmax(dim=-1)  # (n, vocab)


def neighbour_model_at_masks(
    batches, counts: torch.Tensor, log_probs: torch.Tensor, mask_token_id: int, smoothing: float = 0.1
) -> dict[str, float]:
    """The neighbour count model's mean loss at the [MASK] positions of `batches`, reading the same (masked)
    input a model sees, next to the unigram's; `ratio` is its perplexity / the unigram's, as in loss_by_corruption."""
    count, model_loss, unigram_loss = 0, 0.0, 0.0
    for batch in batches:
        kind = corruption_kind(batch["input_ids"], batch["labels"], mask_token_id)  # (batch, seq)
        rows, cols = (kind == 0).nonzero(as_tuple=True)  # [CLS]/[SEP] are never masked: cols - 1, cols + 1 exist
        targets = batch["labels"][rows, cols]  # (n,)
        left, right = batch["input_ids"][rows, cols - 1], batch["input_ids"][rows, cols + 1]
        scores = neighbour_log_probs(counts, log_probs, left, right, smoothing)  # (n, vocab)
        count += len(targets)
        model_loss -= float(scores.gather(1, targets[:, None]).sum())
        unigram_loss -= float(log_probs[targets].sum())
    if count == 0:
        raise ValueError("no [MASK] position in the batches: nothing to score")
    return {
        "count": count,
        "loss": model_loss / count,
        "unigram_loss": unigram_loss / count,
        "ratio": math.exp((model_loss - unigram_loss) / count),
    }
