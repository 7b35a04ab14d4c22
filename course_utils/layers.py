"""Chapter 03: LayerNorm from scratch (forward, hand-written backward), RMSNorm, and Pre-/Post-LN blocks."""

from __future__ import annotations

import math
from types import SimpleNamespace

import torch
from torch import nn

from course_utils.losses import IGNORE_INDEX


def _check_shape_and_eps(x: torch.Tensor, normalized_shape: tuple[int, ...], eps: float) -> None:
    """A clear error for a normalized_shape that is not x's trailing dims, or a non-positive eps."""
    if eps <= 0:
        raise ValueError(f"eps must be positive (it keeps 1/sqrt(var + eps) finite), got {eps}")
    if tuple(x.shape[-len(normalized_shape) :]) != tuple(normalized_shape) or len(normalized_shape) > x.dim():
        raise ValueError(
            f"normalized_shape {tuple(normalized_shape)} must equal the last {len(normalized_shape)} dims of the "
            f"input, whose shape is {tuple(x.shape)}"
        )


def _as_shape(normalized_shape: int | tuple[int, ...]) -> tuple[int, ...]:
    return (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)


def layer_norm(x, normalized_shape, weight=None, bias=None, eps: float = 1e-5) -> torch.Tensor:
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the trailing dims; biased (1/N) variance, two passes."""
    shape = _as_shape(normalized_shape)
    _check_shape_and_eps(x, shape, eps)
    dims = tuple(range(-len(shape), 0))
    mean = x.mean(dim=dims, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=dims, keepdim=True)  # second pass over the centred values
    y = (x - mean) / torch.sqrt(var + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def one_pass_variance(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """E[x^2] - E[x]^2: one pass over the data, but catastrophic cancellation when |mean| >> std."""
    return (x * x).mean(dim=dim) - x.mean(dim=dim) ** 2


class LayerNormFunction(torch.autograd.Function):
    """LayerNorm with the backward pass written by hand (the derivation is in chapter 03)."""

    @staticmethod
    def forward(ctx, x, weight, bias, normalized_shape, eps):
        """Normalise over the trailing len(normalized_shape) dims and save x_hat and 1/sigma for backward."""
        dims = tuple(range(-len(normalized_shape), 0))
        mean = x.mean(dim=dims, keepdim=True)
        rstd = torch.rsqrt(((x - mean) ** 2).mean(dim=dims, keepdim=True) + eps)  # 1 / sigma
        x_hat = (x - mean) * rstd
        ctx.save_for_backward(x_hat, rstd, weight)
        ctx.dims = dims
        return x_hat * weight + bias

    @staticmethod
    def backward(ctx, grad_out):
        """dx = (g - mean(g) - x_hat mean(g x_hat)) / sigma with g = dy * weight."""
        x_hat, rstd, weight = ctx.saved_tensors
        dims = ctx.dims
        batch_dims = tuple(range(grad_out.dim() - len(dims)))
        g = grad_out * weight  # gradient w.r.t. x_hat
        dx = rstd * (
            g
            - g.mean(dim=dims, keepdim=True)
            - x_hat * (g * x_hat).mean(dim=dims, keepdim=True)
        )
        dweight = (grad_out * x_hat).sum(dim=batch_dims)
        dbias = grad_out.sum(dim=batch_dims)
        return dx, dweight, dbias, None, None


class LayerNorm(nn.Module):
    """Drop-in for nn.LayerNorm built on LayerNormFunction."""

    def __init__(self, normalized_shape, eps: float = 1e-5) -> None:
        super().__init__()
        self.normalized_shape = _as_shape(normalized_shape)
        if eps <= 0:
            raise ValueError(f"eps must be positive, got {eps}")
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(self.normalized_shape))
        self.bias = nn.Parameter(torch.zeros(self.normalized_shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_shape_and_eps(x, self.normalized_shape, self.eps)
        return LayerNormFunction.apply(x, self.weight, self.bias, self.normalized_shape, self.eps)


def rms_norm(x, normalized_shape, weight=None, eps: float = 1e-6) -> torch.Tensor:
    """y = x / sqrt(mean(x^2) + eps) * weight: no centring, no bias."""
    shape = _as_shape(normalized_shape)
    _check_shape_and_eps(x, shape, eps)
    dims = tuple(range(-len(shape), 0))
    y = x * torch.rsqrt((x * x).mean(dim=dims, keepdim=True) + eps)
    return y * weight if weight is not None else y


class RMSNorm(nn.Module):
    """RMSNorm (Zhang & Sennrich, 2019) from scratch."""

    def __init__(self, normalized_shape, eps: float = 1e-6) -> None:
        super().__init__()
        self.normalized_shape, self.eps = _as_shape(normalized_shape), eps
        self.weight = nn.Parameter(torch.ones(self.normalized_shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return rms_norm(x, self.normalized_shape, self.weight, self.eps)


# --- where the norm sits: Post-LN (BERT) and Pre-LN blocks ------------------------------------------


class EncoderBlock(nn.Module):
    """A transformer encoder block; `placement` 'post': x = LN(x + f(x)) as in BERT, 'pre': x = x + f(LN(x))."""

    def __init__(self, hidden: int, heads: int, placement: str = "pre", norm: type[nn.Module] = nn.LayerNorm):
        super().__init__()
        if placement not in ("pre", "post"):
            raise ValueError(f"placement must be 'pre' or 'post', got {placement!r}")
        self.placement = placement
        self.attn = nn.MultiheadAttention(hidden, heads, batch_first=True)
        self.ffn = nn.Sequential(nn.Linear(hidden, 4 * hidden), nn.GELU(), nn.Linear(4 * hidden, hidden))
        self.norm1, self.norm2 = norm(hidden), norm(hidden)

    def _attend(self, x, pad_mask):
        return self.attn(x, x, x, key_padding_mask=pad_mask, need_weights=False)[0]

    def forward(
        self, x: torch.Tensor, pad_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        if self.placement == "post":
            x = self.norm1(x + self._attend(x, pad_mask))  # (batch, seq, hidden)
            return self.norm2(x + self.ffn(x))
        x = x + self._attend(
            self.norm1(x), pad_mask
        )  # the residual path never passes through a norm
        return x + self.ffn(self.norm2(x))


class TinyEncoderMLM(nn.Module):
    """A small BERT-like masked language model whose norm placement can be switched."""

    def __init__(self, vocab_size: int, hidden: int, layers: int, heads: int, max_len: int, placement: str = "pre"):
        super().__init__()
        self.tok = nn.Embedding(vocab_size, hidden)
        self.pos = nn.Embedding(max_len, hidden)
        # Both normalise the embeddings (BERT, RoBERTa-PreLN). Without it, 0.02-scale embeddings start smaller than
        # the first sub-layer's output in a Pre-LN stream, and chapter 03 measured Pre-LN failing at lr 3e-3
        self.embed_norm = nn.LayerNorm(hidden)
        self.blocks = nn.ModuleList(EncoderBlock(hidden, heads, placement) for _ in range(layers))
        self.final_norm = nn.LayerNorm(hidden) if placement == "pre" else nn.Identity()  # Pre-LN needs a last norm
        self.head = nn.Linear(hidden, vocab_size)
        self.apply(_init_weights)

    def forward(self, input_ids, attention_mask=None, labels=None):
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = self.embed_norm(self.tok(input_ids) + self.pos(positions))  # (batch, seq, hidden)
        pad_mask = attention_mask == 0 if attention_mask is not None else None
        for block in self.blocks:
            x = block(x, pad_mask)
        logits = self.head(self.final_norm(x))  # (batch, seq, vocab)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=IGNORE_INDEX)
        return SimpleNamespace(loss=loss, logits=logits)


def _init_weights(module: nn.Module) -> None:
    """BERT's initialisation: normal(0, 0.02) weights, zero biases."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)


def layer_grad_norms(model: TinyEncoderMLM) -> list[float]:
    """The gradient norm of each block's parameters (call after backward)."""
    return [
        math.sqrt(sum(float(p.grad.norm() ** 2) for p in block.parameters() if p.grad is not None))
        for block in model.blocks
    ]


# --- a task where context is everything: the placement experiment's workload ----------------------------


REPEAT_TASK_MASK_ID = 1  # ids 0-1 are reserved (0 unused, 1 = [MASK]); content tokens are 2 .. vocab_size - 1
REPEAT_TASK_FIRST_TOKEN = 2


def repeat_task_rows(n: int, seq_len: int, vocab_size: int, mask_prob: float = 0.15, seed: int = 0) -> list[dict]:
    """MLM rows of random tokens whose second half repeats the first: a masked token is read from its twin.

    Every selected position becomes [MASK] (no 10% random / 10% kept as in `masking.mask_tokens`), so the best
    possible loss has the simple form `repeat_task_losses` gives.
    """
    if not 0.0 < mask_prob < 1.0:
        raise ValueError(f"mask_prob must be in (0, 1), got {mask_prob}")
    if seq_len % 2 or seq_len < 2:
        raise ValueError(f"seq_len must be even (two equal halves), got {seq_len}")
    if vocab_size <= REPEAT_TASK_FIRST_TOKEN + 1:
        raise ValueError(f"vocab_size must exceed {REPEAT_TASK_FIRST_TOKEN + 1} (ids below it are reserved)")
    generator = torch.Generator().manual_seed(seed)
    half = torch.randint(REPEAT_TASK_FIRST_TOKEN, vocab_size, (n, seq_len // 2), generator=generator)
    ids = torch.cat([half, half], dim=1)  # (n, seq_len)
    masked = torch.rand(n, seq_len, generator=generator) < mask_prob
    labels = torch.where(masked, ids, IGNORE_INDEX)
    inputs = torch.where(masked, REPEAT_TASK_MASK_ID, ids)
    return [
        {"input_ids": i, "attention_mask": torch.ones_like(i), "labels": y} for i, y in zip(inputs, labels, strict=True)
    ]


def repeat_task_losses(vocab_size: int, mask_prob: float = 0.15) -> tuple[float, float]:
    """(chance, floor) loss per masked token: guessing uniformly, and solving it except when the twin is masked too."""
    chance = math.log(vocab_size - REPEAT_TASK_FIRST_TOKEN)
    return chance, mask_prob * chance  # with probability mask_prob the twin is hidden as well: nothing to read
