"""Why did the tagger say PER? Integrated gradients over the input embeddings, and attention beside them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

METHODS = (
    "left",
    "right",
    "middle",
    "trapezoid",
    "gausslegendre",
)  # how the path integral is summed


def path_points(
    steps: int, method: str = "trapezoid"
) -> tuple[torch.Tensor, torch.Tensor]:
    """(alphas, weights) of a quadrature rule on [0, 1]: sum_k w_k f(alpha_k) ~ the integral of f."""
    if steps < 2:
        raise ValueError(f"steps must be at least 2, got {steps}")
    if method not in METHODS:
        raise ValueError(f"method {method!r} is not one of {METHODS}")
    if (
        method == "gausslegendre"
    ):  # Captum's default: exact for polynomials of degree < 2 * steps
        import numpy as np

        nodes, weights = np.polynomial.legendre.leggauss(steps)  # on [-1, 1]
        return torch.from_numpy((nodes + 1) / 2), torch.from_numpy(weights / 2)
    if method == "trapezoid":
        alphas = torch.linspace(0, 1, steps, dtype=torch.float64)
        weights = torch.full((steps,), 1 / (steps - 1), dtype=torch.float64)
        weights[[0, -1]] /= 2
        return alphas, weights
    offset = {"left": 0.0, "right": 1.0, "middle": 0.5}[method]
    alphas = (torch.arange(steps, dtype=torch.float64) + offset) / steps
    return alphas, torch.full((steps,), 1 / steps, dtype=torch.float64)


def integrated_gradients(
    f: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    baseline: torch.Tensor,
    steps: int = 50,
    method: str = "trapezoid",
    batch: int = 16,
) -> torch.Tensor:
    """(x - x') * integral_0^1 grad f(x' + a (x - x')) da, per entry of x; f maps a batch of inputs to scalars."""
    if x.shape != baseline.shape:
        raise ValueError(
            f"x {tuple(x.shape)} and baseline {tuple(baseline.shape)} must have one shape"
        )
    alphas, weights = path_points(steps, method)
    total = torch.zeros_like(x, dtype=torch.float64)
    for start in range(0, steps, batch):
        a = (
            alphas[start : start + batch].to(x.dtype).view(-1, *[1] * x.dim())
        )  # (b, 1, ...)
        points = (
            (baseline + a * (x - baseline)).detach().requires_grad_(True)
        )  # (b, *x.shape)
        (grads,) = torch.autograd.grad(f(points).sum(), points)
        w = weights[start : start + batch].view(-1, *[1] * x.dim())
        total += (w * grads.double()).sum(0)
    return (x - baseline).double() * total


@dataclass
class TokenTarget:
    """What to explain: the score of `label` at sub-token `position` of one tokenized sentence."""

    encoded: dict  # the tokenizer's output for one sentence (batch of 1)
    position: int
    label: int
    predicted: bool = True  # False: the model predicted no entity, this is its likeliest start


def label_score(model, target: TokenTarget) -> Callable[[torch.Tensor], torch.Tensor]:
    """F(embeddings) -> the target label's logit at the target, for a batch."""
    extra = {k: v for k, v in target.encoded.items() if k != "input_ids"}

    def f(embeddings: torch.Tensor) -> torch.Tensor:  # (b, seq, dim) -> (b,)
        n = embeddings.shape[0]
        inputs = {k: v.expand(n, -1) for k, v in extra.items()}
        logits = model(inputs_embeds=embeddings, **inputs).logits  # (b, seq, labels)
        return logits[:, target.position, target.label]

    return f


def embed(model, input_ids: torch.Tensor) -> torch.Tensor:
    """The word embeddings of the ids, (1, seq, dim): the input integrated gradients attributes to."""
    return model.get_input_embeddings()(input_ids)


def pad_baseline(
    model, input_ids: torch.Tensor, pad_id: int, keep: tuple[int, ...]
) -> torch.Tensor:
    """The baseline x': every token made [PAD] except those in `keep` ([CLS], [SEP])"""
    ids = torch.where(
        torch.isin(input_ids, torch.tensor(keep)),
        input_ids,
        torch.full_like(input_ids, pad_id),
    )
    return embed(model, ids)


def token_attributions(attributions: torch.Tensor) -> torch.Tensor:
    """(seq,): one number per sub-token, the sum over its embedding's coordinates."""
    return attributions.sum(-1).squeeze(0)


def spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    """Rank correlation of two 1-d tensors (no ties expected in float scores)."""
    if a.shape != b.shape or a.dim() != 1 or len(a) < 2:
        raise ValueError(
            f"spearman needs two 1-d tensors of one length >= 2, got {tuple(a.shape)}, {tuple(b.shape)}"
        )
    ra, rb = a.argsort().argsort().double(), b.argsort().argsort().double()
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return float((ra * rb).sum() / (ra.norm() * rb.norm()))


@torch.no_grad()
def attention_from(
    model, encoded: dict, position: int, layer: int = -1
) -> torch.Tensor:
    """(seq,): how much the token at `position` attends to each token (mean of heads)"""
    previous = model.config._attn_implementation
    model.set_attn_implementation("eager")  # the fused kernels never form the weights
    try:
        out = model(**encoded, output_attentions=True)
    finally:
        model.set_attn_implementation(previous)
    return out.attentions[layer][0, :, position].mean(0)  # (heads, seq) -> (seq,)


def top_share(scores: torch.Tensor, mask: torch.Tensor) -> float:
    """The share of |scores| that falls where `mask` is True."""
    total = scores.abs().sum()
    return float(scores.abs()[mask].sum() / total) if total > 0 else 0.0


def highlight_html(
    tokens: list[str], scores: list[float], target: int | None = None
) -> str:
    """Sub-tokens as HTML, red where the score is positive and blue where negative, shaded by size."""
    import html

    top = max((abs(s) for s in scores), default=0.0) or 1.0
    spans = []
    for i, (token, s) in enumerate(zip(tokens, scores, strict=True)):
        rgb = "220,50,47" if s > 0 else "38,139,210"
        border = "border-bottom:2px solid #000;" if i == target else ""
        spans.append(
            f'<span style="background:rgba({rgb},{abs(s) / top:.2f});{border}padding:1px 2px;'
            f'margin:1px;border-radius:3px" title="{s:+.3f}">{html.escape(token)}</span>'
        )
    return (
        '<div style="line-height:2;font-family:monospace">' + "".join(spans) + "</div>"
    )


def encode_words(tokenizer, words: list[str]) -> dict:
    """One sentence's model inputs (batch of 1), with chapter 04's casing token types for an uncased encoder."""
    from course_utils.ner_data import casing_type_ids, lowercases

    encoded = tokenizer(
        words, is_split_into_words=True, truncation=True, return_tensors="pt"
    )
    if lowercases(tokenizer):
        word_ids = [-1 if w is None else w for w in encoded.word_ids(0)]
        encoded["token_type_ids"] = torch.tensor([casing_type_ids(words, word_ids)])
    return dict(encoded)


@torch.no_grad()
def entity_targets(
    model, tokenizer, sentences: list[list[str]], limit: int
) -> list[TokenTarget]:
    """The first sub-token of the first predicted entity (a B- label) of each sentence, up to `limit` of them.

    Only a word's first sub-token carries its label (chapter 04 trains only those), so only those are targets.
    A model that predicts no entity anywhere (an untrained one) gets each sentence's most probable B- start.
    """
    device = next(model.parameters()).device
    model.eval()
    begins = [i for i, label in model.config.id2label.items() if label.startswith("B-")]
    found, likeliest = [], []
    for words in sentences:
        encoded = {k: v.to(device) for k, v in encode_words(tokenizer, words).items()}
        word_ids = tokenizer(
            words, is_split_into_words=True, truncation=True
        ).word_ids()
        firsts = [
            i
            for i, w in enumerate(word_ids)
            if w is not None and (i == 0 or word_ids[i - 1] != w)
        ]
        logits = model(**encoded).logits[0]  # (seq, labels)
        labels = logits.argmax(-1)
        starts = [
            i for i in firsts if model.config.id2label[int(labels[i])].startswith("B-")
        ]
        if starts:
            found.append(TokenTarget(encoded, starts[0], int(labels[starts[0]])))
        elif firsts and len(likeliest) < limit:
            scores = logits[firsts][:, begins]  # (words, B- labels)
            word, label = divmod(int(scores.argmax()), len(begins))
            likeliest.append(TokenTarget(encoded, firsts[word], int(begins[label]), predicted=False))
        if len(found) == limit:
            break
    return found or likeliest
