"""Self-checks of the chapters' exercises: one function per exercise, shared by the chapter and the solutions.

Each check calls the learner's function on its own inputs. A function whose body is still `...` returns
None: the check says so and points to the solutions page instead of failing. A wrong answer fails with an
AssertionError that says what was expected.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

SOLUTIONS = "the solutions page (notebooks/solutions.ipynb)"


def attempted(exercise: str, result: object) -> bool:
    """False, with a note, while the exercise's function still returns None."""
    if result is None:
        print(f"Exercise {exercise}: not attempted yet. Write the function above and run this cell again;")
        print(f"a solution is on {SOLUTIONS}.")
        return False
    return True


def correct(exercise: str, note: str = "") -> None:
    """The line a passed check prints."""
    print(f"Exercise {exercise}: correct" + (f" - {note}" if note else ""))


# --- chapter 02 ---------------------------------------------------------------------------------


def check_softmax_t(softmax_t: Callable) -> None:
    """02.1: softmax(z / T) tends to the one-hot argmax as T -> 0 and to uniform as T -> infinity."""
    z = torch.tensor([1.0, 3.0, 2.0])
    if not attempted("02.1", softmax_t(z, 1.0)):
        return
    assert torch.allclose(softmax_t(z, 1.0), F.softmax(z, dim=-1)), "at T = 1 it is the softmax"
    assert torch.allclose(softmax_t(z, 1e-3), torch.tensor([0.0, 1.0, 0.0]), atol=1e-6), "T -> 0: one-hot"
    assert torch.allclose(softmax_t(z, 1e6), torch.full((3,), 1 / 3), atol=1e-5), "T -> inf: uniform"
    assert torch.isfinite(softmax_t(torch.tensor([1000.0, 0.0]), 1e-3)).all(), "stable for large z / T"
    correct("02.1")


def check_unchanged_fraction(fraction: Callable, measured: float | None = None, vocab_size: int = 1000) -> None:
    """02.2: the share of all tokens scored while shown unchanged, against BERT's masking as measured."""
    if not attempted("02.2", fraction(0.15, vocab_size)):
        return
    if measured is None:  # measure it here: mask_tokens on random ids, no specials
        from course_utils.masking import mask_tokens

        generator = torch.Generator().manual_seed(0)
        ids = torch.randint(5, vocab_size, (400, 250), generator=generator)
        inputs, labels = mask_tokens(ids, torch.zeros_like(ids, dtype=torch.bool), 4, vocab_size, 0.15, generator)
        measured = ((labels != -100) & (inputs == ids)).float().mean().item()
    predicted = fraction(0.15, vocab_size)
    assert abs(measured - predicted) < 0.004, f"predicted {predicted:.4f}, measured {measured:.4f}"
    correct("02.2", f"predicted {predicted:.4f}, measured {measured:.4f}")


def check_gradient_row_sums(row_sums: Callable) -> None:
    """02.3: each row of the cross-entropy gradient sums to zero."""
    z, y = torch.randn(20, 7, dtype=torch.float64), torch.randint(0, 7, (20,))
    if not attempted("02.3", row_sums(z, y)):
        return
    assert torch.allclose(row_sums(z, y), torch.zeros(20, dtype=torch.float64), atol=1e-12), "every row sums to 0"
    correct("02.3", "softmax ignores a shift of all logits, so the gradient has no component along (1, ..., 1)")


# --- chapter 03 ---------------------------------------------------------------------------------


def check_rms_norm_backward(backward: Callable) -> None:
    """03.1: the hand-written RMSNorm backward equals autograd's."""
    from course_utils.layers import rms_norm

    x = torch.randn(5, 12, dtype=torch.float64, requires_grad=True)
    grad_out = torch.randn(5, 12, dtype=torch.float64)
    if not attempted("03.1", backward(x.detach(), grad_out)):
        return
    (expected,) = torch.autograd.grad(rms_norm(x, 12), x, grad_out)
    assert torch.allclose(backward(x.detach(), grad_out), expected, atol=1e-10), "autograd disagrees"
    correct("03.1")


def check_layernorm_counts(counts: Callable) -> None:
    """03.2: a LayerNorm's parameters (per feature) and statistics (per token)."""
    if not attempted("03.2", counts(8, 128, 768)):
        return
    parameters = sum(p.numel() for p in torch.nn.LayerNorm(768).parameters())
    assert counts(8, 128, 768) == {"parameters": parameters, "statistics": 2 * 8 * 128}
    assert counts(1, 1, 4) == {"parameters": 8, "statistics": 2}
    correct("03.2")


def check_invariance_gap(gap: Callable) -> None:
    """03.3: LayerNorm ignores a positive scale and any shift of its input, up to eps."""
    x = torch.randn(4, 64, dtype=torch.float64)
    if not attempted("03.3", gap(x, 3.0, -7.0)):
        return
    assert gap(x, 3.0, -7.0) < 1e-4 and gap(x, 0.5, 100.0) < 1e-4, "eps = 1e-5 moves it only slightly"
    assert gap(x, -1.0, 0.0) > 1, "a negative scale flips the sign: not an invariance"
    correct("03.3", "whatever scale the stream has drifted to, a LayerNorm hands on unit scale")


# --- chapter 05 ---------------------------------------------------------------------------------


def check_lora_all_linear_count(count: Callable) -> None:
    """05.1: LoRA's trainable parameters when it wraps every linear layer of a BERT encoder."""
    from transformers import BertConfig, BertModel

    from course_utils.lora import inject_lora
    from course_utils.train import count_parameters

    config = BertConfig(hidden_size=32, num_hidden_layers=3, num_attention_heads=2, intermediate_size=48)
    if not attempted("05.1", count(config.hidden_size, config.intermediate_size, config.num_hidden_layers, 4)):
        return
    torch.manual_seed(0)
    model = BertModel(config, add_pooling_layer=False)
    inject_lora(model, ("query", "key", "value", "dense"), r=4, alpha=8, trainable=())
    expected = count_parameters(model)[0]
    got = count(config.hidden_size, config.intermediate_size, config.num_hidden_layers, 4)
    assert got == expected, f"counted {got:,}; the wrapped model trains {expected:,}"
    correct("05.1")


def check_int4_absmax(int4: Callable, weight: torch.Tensor | None = None) -> None:
    """05.2: symmetric per-row int4 is within half a step, with about 18x int8's mean error."""
    from course_utils.quant import absmax_quantize, dequantize

    weight = torch.randn(256, 128, generator=torch.Generator().manual_seed(0)) if weight is None else weight
    if not attempted("05.2", int4(weight)):
        return
    step = weight.abs().amax(dim=1, keepdim=True) / 7
    assert ((int4(weight) - weight).abs() <= step / 2 + 1e-7).all(), "an error above half a step"
    assert int4(weight).unique().numel() <= 15 * weight.shape[0], "at most 15 levels per row"
    int8 = dequantize(*absmax_quantize(weight, per_channel=True))
    ratio = ((int4(weight) - weight).abs().mean() / (int8 - weight).abs().mean()).item()
    assert 10 < ratio < 25, f"int4's mean error is {ratio:.1f}x int8's; the steps differ by 127/7 = 18x"
    correct("05.2", f"int4's mean error is {ratio:.0f}x int8's (the step is 127/7 = 18x larger)")


def check_update_rank(rank: Callable, layer: torch.nn.Module | None = None) -> None:
    """05.3: a LoRA update (alpha / r) B A has rank at most r."""
    from course_utils.lora import LoRALinear

    if layer is None:  # a trained-looking layer: B no longer zero
        torch.manual_seed(0)
        layer = LoRALinear(torch.nn.Linear(48, 32), r=4, alpha=8)
        with torch.no_grad():
            layer.lora_B.normal_()
    if not attempted("05.3", rank(layer)):
        return
    found = rank(layer)
    assert found <= layer.r, f"rank {found} > r = {layer.r}"
    delta = layer.delta_weight().detach().double()  # float32 rounding: count relative to the largest
    assert found == torch.linalg.matrix_rank(delta, rtol=1e-6).item(), "count singular values above rounding"
    correct("05.3", f"a {tuple(layer.delta_weight().shape)} update of rank {found}")


# --- chapter 08 ---------------------------------------------------------------------------------


def check_sliding_window_keep(keep: Callable) -> None:
    """08.1: causal, and at most `window` keys back: query i sees keys i - window + 1 .. i."""
    if not attempted("08.1", keep(4, 2)):
        return
    for n, window in ((1, 1), (5, 2), (6, 3), (4, 10)):
        mask = torch.as_tensor(keep(n, window))
        assert mask.dtype == torch.bool and mask.shape == (n, n), f"a ({n}, {n}) bool tensor"
        assert mask.diagonal().all(), "each position attends to itself"
        assert not mask.triu(diagonal=1).any(), "no query may see a later key: that is its label"
        seen = mask.sum(dim=1).tolist()
        assert seen == [min(i + 1, window) for i in range(n)], f"row i sees min(i + 1, window) keys: {seen}"
    causal = torch.ones(4, 4, dtype=torch.bool).tril()
    assert torch.equal(torch.as_tensor(keep(4, 10)), causal), "a window past the length is plain causal"
    correct("08.1", "ones(n, n).tril() & ~ones(n, n).tril(-window): the recent past only")


def check_bits_per_char(bpc: Callable) -> None:
    """08.2: nats per token x tokens per character / ln 2."""
    if not attempted("08.2", bpc(3.6, 0.42)):
        return
    assert abs(bpc(3.6, 0.42) - 3.6 * 0.42 / math.log(2)) < 1e-9
    assert abs(bpc(1.6, 1.0) - 1.6 / math.log(2)) < 1e-9, "a character model has one token per character"
    better = "beats" if bpc(3.6, 0.42) < bpc(1.6, 1.0) else "does not beat"
    correct("08.2", f"{bpc(3.6, 0.42):.3f} against {bpc(1.6, 1.0):.3f} bits per character: it {better} it")


def check_kv_cache_bytes(size: Callable) -> None:
    """08.3: keys and values (2) x layers x tokens x kv_heads x head_dim x bytes x batch."""
    from course_utils.gpt import DecoderShape, cache_bytes

    if not attempted("08.3", size(12, 1024, 12, 64, 2, 1)):
        return
    for layers, tokens, heads, kv, d, b, batch in ((12, 1024, 12, 12, 64, 2, 1), (32, 4096, 32, 8, 128, 2, 4)):
        shape = DecoderShape(vocab_size=2, context=tokens, layers=layers, heads=heads, width=heads * d, kv_heads=kv)
        assert size(layers, tokens, kv, d, b, batch) == cache_bytes(shape, tokens, b, batch), "2 x L x T x kv x d"
    gib = size(32, 4096, 8, 128, 2, 4) / 2**30
    correct("08.3", f"GPT-2 small at 1,024 tokens in fp16: {size(12, 1024, 12, 64, 2, 1) / 2**20:.0f} MiB; a "
                    f"Llama-3-8B-like shape (8 key/value heads), 4 x 4,096 tokens: {gib:.0f} GiB")


def check_reply_labels(labels_of: Callable) -> None:
    """09.1: labels keep the reply and its end-of-turn id, -100 elsewhere (the prompt, what follows)."""
    ids, end = [5, 6, 7, 8, 9, 2, 4], 2  # a prompt of 3 ids, the reply 8 9, its end 2, a newline 4
    if not attempted("09.1", labels_of(ids, 3, end)):
        return
    assert list(labels_of(ids, 3, end)) == [-100, -100, -100, 8, 9, 2, -100], "reply + end of turn only"
    assert list(labels_of([1, 2, 3, 2], 1, 2)) == [-100, 2, -100, -100], "an empty reply is still its end"
    assert list(labels_of([2, 7, 2], 1, 2)) == [-100, 7, 2], "an end id inside the prompt is the prompt's"
    correct("09.1", "the prompt and everything after the reply's end of turn are -100")


def check_dpo_pair_loss(loss: Callable) -> None:
    """09.2: -log sigmoid(beta ((pc - rc) - (pr - rr))) for one pair."""
    if not attempted("09.2", loss(-3.0, -5.0, -4.0, -4.0, 0.1)):
        return
    for pc, pr, rc, rr, beta in ((-3.0, -5.0, -4.0, -4.0, 0.1), (-10.0, -2.0, -9.0, -2.5, 0.5)):
        margin = beta * ((pc - rc) - (pr - rr))
        assert abs(loss(pc, pr, rc, rr, beta) - math.log1p(math.exp(-margin))) < 1e-9
    assert abs(loss(-1.0, -2.0, -1.0, -2.0, 0.3) - math.log(2)) < 1e-9, "policy = reference: log 2"
    moved = loss(-3.0, -5.0, -4.0, -4.0, 0.1)
    correct("09.2", f"{moved:.4f} < log 2 = {math.log(2):.4f}: the policy already prefers the chosen reply")


def check_left_pad(pad: Callable) -> None:
    """09.3: left padding for batched generation: pads first, a mask of 0 over them."""
    if not attempted("09.3", pad([[1, 2, 3], [4]], 0)):
        return
    ids, mask = pad([[1, 2, 3], [4]], 0)
    assert [list(r) for r in ids] == [[1, 2, 3], [0, 0, 4]], "every prompt ends at the last position"
    assert [list(r) for r in mask] == [[1, 1, 1], [0, 0, 1]], "the mask hides the pads"
    correct("09.3", "each prompt's last token sits at the last position: the next token follows it directly")


# --- chapter 10 ---------------------------------------------------------------------------------


def check_adapter_count(count: Callable) -> None:
    """10.1: numbers a bottleneck adapter setup trains in an encoder (adapters only, no head)."""
    if not attempted("10.1", count(384, 32, 6, "houlsby")):
        return
    each = 2 * 384 * 32 + 384 + 32
    assert count(384, 32, 6, "pfeiffer") == 6 * each, "Pfeiffer: one adapter per layer, 2dm + d + m numbers"
    assert count(384, 32, 6, "houlsby") == 12 * each, "Houlsby: two per layer (after attention and the MLP)"
    assert count(768, 64, 12, "houlsby") == 24 * (2 * 768 * 64 + 768 + 64)
    correct("10.1", f"{12 * each:,} numbers for Houlsby at d=384, m=32, 6 layers: under 1% of a 22M encoder")


def check_induction_predict(predict: Callable) -> None:
    """10.2: an induction head's rule by hand: after [A][B] ... [A], predict [B]; None where A is new."""
    if not attempted("10.2", predict([5, 6, 7, 5])):
        return
    assert list(predict([5, 6, 7, 5])) == [None, None, None, 6], "the 5 at the end was followed by 6 before"
    assert list(predict([1, 2, 1, 3, 1])) == [None, None, 2, None, 3], "use the most recent occurrence"
    assert list(predict([4, 4, 4])) == [None, 4, 4], "a token after itself: predict itself"
    assert list(predict([])) == []
    correct("10.2", "on a repeated random sequence this rule gets every token of the second copy right")
