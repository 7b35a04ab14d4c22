"""Sinusoidal positions: the Transformer's frequencies and table, and a BERT's learned table started from it."""

from __future__ import annotations

import torch


def sinusoidal_frequencies(dim: int, base: float = 10000.0) -> torch.Tensor:
    """The Transformer's angular frequencies omega_i = base^(-2i/dim), one per (sin, cos) pair: 1 down to ~1/base."""
    if dim % 2 or dim <= 0 or base <= 1:
        raise ValueError(f"need an even dim > 0 and base > 1, got dim={dim}, base={base}")
    return base ** (-torch.arange(0, dim, 2, dtype=torch.float64) / dim)  # (dim / 2,)


def sinusoidal_positions(num_positions: int, dim: int, base: float = 10000.0) -> torch.Tensor:
    """The Transformer's position table: row p holds sin(p omega_i) at column 2i and cos(p omega_i) at 2i+1."""
    if num_positions <= 0:
        raise ValueError(f"num_positions must be > 0, got {num_positions}")
    position = torch.arange(num_positions, dtype=torch.float64)[:, None]  # (positions, 1)
    angle = position * sinusoidal_frequencies(dim, base)  # (positions, dim / 2)
    table = torch.stack([angle.sin(), angle.cos()], dim=-1)  # (positions, dim / 2, 2)
    return table.flatten(1).float()  # (positions, dim): sin, cos, sin, cos, ...


@torch.no_grad()
def init_sinusoidal_positions(model, scale: float, base: float = 10000.0) -> None:
    """Start a BERT's learned position embeddings at `scale` x the sinusoidal table (they stay trainable)."""
    if scale <= 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    embeddings = getattr(getattr(model, "base_model", model), "embeddings", None)
    if not isinstance(getattr(embeddings, "position_embeddings", None), torch.nn.Embedding):
        raise ValueError(f"{type(model).__name__} has no learned position table (embeddings.position_embeddings)")
    table = embeddings.position_embeddings.weight  # (positions, hidden)
    table.copy_(scale * sinusoidal_positions(table.shape[0], table.shape[1], base))


# --- rotary position embeddings (Su et al. 2021), in the half-split layout of transformers' Llama -----------


def rope_cos_sin(positions: torch.Tensor, head_dim: int, base: float = 10000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of p * omega_i for each position p, each frequency written twice: (positions, head_dim)."""
    omega = sinusoidal_frequencies(head_dim, base).to(positions.device)
    angle = positions.double()[:, None] * omega  # (positions, head_dim / 2)
    angle = torch.cat([angle, angle], dim=-1)  # pair i is (x_i, x_{i + head_dim/2}), not (x_2i, x_2i+1)
    return angle.cos().float(), angle.sin().float()


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """(x1, x2) -> (-x2, x1) on the last dim's two halves: a 90-degree turn of every pair."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([-x2, x1], dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Turn each (x_i, x_{i+d/2}) pair of x (..., seq, head_dim) by its position's angle."""
    return x * cos.to(x.dtype) + rotate_half(x) * sin.to(x.dtype)
