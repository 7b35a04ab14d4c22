"""Leaving PyTorch: the tagger as an ONNX graph, run by ONNX Runtime, and its int8 version."""

from __future__ import annotations

import logging
import warnings
from collections import Counter
from pathlib import Path

import torch
from torch import nn
from transformers.modeling_outputs import TokenClassifierOutput

from course_utils.losses import IGNORE_INDEX

INPUTS = (
    "input_ids",
    "attention_mask",
    "token_type_ids",
)  # what the tokenizer gives a BERT tagger


class LogitsOnly(nn.Module):
    """The tagger as a function of three tensors to one: what an ONNX graph can hold."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, input_ids, attention_mask, token_type_ids
    ):  # 3 x (batch, seq) -> (batch, seq, labels)
        return self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
        ).logits


def export_onnx(model: nn.Module, example: dict, path: str | Path) -> Path:
    """Write `model` as one ONNX file, batch and length left free (dynamic axes)."""
    missing = [k for k in INPUTS if k not in example]
    if missing:
        raise ValueError(
            f"the example batch lacks {missing}: "
            "pass what the tokenizer returns for a BERT model"
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq")
    args = tuple(example[k].cpu() for k in INPUTS)
    wrapped = LogitsOnly(model.cpu()).eval()  # eval: dropout off in the graph
    with _quiet_exporter():
        torch.onnx.export(
            wrapped,
            args,
            path,
            input_names=list(INPUTS),
            output_names=["logits"],
            dynamic_shapes={
                k: {0: batch, 1: seq} for k in INPUTS
            },  # any batch, any length
            external_data=False,  # one file: weights inside the graph (fine below 2 GB)
            verbose=False,
        )
    return path


def quantize_onnx_int8(source: str | Path, target: str | Path) -> Path:
    """ONNX Runtime's dynamic quantization: int8 weights stored, activations quantized as they come."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    source, target = Path(source), Path(target)
    if not source.is_file():
        raise FileNotFoundError(
            f"no ONNX model at {source}: export one with export_onnx first"
        )
    prepared = target.with_name(target.stem + ".prepared.onnx")
    quant_pre_process(
        source, prepared, skip_symbolic_shape=True
    )  # shapes and folded constants first
    try:
        quantize_dynamic(
            prepared, target, weight_type=QuantType.QInt8, per_channel=True
        )
    finally:
        prepared.unlink(missing_ok=True)
    return target


def op_counts(path: str | Path) -> Counter:
    """How many of each ONNX operator the graph holds (the functions inlined)."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    return Counter(node.op_type for node in graph.node)


class OrtModel(nn.Module):
    """An ONNX Runtime session dressed as the Hugging Face tagger: same inputs, `.logits`, `.loss`, `.config`."""

    def __init__(self, path: str | Path, config, threads: int | None = None) -> None:
        super().__init__()
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"no ONNX model at {path}: export one with export_onnx first"
            )
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        # idle threads sleep instead of spinning: they would hold the cores PyTorch's decoding needs next
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
        self.config = config
        self.path = path

    def forward(
        self, input_ids, attention_mask, token_type_ids=None, labels=None
    ) -> TokenClassifierOutput:
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        feed = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "token_type_ids": token_type_ids,
        }
        (logits,) = self.session.run(
            ["logits"], {k: v.cpu().numpy() for k, v in feed.items()}
        )
        logits = torch.from_numpy(logits)  # (batch, seq, labels)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(
                logits.flatten(0, 1), labels.flatten().cpu(), ignore_index=IGNORE_INDEX
            )
        return TokenClassifierOutput(loss=loss, logits=logits)


class _quiet_exporter:
    """Hide the exporter's notes about optional torchvision ops and its dynamic-shape renames (nothing else)."""

    def __enter__(self) -> None:
        self.logger = logging.getLogger("torch.onnx._internal.exporter._registration")
        self.level = self.logger.level
        self.logger.setLevel(
            logging.ERROR
        )  # "torchvision is not installed. Skipping torchvision::nms" x 4
        self.warnings = warnings.catch_warnings()
        self.warnings.__enter__()
        warnings.filterwarnings(
            "ignore",
            message=".*The axis name: .* will not be used",
            category=UserWarning,
        )
        warnings.filterwarnings(
            "ignore",
            message=r".*isinstance\(treespec, LeafSpec\)",
            category=FutureWarning,
        )

    def __exit__(self, *exc) -> None:
        self.warnings.__exit__(*exc)
        self.logger.setLevel(self.level)
