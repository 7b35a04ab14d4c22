"""Chapter 05: quantization from scratch, post-training int8 with torchao, sizes, latency and magnitude pruning."""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

import torch
from torch import nn

from course_utils.device import time_calls

# --- from scratch ------------------------------------------------------------------------------------


def _check_weight(w: torch.Tensor, per_channel: bool) -> None:
    """Quantizers take a floating tensor; per-channel needs a matrix (one scale per output row)."""
    if not torch.is_floating_point(w):
        raise TypeError(f"quantize a floating-point tensor, got dtype {w.dtype}")
    if per_channel and w.dim() != 2:
        raise ValueError(f"per-channel quantization takes a (out, in) matrix, got shape {tuple(w.shape)}")


def absmax_quantize(w: torch.Tensor, per_channel: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric int8: scale = max|w| / 127 (per tensor, or per output row); returns (int8 values, scale)."""
    _check_weight(w, per_channel)
    amax = w.abs().amax(dim=1, keepdim=True) if per_channel else w.abs().amax()  # (out, 1) or ()
    scale = amax.clamp(min=torch.finfo(w.dtype).tiny) / 127
    q = torch.round(w / scale).clamp(-127, 127).to(torch.int8)
    return q, scale


def zero_point_quantize(w: torch.Tensor, per_channel: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Asymmetric uint8: [min, max] -> [0, 255] with a zero point; returns (uint8 values, scale, zero point)."""
    _check_weight(w, per_channel)
    lo = w.amin(dim=1, keepdim=True) if per_channel else w.amin()
    hi = w.amax(dim=1, keepdim=True) if per_channel else w.amax()
    lo, hi = lo.clamp(max=0), hi.clamp(min=0)  # the range holds 0, so 0.0 is exactly representable
    scale = (hi - lo).clamp(min=torch.finfo(w.dtype).tiny) / 255
    zero_point = torch.round(-lo / scale).clamp(0, 255)
    q = (torch.round(w / scale) + zero_point).clamp(0, 255).to(torch.uint8)
    return q, scale, zero_point


def dequantize(q: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor | None = None) -> torch.Tensor:
    """Back to float: scale * (q - zero_point)."""
    values = q.float() - (zero_point if zero_point is not None else 0)
    return values * scale


# --- torchao post-training quantization ------------------------------------------------------------------

SUPPORTED = {
    # method: (devices, dtypes) it runs on in this course
    "int8-dynamic": ({"cpu", "cuda"}, {torch.float32, torch.bfloat16}),
    "int8-weight-only": ({"cpu", "cuda"}, {torch.float32, torch.bfloat16}),
    "bnb-8bit": ({"cuda"}, {torch.float16, torch.bfloat16, torch.float32}),
    "bnb-nf4": ({"cuda"}, {torch.float16, torch.bfloat16, torch.float32}),
}


def check_quantizable(model: nn.Module, method: str) -> None:
    """A clear error when `method` does not run on the model's device or dtype, or the model is quantized already."""
    if method not in SUPPORTED:
        raise ValueError(f"unknown quantization method {method!r}; choose one of {sorted(SUPPORTED)}")
    devices, dtypes = SUPPORTED[method]
    weight = next(p for p in model.parameters())
    if weight.device.type not in devices:
        raise ValueError(
            f"{method} does not run on {weight.device.type}: it needs {' or '.join(sorted(devices))}. "
            f"Move the model (model.to(...)) or pick another method."
        )
    if weight.dtype not in dtypes:
        raise ValueError(f"{method} takes {sorted(str(d) for d in dtypes)} weights, the model has {weight.dtype}")
    if any(type(p) not in (torch.Tensor, nn.Parameter) for p in model.parameters()):
        raise ValueError("the model is quantized already; quantize a fresh copy of the float model")


class Int8Embedding(nn.Module):
    """An embedding table stored as int8 rows with one absmax scale each; only the looked-up rows are dequantized."""

    def __init__(self, embedding: nn.Embedding) -> None:
        super().__init__()
        q, scale = absmax_quantize(embedding.weight.detach(), per_channel=True)  # (vocab, dim), (vocab, 1)
        self.register_buffer("q", q)
        self.register_buffer("scale", scale.to(embedding.weight.dtype))
        self.padding_idx = embedding.padding_idx

    def forward(self, ids: torch.Tensor) -> torch.Tensor:  # (...) -> (..., dim)
        return nn.functional.embedding(ids, self.q).to(self.scale.dtype) * nn.functional.embedding(ids, self.scale)

    def extra_repr(self) -> str:
        return f"{self.q.shape[0]}, {self.q.shape[1]}, int8 per row"


def quantize_int8(
    model: nn.Module, method: str = "int8-dynamic", embeddings: bool = True
) -> nn.Module:
    """torchao in place: int8 per-row weights for every nn.Linear (and int8 activations
    for 'int8-dynamic').

    `embeddings=True` also stores every nn.Embedding as an Int8Embedding: the tables are
    half of a small encoder.
    """
    from torchao.quantization import (
        Int8DynamicActivationInt8WeightConfig,
        Int8WeightOnlyConfig,
        quantize_,
    )

    check_quantizable(model, method)
    if method not in ("int8-dynamic", "int8-weight-only"):
        raise ValueError(
            f"quantize_int8 does int8-dynamic or int8-weight-only; "
            f"{method} loads with bitsandbytes"
        )
    quantize_(
        model,
        Int8DynamicActivationInt8WeightConfig()
        if method == "int8-dynamic"
        else Int8WeightOnlyConfig(),
    )
    if embeddings:
        names = [
            name
            for name, module in model.named_modules()
            if isinstance(module, nn.Embedding)
        ]
        for name in names:
            table = Int8Embedding(model.get_submodule(name))
            model.set_submodule(name, table)
    return model


def size_on_disk_mb(model_or_state: nn.Module | dict) -> float:
    """Bytes of the saved state dict (torch.save, which also stores torchao's quantized tensors), in MB."""
    state = model_or_state.state_dict() if isinstance(model_or_state, nn.Module) else model_or_state
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "state.pt"
        torch.save(state, path)
        return path.stat().st_size / 1e6


@torch.inference_mode()
def latency_ms(model: nn.Module, batch: dict, repeats: int = 10, warmup: int = 2) -> float:
    """Median wall time of one forward pass on `batch`, in milliseconds."""
    model.eval()
    device = next(model.parameters(), torch.empty(0)).device  # the CPU for an ONNX Runtime session
    return 1000 * statistics.median(time_calls(lambda: model(**batch), repeats, warmup, device))


# --- pruning ----------------------------------------------------------------------------------------------


def prunable_weights(model: nn.Module, skip: tuple[str, ...] = ("classifier",)) -> list[tuple[nn.Module, str]]:
    """(module, 'weight') for every nn.Linear outside `skip`: what magnitude pruning removes entries from."""
    return [(m, "weight") for n, m in model.named_modules() if isinstance(m, nn.Linear) and not n.startswith(skip)]


def magnitude_prune(
    model: nn.Module, sparsity: float, skip: tuple[str, ...] = ("classifier",)
) -> float:
    """Zero the smallest |w| across all linear weights; return the sparsity reached."""
    from torch.nn.utils import prune

    if not 0 <= sparsity < 1:
        raise ValueError(f"sparsity is a fraction in [0, 1), got {sparsity}")
    targets = prunable_weights(model, skip)
    if sparsity > 0:
        prune.global_unstructured(
            targets, pruning_method=prune.L1Unstructured, amount=sparsity
        )
        for module, name in targets:
            prune.remove(module, name)  # bake the mask into the weight
    zeros = sum(int((m.weight == 0).sum()) for m, _ in targets)
    return zeros / sum(m.weight.numel() for m, _ in targets)
