"""IOB2 tags, decoding sub-token logits into word labels, entity-level scores."""

import itertools

import pytest
import torch
from transformers import AutoTokenizer

from course_utils import ner_data, tagging
from course_utils.resources import resolve_model


def test_to_iob2_and_entities():
    assert tagging.to_iob2(["I-PER", "I-PER", "I-LOC", "O", "I-ORG", "B-ORG"]) == [
        "B-PER",
        "I-PER",
        "B-LOC",
        "O",
        "B-ORG",
        "B-ORG",
    ]
    assert tagging.entities(["B-PER", "I-PER", "O", "B-LOC", "B-LOC"]) == [("PER", 0, 2), ("LOC", 3, 4), ("LOC", 4, 5)]


def test_truncated_words_are_counted_and_scored_as_missed():
    tokenizer = AutoTokenizer.from_pretrained(resolve_model("smoke").location)
    examples = {"tokens": [["Paris"] * 10], "ner_tags": [[tagging.LABEL2ID["B-LOC"]] * 10]}
    encoded = ner_data.tokenize_and_align(examples, tokenizer, max_length=6)  # [CLS] + 4 words + [SEP]
    assert encoded["words_cut"] == [6]
    logits = torch.zeros(6, len(tagging.LABELS))
    logits[1:5, tagging.LABEL2ID["B-LOC"]] = 10.0  # the 4 kept words look like locations
    for constrained in (False, True):
        preds = tagging.decode_words(logits, encoded["word_ids"][0], 10, dict(enumerate(tagging.LABELS)), constrained)
        assert preds == [5, 5, 5, 5] + [0] * 6  # the 6 cut words are predicted O: missed, not dropped


def test_constrained_decode_is_the_best_valid_iob2_sequence():
    id2label = dict(enumerate(tagging.LABELS))
    generator = torch.Generator().manual_seed(0)
    for _ in range(3):
        log_probs = torch.randn(4, len(tagging.LABELS), generator=generator).log_softmax(-1)  # (words, labels)
        best = max(
            (seq for seq in itertools.product(range(len(tagging.LABELS)), repeat=4)
             if tagging.to_iob2([id2label[i] for i in seq]) == [id2label[i] for i in seq]),  # valid IOB2 only
            key=lambda seq: float(sum(log_probs[t, i] for t, i in enumerate(seq))),
        )
        assert tagging.constrained_decode(log_probs, id2label) == list(best)


def test_constrained_decode_fixes_a_stray_inside_tag():
    id2label = dict(enumerate(tagging.LABELS))
    log_probs = torch.full((2, len(tagging.LABELS)), -9.0)
    log_probs[0, tagging.LABEL2ID["O"]], log_probs[0, tagging.LABEL2ID["B-ORG"]] = -0.5, -1.0
    log_probs[1, tagging.LABEL2ID["I-ORG"]] = -0.1  # argmax says O I-ORG: an entity with no beginning
    assert log_probs.argmax(-1).tolist() == [tagging.LABEL2ID["O"], tagging.LABEL2ID["I-ORG"]]
    assert tagging.constrained_decode(log_probs, id2label) == [tagging.LABEL2ID["B-ORG"], tagging.LABEL2ID["I-ORG"]]


def test_entity_scores_are_strict_and_per_type():
    true = [["B-PER", "I-PER", "O", "B-LOC"]]
    pred = [["B-PER", "O", "O", "B-LOC"]]  # the person's span is cut short: wrong at entity level
    scores = tagging.entity_scores(true, pred)
    assert scores["precision"] == pytest.approx(0.5) and scores["recall"] == pytest.approx(0.5)
    assert scores["types"]["LOC"]["f1-score"] == 1.0 and scores["types"]["PER"]["f1-score"] == 0.0


def test_entity_confusion_counts_types_missed_and_spurious():
    confusion = tagging.entity_confusion([["B-PER", "O", "B-LOC", "O"]], [["B-ORG", "O", "O", "B-MISC"]])
    assert confusion["PER"]["ORG"] == 1 and confusion["LOC"]["missed"] == 1 and confusion["spurious"]["MISC"] == 1
