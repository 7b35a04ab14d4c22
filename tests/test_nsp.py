import pytest
import torch
from transformers import BertConfig, BertForPreTraining

from course_utils import losses, mlm, mlm_data, nsp
from course_utils.config import MLM

LINES = ["To be, or not to be, that is the question:", "Whether 'tis nobler in the mind to suffer"] * 20


@pytest.fixture(scope="module")
def tokenizer():
    return mlm_data.train_wordpiece(LINES, vocab_size=120)


def tiny_model(tokenizer, positions: int = 32) -> BertForPreTraining:
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=positions,
    )
    return BertForPreTraining(config)


def test_segments_are_consecutive_and_short_streams_are_named():
    segments = nsp.cut_segments(list(range(23)), 5)
    assert segments.shape == (4, 5) and segments[1].tolist() == [5, 6, 7, 8, 9]
    with pytest.raises(ValueError, match="at least 3"):
        nsp.cut_segments(list(range(10)), 5)
    with pytest.raises(ValueError, match="at least 1 token"):
        nsp.cut_segments(list(range(10)), 0)


@pytest.mark.parametrize("task", nsp.TASKS)
def test_pairs_are_half_true_and_false_ones_are_what_the_task_says(task):
    segments = torch.arange(400).view(100, 4)  # segment i holds 4i .. 4i + 3
    firsts = torch.arange(99).repeat(20)
    a, b, label = nsp.draw_pairs(segments, firsts, task, torch.Generator().manual_seed(0))
    assert abs(label.double().mean().item() - 0.5) < 0.05
    true = label == 1
    assert (a[true, 0] == 4 * firsts[true]).all() and (b[true, 0] == a[true, 0] + 4).all()
    false = ~true
    if task == "nsp":  # a kept, b anything but its successor
        assert (a[false, 0] == 4 * firsts[false]).all() and (b[false, 0] != a[false, 0] + 4).all()
    else:  # the same two segments, swapped
        assert (b[false, 0] == 4 * firsts[false]).all() and (a[false, 0] == b[false, 0] + 4).all()


def test_bad_task_and_indices_are_named():
    segments = torch.arange(40).view(10, 4)
    with pytest.raises(ValueError, match="task must be one of"):
        nsp.draw_pairs(segments, torch.tensor([0]), "order")
    with pytest.raises(ValueError, match="i \\+ 1 must exist"):
        nsp.draw_pairs(segments, torch.tensor([9]), "nsp")


def test_pair_inputs_frame_and_type_the_segments():
    input_ids, types = nsp.pair_inputs(torch.tensor([[7, 8]]), torch.tensor([[9, 10, 11]]), cls_id=2, sep_id=3)
    assert input_ids.tolist() == [[2, 7, 8, 3, 9, 10, 11, 3]]
    assert types.tolist() == [[0, 0, 0, 0, 1, 1, 1, 1]]


def test_collator_masks_only_text_and_keeps_pair_labels(tokenizer):
    ids = tokenizer(" ".join(LINES), add_special_tokens=False)["input_ids"]
    segments = nsp.cut_segments(ids, 6)
    batch = nsp.PairCollator(tokenizer, segments, "nsp", 0.5, seed=0)(list(range(8)))
    assert batch["input_ids"].shape == (8, 15) and batch["pair_labels"].shape == (8,)
    assert (batch["input_ids"][:, 0] == tokenizer.cls_token_id).all()
    assert (batch["labels"][:, [0, 7, 14]] == losses.IGNORE_INDEX).all()  # [CLS] and both [SEP]s
    again = nsp.PairCollator(tokenizer, segments, "nsp", 0.5, seed=0)(list(range(8)))
    assert all(torch.equal(batch[k], again[k]) for k in batch)


def test_pair_loss_is_mlm_plus_weighted_pair_cross_entropy(tokenizer):
    ids = tokenizer(" ".join(LINES), add_special_tokens=False)["input_ids"]
    batch = nsp.PairCollator(tokenizer, nsp.cut_segments(ids, 6), "sop", 0.3, seed=0)(list(range(8)))
    model = tiny_model(tokenizer).eval()
    with torch.no_grad():
        out = model(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            token_type_ids=batch["token_type_ids"],
        )
        expected_mlm = mlm.mlm_loss(out.prediction_logits, batch["labels"])
        expected_pair = torch.nn.functional.cross_entropy(out.seq_relationship_logits, batch["pair_labels"])
        assert torch.allclose(nsp.pair_loss(model, batch, 0.0), expected_mlm, atol=1e-5)
        assert torch.allclose(nsp.pair_loss(model, batch, 2.0), expected_mlm + 2 * expected_pair, atol=1e-5)


def test_masked_losses_give_the_chapters_perplexity(tokenizer):
    data = mlm_data.prepare_mlm_data(LINES, 120, 16)
    held = mlm_data.held_out_batches(data)
    model = tiny_model(data.tokenizer)
    table = nsp.masked_losses(model, held)
    assert table.shape == (len(data.held_blocks), 2)
    masked_lm = mlm.evaluate_mlm(_as_masked_lm(model), held)
    assert abs(nsp.perplexity(table) - masked_lm["perplexity"]) < 1e-3 * masked_lm["perplexity"]


def _as_masked_lm(model):
    """The same weights in BertForMaskedLM (no pooler, no pair head)."""
    from transformers import BertForMaskedLM

    masked_lm = BertForMaskedLM(model.config)
    missing, unexpected = masked_lm.load_state_dict(model.state_dict(), strict=False)
    assert not missing and all("pooler" in k or "seq_relationship" in k for k in unexpected)
    return masked_lm


def test_overlap_ignores_listed_tokens_and_the_threshold_separates():
    a, b = torch.tensor([[1, 2, 3], [1, 2, 3]]), torch.tensor([[3, 9, 9], [8, 9, 0]])
    assert nsp.overlap(a, b, ignore=torch.tensor([0])).tolist() == [0.25, 0.0]  # {3} of {1, 2, 3, 9}
    assert torch.equal(nsp.overlap(b, a, torch.tensor([0])), nsp.overlap(a, b, torch.tensor([0]))), "order-blind"
    scores, labels = torch.tensor([0.1, 0.2, 0.6, 0.8]), torch.tensor([0, 0, 1, 1])
    cut = nsp.best_threshold(scores, labels)
    assert ((scores > cut).long() == labels).all()


def test_pretrain_pairs_runs_the_configured_steps(tokenizer):
    ids = tokenizer(" ".join(LINES), add_special_tokens=False)["input_ids"]
    segments = nsp.cut_segments(ids, 6)
    cfg = MLM.pick("smoke")
    history = nsp.pretrain_pairs(tiny_model(tokenizer), tokenizer, segments, "nsp", 1.0, cfg, progress=False)
    assert history.steps[-1]["step"] == cfg.pair_steps
