import copy

import pytest
import torch
from peft import LoraConfig, get_peft_model
from torch import nn
from transformers import BertConfig, BertForTokenClassification

from course_utils import lora
from course_utils.train import count_parameters


def tiny_bert(seed: int = 0) -> BertForTokenClassification:
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=50, hidden_size=16, num_hidden_layers=3, num_attention_heads=2, intermediate_size=32, num_labels=5
    )
    return BertForTokenClassification(config).eval()


def randomise_b(model: nn.Module) -> None:
    """LoRA starts at B = 0; give B values so that the update is not trivially zero."""
    torch.manual_seed(1)
    for module in model.modules():
        if isinstance(module, lora.LoRALinear):
            nn.init.normal_(module.lora_B, std=0.1)


X = torch.randint(0, 50, (2, 7))


def test_lora_linear_starts_as_the_base_layer_and_merges_exactly():
    torch.manual_seed(0)
    base = nn.Linear(12, 6)
    layer = lora.LoRALinear(copy.deepcopy(base), r=4, alpha=8)
    x = torch.randn(3, 5, 12)  # (batch, seq, in)
    assert torch.equal(layer(x), base(x)), "B = 0: the wrapped layer is the base layer"
    nn.init.normal_(layer.lora_B)
    assert not torch.allclose(layer(x), base(x))
    assert torch.allclose(layer.merged()(x), layer(x), atol=1e-6)
    assert torch.allclose(layer.delta_weight(), 2.0 * layer.lora_B @ layer.lora_A), "scale = alpha / r"


def test_only_a_and_b_get_gradients():
    layer = lora.LoRALinear(nn.Linear(8, 8), r=2, alpha=2)
    nn.init.normal_(layer.lora_B)
    layer(torch.randn(4, 8)).sum().backward()
    assert layer.base.weight.grad is None and layer.base.bias.grad is None
    assert layer.lora_A.grad is not None and layer.lora_B.grad is not None


@pytest.mark.parametrize("r", [0, -2, 1.5])
def test_bad_rank_is_refused(r):
    with pytest.raises(ValueError, match="rank r must be a positive integer"):
        lora.LoRALinear(nn.Linear(4, 4), r=r, alpha=1)


def test_lora_wraps_only_linear_layers():
    with pytest.raises(TypeError, match="wraps an nn.Linear"):
        lora.LoRALinear(nn.Conv1d(2, 2, 1), r=1, alpha=1)


def test_injected_model_equals_base_then_merges_back_to_plain_linears():
    base = tiny_bert()
    model = copy.deepcopy(base)
    names = lora.inject_lora(model, ("query", "value"), r=4, alpha=8)
    assert len(names) == 6 and all(n.endswith(("query", "value")) for n in names)
    assert torch.equal(model(input_ids=X).logits, base(input_ids=X).logits)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {f"{n}.lora_{m}" for n in names for m in "AB"} | {"classifier.weight", "classifier.bias"}
    randomise_b(model)
    unmerged = model(input_ids=X).logits
    assert lora.merge_lora(model) == 6
    assert not any(isinstance(m, lora.LoRALinear) for m in model.modules())
    assert torch.allclose(model(input_ids=X).logits, unmerged, atol=1e-5)


def test_targets_that_match_nothing_are_refused_with_the_names_there_are():
    with pytest.raises(ValueError, match=r"match no nn.Linear.*'query'"):
        lora.inject_lora(tiny_bert(), ("q_proj", "v_proj"))


def test_from_scratch_lora_matches_the_peft_library():
    base = tiny_bert()
    ours = copy.deepcopy(base)
    lora.inject_lora(ours, ("query", "value"), r=4, alpha=8)
    randomise_b(ours)
    with torch.no_grad():
        ours.classifier.weight.mul_(2)  # a "trained" head: peft must carry it via modules_to_save
    config = LoraConfig(task_type="TOKEN_CLS", r=4, lora_alpha=8, target_modules=["query", "value"])
    theirs = get_peft_model(copy.deepcopy(base), config).eval()
    missing = theirs.base_model.model.load_state_dict(lora.lora_state_to_peft(ours), strict=False)
    assert not missing.unexpected_keys
    assert torch.allclose(theirs(input_ids=X).logits, ours(input_ids=X).logits, atol=1e-6)
    assert count_parameters(ours)[0] == sum(p.numel() for p in theirs.parameters() if p.requires_grad)


def test_top_layers_and_bitfit_choose_what_trains():
    model = tiny_bert()
    assert lora.train_top_layers(model, 1) == [2]
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all(".layer.2." in n or n.startswith("classifier") for n in trainable)
    with pytest.raises(ValueError, match="3 encoder layers"):
        lora.train_top_layers(model, 4)
    lora.bitfit(model)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert all(n.endswith("bias") or n.startswith("classifier") for n in trainable)
    count, total = count_parameters(model)
    assert 0 < count < total / 10
