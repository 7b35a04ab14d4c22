"""BERT's masking: which tokens are selected, what each becomes ([MASK], random, kept), batches masked so."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from course_utils.losses import IGNORE_INDEX

CORRUPTIONS = ("mask", "random", "kept")  # what the input shows at a scored position (BERT's 80/10/10)


def mask_tokens(
    input_ids: torch.Tensor,
    special_mask: torch.Tensor,
    mask_token_id: int,
    vocab_size: int,
    mlm_probability: float = 0.15,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT masking: select mlm_probability of the non-special tokens; of those
    80% -> [MASK], 10% random, 10% kept.

    Returns (inputs, labels): labels hold the original id at selected positions, -100
    elsewhere.
    """
    if not 0.0 < mlm_probability < 1.0:
        raise ValueError(f"mlm_probability must be in (0, 1), got {mlm_probability}")
    if special_mask.shape != input_ids.shape:
        raise ValueError(
            f"special_mask {tuple(special_mask.shape)} must match "
            f"input_ids {tuple(input_ids.shape)}"
        )
    shape = input_ids.shape
    inputs, labels = input_ids.clone(), input_ids.clone()
    prob = torch.full(shape, mlm_probability).masked_fill(
        special_mask.bool(), 0.0
    )  # never select [CLS]/[SEP]/[PAD]
    selected = torch.bernoulli(prob, generator=generator).bool()
    labels[~selected] = (
        IGNORE_INDEX  # -100: cross_entropy skips every unselected position
    )
    to_mask = (
        torch.bernoulli(torch.full(shape, 0.8), generator=generator).bool() & selected
    )
    inputs[to_mask] = mask_token_id
    # half of the remaining 20% get a random token; the other half stay unchanged
    to_random = (
        torch.bernoulli(torch.full(shape, 0.5), generator=generator).bool()
        & selected
        & ~to_mask
    )
    random_ids = torch.randint(vocab_size, shape, generator=generator)
    inputs[to_random] = random_ids[to_random]
    return inputs, labels


def masking_statistics(inputs: torch.Tensor, labels: torch.Tensor, original: torch.Tensor, mask_token_id: int) -> dict:
    """Of the selectable tokens, the fraction selected; of the selected, the fractions [MASK] and unchanged."""
    selected = labels != IGNORE_INDEX
    n = int(selected.sum())
    if n == 0:
        raise ValueError("no position was selected: nothing to measure")
    return {
        "selected": n,
        "mask": (inputs[selected] == mask_token_id).sum().item() / n,
        "unchanged": (inputs[selected] == original[selected]).sum().item() / n,
    }


@dataclass
class MLMCollator:
    """Stack fixed-length blocks into a batch and mask them; `seed` makes the masks reproducible."""

    tokenizer: object
    mlm_probability: float = 0.15
    seed: int | None = None

    def __post_init__(self) -> None:
        self.generator = torch.Generator().manual_seed(self.seed) if self.seed is not None else None
        self.special_ids = torch.tensor(self.tokenizer.all_special_ids)

    def __call__(self, blocks: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        input_ids = torch.stack(blocks)  # (batch, seq)
        special = torch.isin(input_ids, self.special_ids)
        inputs, labels = mask_tokens(
            input_ids, special, self.tokenizer.mask_token_id, len(self.tokenizer), self.mlm_probability, self.generator
        )
        return {"input_ids": inputs, "attention_mask": torch.ones_like(inputs), "labels": labels}


def corruption_kind(inputs: torch.Tensor, labels: torch.Tensor, mask_token_id: int) -> torch.Tensor:
    """Per position: 0 [MASK], 1 a random token, 2 the true token kept, -1 not scored (same shape as inputs)."""
    kind = torch.full_like(labels, -1)
    scored = labels != IGNORE_INDEX
    kind[scored & (inputs == mask_token_id)] = 0
    kind[scored & (inputs != mask_token_id) & (inputs != labels)] = 1
    kind[scored & (inputs == labels)] = 2  # a random draw that happens to be the true token counts as kept
    return kind
