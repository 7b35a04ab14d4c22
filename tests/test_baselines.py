"""The count-model baselines: the unigram (and the head bias it starts), bigram counts, the neighbour model."""

import math

import pytest
import torch
from tiny_models import LINES, tiny_masked_lm, tiny_wordpiece

from course_utils import baselines, masking, mlm_data


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_wordpiece()


def test_unigram_baseline():
    log_probs = baselines.unigram_log_probs([1, 1, 1, 2], vocab_size=4)  # add-one: counts 1, 4, 2, 1
    assert torch.allclose(log_probs.exp(), torch.tensor([1, 4, 2, 1], dtype=torch.float64) / 8)
    assert baselines.unigram_perplexity(log_probs, torch.tensor([1, -100, 1])) == pytest.approx(2.0)


def test_output_bias_init_makes_the_untrained_model_a_unigram_model():
    torch.manual_seed(0)
    model = tiny_masked_lm(20).eval()
    log_probs = baselines.unigram_log_probs([1] * 50 + [2] * 20 + [3] * 5, vocab_size=20)
    baselines.init_output_bias(model, log_probs)
    probs = model(input_ids=torch.tensor([[0, 5, 6, 7]])).logits.softmax(-1)  # (1, 4, vocab)
    assert (probs.argmax(-1) == 1).all()  # the most frequent token everywhere
    unigram = log_probs.exp().float()
    kl = (unigram * (unigram.log() - probs.log())).sum(-1)  # KL(unigram || model), per position
    assert (kl < 0.05).all()  # the random weights only add small noise (from uniform it would be 1.3 nats)
    with pytest.raises(ValueError, match="one tokenizer"):
        baselines.init_output_bias(model, log_probs[:10])


def test_bigram_counts():
    counts = baselines.bigram_counts([0, 1, 2, 0, 1], vocab_size=3)
    assert torch.equal(counts, torch.tensor([[0.0, 2, 0], [0, 0, 1], [1, 0, 0]]))
    with pytest.raises(ValueError, match="in \\[0, 3\\)"):
        baselines.bigram_counts([0, 3], vocab_size=3)


def test_neighbour_model_reads_both_sides_and_falls_back_to_the_unigram():
    stream = [0, 1, 2, 0, 3, 4] * 20  # 1 and 3 both follow 0; only 1 is followed by 2
    log_probs = baselines.unigram_log_probs(stream, vocab_size=6)
    counts = baselines.bigram_counts(stream, vocab_size=6)
    scores = baselines.neighbour_log_probs(counts, log_probs, torch.tensor([0, 0, 5]), torch.tensor([2, 4, 5]))
    assert torch.allclose(scores.exp().sum(-1), torch.ones(3))
    assert scores[0].argmax() == 1 and scores[1].argmax() == 3  # the right neighbour decides between 1 and 3
    assert scores[0, 1].exp() > 0.9
    # token 5 never occurs: no counts on either side, so the prediction is the unigram
    assert torch.allclose(scores[2], log_probs.float(), atol=1e-5)
    with pytest.raises(ValueError, match="smoothing must be > 0"):
        baselines.neighbour_log_probs(counts, log_probs, torch.tensor([0]), torch.tensor([2]), smoothing=0.0)
    with pytest.raises(ValueError, match="one tokenizer"):
        baselines.neighbour_log_probs(counts, log_probs[:5], torch.tensor([0]), torch.tensor([2]))


def test_neighbour_model_at_masks_scores_the_mask_positions(tokenizer):
    ids = tokenizer(" ".join(LINES), add_special_tokens=False)["input_ids"]
    blocks = mlm_data.chunk_token_stream(ids, 12, tokenizer.cls_token_id, tokenizer.sep_token_id)
    batches = [masking.MLMCollator(tokenizer, 0.3, seed=0)(list(blocks))]
    log_probs = baselines.unigram_log_probs(ids, len(tokenizer))
    counts = baselines.bigram_counts(ids, len(tokenizer))
    result = baselines.neighbour_model_at_masks(batches, counts, log_probs, tokenizer.mask_token_id)
    kind = masking.corruption_kind(batches[0]["input_ids"], batches[0]["labels"], tokenizer.mask_token_id)
    assert result["count"] == int((kind == 0).sum()) > 0
    targets = batches[0]["labels"][kind == 0]
    assert result["unigram_loss"] == pytest.approx(-float(log_probs[targets].mean()))
    assert result["ratio"] == pytest.approx(math.exp(result["loss"] - result["unigram_loss"]))
    assert result["ratio"] < 0.5  # a two-line text repeated: the neighbours nearly give the word away
    nothing = [{k: v[:, :1] for k, v in batches[0].items()}]  # only [CLS] columns: no [MASK]
    with pytest.raises(ValueError, match="no \\[MASK\\] position"):
        baselines.neighbour_model_at_masks(nothing, counts, log_probs, tokenizer.mask_token_id)
