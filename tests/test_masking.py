"""BERT's masking: the 15% / 80-10-10 statistics match the transformers collator, specials stay, seeds repeat."""

import math

import pytest
import torch
from tiny_models import ordinary_ids, tiny_wordpiece
from transformers import DataCollatorForLanguageModeling

from course_utils import masking, mlm_data


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_wordpiece()


def test_masking_matches_bert_and_the_transformers_collator_statistically(tokenizer):
    torch.manual_seed(0)
    original = torch.randint(5, len(tokenizer), (400, 128))  # no special tokens inside
    special = torch.zeros_like(original, dtype=torch.bool)
    inputs, labels = masking.mask_tokens(original, special, tokenizer.mask_token_id, len(tokenizer), 0.15)
    ours = masking.masking_statistics(inputs, labels, original, tokenizer.mask_token_id)
    hf = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15)
    batch = hf([{"input_ids": row} for row in original.tolist()])
    theirs = masking.masking_statistics(batch["input_ids"], batch["labels"], original, tokenizer.mask_token_id)
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
        masking.masking_statistics(inputs, torch.full_like(labels, -100), original, tokenizer.mask_token_id)


def test_special_tokens_are_never_selected(tokenizer):
    ids = torch.tensor([[tokenizer.cls_token_id] + [7] * 30 + [tokenizer.sep_token_id]] * 50)
    special = torch.isin(ids, torch.tensor(tokenizer.all_special_ids))
    _, labels = masking.mask_tokens(ids, special, tokenizer.mask_token_id, len(tokenizer), 0.5)
    assert (labels[:, 0] == -100).all() and (labels[:, -1] == -100).all()
    with pytest.raises(ValueError, match="mlm_probability"):
        masking.mask_tokens(ids, special, 4, 100, 1.5)
    with pytest.raises(ValueError, match="special_mask"):
        masking.mask_tokens(ids, special[:, :3], 4, 100)


def test_collator_is_reproducible_with_a_seed(tokenizer):
    ids = ordinary_ids(tokenizer)
    blocks = list(mlm_data.chunk_token_stream(ids, 12, tokenizer.cls_token_id, tokenizer.sep_token_id))
    a, b = masking.MLMCollator(tokenizer, seed=3)(blocks), masking.MLMCollator(tokenizer, seed=3)(blocks)
    assert torch.equal(a["labels"], b["labels"]) and torch.equal(a["input_ids"], b["input_ids"])


def test_corruption_kind_tells_mask_random_and_kept_apart():
    inputs = torch.tensor([[9, 4, 7, 5, 6]])  # 9 is [MASK]
    labels = torch.tensor([[3, 4, 2, -100, -100]])  # scored: masked, kept (4 == 4), randomised (7 != 2)
    assert masking.corruption_kind(inputs, labels, mask_token_id=9).tolist() == [[0, 2, 1, -1, -1]]
