"""Continual learning: stage labels, merged predictions, and the Fisher estimate against its closed form."""

import pytest
import torch
from torch import nn

from course_utils import continual


def test_keep_types_and_stage_f1():
    tags = ["B-PER", "I-PER", "O", "B-ORG", "B-LOC"]
    assert continual.keep_types(tags, ("PER", "LOC")) == ["B-PER", "I-PER", "O", "O", "B-LOC"]
    pred = ["B-PER", "I-PER", "O", "O", "O"]
    assert continual.stage_f1([tags], [pred], ("PER", "LOC")) == pytest.approx(2 / 3)
    assert continual.stage_f1([tags], [pred], ("ORG", "MISC")) == 0.0


def test_halves_are_disjoint_and_cover():
    a, b = continual.halves(11, seed=0)
    assert len(a) == 5 and len(b) == 6 and sorted(a + b) == list(range(11))


def test_merge_predictions_keeps_stage_one_where_they_overlap():
    first = [["B-PER", "I-PER", "O", "O"]]
    second = [["B-ORG", "O", "B-MISC", "I-MISC"]]
    assert continual.merge_predictions(first, second) == [["B-PER", "I-PER", "B-MISC", "I-MISC"]]


class LinearTagger(nn.Module):
    """Logits = x W^T + b per token: its Fisher has a closed form."""

    def __init__(self, dim: int, labels: int) -> None:
        super().__init__()
        self.classifier = nn.Linear(dim, labels)

    def forward(self, inputs_embeds):
        return type("Out", (), {"logits": self.classifier(inputs_embeds)})


def test_fisher_matches_the_closed_form():
    torch.manual_seed(0)
    model = LinearTagger(3, 4).double()
    sentences = [torch.randn(1, 5, 3, dtype=torch.float64) for _ in range(4)]
    labels = torch.zeros(1, 5, dtype=torch.long)
    batches = [{"inputs_embeds": x, "labels": labels} for x in sentences for _ in range(3000)]
    estimate = continual.fisher_diagonal(model, batches, seed=0)
    exact = torch.zeros(4, 3, dtype=torch.float64)  # sum over tokens of p_k (1 - p_k) x_j^2, mean over sentences
    for x in sentences:
        p = model(x).logits.softmax(-1)[0]  # (tokens, labels)
        exact += (p * (1 - p)).T @ x[0] ** 2 / len(sentences)
    assert torch.allclose(estimate["classifier.weight"], exact, rtol=0.1)


def test_ewc_penalty_is_zero_at_the_anchor_and_grows_with_fisher():
    model = LinearTagger(3, 2)
    fisher = {n: torch.ones_like(p) for n, p in model.named_parameters()}
    ewc = continual.EWCLoss(model, fisher, strength=2.0)
    assert ewc.penalty(model).item() == 0.0
    with torch.no_grad():
        model.classifier.bias += 1.0
    assert ewc.penalty(model).item() == pytest.approx(2.0)
    with pytest.raises(ValueError, match="strength"):
        continual.EWCLoss(model, fisher, strength=-1)


def test_pseudo_labels_fill_only_the_o_words():
    from datasets import ClassLabel, Dataset, Features, Sequence, Value

    from course_utils.tagging import LABEL2ID, LABELS

    features = Features({"tokens": Sequence(Value("string")), "ner_tags": Sequence(ClassLabel(names=LABELS))})
    gold = ["O", "B-ORG", "O", "O"]
    split = Dataset.from_dict({"tokens": [["Ada", "IBM", "in", "Paris"]],
                               "ner_tags": [[LABEL2ID[t] for t in gold]]}, features=features)
    old = [["B-PER", "B-LOC", "O", "B-LOC"]]  # the old model; its LOC on "IBM" overlaps stage 2's ORG
    filled = continual.pseudo_labelled(split, old, ("PER", "LOC"))
    assert [LABELS[t] for t in filled["ner_tags"][0]] == ["B-PER", "B-ORG", "O", "B-LOC"]


def test_stage_counts_feed_the_intervals():
    true, pred = [["B-PER", "B-ORG"], ["B-LOC", "O"]], [["B-PER", "O"], ["O", "O"]]
    counts = continual.stage_counts(true, pred, ("PER", "LOC"))
    assert counts.tolist() == [[1, 1, 1], [0, 0, 1]]
