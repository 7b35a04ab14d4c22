"""The masked-LM loss at masked positions only, its evaluation and split by corruption, pretraining, fill-mask."""

import math
from dataclasses import replace

import pytest
import torch
from tiny_models import ordinary_ids, tiny_masked_lm, tiny_wordpiece

from course_utils import baselines, masking, mlm, mlm_data
from course_utils.config import MLM


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_wordpiece()


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


def test_evaluate_weights_batches_by_masked_tokens(tokenizer):
    model = tiny_masked_lm(len(tokenizer))
    ids = ordinary_ids(tokenizer)
    blocks = list(mlm_data.chunk_token_stream(ids, 12, tokenizer.cls_token_id, tokenizer.sep_token_id))
    batches = [masking.MLMCollator(tokenizer, 0.3, seed=s)(blocks[i : i + 3]) for s, i in enumerate(range(0, 9, 3))]
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


def test_loss_by_corruption_splits_the_evaluation_loss(tokenizer):
    model = tiny_masked_lm(len(tokenizer))
    ids = ordinary_ids(tokenizer)
    blocks = list(mlm_data.chunk_token_stream(ids, 12, tokenizer.cls_token_id, tokenizer.sep_token_id))
    batches = [masking.MLMCollator(tokenizer, 0.5, seed=s)(blocks[i : i + 3]) for s, i in enumerate(range(0, 9, 3))]
    log_probs = baselines.unigram_log_probs(ids, len(tokenizer))
    parts = mlm.loss_by_corruption(model, batches, tokenizer.mask_token_id, log_probs)
    whole = mlm.evaluate_mlm(model, batches)
    assert set(parts) == set(masking.CORRUPTIONS) and all(parts[k]["count"] > 0 for k in masking.CORRUPTIONS)
    assert sum(p["count"] for p in parts.values()) == whole["masked_tokens"]
    mean = sum(p["count"] * p["loss"] for p in parts.values()) / whole["masked_tokens"]
    assert mean == pytest.approx(whole["loss"], rel=1e-5)
    targets = torch.cat([b["labels"].flatten() for b in batches])
    unigram_ppl = baselines.unigram_perplexity(log_probs, targets)
    total_gain = sum(p["gain"] for p in parts.values())
    assert math.exp(total_gain) == pytest.approx(whole["perplexity"] / unigram_ppl, rel=1e-5)
    empty = [{**batches[0], "labels": torch.full_like(batches[0]["labels"], -100)}]
    with pytest.raises(ValueError, match="no masked token"):
        mlm.loss_by_corruption(model, empty, tokenizer.mask_token_id, log_probs)


def test_fill_mask_returns_top_k_per_mask(tokenizer):
    model = tiny_masked_lm(len(tokenizer))
    out = mlm.fill_mask(model, tokenizer, "to [MASK] or not to [MASK]", top_k=3)
    assert len(out) == 2 and all(len(row) == 3 for row in out)
    assert all(0 <= p <= 1 for row in out for _, p in row)
    with pytest.raises(ValueError, match="no \\[MASK\\]"):
        mlm.fill_mask(model, tokenizer, "no mask here")


def test_masked_only_loss_equals_the_full_loss(tokenizer):
    torch.manual_seed(0)
    model = tiny_masked_lm(len(tokenizer)).eval()
    ids = ordinary_ids(tokenizer)
    blocks = list(mlm_data.chunk_token_stream(ids, 12, tokenizer.cls_token_id, tokenizer.sep_token_id))
    batch = masking.MLMCollator(tokenizer, 0.3, seed=0)(blocks)
    full = mlm.mlm_loss(model(input_ids=batch["input_ids"]).logits, batch["labels"])
    assert torch.allclose(mlm.masked_only_loss(model, batch), full, atol=1e-5)
    nothing = {**batch, "labels": torch.full_like(batch["labels"], -100)}
    assert mlm.masked_only_loss(model, nothing).item() == 0.0


def test_pretrain_runs_the_configs_steps_on_masked_blocks():
    lines = [f"line number {i} of the play" for i in range(200)]
    data = mlm_data.prepare_mlm_data(lines, vocab_size=80, block_size=10)
    cfg = replace(MLM.pick("smoke"), max_steps=6, eval_every=3, warmup_steps=1, batch_size=8)
    torch.manual_seed(0)
    held = mlm_data.held_out_batches(data, 8)
    history = mlm.pretrain(tiny_masked_lm(len(data.tokenizer)), data, cfg, lambda m: mlm.evaluate_mlm(m, held), False)
    assert [s["step"] for s in history.steps] == list(range(1, 7)) and [e["step"] for e in history.evals] == [3, 6]
