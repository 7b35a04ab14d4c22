"""Named entities as generated text, scored like a tagger: "Ann Lee (PER); Paris (LOC)".

A decoder answers an NER question with a list of (text, type) items, which has no positions. It is scored
with chapter 04's counts (entities matched exactly, predicted and true, per sentence), matching items to the
sentence's entities by text and type; a tagger's spans are written as the same list and scored the same way.
Where no gold or predicted entity's text occurs at two places in a sentence, this is chapter 04's span-level
F1 exactly. Items are separated by ";" (a comma-separated reply is one item, and wrong). An item with no
known type, or one the sentence does not contain, is predicted and wrong, never dropped.
"""

from __future__ import annotations

import re
from collections import Counter

import torch

from course_utils.tagging import ENTITY_TYPES, entities

NONE = "none"  # the answer when a sentence names no entity
_ITEM = re.compile(r"(?P<text>.*?\S)\s*\((?P<kind>[A-Za-z]+)\)")


def entities_of(tokens: list[str], tags: list[str]) -> list[tuple[str, str]]:
    """The (text, type) entities of an IOB2-tagged sentence, in order."""
    return [(" ".join(tokens[start:end]), kind) for kind, start, end in entities(tags)]


def answer(tokens: list[str], tags: list[str]) -> str:
    """The reply a perfect model gives: "Ann Lee (PER); Paris (LOC)", or "none" (also how a tagger's
    predicted tags are written, to be scored as a list)."""
    return "; ".join(f"{text} ({kind})" for text, kind in entities_of(tokens, tags)) or NONE


def parse(reply: str) -> list[tuple[str, str | None]]:
    """The (text, type) items of a reply; an item without a known type gets None (it still counts)."""
    text = reply.strip().rstrip(".")  # a closing full stop, never a leading one (".NET")
    if not text or text.lower() == NONE:
        return []
    items: list[tuple[str, str | None]] = []
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        match = _ITEM.fullmatch(part)
        kind = match["kind"].upper() if match else None
        if match and kind in ENTITY_TYPES:
            items.append((" ".join(match["text"].split()), kind))
        else:
            items.append((" ".join(part.split()), None))
    return items


def well_formed(reply: str) -> bool:
    """"none", or items that each name words and one of the four types."""
    text = reply.strip().rstrip(".")
    return text.lower() == NONE or (bool(parse(text)) and all(kind for _, kind in parse(text)))


def same_entities(reply: str, gold: str) -> bool:
    """The same (text, type) items in any order, as many times each: the sentence's F1 is 1."""
    return Counter(parse(reply)) == Counter(parse(gold))


Tagged = tuple[list[str], list[str]]  # a sentence's tokens and IOB2 tags


def counts(sentences: list[Tagged], replies: list[str]) -> torch.Tensor:
    """Matched, predicted and true entities per sentence, as `stats.entity_counts`
    counts a tagger's, an item matching a gold entity of the same text and type."""
    if len(sentences) != len(replies):
        raise ValueError(
            f"{len(sentences)} sentences but {len(replies)} replies: one per sentence"
        )
    rows = []
    for (tokens, tags), reply in zip(sentences, replies, strict=True):
        gold, found = Counter(entities_of(tokens, tags)), Counter(parse(reply))
        matched = sum((gold & found).values())  # each gold entity matched at most once
        rows.append((matched, sum(found.values()), sum(gold.values())))
    return torch.tensor(rows, dtype=torch.float64).reshape(-1, 3)  # (sentences, 3)

