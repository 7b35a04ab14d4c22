"""Language-model data: splits, windows, held-out loss and bits per character."""

import math

import pytest
import torch

from course_utils import lm_data


def test_char_vocab_round_trip_and_unknown():
    vocab = lm_data.CharVocab.of("hello world")
    assert vocab.decode(vocab.encode("low")) == "low" and vocab.size == 8
    with pytest.raises(ValueError, match="byte-level BPE"):
        vocab.encode("z")


def test_splits_are_nanogpts():
    text = "".join(chr(65 + i % 26) for i in range(1000))
    s = lm_data.Splits.of(text)
    assert s.train == text[:900] and s.validation == text[900:] and len(s.dev) == 50


def test_windows_are_fixed_and_shifted():
    ids = torch.arange(100)
    a, b = lm_data.RandomWindows(ids, 8, 5, seed=1), lm_data.RandomWindows(ids, 8, 5, seed=1)
    assert all(torch.equal(a[i]["input_ids"], b[i]["input_ids"]) for i in range(5))
    assert torch.equal(a[0]["labels"], a[0]["input_ids"] + 1)


def test_held_out_windows_predict_each_id_once():
    w = lm_data.held_out_windows(torch.arange(21), 5)
    assert w.shape == (4, 6) and torch.equal(w[:, 1:].flatten(), torch.arange(1, 21))


def test_mean_loss_of_a_uniform_model():
    class Uniform(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, ids):
            return torch.zeros(*ids.shape, 10) + self.w

    assert math.isclose(lm_data.mean_loss(Uniform(), torch.randint(0, 10, (7, 9)), 3), math.log(10), rel_tol=1e-6)


def test_bits_per_character():
    assert lm_data.bits_per_character(math.log(2), 10, 10) == pytest.approx(1.0)
    assert lm_data.bits_per_character(2 * math.log(2), 5, 10) == pytest.approx(1.0)  # 2 bits a token, 2 chars a token
