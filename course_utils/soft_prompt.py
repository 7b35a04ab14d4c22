"""Chapter 10: prompt tuning from scratch (Lester et al., 2021): a few trained vectors before every input.

The decoder stays frozen; `n` "virtual tokens", vectors in its embedding space that no word spells, are read
before the real tokens, and only they train: n x width numbers in all. Started from the embeddings of a real
phrase, they start as that phrase typed in front of the input.
"""

from __future__ import annotations

import torch
from torch import nn

from course_utils.gpt import GPT


class SoftPrompt(nn.Module):
    """A frozen GPT behind `n` trained prompt vectors: logits for the real tokens only."""

    def __init__(self, model: GPT, n: int = 0, init_ids: list[int] | None = None, seed: int = 0) -> None:
        super().__init__()
        if init_ids is None and n <= 0:
            raise ValueError(f"n={n}: a soft prompt needs at least one virtual token (or init_ids)")
        if init_ids is not None and n and n != len(init_ids):
            raise ValueError(f"n={n} but init_ids has {len(init_ids)} ids: give one or make them agree")
        for p in model.parameters():
            p.requires_grad_(False)
        table = model.tokens.weight
        if init_ids is not None:  # the embeddings of a real phrase
            start = table[torch.tensor(init_ids, device=table.device)].detach().clone()
        else:  # small random vectors, the scale of chapter 08's initialisation
            start = torch.randn(n, table.shape[1], generator=torch.Generator().manual_seed(seed)) * 0.02
        self.model = model
        self.prompt = nn.Parameter(start.to(device=table.device, dtype=table.dtype))  # (n, width)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:  # (batch, seq) -> (batch, seq, vocab)
        return self.model(ids, prefix=self.prompt)
