import pytest
import torch

from course_utils import gpt, induction


def tiny_gpt(llama: bool = False, seed: int = 0) -> gpt.GPT:
    torch.manual_seed(seed)
    shape = gpt.DecoderShape(vocab_size=40, context=32, layers=2, heads=4, width=16)
    if llama:
        shape = gpt.llama_style(shape, kv_heads=2)
    return gpt.randomize_vectors(gpt.GPT(shape)).eval()


def attention_calls(model: gpt.GPT, ids: torch.Tensor) -> tuple[list, list]:
    """Each attention module's inputs and output in one forward pass."""
    inputs, outputs = [], []
    hooks = [b.attn.register_forward_pre_hook(lambda m, a: inputs.append(a)) for b in model.blocks]
    hooks += [b.attn.register_forward_hook(lambda m, a, out: outputs.append(out)) for b in model.blocks]
    with torch.no_grad():
        model(ids)
    for h in hooks:
        h.remove()
    return inputs, outputs


def test_the_recomputed_probabilities_rebuild_each_attention_output():
    for llama in (False, True):
        model = tiny_gpt(llama)
        ids = induction.repeated_random_tokens(40, 6, batch=2, seed=1)
        probs = induction.attention_probs(model, ids)
        inputs, outputs = attention_calls(model, ids)
        for attn, p, args, out in zip((b.attn for b in model.blocks), probs, inputs, outputs, strict=True):
            s = attn.shape
            v = gpt.repeat_kv(attn.split(attn.value(args[0]), s.key_value_heads), s.heads // s.key_value_heads)
            rebuilt = attn.out((p @ v).transpose(1, 2).flatten(2))
            assert torch.allclose(rebuilt, out, atol=1e-5)
            assert torch.allclose(p.sum(-1), torch.ones(()), atol=1e-6)
            assert torch.all(p.triu(1) == 0)  # causal


def test_prefix_matching_reads_the_position_after_the_first_occurrence():
    length = 4
    probs = torch.zeros(1, 2, 8, 8)
    for i in range(length, 2 * length - 1):
        probs[0, 0, i, i - length + 1] = 1.0  # head 0: a perfect induction head
        probs[0, 1, i, i] = 1.0  # head 1: looks at itself
    assert induction.prefix_matching(probs, length).tolist() == [1.0, 0.0]


def test_repeat_gap_and_the_scores_shapes():
    model = tiny_gpt()
    ids = induction.repeated_random_tokens(40, 8, batch=3)
    assert torch.equal(ids[:, :8], ids[:, 8:])
    assert induction.token_losses(model, ids).shape == (3, 15)
    assert isinstance(induction.repeat_gap(model, ids), float)
    scores = induction.prefix_matching_scores(model, ids)
    assert scores.shape == (2, 4) and bool(((scores >= 0) & (scores <= 1)).all())


def test_ablating_a_head_is_zeroing_its_columns_of_the_output_projection():
    model = tiny_gpt()
    ids = induction.repeated_random_tokens(40, 5, batch=2)
    with torch.no_grad(), induction.ablated(model, [(1, 2), (0, 0)]):
        ablated = model(ids)
    d = model.shape.head_dim
    with torch.no_grad():
        model.blocks[1].attn.out.weight[:, 2 * d : 3 * d] = 0
        model.blocks[0].attn.out.weight[:, 0:d] = 0
        assert torch.allclose(ablated, model(ids), atol=1e-6)
    with pytest.raises(ValueError, match="no head 9 in layer 0"):
        with induction.ablated(model, [(0, 9)]):
            pass
    with pytest.raises(ValueError, match="length=1"):
        induction.repeated_random_tokens(40, 1, 1)


def test_read_twice_repeats_every_stretch_and_drops_the_tail():
    ids = torch.arange(7)
    assert induction.read_twice(ids, 3).tolist() == [0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5]
    assert induction.read_twice(ids, 7).tolist() == list(range(7)) * 2
    with pytest.raises(ValueError, match="stretch=8"):
        induction.read_twice(ids, 8)


def test_read_twice_varied_repeats_stretches_of_every_length_in_its_range():
    ids = torch.arange(1000)
    twice = induction.read_twice_varied(ids, 3, 6, seed=0)
    seen, i, lengths = [], 0, []
    while i < len(twice):  # walk the stretches back: each is followed by itself
        n = next(n for n in range(3, 7) if torch.equal(twice[i : i + n], twice[i + n : i + 2 * n]))
        seen.append(twice[i : i + n])
        lengths.append(n)
        i += 2 * n
    assert torch.equal(torch.cat(seen), ids[: len(torch.cat(seen))])  # in order, none dropped but the tail
    assert set(lengths) == {3, 4, 5, 6} and len(ids) - len(torch.cat(seen)) < 6
    assert torch.equal(induction.read_twice_varied(ids, 3, 6, seed=0), twice)  # seeded
    assert induction.read_twice_varied(ids, 5, 5).tolist() == induction.read_twice(ids, 5).tolist()
    with pytest.raises(ValueError, match="shortest=7, longest=6"):
        induction.read_twice_varied(ids, 7, 6)


def test_the_recomputed_probabilities_follow_smeared_keys():
    torch.manual_seed(0)
    shape = gpt.DecoderShape(vocab_size=40, context=32, layers=2, heads=4, width=16, position="rope",
                             smeared_keys=True)
    model = gpt.randomize_vectors(gpt.GPT(shape)).eval()  # every smear share away from a half
    ids = induction.repeated_random_tokens(40, 6, batch=2, seed=1)
    probs = induction.attention_probs(model, ids)
    inputs, outputs = attention_calls(model, ids)
    for attn, p, args, out in zip((b.attn for b in model.blocks), probs, inputs, outputs, strict=True):
        v = attn.split(attn.value(args[0]), 4)
        assert torch.allclose(attn.out((p @ v).transpose(1, 2).flatten(2)), out, atol=1e-5)


def test_matched_heads_draw_other_heads_of_the_same_layers():
    top = [(1, 2), (1, 0), (0, 3)]
    draws = induction.matched_heads(top, heads=4, draws=20, seed=0)
    assert 1 < len(draws) <= 2 * 2 * 3  # distinct only, at most every combination
    assert len({tuple(d) for d in draws}) == len(draws)
    for d in draws:
        assert sorted(layer for layer, _ in d) == [0, 1, 1]
        assert not set(d) & set(top) and len(set(d)) == len(d)
    assert induction.matched_heads(top, 4, 20, seed=0) == draws  # seeded
    assert induction.matched_heads([(0, 0), (0, 1)], heads=4, draws=5) == [[(0, 2), (0, 3)]]
    with pytest.raises(ValueError, match="layer 0 has 1 heads"):
        induction.matched_heads([(0, 0), (0, 1), (0, 2)], heads=4, draws=1)
