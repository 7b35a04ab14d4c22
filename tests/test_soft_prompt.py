import pytest
import torch

from course_utils import gpt
from course_utils.soft_prompt import SoftPrompt


def tiny_gpt(seed: int = 0) -> gpt.GPT:
    torch.manual_seed(seed)
    shape = gpt.DecoderShape(vocab_size=60, context=32, layers=2, heads=2, width=16)
    return gpt.randomize_vectors(gpt.GPT(shape)).eval()


def test_a_prompt_of_real_token_embeddings_is_that_prompt_typed():
    model = tiny_gpt()
    prompt, ids = [5, 6, 7], torch.tensor([[1, 2, 3, 4]])
    soft = SoftPrompt(model, init_ids=prompt)
    typed = model(torch.cat([torch.tensor([prompt]), ids], dim=1))[:, len(prompt):]
    assert torch.allclose(soft(ids), typed, atol=1e-6)
    assert [n for n, p in soft.named_parameters() if p.requires_grad] == ["prompt"]


def test_the_same_virtual_tokens_give_peft_prompt_tuning_logits():
    from peft import PromptTuningConfig, get_peft_model

    model = tiny_gpt(1)
    soft = SoftPrompt(model, n=4, seed=3)
    hf = get_peft_model(gpt.to_gpt2(model).eval(), PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=4))
    with torch.no_grad():
        hf.prompt_encoder["default"].embedding.weight.copy_(soft.prompt)
    ids = torch.tensor([[1, 2, 3, 4, 5], [9, 8, 7, 6, 5]])
    theirs = hf(input_ids=ids).logits[:, -ids.shape[1]:]  # peft returns the virtual positions' too
    assert torch.allclose(soft(ids), theirs, atol=1e-5)


def test_only_the_prompt_learns():
    model = tiny_gpt()
    soft = SoftPrompt(model, n=3)
    before = {n: p.clone() for n, p in model.named_parameters()}
    loss = soft(torch.tensor([[1, 2, 3]])).logsumexp(-1).mean()
    loss.backward()
    torch.optim.SGD([soft.prompt], lr=0.1).step()
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters())
    assert soft.prompt.grad is not None and soft.prompt.grad.abs().sum() > 0


def test_bad_input_is_named():
    model = tiny_gpt()
    with pytest.raises(ValueError, match="needs a virtual token"):
        SoftPrompt(model)
    with pytest.raises(ValueError, match="n=2 but 3 init_ids"):
        SoftPrompt(model, n=2, init_ids=[1, 2, 3])
    with pytest.raises(ValueError, match="past the context"):
        SoftPrompt(model, n=30)(torch.zeros(1, 5, dtype=torch.long))
    cache = gpt.KVCache(model.shape.layers)
    model(torch.tensor([[1]]), cache)
    with pytest.raises(ValueError, match="before the first token"):
        model(torch.tensor([[2]]), cache, prefix=torch.zeros(2, 16))


def test_a_prefix_then_cached_steps_give_the_whole_pass():
    model, prefix, ids = tiny_gpt(2), torch.randn(3, 16) * 0.1, torch.tensor([[4, 5, 6, 7]])
    whole = model(ids, prefix=prefix)
    cache = gpt.KVCache(model.shape.layers)
    first = model(ids[:, :2], cache, prefix=prefix)
    rest = model(ids[:, 2:], cache)
    assert torch.allclose(torch.cat([first, rest], dim=1), whole, atol=1e-5)


def test_a_tagger_prompt_of_real_token_embeddings_is_those_tokens_typed_after_cls():
    from tiny_models import tiny_tagger

    from course_utils.soft_prompt import PromptedTagger

    model = tiny_tagger()[0].eval()
    ids = torch.tensor([[2, 10, 11, 12, 3], [2, 13, 3, 0, 0]])
    mask = (ids != 0).long()
    prompted = PromptedTagger(model, init_ids=[20, 21, 22]).eval()
    with torch.no_grad():
        got = prompted(ids, mask).logits
        typed_ids = torch.cat([ids[:, :1], torch.tensor([[20, 21, 22]] * 2), ids[:, 1:]], dim=1)
        typed_mask = torch.cat([mask[:, :1], torch.ones(2, 3, dtype=torch.long), mask[:, 1:]], dim=1)
        typed = model(input_ids=typed_ids, attention_mask=typed_mask).logits
    keep = [0, 4, 5, 6, 7]  # [CLS] and the real tokens
    assert got.shape == (2, 5, model.config.num_labels)
    assert torch.allclose(got[mask.bool()], typed[:, keep][mask.bool()], atol=1e-5)
    trainable = sorted(n for n, p in prompted.named_parameters() if p.requires_grad)
    assert trainable == ["model.classifier.bias", "model.classifier.weight", "prompt"]
    labels = torch.tensor([[-100, 1, 0, 0, -100], [-100, 2, -100, -100, -100]])
    assert prompted(ids, mask, labels=labels).loss.item() > 0
    with pytest.raises(ValueError, match="needs a virtual token"):
        PromptedTagger(tiny_tagger()[0], n=0)


def test_greedy_replies_through_a_soft_prompt_use_the_cache_as_one_long_pass():
    from course_utils import sft

    model = tiny_gpt(2)
    soft = SoftPrompt(model, init_ids=[5, 6, 7])
    assert soft.shape.context == model.shape.context - 3
    prompt = [1, 2, 3, 4]
    (fast,), _ = sft.greedy_batch(soft, [prompt], max_new=6, end=59)
    typed, slow = [5, 6, 7, *prompt], []
    for _ in range(6):  # the same, one uncached pass per token over the typed prompt
        nxt = int(model(torch.tensor([typed + slow]))[0, -1].argmax())
        if nxt == 59:
            break
        slow.append(nxt)
    assert fast == slow
