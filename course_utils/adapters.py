"""Chapter 10: bottleneck adapters from scratch (Houlsby et al., 2019; Pfeiffer et al., 2021's placement).

An adapter is a small residual MLP, h + up(act(down(h))), put after a frozen sub-layer's output projection.
Its up-projection starts at zero, so the adapted model starts as the frozen one, exactly; only the adapters
(and whatever else is named trainable, such as a new head) train. Houlsby puts one after the attention
output and one after the feed-forward output of every layer; Pfeiffer keeps only the feed-forward one.
"""

from __future__ import annotations

from torch import nn

PLACEMENTS = {  # where the adapters go in a BERT layer: the output projection of each sub-layer
    "houlsby": ("attention.output.dense", "output.dense"),
    "pfeiffer": ("output.dense",),
}


class Adapter(nn.Module):
    """h -> h + up(gelu(down(h))): a bottleneck of `size` numbers with a residual path (zero-initialised up)."""

    def __init__(self, width: int, size: int) -> None:
        super().__init__()
        if size <= 0 or width <= 0:
            raise ValueError(f"an adapter needs a positive width and bottleneck size, got {width} and {size}")
        self.down = nn.Linear(width, size)  # (.., width) -> (.., size)
        self.act = nn.GELU()
        self.up = nn.Linear(size, width)  # (.., size) -> (.., width)
        nn.init.zeros_(self.up.weight)  # the adapter starts as the identity
        nn.init.zeros_(self.up.bias)

    def forward(self, h):  # (..., width) -> (..., width)
        return h + self.up(self.act(self.down(h)))


class Adapted(nn.Module):
    """A frozen projection followed by an adapter: adapter(proj(x))."""

    def __init__(self, proj: nn.Linear, size: int) -> None:
        super().__init__()
        self.proj = proj
        self.adapter = Adapter(proj.out_features, size).to(device=proj.weight.device, dtype=proj.weight.dtype)

    def forward(self, x):  # (..., in) -> (..., out)
        return self.adapter(self.proj(x))


def adapter_parameters(width: int, size: int) -> int:
    """Numbers in one adapter: down (width x size + size) and up (size x width + width)."""
    return 2 * width * size + width + size


def inject_adapters(
    model: nn.Module,
    size: int,
    placement: str = "houlsby",
    trainable: tuple[str, ...] = ("classifier",),
) -> int:
    """Freeze `model`; put an adapter after each projection `placement` names in
    every encoder layer; keep modules named `trainable*` trainable. Returns how
    many adapters went in."""
    if placement not in PLACEMENTS:
        raise ValueError(f"placement={placement!r}: one of {', '.join(PLACEMENTS)}")
    for p in model.parameters():
        p.requires_grad_(False)
    ends = tuple(f".{suffix}" for suffix in PLACEMENTS[placement])
    targets = [
        name
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and ".layer." in f".{name}"
        and name.endswith(ends)
        and not (placement == "pfeiffer" and name.endswith("attention.output.dense"))
    ]  # fmt: skip
    if not targets:
        raise ValueError("no encoder layer (encoder.layer.N...): a BERT-style model?")
    for name in targets:
        model.set_submodule(name, Adapted(model.get_submodule(name), size))
    for name, p in model.named_parameters():
        if ".adapter." in name or name.startswith(trainable):
            p.requires_grad_(True)
    return len(targets)
