"""Integrated gradients from scratch: exact on a linear function, complete, and the same as Captum's."""

import copy

import pytest
import torch
from scipy.stats import spearmanr
from tiny_models import tiny_tagger

from course_utils import explain


@pytest.mark.parametrize("method", explain.METHODS)
def test_path_points_integrate(method):
    alphas, weights = explain.path_points(200, method)
    assert weights.sum().item() == pytest.approx(1.0)
    assert (weights * alphas**2).sum().item() == pytest.approx(1 / 3, abs=5e-3)


def test_linear_function_gets_exact_attributions():
    w, x, base = torch.randn(5, dtype=torch.float64), torch.randn(5, dtype=torch.float64), torch.zeros(5)
    got = explain.integrated_gradients(lambda p: p @ w, x, base.double(), steps=4)
    assert torch.allclose(got, x * w)


def test_completeness_error_shrinks_with_steps():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    f = lambda p: net(p).squeeze(-1)  # noqa: E731
    x, base = torch.randn(6, dtype=torch.float64), torch.zeros(6, dtype=torch.float64)
    gap = (f(x[None]) - f(base[None])).item()
    errors = [abs(explain.integrated_gradients(f, x, base, steps=n).sum().item() - gap) for n in (4, 16, 64)]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 1e-3


@pytest.fixture(scope="module")
def tiny():
    model, tokenizer = tiny_tagger()
    return model.eval(), tokenizer


def test_matches_captum_on_a_token_classifier(tiny):
    from captum.attr import IntegratedGradients

    model, tokenizer = tiny
    encoded = tokenizer("Ada Lovelace met Charles Babbage", return_tensors="pt")
    f = explain.label_score(model, explain.TokenTarget(encoded, position=1, label=1))
    x = explain.embed(model, encoded["input_ids"]).detach()
    base = explain.pad_baseline(model, encoded["input_ids"], tokenizer.pad_token_id,
                                (tokenizer.cls_token_id, tokenizer.sep_token_id)).detach()
    captum = IntegratedGradients(f)
    for method, name in [("left", "riemann_left"), ("middle", "riemann_middle"), ("right", "riemann_right"),
                         ("gausslegendre", "gausslegendre")]:
        ours = explain.integrated_gradients(f, x[0], base[0], steps=32, method=method)
        theirs = captum.attribute(x, base, n_steps=32, method=name)[0]
        assert torch.allclose(ours.float(), theirs, atol=1e-6), method
    # Captum's "trapezoid" weighs its n points 1/n (ends halved): they sum to (n - 1)/n, not 1
    ours = explain.integrated_gradients(f, x[0], base[0], steps=32, method="trapezoid")
    theirs = captum.attribute(x, base, n_steps=32, method="riemann_trapezoid")[0]
    assert torch.allclose(ours.float() * 31 / 32, theirs, atol=1e-6)
    assert ours.sum().item() == pytest.approx((f(x) - f(base)).item(), abs=1e-4), "complete"


def test_spearman_matches_scipy():
    a, b = torch.randn(20), torch.randn(20)
    assert explain.spearman(a, b) == pytest.approx(spearmanr(a, b).statistic)
    with pytest.raises(ValueError, match="1-d"):
        explain.spearman(a, b[:5])


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="steps"):
        explain.path_points(1)
    with pytest.raises(ValueError, match="method"):
        explain.path_points(10, "simpson")
    with pytest.raises(ValueError, match="one shape"):
        explain.integrated_gradients(lambda p: p.sum(-1), torch.ones(3), torch.zeros(4))


def test_attention_from_is_a_distribution_and_restores_the_backend(tiny):
    model, tokenizer = tiny
    encoded = tokenizer("Ada Lovelace met Charles Babbage", return_tensors="pt")
    before = model.config._attn_implementation
    weights = explain.attention_from(model, encoded, position=1)
    assert weights.shape == (encoded["input_ids"].shape[1],)
    assert weights.sum().item() == pytest.approx(1.0, abs=1e-5)
    assert model.config._attn_implementation == before


def test_top_share():
    scores = torch.tensor([1.0, -3.0, 0.0, 4.0])
    assert explain.top_share(scores, torch.tensor([True, True, False, False])) == pytest.approx(0.5)


def test_entity_targets_are_first_sub_tokens_predicted_b(tiny):
    model, tokenizer = copy.deepcopy(tiny[0]), tiny[1]
    with torch.no_grad():
        model.classifier.bias.zero_()
        model.classifier.bias[model.config.label2id["B-PER"]] = 100.0  # every token says B-PER
    sentences = [["Adilson", "visited", "Nairobi"], ["Tokenization", "works"]]
    targets = explain.entity_targets(model, tokenizer, sentences, limit=5)
    for target, words in zip(targets, sentences, strict=True):
        word_ids = tokenizer(words, is_split_into_words=True).word_ids()
        assert word_ids[target.position] == 0 and word_ids[target.position - 1] is None
        assert model.config.id2label[target.label] == "B-PER"
    assert len(explain.entity_targets(model, tokenizer, sentences, limit=1)) == 1


def test_a_model_that_predicts_no_entity_gets_each_sentence_s_likeliest_start(tiny):
    model, tokenizer = copy.deepcopy(tiny[0]), tiny[1]
    with torch.no_grad():
        model.classifier.bias.zero_()
        model.classifier.bias[model.config.label2id["O"]] = 100.0  # every token says O ...
        model.classifier.bias[model.config.label2id["B-LOC"]] = 50.0  # ... and B-LOC comes next
    sentences = [["Adilson", "visited", "Nairobi"], ["Tokenization", "works"]]
    targets = explain.entity_targets(model, tokenizer, sentences, limit=5)
    assert len(targets) == 2 and {model.config.id2label[t.label] for t in targets} == {"B-LOC"}
    assert not any(t.predicted for t in targets), "the fallback says so"
    for target, words in zip(targets, sentences, strict=True):
        word_ids = tokenizer(words, is_split_into_words=True).word_ids()
        assert word_ids[target.position] is not None and word_ids[target.position - 1] != word_ids[target.position]
