"""Chapter 10: prompt tuning from scratch (Lester et al., 2021): a few trained vectors before every input.

The decoder stays frozen; `n` "virtual tokens", vectors in its embedding space that no word spells, are read
before the real tokens, and only they train: n x width numbers in all. Started from the embeddings of a real
phrase, they start as that phrase typed in front of the input. `PromptedTagger` does the same for chapter 04's
encoder tagger, whose outputs at the virtual positions are dropped before the labels are read.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from course_utils.gpt import GPT
from course_utils.losses import IGNORE_INDEX


class SoftPrompt(nn.Module):
    """A frozen GPT behind `n` trained prompt vectors: logits for the real tokens only."""

    def __init__(
        self, model: GPT, n: int = 0, init_ids: list[int] | None = None, seed: int = 0
    ) -> None:
        super().__init__()
        if init_ids is None and n <= 0:
            raise ValueError(f"n={n}: a soft prompt needs a virtual token")
        if init_ids is not None and n and n != len(init_ids):
            raise ValueError(f"n={n} but {len(init_ids)} init_ids: make them agree")
        for p in model.parameters():
            p.requires_grad_(False)
        table = model.tokens.weight  # (vocab, width)
        if init_ids is not None:  # the embeddings of a real phrase
            ids = torch.tensor(init_ids, device=table.device)
            start = table[ids].detach().clone()
        else:  # small random vectors, the scale of chapter 08's initialisation
            draw = torch.Generator().manual_seed(seed)
            start = torch.randn(n, table.shape[1], generator=draw) * 0.02
        self.model = model
        start = start.to(device=table.device, dtype=table.dtype)
        self.prompt = nn.Parameter(start)  # (n, width)

    @property
    def shape(self):
        """The frozen model's shape, less the context the prompt takes (what generation may fill)."""
        return replace(self.model.shape, context=self.model.shape.context - self.prompt.shape[0])

    def forward(self, ids: torch.Tensor, cache=None) -> torch.Tensor:
        """(batch, seq) ids -> (batch, seq, vocab) logits of the real tokens."""
        first = cache is None or cache.length == 0  # the prompt goes in once, first
        return self.model(ids, cache, prefix=self.prompt if first else None)


class PromptedTagger(nn.Module):
    """A token classifier (BertForTokenClassification) reading `n` trained vectors just after [CLS]; its
    encoder is frozen, the vectors and the head train, and the virtual positions carry no label."""

    def __init__(self, model: nn.Module, n: int = 0, init_ids: list[int] | None = None, seed: int = 0) -> None:
        super().__init__()
        if init_ids is None and n <= 0:
            raise ValueError(f"n={n}: a soft prompt needs a virtual token")
        for name, p in model.named_parameters():
            p.requires_grad_(name.startswith("classifier"))  # the new head trains, as in every method
        table = model.get_input_embeddings().weight
        if init_ids is None:  # Lester et al.: start from the embeddings of n words of the vocabulary; BERT's
            # vocabularies keep their [unused] rows below 1000, so the draw starts above them
            low = min(1000, table.shape[0] - 1)
            draw = torch.Generator().manual_seed(seed)
            init_ids = torch.randint(low, table.shape[0], (n,), generator=draw).tolist()
        self.model, self.config = model, model.config  # config: id2label for the evaluation
        self.prompt = nn.Parameter(table[torch.tensor(init_ids, device=table.device)].detach().clone())  # (n, width)

    def forward(self, input_ids, attention_mask, token_type_ids=None, labels=None):
        b, n = input_ids.shape[0], self.prompt.shape[0]
        if input_ids.shape[1] + n > self.config.max_position_embeddings:
            raise ValueError(
                f"{input_ids.shape[1]} tokens and {n} virtual ones pass the model's "
                f"{self.config.max_position_embeddings} positions: tokenize with max_length "
                f"{self.config.max_position_embeddings - n} or fewer"
            )
        words = self.model.get_input_embeddings()(input_ids)  # (batch, seq, width)
        embeds = torch.cat([words[:, :1], self.prompt.expand(b, -1, -1), words[:, 1:]], dim=1)  # (batch, n+seq, w)
        ones = attention_mask.new_ones(b, n)
        mask = torch.cat([attention_mask[:, :1], ones, attention_mask[:, 1:]], dim=1)
        types = None
        if token_type_ids is not None:
            types = torch.cat([token_type_ids[:, :1], 0 * ones, token_type_ids[:, 1:]], dim=1)
        out = self.model(inputs_embeds=embeds, attention_mask=mask, token_type_ids=types)
        logits = torch.cat([out.logits[:, :1], out.logits[:, 1 + n :]], dim=1)  # (batch, seq, labels)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=IGNORE_INDEX)
        return type(out)(loss=loss, logits=logits)
