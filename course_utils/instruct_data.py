"""Instruction data made by a program: task families whose answers a checker can score exactly.

Each family makes (input, answer) pairs from a seeded generator and has several phrasings of its instruction;
some phrasings are held out, so that an evaluation can tell a learned task from a learned wording. Nothing is
downloaded: the words come from tiny Shakespeare, the entities from chapter 04's NER data (WikiGold offline).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from course_utils import generative_ner
from course_utils.lm_data import Splits


@dataclass(frozen=True)
class Example:
    """One instruction with its input and the answer a checker accepts."""

    family: str
    instruction: str  # the phrasing, with the input filled in
    answer: str
    held_out_phrasing: bool  # its phrasing is never trained on


@dataclass(frozen=True)
class Family:
    """A task: how to make an input and its answer, how to ask for it, how to check a reply."""

    name: str
    phrasings: tuple[str, ...]  # "{x}" marks the input; the last `held_out` are for evaluation only
    held_out: int
    make: Callable[[random.Random], tuple[str, str]]  # rng -> (input, answer)
    check: Callable[[str, str], bool]  # (reply, answer) -> correct?

    def __post_init__(self) -> None:
        if not 0 < self.held_out < len(self.phrasings):
            raise ValueError(f"{self.name}: held_out={self.held_out} must leave phrasings to train on")
        missing = [p for p in self.phrasings if "{x}" not in p]
        if missing:
            raise ValueError(f"{self.name}: phrasings without the input's place {{x}}: {missing}")

    def example(self, rng: random.Random, held_out_phrasing: bool, wording: random.Random | None = None) -> Example:
        """One example, phrased with a trained or a held-out phrasing (chosen by `wording`, else by `rng`)."""
        x, answer = self.make(rng)
        cut = len(self.phrasings) - self.held_out
        pool = self.phrasings[cut:] if held_out_phrasing else self.phrasings[:cut]
        return Example(self.name, (wording or rng).choice(pool).format(x=x), answer, held_out_phrasing)


def normalized(text: str) -> str:
    """Lower case, single spaces, no surrounding punctuation: how replies are compared."""
    return " ".join(text.lower().split()).strip(" .!?,;:'\"")


def exact(reply: str, answer: str) -> bool:
    """The reply is the answer, up to case, spacing and surrounding punctuation."""
    return normalized(reply) == normalized(answer)


def words_of(text: str, min_len: int = 3, max_len: int = 8) -> list[str]:
    """The distinct lower-case words of `text` of a given length, sorted (a fixed list for a seed to draw from)."""
    return sorted({w for w in re.findall(r"[a-z]+", text.lower()) if min_len <= len(w) <= max_len})


ENTITY_QUESTION = "Entities in: {x}"  # a trained phrasing, and the generative NER test's (short: contexts are)


def word_splits(text: str) -> dict[str, list[str]]:
    """The families' words from the corpus's training split: a tenth each for dev and test, the rest to
    train (chapters 09 and 10 ask about the same words)."""
    vocabulary = words_of(Splits.of(text).train)
    return {"train": [w for i, w in enumerate(vocabulary) if i % 5], "dev": vocabulary[::10],
            "test": vocabulary[5::10]}


def ner_pieces(splits, max_words: int) -> dict[str, list[tuple[list[str], list[str]]]]:
    """Each split of chapter 04's data (a DatasetDict) cut into pieces of at most `max_words` words."""
    labels = splits["train"].features["ner_tags"].feature.names
    return {
        name: [piece for row in rows
               for piece in windows(row["tokens"], [labels[t] for t in row["ner_tags"]], max_words)]
        for name, rows in splits.items()
    }


def windows(tokens: list[str], tags: list[str], max_words: int) -> list[tuple[list[str], list[str]]]:
    """A tagged sentence cut into consecutive pieces of at most `max_words` words, never inside an entity (a
    short model's context holds a piece where it may not hold the sentence); an entity longer than
    `max_words` gets a piece of its own."""
    if max_words < 1:
        raise ValueError(f"max_words={max_words} must be at least 1")
    pieces: list[tuple[list[str], list[str]]] = []
    start = 0
    while start < len(tokens):
        end = min(start + max_words, len(tokens))
        while end < len(tokens) and tags[end].startswith("I-") and end > start + 1:
            end -= 1  # do not cut an entity: end the piece before it
        while end < len(tokens) and tags[end].startswith("I-"):
            end += 1  # the entity alone is longer than max_words: keep it whole
        pieces.append((tokens[start:end], tags[start:end]))
        start = end
    return pieces


def families(words: list[str], sentences: list[tuple[list[str], list[str]]]) -> list[Family]:
    """The course's task families: reversing, counting letters, adding, and listing a sentence's entities."""
    if not words or not sentences:
        raise ValueError("the families need words (tiny Shakespeare) and tagged sentences (chapter 04's data)")

    def reverse(rng: random.Random) -> tuple[str, str]:
        w = rng.choice(words)
        return w, w[::-1]

    def count(rng: random.Random) -> tuple[str, str]:
        w = rng.choice(words)
        return w, str(len(w))

    def add(rng: random.Random) -> tuple[str, str]:
        a, b = rng.randrange(10), rng.randrange(10)  # one digit each: 100 sums a small model can hold
        return f"{a} and {b}", str(a + b)

    named = [s for s in sentences if generative_ner.entities_of(*s)]
    unnamed = [s for s in sentences if not generative_ner.entities_of(*s)]
    if not named or not unnamed:
        raise ValueError("the entities family needs sentences with an entity and sentences without one")

    def entities(rng: random.Random) -> tuple[str, str]:
        tokens, tags = rng.choice(named if rng.random() < 0.5 else unnamed)  # half name something
        return " ".join(tokens), generative_ner.answer(tokens, tags)

    return [
        Family("reverse", ("Reverse the word {x}.", "Spell {x} backwards.", "Write {x} in reverse order.",
                           "What is {x} read from right to left?"), 1, reverse, exact),
        Family("count", ("How many letters are in {x}?", "Count the letters of {x}.",
                         "How long is the word {x}, in letters?", "Give the number of letters in {x}."), 1,
               count, exact),
        Family("add", ("Add {x}.", "What is the sum of {x}?", "Compute the total of {x}.",
                       "Tell me what {x} make together."), 1, add, exact),
        Family("entities", (ENTITY_QUESTION, "Tag the names in: {x}", "Names and their types: {x}",
                            "Which names, of which types, are in: {x}"),
               1, entities, generative_ner.same_entities),
    ]


def well_formed(family: str, reply: str) -> bool:
    """The reply has the answer's form, right or wrong: one word (reverse), a whole number (count, add), or
    typed names or "none" (entities). What a model learns first from instruction data is the form."""
    text = normalized(reply)
    if family == "reverse":
        return bool(re.fullmatch(r"[a-z]+", text))
    if family in ("count", "add"):
        return bool(re.fullmatch(r"\d+", text))
    if family == "entities":
        return generative_ner.well_formed(reply)
    raise ValueError(f"no form is known for the family {family!r}")


def make_examples(family_list: list[Family], per_family: int, seed: int, held_out_phrasing: bool) -> list[Example]:
    """`per_family` examples of each family from `seed` (another seed: other examples). The inputs depend on
    the seed only: the same seed with trained and with held-out phrasings asks the same questions."""
    rng, wording = random.Random(seed), random.Random(f"{seed}-wording")
    return [f.example(rng, held_out_phrasing, wording) for f in family_list for _ in range(per_family)]


def score(family_list: list[Family], examples: list[Example], replies: list[str]) -> dict[str, float]:
    """The share of correct replies per family."""
    if len(examples) != len(replies):
        raise ValueError(f"{len(examples)} examples but {len(replies)} replies")
    checks = {f.name: f.check for f in family_list}
    right: dict[str, list[bool]] = {}
    for example, reply in zip(examples, replies, strict=True):
        right.setdefault(example.family, []).append(checks[example.family](reply, example.answer))
    return {name: sum(r) / len(r) for name, r in right.items()}
