"""The model card states the run's figures, the limits that follow from them, and the licences."""

from course_utils.model_card import CardFacts, model_card

PER_TYPE = {
    "PER": {"precision": 0.9, "recall": 0.8, "f1": 0.847, "support": 89},
    "ORG": {"precision": 0.6, "recall": 0.5, "f1": 0.545, "support": 61},
}


def facts(**changes) -> CardFacts:
    base = dict(encoder="all-MiniLM-L6-v2", uncased=True, data="WikiGold",
                sentences={"train": 1448, "dev": 103, "test": 145}, profile="cpu", epochs=5.0, seeds=3,
                test_f1=0.755, test_f1_seeds=(0.730, 0.030), per_type=PER_TYPE, latency_ms={"batch 1": 22.0},
                size_mb=90.3)
    return CardFacts(**{**base, **changes})


def test_card_states_the_measured_figures():
    card = model_card(facts())
    for text in ("**0.755**", "0.730 ± 0.030", "| PER (people) | 0.900 | 0.800 | 0.847 | 89 |", "1,448 train",
                 "batch 1: 22.0 ms", "Size: 90 MB", "The weakest type is ORG"):
        assert text in card, text


def test_card_names_licences_and_the_casing_limit():
    uncased = model_card(facts())
    assert "CC-BY 4.0" in uncased and "Apache-2.0" in uncased and "uncased" in uncased
    cased = model_card(facts(encoder="bert-base-cased", uncased=False, data="CoNLL-2003"))
    assert "Reuters" in cased and "is cased" in cased and "uncased" not in cased


def test_card_of_an_unknown_encoder_points_to_its_own_card():
    card = model_card(facts(encoder="/models/my-encoder", data="my data"))
    assert "see the encoder's own model card" in card and "my data" in card
