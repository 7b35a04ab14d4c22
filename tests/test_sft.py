import pytest
import torch

from course_utils import bpe, chat, gpt, sft
from course_utils.config.loop import TrainConfig
from course_utils.instruct_data import Example
from course_utils.losses import IGNORE_INDEX

TEXT = "ROMEO: But soft, what light through yonder window breaks? It is the east.\n" * 20
EXAMPLE = Example("reverse", "Reverse the word king.", "gnik", False)


def tokenizer():
    fast = bpe.to_transformers(bpe.train(TEXT, 300), context=64)
    chat.add_chat_tokens(fast)
    return fast


def tiny_gpt(vocab: int, seed: int = 0) -> gpt.GPT:
    torch.manual_seed(seed)
    return gpt.GPT(gpt.DecoderShape(vocab_size=vocab, context=64, layers=1, heads=2, width=32)).eval()


def test_with_vocab_keeps_the_old_logits_and_starts_new_rows_at_the_mean():
    model = tiny_gpt(300)
    grown = sft.with_vocab(model, 303).eval()
    ids = torch.tensor([[1, 2, 3, 4]])
    assert torch.allclose(grown(ids)[..., :300], model(ids), atol=1e-6)
    assert torch.allclose(grown.tokens.weight[300], model.tokens.weight.mean(0))
    assert grown.head.weight is grown.tokens.weight  # still tied
    with pytest.raises(ValueError, match="drop token ids"):
        sft.with_vocab(model, 10)


def test_encode_shifts_and_masks_the_prompt():
    fast = tokenizer()
    row = sft.encode(fast, EXAMPLE, context=64)
    whole = chat.training_example(fast, sft.messages(EXAMPLE))
    assert row["input_ids"] == whole["input_ids"][:-1] and row["labels"] == whole["labels"][1:]
    kept = [t for t in row["labels"] if t != IGNORE_INDEX]
    assert fast.decode(kept) == "gnik" + chat.END_OF_TURN
    everything = sft.encode(fast, EXAMPLE, context=64, whole_sequence=True)
    assert everything["labels"] == whole["input_ids"][1:]
    with pytest.raises(ValueError, match="the model sees 4 at once"):
        sft.encode(fast, EXAMPLE, context=4)


def test_pad_is_right_padding_with_ignored_labels():
    batch = sft.pad([{"input_ids": [5, 6, 7], "labels": [6, 7, 8]}, {"input_ids": [5], "labels": [9]}], pad_id=0)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [5, 0, 0]]
    assert batch["labels"].tolist() == [[6, 7, 8], [9, IGNORE_INDEX, IGNORE_INDEX]]


def test_finetuning_learns_a_reply_and_generation_stops_at_end_of_turn():
    fast = tokenizer()
    model = tiny_gpt(len(fast))
    rows = [sft.encode(fast, EXAMPLE, context=64)] * 8
    loop = TrainConfig(lr=2e-2, max_steps=80, warmup_steps=0, mixed_precision=False)
    history = sft.finetune(model, rows, loop, batch_size=8, seed=0, device=torch.device("cpu"), progress=False)
    assert history.steps[-1]["loss"] < 0.05
    assert sft.reply(model, fast, EXAMPLE.instruction, max_new=10) == "gnik"
    sampled = sft.sampled_replies(model, fast, EXAMPLE.instruction, n=3, temperature=0.5, max_new=10, seed=0)
    assert sampled == ["gnik"] * 3


def test_reply_needs_room_in_the_context():
    fast = tokenizer()
    model = gpt.GPT(gpt.DecoderShape(vocab_size=len(fast), context=4, layers=1, heads=2, width=32))
    with pytest.raises(ValueError, match="no room left"):
        sft.reply(model, fast, EXAMPLE.instruction, max_new=5)


def test_batched_replies_are_the_one_at_a_time_replies():
    fast = tokenizer()
    model = tiny_gpt(len(fast), seed=3)
    examples = [Example("reverse", f"Reverse the word {w}.", "", False) for w in ("king", "east", "light", "soft")]
    texts, ended = sft.replies(model, fast, examples, max_new=6, progress=False, batch=3)
    assert texts == [sft.reply(model, fast, e.instruction, max_new=6) for e in examples]
    assert len(ended) == 4 and not any(ended)  # a random model does not end its turn
    with pytest.raises(ValueError, match="one length"):
        sft.greedy_batch(model, [[1, 2], [1]], 3, end=0)


def test_train_new_rows_leaves_the_old_rows_as_they_are():
    fast = tokenizer()
    first_new = len(fast) - 3
    model = tiny_gpt(len(fast))
    for p in model.parameters():
        p.requires_grad_(False)
    assert sft.train_new_rows(model, first_new) == 3 * model.shape.width
    before = model.tokens.weight.detach().clone()
    loop = TrainConfig(lr=1e-2, max_steps=5, warmup_steps=0, mixed_precision=False, weight_decay=0.0)
    sft.finetune(model, [sft.encode(fast, EXAMPLE, context=64)] * 4, loop, 4, 0, torch.device("cpu"), progress=False)
    assert torch.equal(model.tokens.weight[:first_new], before[:first_new])
    assert not torch.equal(model.tokens.weight[first_new:], before[first_new:])


def test_generate_with_left_padding_gives_the_batched_replies():
    fast = tokenizer()
    fast.pad_token = fast.eos_token
    model = tiny_gpt(len(fast), seed=4)
    hf = gpt.to_gpt2(model).eval()
    examples = [Example("reverse", f"Reverse the word {w}.", "", False) for w in ("king", "east", "it", "soft")]
    ours, _ = sft.replies(model, fast, examples, max_new=5, progress=False)
    theirs, _ = sft.hf_replies(hf, fast, examples, max_new=5, batch=4)  # prompts of 3 lengths in one batch
    assert theirs == ours
    fast.pad_token = chat.END_OF_TURN
    with pytest.raises(ValueError, match="pad token of its own"):
        sft.hf_replies(hf, fast, examples, max_new=5)


def test_a_transformers_decoder_grows_as_the_course_gpt_grows():
    model = tiny_gpt(300, seed=2)
    ours = gpt.to_gpt2(sft.with_vocab(model, 303)).eval()
    theirs = sft.hf_with_vocab(gpt.to_gpt2(model), 300, 303).eval()
    ids = torch.tensor([[1, 2, 300, 302]])
    with torch.no_grad():
        assert torch.allclose(ours(ids).logits, theirs(ids).logits, atol=1e-6)
    with pytest.raises(ValueError, match="must follow old ones"):
        sft.hf_with_vocab(theirs, 0, 303)


def test_the_library_lora_trains_every_linear_layer_and_the_chat_rows():
    from peft import get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    llama = LlamaForCausalLM(LlamaConfig(vocab_size=50, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=1, tie_word_embeddings=True))
    linear = {"c_attn", "c_proj", "c_fc"}, {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    models = (gpt.to_gpt2(tiny_gpt(50)), {"wte", "lm_head"}), (llama, {"embed_tokens", "lm_head"})
    for (hf, kept), layers in zip(models, linear, strict=True):
        config = sft.library_lora_config(hf, r=2, alpha=4)
        assert set(config.modules_to_save) == kept
        wrapped = get_peft_model(hf, config)
        adapted = {n.split(".lora_A")[0].rsplit(".", 1)[-1] for n, _ in wrapped.named_parameters() if "lora_A" in n}
        assert adapted == layers  # every linear layer, not the output layer (it trains as a copy)
        copies = {n.split(".modules_to_save")[0].rsplit(".", 1)[-1] for n, p in wrapped.named_parameters()
                  if p.requires_grad and "modules_to_save" in n}
        assert copies == kept


def test_a_demo_prompt_is_the_finished_exchanges_then_the_question():
    fast = tokenizer()
    assert sft.demo_prompt_ids(fast, [], "Spell sun backwards.") == sft.prompt_ids(fast, "Spell sun backwards.")
    demo = chat.training_example(fast, sft.messages(EXAMPLE))["input_ids"]  # the exchange as trained
    two = sft.demo_prompt_ids(fast, [EXAMPLE, EXAMPLE], "Spell sun backwards.")
    assert two[: 2 * len(demo)] == demo + demo
    assert two[2 * len(demo) :] == sft.prompt_ids(fast, "Spell sun backwards.")
