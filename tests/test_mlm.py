import math
from dataclasses import replace

import pytest
import torch
from transformers import BertConfig, BertForMaskedLM, DataCollatorForLanguageModeling

from course_utils import mlm
from course_utils.config import LAYERNORM, MLM
from course_utils.resources import verified_data_file

LINES = ["To be, or not to be, that is the question:", "Whether 'tis nobler in the mind to suffer"] * 20


@pytest.fixture(scope="module")
def tokenizer():
    return mlm.train_wordpiece(LINES, vocab_size=120)


def test_read_corpus_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.txt does not exist"):
        mlm.read_corpus(tmp_path / "missing.txt")
    (tmp_path / "empty.txt").write_text("\n  \n")
    with pytest.raises(ValueError, match="empty.txt is empty"):
        mlm.read_corpus(tmp_path / "empty.txt")
    (tmp_path / "ok.txt").write_text("a\n\n b \n")
    assert mlm.read_corpus(tmp_path / "ok.txt") == ["a", "b"]


def test_wordpiece_tokenizer_has_bert_specials_and_round_trips(tokenizer):
    assert tokenizer.all_special_tokens[:1] and tokenizer.mask_token == "[MASK]"
    ids = tokenizer("to be or not")["input_ids"]
    assert ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id
    assert tokenizer.decode(ids, skip_special_tokens=True) == "to be or not"


VOCABULARY_OF_A_FRESH_PROCESS = """
import hashlib, json, sys
from course_utils import mlm
from course_utils.resources import verified_data_file
lines = [line for line in verified_data_file("text").read_text().splitlines() if line.strip()][:5000]
vocab = mlm.train_wordpiece(lines, vocab_size=600).get_vocab()
print(hashlib.sha256(json.dumps(sorted(vocab.items())).encode()).hexdigest())
"""


def test_wordpiece_vocabulary_is_the_same_in_every_process():
    """tokenizers numbers its ##pieces in hash-map order; train_wordpiece must not depend on it."""
    import subprocess
    import sys

    runs = {
        subprocess.run(
            [sys.executable, "-c", VOCABULARY_OF_A_FRESH_PROCESS], capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(3)
    }
    assert len(runs) == 1, "the same lines gave different vocabularies (ids included) in different processes"


def test_wordpiece_pieces_are_ordinary_tokens(tokenizer):
    assert "##e" in tokenizer.get_vocab() and "##e" not in tokenizer.all_special_tokens
    assert tokenizer.convert_ids_to_tokens(tokenizer("nobler")["input_ids"])[1:-1]


def test_chunks_are_framed_by_cls_and_sep():
    blocks = mlm.chunk_token_stream(list(range(10, 30)), block_size=6, cls_id=2, sep_id=3)
    assert blocks.shape == (5, 6) and (blocks[:, 0] == 2).all() and (blocks[:, -1] == 3).all()
    assert blocks[0, 1:5].tolist() == [10, 11, 12, 13]
    with pytest.raises(ValueError, match="fewer than one block"):
        mlm.chunk_token_stream([1, 2], block_size=6, cls_id=2, sep_id=3)
    with pytest.raises(ValueError, match="block_size must be at least 3"):
        mlm.chunk_token_stream([1, 2], block_size=2, cls_id=2, sep_id=3)


def some_ids(tokenizer, n=100):
    return [5 + i % (len(tokenizer) - 5) for i in range(n)]  # ordinary (non-special) tokens


def test_masking_matches_bert_and_the_transformers_collator_statistically(tokenizer):
    torch.manual_seed(0)
    original = torch.randint(5, len(tokenizer), (400, 128))  # no special tokens inside
    special = torch.zeros_like(original, dtype=torch.bool)
    inputs, labels = mlm.mask_tokens(original, special, tokenizer.mask_token_id, len(tokenizer), 0.15)
    ours = mlm.masking_statistics(inputs, labels, original, tokenizer.mask_token_id)
    hf = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15)
    batch = hf([{"input_ids": row} for row in original.tolist()])
    theirs = mlm.masking_statistics(batch["input_ids"], batch["labels"], original, tokenizer.mask_token_id)
    # expected: 15% selected; of those 80% [MASK], 10% random + 10% kept (a random draw can hit the same id)
    expected = {"selected": 0.15 * original.numel(), "mask": 0.8, "unchanged": 0.1 + 0.1 / len(tokenizer)}
    n_selected = expected["selected"]
    assert ours["selected"] == pytest.approx(n_selected, abs=4 * math.sqrt(n_selected))  # ~ Poisson count
    assert theirs["selected"] == pytest.approx(n_selected, abs=4 * math.sqrt(n_selected))
    for key in ("mask", "unchanged"):
        tolerance = 4 * math.sqrt(expected[key] * (1 - expected[key]) / n_selected)  # four binomial std errors
        assert ours[key] == pytest.approx(expected[key], abs=tolerance), key
        assert theirs[key] == pytest.approx(expected[key], abs=tolerance), key
    with pytest.raises(ValueError, match="no position was selected"):
        mlm.masking_statistics(inputs, torch.full_like(labels, -100), original, tokenizer.mask_token_id)


def test_special_tokens_are_never_selected(tokenizer):
    ids = torch.tensor([[tokenizer.cls_token_id] + [7] * 30 + [tokenizer.sep_token_id]] * 50)
    special = torch.isin(ids, torch.tensor(tokenizer.all_special_ids))
    _, labels = mlm.mask_tokens(ids, special, tokenizer.mask_token_id, len(tokenizer), 0.5)
    assert (labels[:, 0] == -100).all() and (labels[:, -1] == -100).all()
    with pytest.raises(ValueError, match="mlm_probability"):
        mlm.mask_tokens(ids, special, 4, 100, 1.5)
    with pytest.raises(ValueError, match="special_mask"):
        mlm.mask_tokens(ids, special[:, :3], 4, 100)


def test_collator_is_reproducible_with_a_seed(tokenizer):
    blocks = list(mlm.chunk_token_stream(some_ids(tokenizer), 12, tokenizer.cls_token_id, tokenizer.sep_token_id))
    a, b = mlm.MLMCollator(tokenizer, seed=3)(blocks), mlm.MLMCollator(tokenizer, seed=3)(blocks)
    assert torch.equal(a["labels"], b["labels"]) and torch.equal(a["input_ids"], b["input_ids"])


def test_mlm_loss_counts_masked_positions_only():
    logits = torch.randn(2, 4, 10)
    labels = torch.full((2, 4), -100)
    labels[0, 1], labels[1, 3] = 3, 7
    expected = (-(logits[0, 1].log_softmax(-1)[3]) - logits[1, 3].log_softmax(-1)[7]) / 2
    assert torch.allclose(mlm.mlm_loss(logits, labels), expected)


def test_mlm_loss_with_nothing_masked_is_zero_and_differentiable():
    logits = torch.randn(2, 4, 10, requires_grad=True)
    loss = mlm.mlm_loss(logits, torch.full((2, 4), -100))
    loss.backward()
    assert loss.item() == 0.0 and torch.equal(logits.grad, torch.zeros_like(logits))
    assert torch.isnan(torch.nn.functional.cross_entropy(logits.view(-1, 10), torch.full((8,), -100)))


def tiny_model(vocab_size):
    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
    )
    return BertForMaskedLM(config)


def test_parameter_formula_matches_the_model():
    model = tiny_model(100)
    breakdown = mlm.parameter_breakdown(model)
    assert breakdown == mlm.parameter_formula(model.config)
    assert sum(breakdown.values()) == sum(p.numel() for p in model.parameters())


def test_evaluate_weights_batches_by_masked_tokens(tokenizer):
    model = tiny_model(len(tokenizer))
    blocks = list(mlm.chunk_token_stream(some_ids(tokenizer), 12, tokenizer.cls_token_id, tokenizer.sep_token_id))
    batches = [mlm.MLMCollator(tokenizer, 0.3, seed=s)(blocks[i : i + 3]) for s, i in enumerate(range(0, 9, 3))]
    result = mlm.evaluate_mlm(model, batches)
    model.eval()  # no dropout in the reference either
    by_token = torch.cat(
        [
            torch.nn.functional.cross_entropy(
                model(input_ids=b["input_ids"]).logits.flatten(0, 1), b["labels"].flatten(), reduction="none"
            )[b["labels"].flatten() != -100]
            for b in batches
        ]
    )
    assert result["loss"] == pytest.approx(by_token.mean().item(), rel=1e-5)
    assert result["perplexity"] == pytest.approx(math.exp(result["loss"]))
    empty = [{**batches[0], "labels": torch.full_like(batches[0]["labels"], -100)}]
    with pytest.raises(ValueError, match="no masked token"):
        mlm.evaluate_mlm(model, empty)


def test_corruption_kind_tells_mask_random_and_kept_apart():
    inputs = torch.tensor([[9, 4, 7, 5, 6]])  # 9 is [MASK]
    labels = torch.tensor([[3, 4, 2, -100, -100]])  # scored: masked, kept (4 == 4), randomised (7 != 2)
    assert mlm.corruption_kind(inputs, labels, mask_token_id=9).tolist() == [[0, 2, 1, -1, -1]]


def test_loss_by_corruption_splits_the_evaluation_loss(tokenizer):
    model = tiny_model(len(tokenizer))
    blocks = list(mlm.chunk_token_stream(some_ids(tokenizer), 12, tokenizer.cls_token_id, tokenizer.sep_token_id))
    batches = [mlm.MLMCollator(tokenizer, 0.5, seed=s)(blocks[i : i + 3]) for s, i in enumerate(range(0, 9, 3))]
    log_probs = mlm.unigram_log_probs(some_ids(tokenizer), len(tokenizer))
    parts = mlm.loss_by_corruption(model, batches, tokenizer.mask_token_id, log_probs)
    whole = mlm.evaluate_mlm(model, batches)
    assert set(parts) == set(mlm.CORRUPTIONS) and all(parts[k]["count"] > 0 for k in mlm.CORRUPTIONS)
    assert sum(p["count"] for p in parts.values()) == whole["masked_tokens"]
    mean = sum(p["count"] * p["loss"] for p in parts.values()) / whole["masked_tokens"]
    assert mean == pytest.approx(whole["loss"], rel=1e-5)
    targets = torch.cat([b["labels"].flatten() for b in batches])
    unigram_ppl = mlm.unigram_perplexity(log_probs, targets)
    total_gain = sum(p["gain"] for p in parts.values())
    assert math.exp(total_gain) == pytest.approx(whole["perplexity"] / unigram_ppl, rel=1e-5)
    empty = [{**batches[0], "labels": torch.full_like(batches[0]["labels"], -100)}]
    with pytest.raises(ValueError, match="no masked token"):
        mlm.loss_by_corruption(model, empty, tokenizer.mask_token_id, log_probs)


def test_unigram_baseline():
    log_probs = mlm.unigram_log_probs([1, 1, 1, 2], vocab_size=4)  # add-one: counts 1, 4, 2, 1
    assert torch.allclose(log_probs.exp(), torch.tensor([1, 4, 2, 1], dtype=torch.float64) / 8)
    assert mlm.unigram_perplexity(log_probs, torch.tensor([1, -100, 1])) == pytest.approx(2.0)


def test_output_bias_init_makes_the_untrained_model_a_unigram_model():
    torch.manual_seed(0)
    model = tiny_model(20).eval()
    log_probs = mlm.unigram_log_probs([1] * 50 + [2] * 20 + [3] * 5, vocab_size=20)
    mlm.init_output_bias(model, log_probs)
    probs = model(input_ids=torch.tensor([[0, 5, 6, 7]])).logits.softmax(-1)  # (1, 4, vocab)
    assert (probs.argmax(-1) == 1).all()  # the most frequent token everywhere
    unigram = log_probs.exp().float()
    kl = (unigram * (unigram.log() - probs.log())).sum(-1)  # KL(unigram || model), per position
    assert (kl < 0.05).all()  # the random weights only add small noise (from uniform it would be 1.3 nats)
    with pytest.raises(ValueError, match="one tokenizer"):
        mlm.init_output_bias(model, log_probs[:10])


def test_bigram_counts():
    counts = mlm.bigram_counts([0, 1, 2, 0, 1], vocab_size=3)
    assert torch.equal(counts, torch.tensor([[0.0, 2, 0], [0, 0, 1], [1, 0, 0]]))
    with pytest.raises(ValueError, match="in \\[0, 3\\)"):
        mlm.bigram_counts([0, 3], vocab_size=3)


def test_neighbour_model_reads_both_sides_and_falls_back_to_the_unigram():
    stream = [0, 1, 2, 0, 3, 4] * 20  # 1 and 3 both follow 0; only 1 is followed by 2
    log_probs = mlm.unigram_log_probs(stream, vocab_size=6)
    counts = mlm.bigram_counts(stream, vocab_size=6)
    scores = mlm.neighbour_log_probs(counts, log_probs, torch.tensor([0, 0, 5]), torch.tensor([2, 4, 5]))
    assert torch.allclose(scores.exp().sum(-1), torch.ones(3))
    assert scores[0].argmax() == 1 and scores[1].argmax() == 3  # the right neighbour decides between 1 and 3
    assert scores[0, 1].exp() > 0.9
    # token 5 never occurs: no counts on either side, so the prediction is the unigram
    assert torch.allclose(scores[2], log_probs.float(), atol=1e-5)
    with pytest.raises(ValueError, match="smoothing must be > 0"):
        mlm.neighbour_log_probs(counts, log_probs, torch.tensor([0]), torch.tensor([2]), smoothing=0.0)
    with pytest.raises(ValueError, match="one tokenizer"):
        mlm.neighbour_log_probs(counts, log_probs[:5], torch.tensor([0]), torch.tensor([2]))


def test_neighbour_model_at_masks_scores_the_mask_positions(tokenizer):
    ids = tokenizer(" ".join(LINES), add_special_tokens=False)["input_ids"]
    blocks = mlm.chunk_token_stream(ids, 12, tokenizer.cls_token_id, tokenizer.sep_token_id)
    batches = [mlm.MLMCollator(tokenizer, 0.3, seed=0)(list(blocks))]
    log_probs = mlm.unigram_log_probs(ids, len(tokenizer))
    counts = mlm.bigram_counts(ids, len(tokenizer))
    result = mlm.neighbour_model_at_masks(batches, counts, log_probs, tokenizer.mask_token_id)
    kind = mlm.corruption_kind(batches[0]["input_ids"], batches[0]["labels"], tokenizer.mask_token_id)
    assert result["count"] == int((kind == 0).sum()) > 0
    targets = batches[0]["labels"][kind == 0]
    assert result["unigram_loss"] == pytest.approx(-float(log_probs[targets].mean()))
    assert result["ratio"] == pytest.approx(math.exp(result["loss"] - result["unigram_loss"]))
    assert result["ratio"] < 0.5  # a two-line text repeated: the neighbours nearly give the word away
    nothing = [{k: v[:, :1] for k, v in batches[0].items()}]  # only [CLS] columns: no [MASK]
    with pytest.raises(ValueError, match="no \\[MASK\\] position"):
        mlm.neighbour_model_at_masks(nothing, counts, log_probs, tokenizer.mask_token_id)


def test_sinusoidal_positions_follow_the_formula():
    table = mlm.sinusoidal_positions(16, 8, base=100.0)  # (positions, dim)
    assert table.shape == (16, 8)
    p, i = 5, 1  # the second frequency pair: columns 2 (sin) and 3 (cos)
    angle = p / 100.0 ** (2 * i / 8)
    assert table[p, 2] == pytest.approx(math.sin(angle)) and table[p, 3] == pytest.approx(math.cos(angle))
    assert torch.equal(table[0, 0::2], torch.zeros(4)) and torch.equal(table[0, 1::2], torch.ones(4))
    omega = mlm.sinusoidal_frequencies(8, base=100.0)  # 100^(-0/8), 100^(-2/8), 100^(-4/8), 100^(-6/8)
    assert torch.allclose(omega, torch.tensor([1.0, 0.1**0.5, 0.1, 0.1**1.5], dtype=torch.float64))
    for bad in [dict(num_positions=4, dim=7), dict(num_positions=0, dim=8), dict(num_positions=4, dim=8, base=1.0)]:
        with pytest.raises(ValueError, match="even dim|num_positions must be > 0"):
            mlm.sinusoidal_positions(**bad)


def test_one_linear_map_moves_every_sinusoidal_position_to_its_neighbour():
    table = mlm.sinusoidal_positions(64, 16, base=100.0).double()  # (positions, dim)
    shift, *_ = torch.linalg.lstsq(table[:-1], table[1:])  # (dim, dim): solve table[p] @ shift = table[p + 1]
    assert torch.allclose(table[:-1] @ shift, table[1:], atol=1e-6)
    noise = torch.randn(64, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)  # random positions
    shift, *_ = torch.linalg.lstsq(noise[:-1], noise[1:])
    assert not torch.allclose(noise[:-1] @ shift, noise[1:], atol=1e-1)


def test_init_sinusoidal_positions_sets_a_trainable_table():
    model = tiny_model(20)
    mlm.init_sinusoidal_positions(model, scale=0.1, base=100.0)
    weight = model.bert.embeddings.position_embeddings.weight  # (positions, hidden)
    assert torch.equal(weight, 0.1 * mlm.sinusoidal_positions(*weight.shape, base=100.0))
    assert weight.requires_grad
    with pytest.raises(ValueError, match="scale must be > 0"):
        mlm.init_sinusoidal_positions(model, scale=0.0)
    with pytest.raises(ValueError, match="Linear has no learned position table"):
        mlm.init_sinusoidal_positions(torch.nn.Linear(2, 2), scale=0.1)


def test_fill_mask_returns_top_k_per_mask(tokenizer):
    model = tiny_model(len(tokenizer))
    out = mlm.fill_mask(model, tokenizer, "to [MASK] or not to [MASK]", top_k=3)
    assert len(out) == 2 and all(len(row) == 3 for row in out)
    assert all(0 <= p <= 1 for row in out for _, p in row)
    with pytest.raises(ValueError, match="no \\[MASK\\]"):
        mlm.fill_mask(model, tokenizer, "no mask here")


def test_masked_only_loss_equals_the_full_loss(tokenizer):
    torch.manual_seed(0)
    model = tiny_model(len(tokenizer)).eval()
    blocks = list(mlm.chunk_token_stream(some_ids(tokenizer), 12, tokenizer.cls_token_id, tokenizer.sep_token_id))
    batch = mlm.MLMCollator(tokenizer, 0.3, seed=0)(blocks)
    full = mlm.mlm_loss(model(input_ids=batch["input_ids"]).logits, batch["labels"])
    assert torch.allclose(mlm.masked_only_loss(model, batch), full, atol=1e-5)
    nothing = {**batch, "labels": torch.full_like(batch["labels"], -100)}
    assert mlm.masked_only_loss(model, nothing).item() == 0.0


def test_prepare_mlm_data_splits_without_overlap_and_fixes_eval_masks():
    lines = [f"line number {i} of the play" for i in range(200)]
    data = mlm.prepare_mlm_data(lines, vocab_size=80, block_size=10, held_fraction=0.1)
    assert data.train_blocks.shape[1] == data.held_blocks.shape[1] == 10
    assert len(data.train_ids) > 8 * len(data.held_ids)
    first, again = mlm.held_out_batches(data, 4, seed=1), mlm.held_out_batches(data, 4, seed=1)
    assert all(torch.equal(a["labels"], b["labels"]) for a, b in zip(first, again, strict=True))
    with pytest.raises(ValueError, match="held_fraction"):
        mlm.prepare_mlm_data(lines, 80, 10, held_fraction=1.0)


def test_load_mlm_data_reads_the_configs_corpus_sizes():
    cfg = MLM.pick("smoke")
    data = mlm.load_mlm_data(cfg)
    assert data.num_lines == cfg.corpus_lines and len(data.tokenizer) <= cfg.vocab_size
    lines = mlm.read_corpus(verified_data_file("text"))[: cfg.corpus_lines]
    assert data.held_lines == lines[int(0.9 * len(lines)) :]
    assert data.train_blocks.shape[1] == cfg.block_size
    assert mlm.load_mlm_data(LAYERNORM.pick("smoke")).num_lines == LAYERNORM.pick("smoke").corpus_lines


def test_pretrain_runs_the_configs_steps_on_masked_blocks():
    lines = [f"line number {i} of the play" for i in range(200)]
    data = mlm.prepare_mlm_data(lines, vocab_size=80, block_size=10)
    cfg = replace(MLM.pick("smoke"), max_steps=6, eval_every=3, warmup_steps=1, batch_size=8)
    torch.manual_seed(0)
    held = mlm.held_out_batches(data, 8)
    history = mlm.pretrain(tiny_model(len(data.tokenizer)), data, cfg, lambda m: mlm.evaluate_mlm(m, held), False)
    assert [s["step"] for s in history.steps] == list(range(1, 7)) and [e["step"] for e in history.evals] == [3, 6]


def test_load_mlm_data_refuses_a_corpus_too_small_to_split():
    with pytest.raises(ValueError, match="MLMConfig.corpus_lines=0: must be at least 1"):
        mlm.load_mlm_data(replace(MLM.pick("smoke"), corpus_lines=0))
