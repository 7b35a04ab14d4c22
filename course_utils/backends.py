"""Chapter 04's saved tagger, run by PyTorch as trained, by PyTorch with torchao int8, or by ONNX Runtime."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from course_utils.config import BACKENDS  # PyTorch as trained, torchao int8, an ONNX Runtime file

if TYPE_CHECKING:
    from course_utils.handover import NERRunSummary


@dataclass
class Tagger:
    """A model and its tokenizer; `run` tags a batch of texts."""

    model: object
    tokenizer: object
    backend: str
    summary: NERRunSummary  # chapter 04's run, saved beside the model

    @property
    def name(self) -> str:
        """The encoder's name ("all-MiniLM-L6-v2", "bert-base-cased") or, for an override, its location."""
        from course_utils.resources import resolve_model

        encoder = resolve_model(self.summary.profile)
        return encoder.name or self.summary.encoder

    def run(self, texts: list[str]) -> list[list[dict]]:
        from course_utils import ner

        return ner.predict_batch(self.model, self.tokenizer, texts)


def load_tagger(
    model_dir: str | Path, backend: str = "torch", onnx_path: str | Path | None = None
) -> Tagger:
    """Chapter 04's saved model, run by PyTorch, by PyTorch with torchao int8, or from an ONNX file."""
    from course_utils import ner

    if backend not in BACKENDS:
        raise ValueError(f"backend {backend!r} is not one of {BACKENDS}")
    model, tokenizer, summary = ner.load_finetuned(Path(model_dir))
    if backend == "torch":
        from course_utils.device import pick_device

        model = model.to(pick_device()).eval()
    elif backend == "torch-int8":
        from course_utils import quant

        model = quant.quantize_int8(model.eval())
    else:
        from course_utils.export import OrtModel

        if onnx_path is None:
            raise ValueError(
                "backend 'onnx' needs onnx_path: the file export.export_onnx wrote"
            )
        model = OrtModel(onnx_path, model.config)
    return Tagger(model, tokenizer, backend, summary)
