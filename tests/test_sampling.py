"""Sampling from scratch against transformers' warpers; generation with and without the cache."""

import pytest
import torch
from transformers.generation import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

from course_utils import gpt, sampling

LOGITS = torch.randn(4, 300, generator=torch.Generator().manual_seed(0)) * 3
IDS = torch.zeros(4, 1, dtype=torch.long)


@pytest.mark.parametrize("p", [0.05, 0.5, 0.9, 0.99, 1.0])
def test_top_p_as_transformers(p):
    ours, theirs = sampling.top_p(LOGITS, p), TopPLogitsWarper(p)(IDS, LOGITS.clone())
    assert torch.equal(ours.isinf(), theirs.isinf())
    assert torch.allclose(ours.softmax(-1), theirs.softmax(-1), atol=1e-7)


@pytest.mark.parametrize("k", [1, 7, 300, 500])
def test_top_k_and_temperature_as_transformers(k):
    assert torch.equal(sampling.top_k(LOGITS, k), TopKLogitsWarper(k)(IDS, LOGITS.clone()))
    assert torch.allclose(sampling.with_temperature(LOGITS, 0.7), TemperatureLogitsWarper(0.7)(IDS, LOGITS.clone()))


def test_top_p_keeps_the_top_token():
    peaked = torch.tensor([[10.0, 0.0, 0.0]])
    assert sampling.top_p(peaked, 0.01).isinf().tolist() == [[False, True, True]]


def test_bad_settings():
    for call in (
        lambda: sampling.with_temperature(LOGITS, 0),
        lambda: sampling.top_k(LOGITS, 0),
        lambda: sampling.top_p(LOGITS, 0.0),
    ):
        with pytest.raises(ValueError):
            call()


def tiny() -> gpt.GPT:
    torch.manual_seed(0)
    return gpt.GPT(gpt.DecoderShape(vocab_size=50, context=16, layers=2, heads=2, width=16))


def test_cached_and_uncached_generation_agree():
    model, prompt = tiny().train(), torch.tensor([[1, 2, 3]])
    for sampler in (sampling.Sampler(greedy=True), sampling.Sampler(temperature=0.9, k=10, p=0.9)):
        a = sampling.generate(model, prompt, 12, sampler, cache=True, seed=3)
        b = sampling.generate(model, prompt, 12, sampler, cache=False, seed=3)
        assert torch.equal(a, b) and a.shape == (1, 15)
    assert model.training  # the caller's mode comes back


def test_generation_past_the_context():
    model, prompt = tiny(), torch.tensor([[1, 2, 3]])
    with pytest.raises(ValueError, match="context of 16"):
        sampling.generate(model, prompt, 15, cache=True)
    full = sampling.generate(model, prompt, 14, cache=True)  # 3 + 13 fed positions fill the context
    assert torch.equal(full, sampling.generate(model, prompt, 14, cache=False))
    assert sampling.generate(model, prompt, 20, cache=False).shape == (1, 23)  # keeps the last 16


def test_distinct_n():
    assert sampling.distinct_n([1, 2, 3, 4], 2) == 1.0
    assert sampling.distinct_n([1, 1, 1, 1, 1], 2) == 0.25
    with pytest.raises(ValueError):
        sampling.distinct_n([1], 2)


def test_tokens_per_second_counts_new_tokens():
    assert sampling.tokens_per_second(tiny(), torch.tensor([[1]]), 8, cache=True, repeats=2) > 0


def test_labels():
    labels = [s.label() for s in (sampling.Sampler(greedy=True), sampling.Sampler(temperature=0.7),
                                   sampling.Sampler(k=20), sampling.Sampler(p=0.9), sampling.Sampler(k=5, p=0.5))]
    assert labels == ["greedy", "T=0.7", "T=1 k=20", "T=1 p=0.9", "T=1 k=5 p=0.5"]
