import copy

import pytest
import torch
from torch import nn
from transformers import BertConfig, BertForTokenClassification

from course_utils import quant


def tiny_bert() -> BertForTokenClassification:
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=300, hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128, num_labels=5
    )
    return BertForTokenClassification(config).eval()


X = {"input_ids": torch.randint(0, 300, (4, 12))}


@pytest.mark.parametrize("per_channel", [False, True])
def test_absmax_round_trip_error_is_at_most_half_a_step(per_channel):
    w = torch.randn(32, 48)
    q, scale = quant.absmax_quantize(w, per_channel=per_channel)
    assert q.dtype == torch.int8 and int(q.abs().max()) == 127
    assert scale.shape == ((32, 1) if per_channel else ())
    assert ((quant.dequantize(q, scale) - w).abs() <= scale / 2 + 1e-7).all()


def test_one_outlier_ruins_per_tensor_but_not_per_channel_scaling():
    torch.manual_seed(0)
    w = torch.randn(64, 64) * 0.02
    w[3, 5] = 10.0  # one outlier
    per_tensor = (quant.dequantize(*quant.absmax_quantize(w)) - w).abs()
    per_channel = (quant.dequantize(*quant.absmax_quantize(w, per_channel=True)) - w).abs()
    assert per_tensor.mean() > 10 * per_channel.mean()
    q, _ = quant.absmax_quantize(w)
    assert (q == 0).float().mean() > 0.9, "per tensor, almost every ordinary weight rounds to 0"


def test_zero_point_uses_the_full_range_and_keeps_zero_exact():
    w = torch.rand(16, 20) * 3 + 0.5  # all positive: symmetric int8 would waste half its codes
    q, scale, zero_point = quant.zero_point_quantize(w)
    assert q.dtype == torch.uint8 and int(q.max()) == 255
    assert ((quant.dequantize(q, scale, zero_point) - w).abs() <= scale / 2 + 1e-6).all()
    zq, zs, zz = quant.zero_point_quantize(torch.tensor([[-1.0, 0.0, 2.0]]), per_channel=True)
    assert quant.dequantize(zq, zs, zz)[0, 1] == 0
    asym = (quant.dequantize(q, scale, zero_point) - w).abs().mean()
    sym = (quant.dequantize(*quant.absmax_quantize(w)) - w).abs().mean()
    assert asym < sym


def test_quantizers_refuse_bad_input():
    with pytest.raises(TypeError, match="floating-point"):
        quant.absmax_quantize(torch.ones(3, 3, dtype=torch.int32))
    with pytest.raises(ValueError, match=r"per-channel .* \(out, in\) matrix"):
        quant.zero_point_quantize(torch.ones(3), per_channel=True)


def test_check_quantizable_names_device_dtype_and_method():
    model = tiny_bert()
    with pytest.raises(ValueError, match="bnb-nf4 does not run on cpu: it needs cuda"):
        quant.check_quantizable(model, "bnb-nf4")
    with pytest.raises(ValueError, match="torch.float16"):
        quant.check_quantizable(copy.deepcopy(model).half(), "int8-dynamic")
    with pytest.raises(ValueError, match="unknown quantization method"):
        quant.check_quantizable(model, "int3")


@pytest.mark.parametrize("method", ["int8-dynamic", "int8-weight-only"])
def test_torchao_int8_shrinks_the_model_and_keeps_its_outputs(method):
    model = tiny_bert()
    with torch.no_grad():
        reference = model(**X).logits
    quantized = quant.quantize_int8(copy.deepcopy(model), method, embeddings=True)
    with torch.no_grad():
        out = quantized(**X).logits
    assert quant.size_on_disk_mb(quantized) < 0.4 * quant.size_on_disk_mb(model)
    assert (out - reference).abs().max() < 0.05 * reference.abs().max()
    assert (out.argmax(-1) == reference.argmax(-1)).float().mean() > 0.9
    with pytest.raises(ValueError, match="quantized already"):
        quant.quantize_int8(quantized, method)


def test_latency_is_measured():
    assert quant.latency_ms(tiny_bert(), X, repeats=2, warmup=1) > 0


def test_magnitude_pruning_reaches_the_sparsity_and_spares_the_head():
    model = tiny_bert()
    head = model.classifier.weight.clone()
    reached = quant.magnitude_prune(model, 0.5)
    assert reached == pytest.approx(0.5, abs=0.01)
    assert torch.equal(model.classifier.weight, head)
    assert all(not hasattr(m, "weight_mask") for m in model.modules()), "masks are baked in"
    assert quant.magnitude_prune(model, 0.0) == pytest.approx(0.5, abs=0.01)
    with pytest.raises(ValueError, match=r"sparsity is a fraction in \[0, 1\)"):
        quant.magnitude_prune(model, 1.5)


def test_pruning_removes_the_smallest_weights_first():
    layer = nn.Sequential(nn.Linear(4, 4, bias=False))
    with torch.no_grad():
        layer[0].weight.copy_(torch.arange(1, 17, dtype=torch.float).reshape(4, 4))
    quant.magnitude_prune(layer, 0.25)
    assert (layer[0].weight.flatten()[:4] == 0).all() and (layer[0].weight.flatten()[4:] > 0).all()


def test_int8_embedding_matches_per_row_dequantization():
    table = nn.Embedding(100, 8, padding_idx=0)
    quantized = quant.Int8Embedding(table)
    ids = torch.tensor([[1, 5, 99], [0, 0, 7]])  # (batch, seq)
    expected = quant.dequantize(*quant.absmax_quantize(table.weight.detach(), per_channel=True))[ids]
    assert torch.allclose(quantized(ids), expected) and quantized(ids).shape == (2, 3, 8)
    assert quantized.q.dtype == torch.int8
    assert (quantized(ids) - table(ids)).abs().max() <= table.weight.abs().max() / 254 + 1e-6


@pytest.mark.filterwarnings("ignore:torch.quantize_per_tensor:UserWarning")  # deprecated, used only as a reference
def test_from_scratch_quantizers_match_torch_core_quantization():
    torch.manual_seed(0)
    w = torch.randn(8, 16)
    q, scale = quant.absmax_quantize(w)
    reference = torch.quantize_per_tensor(w, float(scale), 0, torch.qint8).int_repr()
    assert torch.equal(q, reference)
    q, scale = quant.absmax_quantize(w, per_channel=True)
    zeros = torch.zeros(8, dtype=torch.long)
    reference = torch.quantize_per_channel(w, scale.flatten().double(), zeros, 0, torch.qint8).int_repr()
    assert torch.equal(q, reference)
    q, scale, zero_point = quant.zero_point_quantize(w)
    reference = torch.quantize_per_tensor(w, float(scale), int(zero_point), torch.quint8).int_repr()
    assert torch.equal(q, reference)
