"""Choosing the next token: greedy, temperature, top-k, top-p (nucleus; Holtzman et al. 2020); generation
with and without the key-value cache; repetition measured as distinct n-grams."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from course_utils.gpt import GPT, KVCache


def with_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """logits / T: T < 1 sharpens the distribution, T > 1 flattens it."""
    if temperature <= 0:
        raise ValueError(f"temperature={temperature} must be > 0 (greedy is its limit T -> 0: use greedy=True)")
    return logits / temperature


def top_k(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the k largest logits of each row (ties at the k-th kept too); the rest -inf."""
    if k < 1:
        raise ValueError(f"k={k} must be at least 1")
    kth = logits.topk(min(k, logits.shape[-1]), dim=-1).values[..., -1:]  # (..., 1)
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Keep the smallest set of most likely tokens whose probabilities add up to at least p; the rest -inf."""
    if not 0 < p <= 1:
        raise ValueError(f"p={p} must be in (0, 1]")
    if p == 1:
        return logits  # every token: no rounding of a sum of probabilities may drop one
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    probs = sorted_logits.softmax(dim=-1)
    before = probs.cumsum(dim=-1) - probs  # probability of the tokens ranked above each one
    drop_sorted = before >= p  # the set already reached p without it (the top token is always kept)
    drop = drop_sorted.scatter(-1, order, drop_sorted)  # back to vocabulary order
    return logits.masked_fill(drop, float("-inf"))


@dataclass(frozen=True)
class Sampler:
    """How the next token is chosen: greedy, or a draw after temperature, top-k and top-p (in that order)."""

    greedy: bool = False
    temperature: float = 1.0
    k: int | None = None
    p: float | None = None

    def filtered(self, logits: torch.Tensor) -> torch.Tensor:
        """The logits the draw is made from."""
        logits = with_temperature(logits, self.temperature)
        if self.k is not None:
            logits = top_k(logits, self.k)
        if self.p is not None:
            logits = top_p(logits, self.p)
        return logits

    def __call__(self, logits: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """(batch, vocab) logits -> (batch, 1) chosen ids."""
        if self.greedy:
            return logits.argmax(dim=-1, keepdim=True)
        probs = self.filtered(logits.float()).softmax(dim=-1)
        return torch.multinomial(probs, 1, generator=generator)

    def label(self) -> str:
        """A short name: greedy, T=0.8, T=1 k=20 ..."""
        if self.greedy:
            return "greedy"
        parts = [f"T={self.temperature:g}"]
        parts += [f"k={self.k}"] if self.k is not None else []
        parts += [f"p={self.p:g}"] if self.p is not None else []
        return " ".join(parts)


@torch.no_grad()
def generate(
    model: GPT,
    prompt: torch.Tensor,
    new_tokens: int,
    sampler: Sampler = Sampler(greedy=True),
    cache: bool = True,
    seed: int = 0,
    stop: int | None = None,
) -> torch.Tensor:
    """prompt (batch, t) -> (batch, t + new_tokens) ids, in eval mode (no dropout).

    With the cache, each step feeds one new token; without it, each step feeds the last `context` tokens.
    `stop`: an id (end of text) after which a single sequence stops early.
    """
    if prompt.dim() != 2 or prompt.shape[1] == 0:
        raise ValueError(f"prompt must be (batch, tokens) with at least one token, got {tuple(prompt.shape)}")
    context = model.shape.context
    if cache and prompt.shape[1] + new_tokens - 1 > context:  # the last new token is never fed back
        raise ValueError(
            f"{prompt.shape[1]} prompt + {new_tokens} new tokens pass the context of {context}: the cache "
            "holds at most `context` positions (use cache=False, which keeps the last `context` tokens)"
        )
    was_training = model.training
    model.eval()
    generator = torch.Generator(device=prompt.device).manual_seed(seed)
    ids, kv = prompt, KVCache(model.shape.layers) if cache else None
    step_input = prompt
    for _ in range(new_tokens):
        logits = model(step_input, kv) if cache else model(ids[:, -context:])
        token = sampler(logits[:, -1], generator)  # (batch, 1)
        ids = torch.cat([ids, token], dim=1)
        step_input = token
        if stop is not None and ids.shape[0] == 1 and int(token) == stop:
            break
    model.train(was_training)
    return ids


def tokens_per_second(model: GPT, prompt: torch.Tensor, new_tokens: int, cache: bool, repeats: int = 1) -> float:
    """Greedy generation speed: the best of `repeats` timed runs, after one untimed warm-up run."""
    synchronize = torch.cuda.synchronize if prompt.device.type == "cuda" else (lambda: None)
    generate(model, prompt, min(new_tokens, 2), cache=cache)  # first calls pay for kernels and allocations
    best = float("inf")
    for _ in range(repeats):
        synchronize()
        start = time.perf_counter()
        generate(model, prompt, new_tokens, cache=cache)
        synchronize()  # CUDA runs asynchronously: wait for the last token before reading the clock
        best = min(best, time.perf_counter() - start)
    return new_tokens / best


def distinct_n(ids: list[int], n: int) -> float:
    """Distinct n-grams / all n-grams of a sequence: 1.0 never repeats, near 0 loops."""
    grams = [tuple(ids[i : i + n]) for i in range(len(ids) - n + 1)]
    if not grams:
        raise ValueError(f"a sequence of {len(ids)} ids has no {n}-gram")
    return len(set(grams)) / len(grams)
