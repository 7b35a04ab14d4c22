"""Attention from scratch against torch's fused kernel and nn.MultiheadAttention."""

import pytest
import torch
from torch import nn

from course_utils.attention import MultiHeadSelfAttention, padding_keep_mask, scaled_dot_product_attention


def test_matches_torchs_scaled_dot_product_attention_with_and_without_a_mask():
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 7, 8), torch.randn(2, 3, 7, 4)
    keep = padding_keep_mask(torch.tensor([[1] * 7, [1] * 4 + [0] * 3]))  # (2, 1, 1, 7)
    for mask in (None, keep):
        ours, weights = scaled_dot_product_attention(q, k, v, mask)
        reference = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        assert torch.allclose(ours, reference, atol=1e-6)
        assert torch.allclose(weights.sum(-1), torch.ones(2, 3, 5))
    assert (weights[1, :, :, 4:] == 0).all(), "padding keys get no weight"


def test_dividing_by_sqrt_dk_keeps_the_score_variance_at_one():
    torch.manual_seed(0)
    for d_k in (16, 256):
        q, k = torch.randn(4000, d_k), torch.randn(4000, d_k)
        raw = (q * k).sum(-1)  # the variance of a dot product of unit-variance vectors is d_k
        assert raw.var().item() == pytest.approx(d_k, rel=0.1)
        assert (raw / d_k**0.5).var().item() == pytest.approx(1.0, rel=0.1)


def test_multi_head_attention_equals_nn_multiheadattention_with_the_same_weights():
    torch.manual_seed(0)
    ours, theirs = MultiHeadSelfAttention(16, 4), nn.MultiheadAttention(16, 4, batch_first=True)
    with torch.no_grad():
        theirs.in_proj_weight.copy_(torch.cat([ours.query.weight, ours.key.weight, ours.value.weight]))
        theirs.in_proj_bias.copy_(torch.cat([ours.query.bias, ours.key.bias, ours.value.bias]))
        theirs.out_proj.weight.copy_(ours.out.weight)
        theirs.out_proj.bias.copy_(ours.out.bias)
    x, attention_mask = torch.randn(2, 6, 16), torch.tensor([[1] * 6, [1] * 3 + [0] * 3])
    expected = theirs(x, x, x, key_padding_mask=attention_mask == 0, need_weights=False)[0]
    assert torch.allclose(ours(x, padding_keep_mask(attention_mask)), expected, atol=1e-5)


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match="multiple of heads"):
        MultiHeadSelfAttention(10, 4)
    with pytest.raises(ValueError, match="do not fit"):
        scaled_dot_product_attention(torch.randn(2, 4), torch.randn(3, 5), torch.randn(3, 5))
    with pytest.raises(ValueError, match=r"\(batch, seq\)"):
        padding_keep_mask(torch.ones(2, 3, 4))
