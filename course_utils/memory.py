"""Chapter 04: where a training step's memory goes - weights, gradients, AdamW's state and activations."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from course_utils.device import PeakMemory

GIB = 2**30
T4_USABLE = 14 * GIB  # a 16 GB T4 shows 15 GiB; ~1 GiB goes to the CUDA context and kernels' workspace
SHAPES = {  # BertConfig sizes of the model whose memory chapter 04 measures
    "bert-base": {},  # BertConfig's defaults are bert-base's: 12 layers of 768, 12 heads
    "small": {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 512},
}


def bert_config(shape: str, num_labels: int):
    """A token classifier's config of bert-base-cased's vocabulary and the named sizes (see SHAPES)."""
    from transformers import BertConfig

    if shape not in SHAPES:
        raise ValueError(f"memory shape {shape!r}: use one of {sorted(SHAPES)}")
    return BertConfig(vocab_size=28996, num_labels=num_labels, **SHAPES[shape])


def state_bytes(model: torch.nn.Module) -> dict[str, int]:
    """Bytes that stay for the whole run with fp32 AdamW: weights, gradients, and AdamW's two moments."""
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    trained = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"weights": weights, "gradients": 4 * trained, "AdamW moments": 8 * trained}  # fp32 each


def saved_for_backward(
    forward: Callable[[], torch.Tensor], exclude: list[torch.Tensor]
) -> int:
    """Bytes of the tensors autograd keeps from `forward()` for the backward pass: the
    activations. Each storage counts once; `exclude` (the parameters) is left out."""
    skip = {t.untyped_storage().data_ptr() for t in exclude}
    seen: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in skip:
            seen[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss = forward()
    del loss  # the graph, and what it saved, goes with it
    return sum(seen.values())


def per_sample(sizes: list[int], measured: list[float]) -> tuple[float, float]:
    """(per sample, fixed part) of a straight line fitted by least squares to memory against batch size."""
    if len(set(sizes)) < 2 or len(sizes) != len(measured):
        raise ValueError(f"a line needs two or more different batch sizes, one measurement each: got {sizes}")
    x = torch.tensor(sizes, dtype=torch.float64)
    y = torch.tensor(measured, dtype=torch.float64)
    slope = float(((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum())
    return slope, float(y.mean() - slope * x.mean())


def step_peak(step: Callable[[], None], device: torch.device | str = "cpu") -> tuple[float, float]:
    """(peak MB above the start, seconds) of one call of `step` (a forward and backward)."""
    with PeakMemory(device) as peak:
        start = time.perf_counter()
        step()
    return peak.mb, time.perf_counter() - start


def largest_batch(budget_bytes: float, fixed_bytes: float, per_sample_bytes: float) -> int:
    """The most samples whose activations fit beside `fixed_bytes` in `budget_bytes` (0 if none)."""
    if per_sample_bytes <= 0:
        raise ValueError(f"per-sample memory must be positive, got {per_sample_bytes}")
    return max(0, int((budget_bytes - fixed_bytes) // per_sample_bytes))
