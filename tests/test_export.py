"""ONNX export: the graph computes PyTorch's logits at any batch and length; int8 is smaller and close."""

import pytest
import torch
from tiny_models import tiny_tagger

from course_utils import export, ner


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    model, tokenizer = tiny_tagger(hidden_size=32, layers=2)
    model.eval()
    folder = tmp_path_factory.mktemp("onnx")
    example = tokenizer(["Ada Lovelace met Charles Babbage ."] * 2, return_tensors="pt")
    path = export.export_onnx(model, example, folder / "model.onnx")
    return model, tokenizer, path


def test_onnx_matches_pytorch_at_other_batch_sizes_and_lengths(tiny):
    model, tokenizer, path = tiny
    session = export.OrtModel(path, model.config)
    batch = tokenizer(["a much longer sentence than the one exported with", "hi", "London"], padding=True,
                      return_tensors="pt")
    with torch.no_grad():
        expected = model(**batch).logits
    assert torch.allclose(session(**batch).logits, expected, atol=1e-5)


def test_ort_model_scores_and_predicts_like_the_model(tiny):
    model, tokenizer, path = tiny
    session = export.OrtModel(path, model.config)
    batch = tokenizer(["Ada Lovelace"], return_tensors="pt")
    labels = torch.tensor([[-100, 1, 2, 2, -100]])[:, : batch["input_ids"].shape[1]]
    with torch.no_grad():
        assert torch.isclose(session(**batch, labels=labels).loss, model(**batch, labels=labels).loss, atol=1e-5)
    text = "Ada Lovelace met Charles Babbage in London ."
    assert [e["type"] for e in ner.predict(session, tokenizer, text)] == [
        e["type"] for e in ner.predict(model, tokenizer, text)
    ]


def test_int8_file_is_smaller_and_keeps_the_logits_close(tiny, tmp_path):
    model, tokenizer, path = tiny
    quantized = export.quantize_onnx_int8(path, tmp_path / "int8.onnx")
    assert quantized.stat().st_size < path.stat().st_size
    assert "DynamicQuantizeLinear" in export.op_counts(quantized) or "MatMulInteger" in export.op_counts(quantized)
    batch = tokenizer(["Ada Lovelace met Charles Babbage ."], return_tensors="pt")
    with torch.no_grad():
        expected = model(**batch).logits
    assert (export.OrtModel(quantized, model.config)(**batch).logits - expected).abs().max() < 0.5


def test_missing_inputs_and_files_are_named(tiny, tmp_path):
    model, _, _ = tiny
    with pytest.raises(ValueError, match="token_type_ids"):
        export.export_onnx(model, {"input_ids": torch.ones(1, 3, dtype=torch.long)}, tmp_path / "m.onnx")
    with pytest.raises(FileNotFoundError, match="export_onnx"):
        export.OrtModel(tmp_path / "nothing.onnx", model.config)
    with pytest.raises(FileNotFoundError, match="export_onnx"):
        export.quantize_onnx_int8(tmp_path / "nothing.onnx", tmp_path / "int8.onnx")
