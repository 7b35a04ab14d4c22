"""Training memory: the fixed state per parameter, the activations autograd saves, the batch that fits."""

import pytest
import torch

from course_utils import memory


def test_fp32_adamw_state_is_16_bytes_per_trained_parameter():
    model = torch.nn.Sequential(torch.nn.Linear(10, 20), torch.nn.Linear(20, 5))
    count = sum(p.numel() for p in model.parameters())
    assert sum(memory.state_bytes(model).values()) == 16 * count
    model[0].requires_grad_(False)  # frozen: weights only
    frozen = sum(p.numel() for p in model[0].parameters())
    assert sum(memory.state_bytes(model).values()) == 16 * count - 12 * frozen


def test_saved_tensors_are_the_activations_and_grow_with_the_batch():
    torch.manual_seed(0)
    linear = torch.nn.Linear(4, 3)

    def saved(batch: int) -> int:
        x = torch.randn(batch, 4)
        return memory.saved_for_backward(
            lambda: torch.nn.functional.gelu(linear(x)).sum(), list(linear.parameters())
        )

    assert saved(5) == 5 * 4 * 4 + 5 * 3 * 4  # the linear's input and GELU's input, in fp32
    slope, fixed = memory.per_sample([1, 2, 8], [saved(1), saved(2), saved(8)])
    assert slope == pytest.approx(4 * 4 + 3 * 4) and fixed == pytest.approx(0, abs=1e-6)


def test_largest_batch_and_bad_input():
    assert memory.largest_batch(100.0, fixed_bytes=40.0, per_sample_bytes=7.0) == 8
    assert memory.largest_batch(10.0, fixed_bytes=40.0, per_sample_bytes=7.0) == 0
    with pytest.raises(ValueError, match="two or more different batch sizes"):
        memory.per_sample([2, 2], [1.0, 1.0])
    with pytest.raises(ValueError, match="per-sample memory must be positive"):
        memory.largest_batch(100.0, 40.0, 0.0)
    with pytest.raises(ValueError, match="memory shape 'huge'"):
        memory.bert_config("huge", num_labels=9)
    assert memory.bert_config("bert-base", num_labels=9).num_hidden_layers == 12
