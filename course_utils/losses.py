"""Chapter 02: softmax and cross-entropy from scratch, with their hand-derived gradients."""

from __future__ import annotations

import torch

IGNORE_INDEX = -100  # the label value torch.nn.functional.cross_entropy skips


def check_logits_and_labels(logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = IGNORE_INDEX) -> None:
    """Raise a clear error unless logits are (N, C) and labels (N,) integers in [0, C) or ignore_index."""
    if logits.dim() != 2:
        raise ValueError(f"logits must be (N, C), got shape {tuple(logits.shape)}: flatten with logits.view(-1, C)")
    if labels.shape != logits.shape[:1]:
        raise ValueError(
            f"labels shape {tuple(labels.shape)} does not match logits {tuple(logits.shape)}: "
            f"expected ({logits.shape[0]},)"
        )
    if labels.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"labels must be integer class indices, got {labels.dtype}")
    kept = labels[labels != ignore_index]
    if kept.numel() and (kept.min() < 0 or kept.max() >= logits.shape[1]):
        bad = kept[(kept < 0) | (kept >= logits.shape[1])][0].item()
        raise ValueError(f"label {bad} is out of range for {logits.shape[1]} classes (use {ignore_index} to ignore)")


def naive_softmax(z: torch.Tensor) -> torch.Tensor:
    """exp(z) / sum exp(z) over the last dim, exactly as written: overflows for large z."""
    e = torch.exp(z)
    return e / e.sum(dim=-1, keepdim=True)


def logsumexp(z: torch.Tensor) -> torch.Tensor:
    """log sum exp(z) over the last dim, stably: m + log sum exp(z - m) with m = max z."""
    m = z.max(dim=-1, keepdim=True).values
    return (m + torch.log(torch.exp(z - m).sum(dim=-1, keepdim=True))).squeeze(-1)


def log_softmax(z: torch.Tensor) -> torch.Tensor:
    """z - logsumexp(z): never overflows, because every exponent is <= 0."""
    return z - logsumexp(z).unsqueeze(-1)


def softmax(z: torch.Tensor) -> torch.Tensor:
    """Stable softmax over the last dim: shifting z by its max changes nothing but the overflow."""
    e = torch.exp(z - z.max(dim=-1, keepdim=True).values)
    return e / e.sum(dim=-1, keepdim=True)


def cross_entropy(
    logits: torch.Tensor,
    labels: torch.Tensor,
    reduction: str = "mean",
    ignore_index: int = IGNORE_INDEX,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """-log softmax(z)[y], averaged over non-ignored rows (or summed); matches F.cross_entropy."""
    check_logits_and_labels(logits, labels, ignore_index)
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction={reduction!r}: use 'mean', 'sum' or 'none'")
    keep = labels != ignore_index  # (N,)
    logp = log_softmax(logits)  # (N, C)
    target = one_hot_target(labels.clamp(min=0), logits.shape[1], label_smoothing)  # (N, C)
    per_row = -(target * logp).sum(dim=-1) * keep  # (N,): 0 for ignored rows
    if reduction == "none":
        return per_row
    if reduction == "sum":
        return per_row.sum()
    return per_row.sum() / keep.sum()  # divide by the rows that count, not by N


def one_hot_target(
    labels: torch.Tensor, num_classes: int, label_smoothing: float = 0.0
) -> torch.Tensor:
    """The target: one-hot, or (1 - eps) one-hot + eps / C with label smoothing."""
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    onehot = torch.nn.functional.one_hot(labels, num_classes).to(
        torch.get_default_dtype()
    )
    return (1 - label_smoothing) * onehot + label_smoothing / num_classes


def cross_entropy_grad(logits: torch.Tensor, labels: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """dL/dz of the mean cross-entropy: (softmax(z) - target) / N."""
    target = one_hot_target(labels, logits.shape[1], label_smoothing).to(logits.dtype)
    return (softmax(logits) - target) / logits.shape[0]


def binary_cross_entropy_with_logits(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean of -[y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))], stably: max(z,0) - z*y + log(1 + e^-|z|)."""
    if z.shape != y.shape:
        raise ValueError(f"targets shape {tuple(y.shape)} does not match logits {tuple(z.shape)}")
    return (z.clamp(min=0) - z * y + torch.log1p(torch.exp(-z.abs()))).mean()


def binary_cross_entropy_grad(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """dL/dz of the mean binary cross-entropy: (sigmoid(z) - y) / N."""
    return (torch.sigmoid(z) - y) / z.numel()


def perplexity(mean_loss: float | torch.Tensor) -> float:
    """exp of a mean cross-entropy in nats: the effective number of equally likely choices."""
    return float(torch.exp(torch.as_tensor(mean_loss, dtype=torch.float64)))
