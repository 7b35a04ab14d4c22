import copy

import pytest
import torch
from torch import nn

from course_utils import adapters


def tiny_bert(layers: int = 2):
    from transformers import BertConfig, BertForTokenClassification

    torch.manual_seed(0)
    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=layers, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=16, num_labels=9)
    return BertForTokenClassification(config).eval()


def test_a_fresh_adapter_leaves_the_frozen_model_exactly_as_it_was():
    model = tiny_bert()
    ids = torch.randint(0, 50, (3, 7))
    before = model(input_ids=ids).logits
    for placement in adapters.PLACEMENTS:
        adapted = copy.deepcopy(model)
        adapters.inject_adapters(adapted, size=4, placement=placement)
        assert torch.equal(adapted(input_ids=ids).logits, before)


def test_trainable_numbers_are_the_formulas():
    head = 16 * 9 + 9  # the 9-label classifier stays trainable
    for placement, per_layer in (("houlsby", 2), ("pfeiffer", 1)):
        model = tiny_bert(layers=3)
        count = adapters.inject_adapters(model, size=4, placement=placement)
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        assert count == 3 * per_layer
        assert trainable == count * adapters.adapter_parameters(16, 4) + head
    assert adapters.adapter_parameters(768, 64) == 2 * 768 * 64 + 768 + 64


def test_only_the_adapters_and_the_head_learn():
    model = tiny_bert()
    adapters.inject_adapters(model, size=4)
    frozen = {n: p.clone() for n, p in model.named_parameters() if not p.requires_grad}
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    ids = torch.randint(0, 50, (2, 5))
    loss = model(input_ids=ids, labels=torch.randint(0, 9, (2, 5))).loss
    loss.backward()
    optimizer.step()
    assert all(torch.equal(p, frozen[n]) for n, p in model.named_parameters() if n in frozen)
    ups = [m.adapter.up.weight for m in model.modules() if isinstance(m, adapters.Adapted)]
    assert any(w.abs().sum() > 0 for w in ups)  # the up-projections left zero


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="placement='middle'"):
        adapters.inject_adapters(tiny_bert(), 4, placement="middle")
    with pytest.raises(ValueError, match="BERT-style"):
        adapters.inject_adapters(nn.Sequential(nn.Linear(4, 4)), 4)
    with pytest.raises(ValueError, match="positive width"):
        adapters.Adapter(16, 0)
