import random

import pytest

from course_utils import generative_ner as gen
from course_utils import instruct_data as data

WORDS = ["thou", "king", "sword", "crown"]
SENTENCES = [
    (["John", "Smith", "met", "Mary", "in", "Paris", "."], ["B-PER", "I-PER", "O", "B-PER", "O", "B-LOC", "O"]),
    (["It", "rained", "."], ["O", "O", "O"]),
]


def test_every_answer_passes_its_checker_and_phrasings_split():
    families = data.families(WORDS, SENTENCES)
    train = data.make_examples(families, 20, seed=0, held_out_phrasing=False)
    held = data.make_examples(families, 20, seed=1, held_out_phrasing=True)
    for f in families:
        cut = len(f.phrasings) - f.held_out
        train_texts = {e.instruction for e in train if e.family == f.name}
        assert all(any(p.split("{x}")[0] in t for p in f.phrasings[:cut]) for t in train_texts)
        held_texts = {e.instruction for e in held if e.family == f.name}
        assert all(any(p.split("{x}")[0] in t for p in f.phrasings[cut:]) for t in held_texts)
    assert data.score(families, train, [e.answer for e in train]) == {f.name: 1.0 for f in families}
    assert data.score(families, held, ["wrong"] * len(held))["add"] == 0.0


def test_the_same_seed_makes_the_same_examples():
    families = data.families(WORDS, SENTENCES)
    assert data.make_examples(families, 5, 3, False) == data.make_examples(families, 5, 3, False)
    assert data.make_examples(families, 5, 3, False) != data.make_examples(families, 5, 4, False)


def test_checkers():
    assert data.exact(" Gnik. ", "gnik") and not data.exact("gni", "gnik")
    family = next(f for f in data.families(WORDS, SENTENCES) if f.name == "entities")
    answers = {family.make(random.Random(s))[1] for s in range(20)}
    assert answers == {"John Smith (PER); Mary (PER); Paris (LOC)", gen.NONE}
    assert family.check("Paris (LOC); John Smith (PER); Mary (PER)", "John Smith (PER); Mary (PER); Paris (LOC)")
    assert not family.check("John Smith (PER); Mary (PER)", "John Smith (PER); Mary (PER); Paris (LOC)")


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="need words"):
        data.families([], SENTENCES)
    with pytest.raises(ValueError, match="held_out=0"):
        data.Family("x", ("a {x}", "b {x}"), 0, lambda r: ("", ""), data.exact)
    with pytest.raises(ValueError, match="without the input"):
        data.Family("x", ("a", "b {x}"), 1, lambda r: ("", ""), data.exact)
    with pytest.raises(ValueError, match="2 examples but 1 replies"):
        families = data.families(WORDS, SENTENCES)
        data.score(families, data.make_examples(families[:1], 2, 0, False), ["x"])


def test_windows_never_cut_an_entity_and_keep_every_word():
    tokens = "John Smith met Mary Ann Lee in New York City on Monday with Bob".split()
    tags = ["B-PER", "I-PER", "O", "B-PER", "I-PER", "I-PER", "O", "B-LOC", "I-LOC", "I-LOC", "O", "O", "O", "B-PER"]
    pieces = data.windows(tokens, tags, 4)
    assert [w for piece, _ in pieces for w in piece] == tokens  # nothing dropped, nothing repeated
    assert all(not piece_tags[0].startswith("I-") for _, piece_tags in pieces)
    assert all(len(piece) <= 4 for piece, _ in pieces)
    long_name = data.windows(["Ann", "Mary", "Lee", "Smith"], ["B-PER", "I-PER", "I-PER", "I-PER"], 2)
    assert long_name == [(["Ann", "Mary", "Lee", "Smith"], ["B-PER", "I-PER", "I-PER", "I-PER"])]
    with pytest.raises(ValueError, match="max_words=0"):
        data.windows(tokens, tags, 0)


def test_half_of_the_entity_questions_name_something():
    family = next(f for f in data.families(WORDS, SENTENCES) if f.name == "entities")
    answers = [family.make(random.Random(s))[1] for s in range(400)]
    assert 0.4 < sum(a != gen.NONE for a in answers) / len(answers) < 0.6
    with pytest.raises(ValueError, match="with an entity and sentences without"):
        data.families(WORDS, SENTENCES[:1])


def test_well_formed_is_the_answers_form_right_or_wrong():
    assert data.well_formed("reverse", "Gnik.") and not data.well_formed("reverse", "gn ik")
    assert data.well_formed("count", "7") and not data.well_formed("count", "seven")
    assert data.well_formed("add", " 12 ") and not data.well_formed("add", "12 and")
    assert data.well_formed("entities", "none") and data.well_formed("entities", "Ann (PER); Rome (LOC)")
    assert not data.well_formed("entities", "") and not data.well_formed("entities", "Ann (PER); Bob")
    with pytest.raises(ValueError, match="no form is known"):
        data.well_formed("poetry", "x")


def test_one_seed_asks_the_same_questions_in_both_kinds_of_phrasing():
    families = data.families(WORDS, SENTENCES)
    trained = data.make_examples(families, 10, 7, held_out_phrasing=False)
    held = data.make_examples(families, 10, 7, held_out_phrasing=True)
    assert [e.answer for e in trained] == [e.answer for e in held]
    assert all(a.instruction != b.instruction for a, b in zip(trained, held, strict=True))


def test_word_splits_keep_dev_and_test_words_out_of_training():
    text = " ".join(f"w{'a' * (i % 6)}ord{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}" for i in range(400))
    splits = data.word_splits(text)
    assert not set(splits["train"]) & (set(splits["dev"]) | set(splits["test"]))
    assert not set(splits["dev"]) & set(splits["test"]) and splits["dev"] and splits["test"]
