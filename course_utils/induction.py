"""Chapter 10: in-context learning from the inside (Olsson et al., 2022): induction heads in the course's GPT.

An induction head looks back for the previous occurrence of the current token and attends to the token that
followed it, so a model with one can continue a sequence it has seen once in its context. On a random
sequence repeated twice, the second copy becomes predictable: its loss falls far below the first copy's. A
head's **prefix-matching score** is the attention it pays, in the second copy, to the position just after
the current token's first occurrence. Ablating a head (zeroing its output) shows what the score depends on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F

from course_utils.attention import scaled_dot_product_attention
from course_utils.gpt import GPT, causal_keep, repeat_kv


def repeated_random_tokens(vocab_size: int, length: int, batch: int, seed: int = 0) -> torch.Tensor:
    """(batch, 2 * length) ids: `length` uniformly random tokens, then the same tokens again."""
    if length < 2 or batch < 1:
        raise ValueError(f"length={length}, batch={batch}: a repeat needs at least 2 tokens and 1 row")
    first = torch.randint(vocab_size, (batch, length), generator=torch.Generator().manual_seed(seed))
    return torch.cat([first, first], dim=1)


def read_twice(ids: torch.Tensor, stretch: int) -> torch.Tensor:
    """(n,) ids -> (2 m,) with every stretch of `stretch` ids followed by itself; the tail shorter than a
    stretch is dropped (m = n rounded down to whole stretches)."""
    if stretch < 1 or len(ids) < stretch:
        raise ValueError(f"stretch={stretch}: it must be at least 1 and at most the {len(ids)} ids")
    whole = len(ids) // stretch * stretch
    return ids[:whole].reshape(-1, stretch).repeat_interleave(2, dim=0).flatten()  # (2 * whole,)


def read_twice_varied(ids: torch.Tensor, shortest: int, longest: int, seed: int = 0) -> torch.Tensor:
    """(n,) ids -> (2 m,) with stretches of shortest..longest ids (uniform, seeded), each followed by itself:
    no fixed distance back finds the earlier reading, only the tokens themselves. The tail is dropped."""
    if not 1 <= shortest <= longest <= len(ids):
        raise ValueError(f"shortest={shortest}, longest={longest}: need 1 <= shortest <= longest <= {len(ids)} ids")
    lengths = torch.randint(shortest, longest + 1, (len(ids) // shortest + 1,),
                            generator=torch.Generator().manual_seed(seed))
    ends = lengths.cumsum(0)
    lengths = lengths[ends <= len(ids)]  # whole stretches only
    pieces = ids[: int(lengths.sum())].split(lengths.tolist())
    return torch.cat([piece for piece in pieces for _ in range(2)])  # (2 m,)


@torch.no_grad()
def token_losses(model: GPT, ids: torch.Tensor) -> torch.Tensor:
    """(batch, seq - 1): the cross-entropy of predicting each next token."""
    logits = model(ids)[:, :-1]  # (batch, seq - 1, vocab)
    return F.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")


def repeat_gap(model: GPT, ids: torch.Tensor) -> float:
    """Mean loss on the first copy minus the second (the positions an induction head can predict)."""
    length = ids.shape[1] // 2
    losses = token_losses(model, ids)  # target t is ids[:, t + 1]
    first = losses[:, : length - 1]  # targets 1 .. length - 1
    second = losses[:, length:]  # targets length + 1 .. 2 length - 1: after a token seen before
    return float(first.mean() - second.mean())


@torch.no_grad()
def attention_probs(model: GPT, ids: torch.Tensor) -> list[torch.Tensor]:
    """Each layer's attention probabilities, (batch, heads, seq, seq), recomputed from its queries and keys."""
    found: list[torch.Tensor] = []

    def capture(attn, args):
        x, rope = args[0], args[1] if len(args) > 1 else None
        s = attn.shape
        q, k = attn.queries_keys(x, rope)  # the model's own, smeared keys included
        k = repeat_kv(k, s.heads // s.key_value_heads)
        keep = causal_keep(q.shape[2], k.shape[2], x.device)
        _, weights = scaled_dot_product_attention(q, k, k, keep)  # chapter 03's; only the weights
        found.append(weights)  # (batch, heads, seq, seq)

    hooks = [block.attn.register_forward_pre_hook(capture) for block in model.blocks]
    try:
        model(ids)
    finally:
        for hook in hooks:
            hook.remove()
    return found


def prefix_matching(probs: torch.Tensor, length: int) -> torch.Tensor:
    """(batch, heads, 2L, 2L) probabilities on a repeated sequence -> (heads,): the mean attention from each
    second-copy position i to i - length + 1, the token after the current token's first occurrence."""
    queries = torch.arange(length, 2 * length - 1)
    return probs[:, :, queries, queries - length + 1].mean(dim=(0, 2))


def prefix_matching_scores(model: GPT, ids: torch.Tensor) -> torch.Tensor:
    """(layers, heads): every head's prefix-matching score on the repeated sequences `ids`."""
    length = ids.shape[1] // 2
    return torch.stack([prefix_matching(p, length) for p in attention_probs(model, ids)])


def matched_heads(top: list[tuple[int, int]], heads: int, draws: int, seed: int = 0) -> list[list[tuple[int, int]]]:
    """Controls for knocking out `top`: up to `draws` distinct sets, each with, for every top head, another
    head of the same layer drawn at random (no top head, no head twice). Fewer when a layer has few others."""
    taken = set(top)
    for layer in {layer for layer, _ in top}:
        need, free = sum(1 for x in top if x[0] == layer), heads - sum(1 for x in taken if x[0] == layer)
        if free < need:
            raise ValueError(f"layer {layer} has {free} heads besides the top ones, fewer than the {need} to match")
    pick = torch.Generator().manual_seed(seed)
    found: list[list[tuple[int, int]]] = []
    for _ in range(draws):
        chosen: list[tuple[int, int]] = []
        for layer, _ in top:
            pool = [(layer, h) for h in range(heads) if (layer, h) not in taken and (layer, h) not in chosen]
            chosen.append(pool[int(torch.randint(len(pool), (1,), generator=pick))])
        if sorted(chosen) not in found:
            found.append(sorted(chosen))
    return found


@contextlib.contextmanager
def ablated(model: GPT, heads: list[tuple[int, int]]) -> Iterator[GPT]:
    """Inside the block, the (layer, head) pairs in `heads` write nothing (their part of the output
    projection's input is zeroed)."""
    d = model.shape.head_dim
    by_layer: dict[int, list[int]] = {}
    for layer, head in heads:
        if not (0 <= layer < model.shape.layers and 0 <= head < model.shape.heads):
            raise ValueError(f"no head {head} in layer {layer}: the model has {model.shape.layers} layers of "
                             f"{model.shape.heads} heads")
        by_layer.setdefault(layer, []).append(head)

    def silence(chosen):
        def hook(module, args):
            context = args[0].clone()  # (batch, seq, heads * d)
            for h in chosen:
                context[..., h * d : (h + 1) * d] = 0
            return (context,)

        return hook

    hooks = [model.blocks[layer].attn.out.register_forward_pre_hook(silence(chosen))
             for layer, chosen in by_layer.items()]
    try:
        yield model
    finally:
        for hook in hooks:
            hook.remove()
