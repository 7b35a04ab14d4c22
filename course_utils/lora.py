"""Chapter 05: LoRA from scratch, and the other ways of training a few parameters (top-k layers, BitFit)."""

from __future__ import annotations

import math
import re

import torch
from torch import nn


class LoRALinear(nn.Module):
    """A frozen nn.Linear plus a trainable low-rank update: y = W x + b + (alpha / r) * B A dropout(x)."""

    def __init__(self, base: nn.Linear, r: int, alpha: float, dropout: float = 0.0) -> None:
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"LoRALinear wraps an nn.Linear, got {type(base).__name__}")
        if not isinstance(r, int) or r <= 0:
            raise ValueError(f"LoRA rank r must be a positive integer, got r={r!r}")
        if alpha <= 0:
            raise ValueError(f"LoRA alpha must be positive, got alpha={alpha!r}")
        self.base, self.r, self.alpha, self.scale = base, r, alpha, alpha / r
        for p in self.base.parameters():
            p.requires_grad_(False)
        factory = {"device": base.weight.device, "dtype": base.weight.dtype}
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features, **factory))  # (r, in)
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r, **factory))  # (out, r): zero, update starts at 0
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))  # nn.Linear's (and peft's) default init
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (..., in) -> (..., out)
        update = self.dropout(x) @ self.lora_A.T @ self.lora_B.T  # (..., r) then (..., out)
        return self.base(x) + self.scale * update

    def delta_weight(self) -> torch.Tensor:
        """The update as a full matrix: (alpha / r) * B @ A, shape (out, in)."""
        return self.scale * self.lora_B @ self.lora_A

    def merged(self) -> nn.Linear:
        """A plain nn.Linear with W + (alpha / r) B A: same outputs (in eval mode), no extra cost at inference."""
        out = nn.Linear(self.base.in_features, self.base.out_features, bias=self.base.bias is not None)
        out = out.to(device=self.base.weight.device, dtype=self.base.weight.dtype)
        with torch.no_grad():
            out.weight.copy_(self.base.weight + self.delta_weight())
            if self.base.bias is not None:
                out.bias.copy_(self.base.bias)
        return out

    def extra_repr(self) -> str:
        return f"r={self.r}, alpha={self.alpha}"


def _linear_names(model: nn.Module) -> list[str]:
    """Qualified names of every nn.Linear in `model`."""
    return [name for name, module in model.named_modules() if isinstance(module, nn.Linear)]


def inject_lora(
    model: nn.Module,
    target_modules: tuple[str, ...] = ("query", "value"),
    r: int = 8,
    alpha: float = 16,
    dropout: float = 0.0,
    trainable: tuple[str, ...] = ("classifier",),
) -> list[str]:
    """Freeze `model`, wrap each targeted nn.Linear in LoRALinear; return their names.

    Modules whose name starts with one of `trainable` (the new head) stay trainable.
    """
    if r <= 0:
        raise ValueError(f"LoRA rank r must be a positive integer, got r={r!r}")
    linears = _linear_names(model)
    chosen = [
        n
        for n in linears
        if n.split(".")[-1] in target_modules and not n.startswith(trainable)
    ]
    if not chosen:
        suffixes = sorted({n.split(".")[-1] for n in linears})
        raise ValueError(
            f"target_modules={list(target_modules)} match no nn.Linear in "
            f"{type(model).__name__}; "
            f"the last name parts of its linear layers are {suffixes}"
        )
    for p in model.parameters():
        p.requires_grad_(False)
    for name in chosen:
        wrapped = LoRALinear(model.get_submodule(name), r, alpha, dropout)
        model.set_submodule(name, wrapped)  # replace the layer at its dotted path
    set_trainable(
        model,
        lambda name, _: (
            name.startswith(trainable) or name.split(".")[-1] in ("lora_A", "lora_B")
        ),
    )
    return chosen


def merge_lora(model: nn.Module) -> int:
    """Replace every LoRALinear by its merged nn.Linear; return how many were merged."""
    names = [name for name, module in model.named_modules() if isinstance(module, LoRALinear)]
    for name in names:
        model.set_submodule(name, model.get_submodule(name).merged())
    return len(names)


def set_trainable(model: nn.Module, rule) -> None:
    """requires_grad = rule(name, parameter) for every parameter."""
    for name, p in model.named_parameters():
        p.requires_grad_(bool(rule(name, p)))


def train_top_layers(model: nn.Module, k: int, head: tuple[str, ...] = ("classifier",)) -> list[int]:
    """Freeze everything except the last k encoder layers and the head; return the trained layer indices."""
    indices = sorted({int(m.group(1)) for n, _ in model.named_parameters() if (m := re.search(r"\.layer\.(\d+)\.", n))})
    if not indices:
        raise ValueError(f"{type(model).__name__} has no parameters named '*.layer.<i>.*' to choose from")
    if not 0 <= k <= len(indices):
        raise ValueError(f"k={k} layers: the model has {len(indices)} encoder layers")
    top = indices[len(indices) - k :]
    pattern = re.compile(r"\.layer\.(\d+)\.")

    def rule(name: str, _p) -> bool:
        match = pattern.search(name)
        return name.startswith(head) or (match is not None and int(match.group(1)) in top)

    set_trainable(model, rule)
    return top


def bitfit(model: nn.Module, head: tuple[str, ...] = ("classifier",)) -> int:
    """BitFit: train only the bias vectors (and the head); return the number of trainable tensors."""
    set_trainable(model, lambda name, _p: name.startswith(head) or name.endswith(".bias"))
    return sum(p.requires_grad for p in model.parameters())


def lora_state_to_peft(
    model: nn.Module, head: tuple[str, ...] = ("classifier",), adapter: str = "default"
) -> dict[str, torch.Tensor]:
    """Our trained weights under `peft`'s names (`...query.lora_A.default.weight`, the head's `modules_to_save`)."""
    state = {}
    for name, module in model.named_modules():
        if isinstance(module, LoRALinear):
            state[f"{name}.lora_A.{adapter}.weight"] = module.lora_A.detach().clone()
            state[f"{name}.lora_B.{adapter}.weight"] = module.lora_B.detach().clone()
    for name, p in model.named_parameters():
        if name.startswith(head):
            module, _, leaf = name.rpartition(".")
            state[f"{module}.modules_to_save.{adapter}.{leaf}"] = p.detach().clone()
    return state
