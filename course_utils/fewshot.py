"""Chapter 10: zero-shot and few-shot typing of entity spans with a sentence encoder (no training).

Zero-shot: each type has a description ("the name of a person"); a span gets the type whose description's
embedding is nearest (cosine) to the span's embedding. Few-shot: a type's prototype is the mean embedding of
k labelled spans of it (Snell et al., 2017's prototypical networks, without training); a span gets the
nearest prototype. A span's embedding is the mean of its words' last-layer vectors read in their sentence.
Against both: the encoder fine-tuned on the same k spans per type (`SpanClassifier`, the course's one loop).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from torch import nn

from course_utils.tagging import entities

Span = tuple[int, int, int, str]  # (sentence index, start word, end word exclusive, type)
TYPES = ("PER", "ORG", "LOC", "MISC")  # chapter 04's entity types, in its label order
# Ways to describe the four types to a zero-shot typer, one tuple per wording in TYPES' order: how far accuracy
# moves across them is its prompt sensitivity.
WORDINGS = {
    "one word": ("person", "organization", "location", "miscellaneous"),
    "a name of": (
        "the name of a person",
        "the name of an organization",
        "the name of a place",
        "the name of something else",
    ),
    "described": (
        "a person: a man or a woman, by first name or surname",
        "an organization: a company, a team, a band, a party or an institution",
        "a location: a city, a country, a region, a river or a mountain",
        "a nationality, a language, an event, a title of a work or a product",
    ),
    "examples": (
        "John Smith, Mary, Obama",
        "Microsoft, the United Nations, Manchester United",
        "Paris, Germany, the Alps",
        "English, the World Cup, Star Wars",
    ),
    "questions": ("who?", "which group?", "where?", "what else?"),
}


def words_kept(tokenizer, sentences: Sequence[list[str]]) -> list[int]:
    """How many words of each sentence survive the tokenizer's truncation (the rest get no vector)."""
    out = []
    for words in sentences:
        ids = tokenizer(list(words), is_split_into_words=True, truncation=True).word_ids()
        out.append(1 + max((w for w in ids if w is not None), default=-1))
    return out


def gold_spans(tag_rows: Sequence[Sequence[str]]) -> list[Span]:
    """Every gold entity of IOB2 tag rows as (sentence index, start, end, type)."""
    return [(i, a, b, kind) for i, tags in enumerate(tag_rows) for kind, a, b in entities(list(tags))]


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


def span_weights(word_ids: Sequence[int | None], start: int, end: int) -> torch.Tensor:
    """(tokens,) weights that average a span's words, each word the mean of its sub-tokens: hidden states
    weighted by these give `span_embeddings`' vector."""
    words = [w for w in range(start, end) if w in word_ids]
    if not words:
        raise ValueError(f"span words {start}..{end - 1} were cut off by truncation: raise max_length")
    weights = torch.zeros(len(word_ids))
    for w in words:
        where = [t for t, wid in enumerate(word_ids) if wid == w]
        weights[where] = 1.0 / (len(where) * len(words))
    return weights


def encode_spans(tokenizer, sentences: Sequence[list[str]], spans: Sequence[Span], types: Sequence[str]) -> list[dict]:
    """One example per span: its sentence's ids, the span's token weights and its type's index."""
    out = []
    for s, a, b, kind in spans:
        encoded = tokenizer(list(sentences[s]), is_split_into_words=True, truncation=True)
        out.append(
            {
                "input_ids": torch.tensor(encoded["input_ids"]),
                "span_weights": span_weights(encoded.word_ids(), a, b),
                "labels": torch.tensor(types.index(kind)),
            }
        )
    return out


def collate_spans(rows: list[dict], pad_id: int = 0) -> dict[str, torch.Tensor]:
    """Pad a list of `encode_spans` examples into a batch, with the attention mask."""
    longest = max(len(r["input_ids"]) for r in rows)
    ids = torch.full((len(rows), longest), pad_id)
    weights = torch.zeros(len(rows), longest)
    for i, r in enumerate(rows):
        ids[i, : len(r["input_ids"])] = r["input_ids"]
        weights[i, : len(r["span_weights"])] = r["span_weights"]
    mask = (torch.arange(longest)[None] < torch.tensor([len(r["input_ids"]) for r in rows])[:, None]).long()
    return {
        "input_ids": ids,
        "attention_mask": mask,
        "span_weights": weights,
        "labels": torch.stack([r["labels"] for r in rows]),
    }


class SpanClassifier(nn.Module):
    """The encoder and a linear head on a span's embedding: what fine-tuning on k labelled spans trains."""

    def __init__(self, encoder: nn.Module, num_types: int, seed: int = 0) -> None:
        super().__init__()
        self.encoder = encoder
        torch.manual_seed(seed)  # the new head's draw
        self.head = nn.Linear(encoder.config.hidden_size, num_types)

    def embed(self, input_ids, attention_mask, span_weights):  # -> (batch, width)
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return (hidden * span_weights[..., None]).sum(1)  # (batch, tokens, width) -> (batch, width)

    def forward(self, input_ids, attention_mask, span_weights, labels=None):
        logits = self.head(self.embed(input_ids, attention_mask, span_weights))  # (batch, types)
        loss = F.cross_entropy(logits, labels) if labels is not None else None
        return SimpleNamespace(loss=loss, logits=logits)


@torch.no_grad()
def classify(model: SpanClassifier, examples: list[dict], types: Sequence[str], batch: int = 64) -> list[str]:
    """The type `model` gives each `encode_spans` example."""
    model.eval()
    device = next(model.parameters()).device
    out: list[str] = []
    for start in range(0, len(examples), batch):
        b = collate_spans(examples[start : start + batch])
        b.pop("labels")
        out += [types[i] for i in model(**{k: v.to(device) for k, v in b.items()}).logits.argmax(-1).tolist()]
    return out
