"""Sinusoidal positions: the formula, one linear map from each position to the next, a BERT started from them."""

import math

import pytest
import torch
from tiny_models import tiny_masked_lm

from course_utils import positions


def test_sinusoidal_positions_follow_the_formula():
    table = positions.sinusoidal_positions(16, 8, base=100.0)  # (positions, dim)
    assert table.shape == (16, 8)
    p, i = 5, 1  # the second frequency pair: columns 2 (sin) and 3 (cos)
    angle = p / 100.0 ** (2 * i / 8)
    assert table[p, 2] == pytest.approx(math.sin(angle)) and table[p, 3] == pytest.approx(math.cos(angle))
    assert torch.equal(table[0, 0::2], torch.zeros(4)) and torch.equal(table[0, 1::2], torch.ones(4))
    omega = positions.sinusoidal_frequencies(8, base=100.0)  # 100^(-0/8), 100^(-2/8), 100^(-4/8), 100^(-6/8)
    assert torch.allclose(omega, torch.tensor([1.0, 0.1**0.5, 0.1, 0.1**1.5], dtype=torch.float64))
    for bad in [dict(num_positions=4, dim=7), dict(num_positions=0, dim=8), dict(num_positions=4, dim=8, base=1.0)]:
        with pytest.raises(ValueError, match="even dim|num_positions must be > 0"):
            positions.sinusoidal_positions(**bad)


def test_one_linear_map_moves_every_sinusoidal_position_to_its_neighbour():
    table = positions.sinusoidal_positions(64, 16, base=100.0).double()  # (positions, dim)
    shift, *_ = torch.linalg.lstsq(table[:-1], table[1:])  # (dim, dim): solve table[p] @ shift = table[p + 1]
    assert torch.allclose(table[:-1] @ shift, table[1:], atol=1e-6)
    noise = torch.randn(64, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)  # random positions
    shift, *_ = torch.linalg.lstsq(noise[:-1], noise[1:])
    assert not torch.allclose(noise[:-1] @ shift, noise[1:], atol=1e-1)


def test_init_sinusoidal_positions_sets_a_trainable_table():
    model = tiny_masked_lm(20)
    positions.init_sinusoidal_positions(model, scale=0.1, base=100.0)
    weight = model.bert.embeddings.position_embeddings.weight  # (positions, hidden)
    assert torch.equal(weight, 0.1 * positions.sinusoidal_positions(*weight.shape, base=100.0))
    assert weight.requires_grad
    with pytest.raises(ValueError, match="scale must be > 0"):
        positions.init_sinusoidal_positions(model, scale=0.0)
    with pytest.raises(ValueError, match="Linear has no learned position table"):
        positions.init_sinusoidal_positions(torch.nn.Linear(2, 2), scale=0.1)


def test_rope_keeps_lengths_and_scores_depend_on_the_offset_only():
    from course_utils.positions import apply_rope, rope_cos_sin

    q, k = torch.randn(1, 8), torch.randn(1, 8)

    def at(x, p):
        cos, sin = rope_cos_sin(torch.tensor([p]), 8)
        return apply_rope(x, cos, sin)

    assert torch.allclose(at(q, 5).norm(), q.norm(), atol=1e-5)
    assert torch.allclose((at(q, 7) * at(k, 3)).sum(), (at(q, 14) * at(k, 10)).sum(), atol=1e-5)
