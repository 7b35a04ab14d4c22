"""Text for a language model: characters or BPE ids, nanoGPT's 90/10 split, random training windows that a
resumed run draws again, held-out loss over every position, and bits per character."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.utils.data import Dataset


@dataclass(frozen=True)
class CharVocab:
    """nanoGPT's character vocabulary: every distinct character of the corpus, sorted."""

    chars: str

    @classmethod
    def of(cls, text: str) -> CharVocab:
        """The vocabulary of `text`."""
        return cls("".join(sorted(set(text))))

    @property
    def size(self) -> int:
        """How many characters (ids)."""
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        """One id per character; a clear error for a character the corpus never had."""
        index = {c: i for i, c in enumerate(self.chars)}
        unknown = sorted(set(text) - index.keys())
        if unknown:
            raise ValueError(
                f"characters {unknown[:5]} are not in this {self.size}-character vocabulary: "
                "a character-level model has no id for them (byte-level BPE does)"
            )
        return [index[c] for c in text]

    def decode(self, ids: list[int]) -> str:
        """The characters of `ids`."""
        return "".join(self.chars[i] for i in ids)


@dataclass(frozen=True)
class Splits:
    """nanoGPT's split of a corpus: the first 90% trains; the last 10% (its validation) is dev, then test."""

    train: str
    dev: str
    test: str

    @classmethod
    def of(cls, text: str, train_share: float = 0.9) -> Splits:
        """Split by characters; dev and test are the two halves of the held-out part."""
        cut = int(len(text) * train_share)
        held = text[cut:]
        return cls(text[:cut], held[: len(held) // 2], held[len(held) // 2 :])

    @property
    def validation(self) -> str:
        """dev + test: the split nanoGPT reports its validation loss on."""
        return self.dev + self.test


class RandomWindows(Dataset):
    """`count` windows of `context` + 1 ids at random offsets drawn once from `seed`: item i is always the same,
    so a resumed run draws the batches it had trained on again. input_ids predict labels = the next ids."""

    def __init__(self, ids: torch.Tensor, context: int, count: int, seed: int) -> None:
        if len(ids) <= context:
            raise ValueError(f"{len(ids)} ids cannot hold a window of {context} + 1")
        generator = torch.Generator().manual_seed(seed)
        self.ids, self.context = ids, context
        self.offsets = torch.randint(len(ids) - context, (count,), generator=generator)

    def __len__(self) -> int:
        return len(self.offsets)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        window = self.ids[self.offsets[i] : self.offsets[i] + self.context + 1]
        return {"input_ids": window[:-1], "labels": window[1:]}  # (context,) each


def held_out_windows(ids: torch.Tensor, context: int) -> torch.Tensor:
    """Consecutive windows of context + 1 ids overlapping by one: every id of the split is predicted once
    (the first excepted). Returns (windows, context + 1); the tail shorter than a window is dropped."""
    n = (len(ids) - 1) // context
    if n == 0:
        raise ValueError(f"{len(ids)} ids are fewer than one window of {context} + 1")
    starts = torch.arange(n) * context
    return torch.stack([ids[s : s + context + 1] for s in starts.tolist()])


@torch.no_grad()
def mean_loss(model, windows: torch.Tensor, batch_size: int = 64) -> float:
    """Mean next-token cross-entropy (nats per token) over every position of the windows, in eval mode."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for chunk in windows.split(batch_size):
        chunk = chunk.to(device)
        logits = model(chunk[:, :-1]).float()  # (batch, context, vocab)
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), chunk[:, 1:].flatten(), reduction="sum")
        total, count = total + loss.item(), count + chunk[:, 1:].numel()
    model.train(was_training)
    return total / count


def bits_per_character(nats_per_token: float, tokens: int, characters: int) -> float:
    """nats per token x tokens per character / ln 2: one scale for models with different tokenizers."""
    return nats_per_token * tokens / characters / math.log(2)
