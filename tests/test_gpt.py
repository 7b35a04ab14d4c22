"""The from-scratch GPT against transformers' GPT-2 and Llama, its mask, cache and parameter formula."""

import pytest
import torch
from transformers import LlamaForCausalLM

from course_utils import gpt

SMALL = gpt.DecoderShape(vocab_size=97, context=24, layers=2, heads=4, width=32)


def model_of(shape: gpt.DecoderShape, seed: int = 0) -> gpt.GPT:
    torch.manual_seed(seed)
    return gpt.GPT(shape).eval()


def ids_for(shape: gpt.DecoderShape, batch: int = 2, length: int | None = None) -> torch.Tensor:
    return torch.randint(
        0, shape.vocab_size, (batch, length or shape.context), generator=torch.Generator().manual_seed(1)
    )


@pytest.mark.parametrize(("gelu", "bias"), [("tanh", True), ("exact", True), ("exact", False)])
def test_equal_to_transformers_gpt2(gelu, bias):
    shape = gpt.DecoderShape(**{**SMALL.__dict__, "gelu": gelu, "bias": bias})
    model, ids = gpt.randomize_vectors(model_of(shape)), ids_for(shape)  # biases and gains seen
    hf = gpt.to_gpt2(model).eval()  # without biases: GPT-2 with zero biases, the same function
    with torch.no_grad():
        assert (model(ids) - hf(ids).logits).abs().max() <= 1e-5
        back = gpt.from_gpt2(hf)
        assert torch.allclose(back(ids), model(ids), atol=1e-6)


def test_equal_at_gpt2_small_shape():
    shape = gpt.DecoderShape(vocab_size=50257, context=1024, layers=12, heads=12, width=768)
    model, ids = gpt.randomize_vectors(model_of(shape)), ids_for(shape, 1, 32)
    hf = gpt.to_gpt2(model).eval()
    with torch.no_grad():
        assert (model(ids) - hf(ids).logits).abs().max() <= 1e-4
    assert gpt.parameter_count(shape) == 124_439_808  # GPT-2 small, tied output layer


@pytest.mark.parametrize("kv_heads", [None, 2, 1])
def test_equal_to_transformers_llama(kv_heads):
    shape = gpt.llama_style(SMALL, kv_heads=kv_heads)
    model, ids = gpt.randomize_vectors(model_of(shape)), ids_for(shape)
    hf = LlamaForCausalLM(gpt.llama_config(shape)).eval()
    assert not hf.load_state_dict(gpt.to_llama_state(model), strict=False).missing_keys
    with torch.no_grad():
        assert (model(ids) - hf(ids).logits).abs().max() <= 1e-5


@pytest.mark.parametrize(
    "shape",
    [
        SMALL,
        gpt.llama_style(SMALL, kv_heads=2),
        gpt.DecoderShape(vocab_size=65, context=64, layers=4, heads=4, width=128, bias=False, tie=False),
        gpt.DecoderShape(**{**SMALL.__dict__, "smeared_keys": True, "position": "rope"}),
    ],
)
def test_parameter_formula(shape):
    assert gpt.parameter_count(shape) == sum(p.numel() for p in model_of(shape).parameters())


def test_teaching_attention_equals_the_fused_kernel():
    model, ids = model_of(SMALL), ids_for(SMALL)
    with torch.no_grad():
        fused = model(ids)
        assert torch.allclose(model.use_fused_attention(False)(ids), fused, atol=1e-6)


@pytest.mark.parametrize("shape", [SMALL, gpt.llama_style(SMALL, kv_heads=2)])
def test_the_future_changes_nothing_before_it(shape):
    model, ids = model_of(shape), ids_for(shape)
    changed = ids.clone()
    changed[:, 10:] = (changed[:, 10:] + 1) % shape.vocab_size
    with torch.no_grad():
        assert torch.allclose(model(ids)[:, :10], model(changed)[:, :10], atol=1e-6)
        assert not torch.allclose(model(ids)[:, 10:], model(changed)[:, 10:])


@pytest.mark.parametrize("shape", [SMALL, gpt.llama_style(SMALL, kv_heads=2)])
def test_cache_gives_the_uncached_logits(shape):
    model, ids = model_of(shape), ids_for(shape)
    cache = gpt.KVCache(shape.layers)
    with torch.no_grad():
        steps = [model(ids[:, :5], cache)] + [model(ids[:, t : t + 1], cache) for t in range(5, shape.context)]
        assert (torch.cat(steps, dim=1) - model(ids)).abs().max() <= 1e-5
    assert cache.nbytes() == gpt.cache_bytes(shape, shape.context, 4, batch=2)


def test_smeared_keys_mix_each_key_with_the_one_before():
    k = torch.arange(2 * 3 * 2, dtype=torch.float).view(1, 2, 3, 2)  # (batch, kv_heads, seq, d)
    alpha = torch.tensor([0.0, 100.0])  # head 0: half and half; head 1: its own key only
    smeared = gpt.smear_keys(k, alpha)
    assert torch.equal(smeared[0, 1], k[0, 1])
    assert torch.equal(smeared[0, 0, 0], k[0, 0, 0])  # the first position has no previous key
    assert torch.allclose(smeared[0, 0, 1:], (k[0, 0, 1:] + k[0, 0, :-1]) / 2)
    assert torch.allclose(gpt.smear_keys(k, torch.full((2,), -100.0))[0, :, 1:], k[0, :, :-1])


def test_keys_are_smeared_before_the_rotary_turn():
    shape = gpt.DecoderShape(**{**SMALL.__dict__, "position": "rope", "smeared_keys": True})
    model, x = gpt.randomize_vectors(model_of(shape)), torch.randn(2, 8, SMALL.width)
    attn = model.blocks[0].attn
    rope = gpt.rope_cos_sin(torch.arange(8), shape.head_dim, shape.rope_base)
    with torch.no_grad():
        _, k = attn.queries_keys(x, rope)
        raw = attn.split(attn.key(x), SMALL.heads)
        assert torch.allclose(k, gpt.apply_rope(gpt.smear_keys(raw, attn.smear), *rope), atol=1e-6)
        assert not torch.allclose(k, gpt.smear_keys(gpt.apply_rope(raw, *rope), attn.smear), atol=1e-3)


def test_a_smeared_model_with_keys_kept_is_the_plain_model():
    plain_shape = gpt.DecoderShape(**{**SMALL.__dict__, "position": "rope"})
    smeared_shape = gpt.DecoderShape(**{**plain_shape.__dict__, "smeared_keys": True})
    plain, smeared, ids = model_of(plain_shape), gpt.GPT(smeared_shape).eval(), ids_for(SMALL)
    with torch.no_grad():
        for block in plain.blocks:  # sharp attention, so that which key is read shows
            block.attn.query.weight.mul_(20)
    missing = smeared.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert missing == [f"blocks.{i}.attn.smear" for i in range(SMALL.layers)]
    with torch.no_grad():
        for block in smeared.blocks:
            block.attn.smear.fill_(100.0)  # sigmoid: 1, all of each key its own
        assert torch.allclose(smeared(ids), plain(ids), atol=1e-6)
        for block in smeared.blocks:
            block.attn.smear.fill_(0.0)
        changed = ids.clone()
        changed[:, 10:] = (changed[:, 10:] + 1) % SMALL.vocab_size
        assert torch.allclose(smeared(ids)[:, :10], smeared(changed)[:, :10], atol=1e-6)  # still causal
        assert not torch.allclose(smeared(ids), plain(ids), atol=1e-3)
        with pytest.raises(ValueError, match="without a KV cache"):
            smeared(ids[:, :4], gpt.KVCache(SMALL.layers))
    with pytest.raises(ValueError, match="plain keys"):
        gpt.gpt2_config(gpt.DecoderShape(**{**SMALL.__dict__, "smeared_keys": True}))


def test_causal_keep():
    assert gpt.causal_keep(2, 4).tolist() == [[True, True, True, False], [True, True, True, True]]


def test_clear_errors():
    model = model_of(SMALL)
    with pytest.raises(ValueError, match="past the context"):
        model(ids_for(SMALL, 1, SMALL.context + 1))
    with pytest.raises(ValueError, match="multiple of heads"):
        gpt.DecoderShape(vocab_size=10, context=4, layers=1, heads=3, width=32)
    with pytest.raises(ValueError, match="GPT-2's block only"):
        gpt.gpt2_config(gpt.llama_style(SMALL))
    with pytest.raises(ValueError, match="Llama-style"):
        gpt.llama_config(SMALL)


def test_lm_loss_skips_ignored_labels():
    model, ids = model_of(SMALL), ids_for(SMALL)
    labels = ids.clone()
    labels[:, :5] = -100
    full = torch.nn.functional.cross_entropy(model(ids)[:, 5:].flatten(0, 1), ids[:, 5:].flatten())
    assert torch.allclose(gpt.lm_loss(model, {"input_ids": ids, "labels": labels}), full)


@pytest.mark.parametrize("shape", [SMALL, gpt.llama_style(SMALL)])
def test_initialisation_is_gpt2s(shape):
    model = gpt.GPT(shape)
    for name, p in model.named_parameters():
        if p.dim() == 1:  # norms' gains 1, every bias 0
            expected = 1.0 if name.endswith(".weight") else 0.0
            assert torch.all(p == expected), name
    residual = model.blocks[0].attn.out.weight.std().item()
    assert abs(residual - 0.02 / (2 * shape.layers) ** 0.5) < 0.005


def test_randomized_vectors_make_a_misplaced_norm_visible():
    shape = gpt.llama_style(SMALL)
    model, ids = gpt.randomize_vectors(model_of(shape)), ids_for(shape)
    state = gpt.to_llama_state(model)
    for i in range(shape.layers):  # the two norms of each layer swapped
        a, b = f"model.layers.{i}.input_layernorm.weight", f"model.layers.{i}.post_attention_layernorm.weight"
        state[a], state[b] = state[b], state[a]
    hf = LlamaForCausalLM(gpt.llama_config(shape)).eval()
    hf.load_state_dict(state, strict=False)
    with torch.no_grad():
        assert (model(ids) - hf(ids).logits).abs().max() > 1e-3
    assert all(p.abs().max() > 0 for n, p in model.named_parameters() if p.dim() == 1 and "norm" not in n)
