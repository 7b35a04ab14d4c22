"""Chapter 10: zero-shot and few-shot typing of entity spans with a sentence encoder (no training).

Zero-shot: each type has a description ("the name of a person"); a span gets the type whose description's
embedding is nearest (cosine) to the span's embedding. Few-shot: a type's prototype is the mean embedding of
k labelled spans of it (Snell et al., 2017's prototypical networks, without training); a span gets the
nearest prototype. A span's embedding is the mean of its words' last-layer vectors read in their sentence.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch
import torch.nn.functional as F

Span = tuple[int, int, int, str]  # (sentence index, start word, end word exclusive, type)


@torch.no_grad()
def word_vectors(model, tokenizer, sentences: Sequence[list[str]], batch: int = 32) -> list[torch.Tensor]:
    """Each sentence's (words, width) last-layer vectors: the mean over a word's sub-tokens."""
    device = next(model.parameters()).device
    out: list[torch.Tensor] = []
    for start in range(0, len(sentences), batch):
        chunk = [list(s) for s in sentences[start : start + batch]]
        encoded = tokenizer(chunk, is_split_into_words=True, padding=True, truncation=True, return_tensors="pt")
        hidden = model(**{k: v.to(device) for k, v in encoded.items()}).last_hidden_state.float().cpu()
        for row, words in enumerate(chunk):
            ids = torch.tensor([-1 if w is None else w for w in encoded.word_ids(row)])
            one_hot = (ids[:, None] == torch.arange(len(words))[None]).float()  # (tokens, words)
            counts = one_hot.sum(0).clamp(min=1)[:, None]
            out.append((one_hot.T @ hidden[row]) / counts)  # (words, width)
    return out


def span_embeddings(vectors: list[torch.Tensor], spans: Sequence[Span]) -> torch.Tensor:
    """(spans, width): the mean of each span's word vectors."""
    if not spans:
        raise ValueError("no spans to embed: pass at least one (sentence, start, end, type)")
    return torch.stack([vectors[s][a:b].mean(0) for s, a, b, _ in spans])


@torch.no_grad()
def text_embeddings(model, tokenizer, texts: Sequence[str]) -> torch.Tensor:
    """(texts, width): mean-pooled last-layer vectors (how all-MiniLM-L6-v2 embeds a sentence)."""
    device = next(model.parameters()).device
    encoded = tokenizer(list(texts), padding=True, truncation=True, return_tensors="pt").to(device)
    hidden = model(**encoded).last_hidden_state.float()  # (texts, tokens, width)
    mask = encoded["attention_mask"][..., None].float()
    return ((hidden * mask).sum(1) / mask.sum(1)).cpu()


def nearest(embeddings: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """(n,) the index of each embedding's most cosine-similar anchor."""
    return (F.normalize(embeddings, dim=-1) @ F.normalize(anchors, dim=-1).T).argmax(-1)


def prototypes(embeddings: torch.Tensor, labels: Sequence[str], types: Sequence[str]) -> torch.Tensor:
    """(types, width): the mean embedding of each type's examples; a clear error for a type with none."""
    missing = [t for t in types if t not in labels]
    if missing:
        raise ValueError(f"no example of {missing}: every type needs at least one labelled span")
    return torch.stack([embeddings[[i for i, label in enumerate(labels) if label == t]].mean(0) for t in types])


def k_shot(spans: Sequence[Span], types: Sequence[str], k: int, seed: int) -> list[Span]:
    """k spans of each type drawn without replacement by `seed` (another seed, another draw)."""
    rng = random.Random(seed)
    chosen: list[Span] = []
    for t in types:
        pool = [s for s in spans if s[3] == t]
        if len(pool) < k:
            raise ValueError(f"type {t} has {len(pool)} spans, fewer than k={k}")
        chosen += rng.sample(pool, k)
    return chosen


def accuracy(predicted: Sequence[str], gold: Sequence[str]) -> float:
    """The share of spans typed right."""
    if len(predicted) != len(gold) or not gold:
        raise ValueError(f"{len(predicted)} predictions for {len(gold)} gold types: give one per span")
    return sum(p == g for p, g in zip(predicted, gold, strict=True)) / len(gold)
