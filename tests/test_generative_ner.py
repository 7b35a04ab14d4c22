import random

import pytest
import torch

from course_utils import generative_ner as gen
from course_utils import stats
from course_utils.tagging import ENTITY_TYPES

TOKENS = "John Smith met Mary in New York , then Mary left .".split()
TAGS = ["B-PER", "I-PER", "O", "B-PER", "O", "B-LOC", "I-LOC", "O", "O", "B-PER", "O", "O"]


def test_the_answer_lists_every_entity_in_order_and_parses_back():
    assert gen.answer(TOKENS, TAGS) == "John Smith (PER); Mary (PER); New York (LOC); Mary (PER)"
    assert gen.answer(["It", "rained"], ["O", "O"]) == gen.NONE
    assert gen.parse(gen.answer(TOKENS, TAGS)) == gen.entities_of(TOKENS, TAGS)
    assert gen.parse(" None. ") == [] and gen.parse("Ann  Lee (per)") == [("Ann Lee", "PER")]
    assert gen.parse("Ann (PER); Bob; Rome (CITY)") == [("Ann", "PER"), ("Bob", None), ("Rome (CITY)", None)]


def random_tags(rng: random.Random, size: int) -> list[str]:
    """IOB2 tags of `size` words with random entities of one to three words."""
    tags, i = ["O"] * size, 0
    while i < size:
        if rng.random() < 0.4:
            kind, n = rng.choice(ENTITY_TYPES), min(rng.randint(1, 3), size - i)
            tags[i : i + n] = [f"B-{kind}"] + [f"I-{kind}"] * (n - 1)
            i += n
        else:
            i += 1
    return tags


def test_counts_are_chapter_04s_span_counts_when_no_word_repeats():
    rng = random.Random(0)
    sentences, predicted = [], []
    for _ in range(300):  # random gold and random predicted taggings of sentences of distinct words
        tokens = [f"w{i}" for i in range(rng.randint(1, 9))]
        sentences.append((tokens, random_tags(rng, len(tokens))))
        predicted.append(random_tags(rng, len(tokens)))
    replies = [gen.answer(tokens, tags) for (tokens, _), tags in zip(sentences, predicted, strict=True)]
    theirs = stats.entity_counts([tags for _, tags in sentences], predicted)
    assert torch.equal(gen.counts(sentences, replies), theirs)
    assert stats.score([theirs], resamples=1).mean == stats.score([gen.counts(sentences, replies)], 1).mean


def test_with_a_repeated_name_a_list_cannot_say_which_one():
    tokens, gold = ["Mary", "met", "Mary"], ["B-PER", "O", "O"]  # only the first is tagged
    second = ["O", "O", "B-PER"]  # a tagger that tags the other one
    assert stats.entity_counts([gold], [second]).tolist() == [[0.0, 1.0, 1.0]]  # spans: wrong
    assert gen.counts([(tokens, gold)], [gen.answer(tokens, second)]).tolist() == [[1.0, 1.0, 1.0]]


def test_what_is_not_in_the_sentence_counts_as_predicted_and_wrong():
    sentences = [(TOKENS, TAGS)]
    assert gen.counts(sentences, ["John Smith (PER); Paris (LOC); Mary"]).tolist() == [[1.0, 3.0, 4.0]]
    assert gen.counts(sentences, ["Mary (PER); Mary (PER); Mary (PER)"]).tolist() == [[2.0, 3.0, 4.0]]
    assert gen.counts(sentences, ["none"]).tolist() == [[0.0, 0.0, 4.0]]
    assert gen.counts(sentences, ["John Smith (ORG)"]).tolist() == [[0.0, 1.0, 4.0]]  # the type counts
    with pytest.raises(ValueError, match="2 sentences but 1 replies: one per sentence"):
        gen.counts(sentences * 2, ["none"])


def test_the_checker_and_the_form():
    gold = gen.answer(TOKENS, TAGS)
    assert gen.same_entities("Mary (PER); New York (LOC); Mary (PER); John Smith (PER)", gold)
    assert not gen.same_entities("Mary (PER); New York (LOC); John Smith (PER)", gold)  # one Mary short
    assert gen.well_formed("none") and gen.well_formed(gold)
    assert not gen.well_formed("") and not gen.well_formed("John Smith")
