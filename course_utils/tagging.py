"""NER tags: the IOB2 scheme, decoding word labels from sub-token logits, entity-level metrics."""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from pathlib import Path

import numpy as np
import torch

ENTITY_TYPES = ("PER", "ORG", "LOC", "MISC")
# CoNLL-2003's label order, so that the Hub copy and the local WikiGold files share one label set
LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
LABEL2ID = {label: i for i, label in enumerate(LABELS)}
TAG_PATTERN = re.compile(r"^(O|[BI]-(PER|ORG|LOC|MISC))$")


# --- the IOB2 scheme --------------------------------------------------------------------------------


class ConllFormatError(ValueError):
    """A CoNLL file that does not follow the format; the message names the file and line."""


def check_iob2(tags: list[str], path: Path | str = "<tags>", first_line: int = 1) -> None:
    """Raise if an I-X tag does not continue a B-X or I-X (what IOB2 promises)."""
    previous = "O"
    for offset, tag in enumerate(tags):
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            raise ConllFormatError(
                f"{path}:{first_line + offset}: {tag} follows {previous}, which IOB2 forbids "
                "(read the file with scheme='iob1' to convert it)"
            )
        previous = tag


def to_iob2(tags: list[str]) -> list[str]:
    """IOB1 or IO tags to IOB2: an I-X that starts an entity becomes B-X."""
    out, previous = [], "O"
    for tag in tags:
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            tag = "B-" + tag[2:]
        out.append(tag)
        previous = tag
    return out


def entities(tags: list[str]) -> list[tuple[str, int, int]]:
    """(type, start, end) spans of IOB2 tags, end exclusive."""
    spans, current = [], None
    for i, tag in enumerate([*tags, "O"]):
        if current and not (tag.startswith("I-") and tag[2:] == current[0]):
            spans.append((current[0], current[1], i))
            current = None
        if tag.startswith("B-") or (tag.startswith("I-") and current is None):
            current = (tag[2:], i)
    return spans


# --- decoding: sub-token logits -> word labels ------------------------------------------------


def word_log_probs(token_log_probs: torch.Tensor, word_ids: list[int], num_words: int) -> torch.Tensor:
    """(num_words, labels): each word's first sub-token's log-probabilities; words truncation removed are surely O."""
    out = torch.full((num_words, token_log_probs.shape[-1]), -math.inf)
    out[:, LABEL2ID["O"]] = 0.0  # rows left like this score the word as missed, never drop it
    first: dict[int, int] = {}  # word -> the position of its first sub-token
    for position, word in enumerate(word_ids[: len(token_log_probs)]):
        if word >= 0:
            first.setdefault(word, position)
    if first:  # one indexing op for the sentence: a loop of row copies costs more than the decoding
        out[list(first)] = token_log_probs[list(first.values())].to(out.dtype)
    return out


def allowed_transitions(id2label: dict) -> torch.Tensor:
    """(labels, labels): 0 where label j may follow label i in IOB2, -inf where not (I-X needs B-X or I-X before)."""
    return _allowed(tuple(id2label[i] for i in range(len(id2label)))).clone()


@functools.lru_cache(maxsize=8)
def _allowed(labels: tuple[str, ...]) -> torch.Tensor:
    """allowed_transitions, computed once per label set (decoding calls it for every sentence)."""
    id2label = dict(enumerate(labels))
    n = len(id2label)
    allowed = torch.zeros(n, n)
    for i in range(n):
        for j in range(n):
            if id2label[j].startswith("I-") and id2label[i][2:] != id2label[j][2:]:
                allowed[i, j] = -math.inf
    return allowed


def constrained_decode(log_probs: torch.Tensor, id2label: dict) -> list[int]:
    """Viterbi: the most probable valid IOB2 sequence (I-X never after O or first)."""
    labels = tuple(id2label[j] for j in range(len(id2label)))
    allowed = _allowed(labels).numpy()  # (labels, labels): numpy, tiny arrays
    emissions = log_probs.detach().cpu().float().numpy()  # (words, labels)
    inside = [label.startswith("I-") for label in labels]
    start = np.where(inside, -np.inf, 0.0).astype(np.float32)
    score = start + emissions[0]  # (labels,)
    columns = np.arange(len(labels))
    back = np.zeros((len(emissions) - 1, len(labels)), dtype=np.int64)
    for t, emission in enumerate(emissions[1:]):
        candidates = score[:, None] + allowed  # (from, to)
        back[t] = candidates.argmax(axis=0)  # each label's best predecessor
        score = candidates[back[t], columns] + emission
    path = [int(score.argmax())]
    for previous in back[::-1]:
        path.append(int(previous[path[-1]]))
    return path[::-1]


def decode_words(token_logits: torch.Tensor, word_ids: list[int], num_words: int, id2label: dict, constrained: bool):
    """Word-level label ids from one row's (seq, labels) logits: constrained (Viterbi) or per-word argmax."""
    if num_words == 0:
        return []
    scores = word_log_probs(token_logits.float().log_softmax(-1), word_ids, num_words)  # (words, labels)
    return constrained_decode(scores, id2label) if constrained else scores.argmax(-1).tolist()


# --- metrics --------------------------------------------------------------------------------------------


def entity_scores(true_tags: list[list[str]], pred_tags: list[list[str]]) -> dict:
    """seqeval entity-level precision, recall and F1 (strict IOB2), overall and per type."""
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOB2

    report = classification_report(true_tags, pred_tags, mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
    scores = {t: report[t] for t in ENTITY_TYPES if t in report}
    overall = report["micro avg"]
    return {"precision": overall["precision"], "recall": overall["recall"], "f1": overall["f1-score"], "types": scores}


def entity_confusion(true_tags: list[list[str]], pred_tags: list[list[str]]) -> dict[str, Counter]:
    """For each gold type: how its entities were predicted (a type on the exact span, 'missed'); plus 'spurious'."""
    confusion = {t: Counter() for t in (*ENTITY_TYPES, "spurious")}
    for gold, pred in zip(true_tags, pred_tags, strict=True):
        gold_spans = {(s, e): t for t, s, e in entities(gold)}
        pred_spans = {(s, e): t for t, s, e in entities(pred)}
        for span, kind in gold_spans.items():
            confusion[kind][pred_spans.get(span, "missed")] += 1
        for span, kind in pred_spans.items():
            if span not in gold_spans:
                confusion["spurious"][kind] += 1
    return confusion
