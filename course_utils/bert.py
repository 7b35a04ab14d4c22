"""BERT from scratch: embeddings, the Post-LN block, the encoder, its heads, and Hugging Face weights loaded by name."""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from torch import nn

from course_utils.attention import MultiHeadSelfAttention, padding_keep_mask


@dataclass(frozen=True)
class BertShape:
    """The sizes that define a BERT encoder."""

    vocab_size: int
    hidden: int
    layers: int
    heads: int
    intermediate: int  # the feed-forward network's inner width (4 x hidden in BERT)
    max_positions: int
    type_vocab_size: int = 2
    eps: float = 1e-12  # BERT's LayerNorm epsilon

    @classmethod
    def from_hf(cls, config) -> BertShape:
        """The shape of a `transformers` BertConfig; only BERT's exact GELU is built here."""
        if config.hidden_act != "gelu":
            raise ValueError(f"hidden_act={config.hidden_act!r}: this BERT builds the exact 'gelu' only")
        return cls(
            config.vocab_size,
            config.hidden_size,
            config.num_hidden_layers,
            config.num_attention_heads,
            config.intermediate_size,
            config.max_position_embeddings,
            config.type_vocab_size,
            config.layer_norm_eps,
        )


class Embeddings(nn.Module):
    """Word + position + token-type embeddings, then LayerNorm."""

    def __init__(self, shape: BertShape) -> None:
        super().__init__()
        self.word = nn.Embedding(shape.vocab_size, shape.hidden)
        self.position = nn.Embedding(shape.max_positions, shape.hidden)
        self.token_type = nn.Embedding(shape.type_vocab_size, shape.hidden)
        self.norm = nn.LayerNorm(shape.hidden, eps=shape.eps)

    def forward(
        self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None
    ) -> torch.Tensor:
        length, limit = input_ids.shape[1], self.position.num_embeddings
        if length > limit:
            raise ValueError(f"{length} tokens: this model has {limit} positions")
        positions = torch.arange(length, device=input_ids.device)
        if token_type_ids is None:  # one segment: type 0 everywhere
            token_type_ids = torch.zeros_like(input_ids)
        word, types = self.word(input_ids), self.token_type(token_type_ids)
        return self.norm(word + self.position(positions) + types)  # (batch, seq, h)


class FeedForward(nn.Module):
    """Linear up to `intermediate`, exact GELU, linear back down."""

    def __init__(self, shape: BertShape) -> None:
        super().__init__()
        self.up, self.down = nn.Linear(shape.hidden, shape.intermediate), nn.Linear(shape.intermediate, shape.hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(nn.functional.gelu(self.up(x)))  # gelu(x) = x * Phi(x), Phi the normal CDF


class BertBlock(nn.Module):
    """BERT's Post-LN block: x = LN(x + attention(x)); x = LN(x + ffn(x))."""

    def __init__(self, shape: BertShape) -> None:
        super().__init__()
        self.attention = MultiHeadSelfAttention(shape.hidden, shape.heads)
        self.norm1 = nn.LayerNorm(shape.hidden, eps=shape.eps)
        self.ffn = FeedForward(shape)
        self.norm2 = nn.LayerNorm(shape.hidden, eps=shape.eps)

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        x = self.norm1(x + self.attention(x, keep))  # (batch, seq, hidden)
        return self.norm2(x + self.ffn(x))


class Bert(nn.Module):
    """The encoder: embeddings, then the blocks; returns the hidden states after each stage."""

    def __init__(self, shape: BertShape) -> None:
        super().__init__()
        self.shape = shape
        self.embeddings = Embeddings(shape)
        self.blocks = nn.ModuleList(BertBlock(shape) for _ in range(shape.layers))

    def forward(self, input_ids, attention_mask=None, token_type_ids=None) -> list[torch.Tensor]:
        keep = padding_keep_mask(attention_mask) if attention_mask is not None else None
        states = [self.embeddings(input_ids, token_type_ids)]  # layers + 1 of (batch, seq, hidden)
        for block in self.blocks:
            states.append(block(states[-1], keep))
        return states


class BertTagger(nn.Module):
    """The encoder with a token-classification head: one linear layer from each hidden state to the labels."""

    def __init__(self, shape: BertShape, num_labels: int) -> None:
        super().__init__()
        self.bert = Bert(shape)
        self.classifier = nn.Linear(shape.hidden, num_labels)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None) -> torch.Tensor:
        return self.classifier(self.bert(input_ids, attention_mask, token_type_ids)[-1])  # (batch, seq, labels)


class MaskedLMHead(nn.Module):
    """BERT's MLM head: dense, GELU, LayerNorm, then the word embeddings transposed (tied) plus a bias."""

    def __init__(self, shape: BertShape, word_embeddings: nn.Embedding) -> None:
        super().__init__()
        self.dense = nn.Linear(shape.hidden, shape.hidden)
        self.norm = nn.LayerNorm(shape.hidden, eps=shape.eps)
        self.word_embeddings = word_embeddings  # shared, not copied: one matrix in and out
        self.bias = nn.Parameter(torch.zeros(shape.vocab_size))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        x = self.norm(nn.functional.gelu(self.dense(hidden)))
        return x @ self.word_embeddings.weight.T + self.bias  # (batch, seq, vocab)


class BertForMLM(nn.Module):
    """The encoder with the tied masked-language-model head."""

    def __init__(self, shape: BertShape) -> None:
        super().__init__()
        self.bert = Bert(shape)
        self.mlm = MaskedLMHead(shape, self.bert.embeddings.word)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None) -> torch.Tensor:
        return self.mlm(self.bert(input_ids, attention_mask, token_type_ids)[-1])


# --- loading Hugging Face weights by name -------------------------------------------------------------------

_RENAMES = [  # Hugging Face's BERT names -> this module's
    (r"embeddings\.word_embeddings\.", "embeddings.word."),
    (r"embeddings\.position_embeddings\.", "embeddings.position."),
    (r"embeddings\.token_type_embeddings\.", "embeddings.token_type."),
    (r"embeddings\.LayerNorm\.", "embeddings.norm."),
    (r"encoder\.layer\.(\d+)\.attention\.self\.(query|key|value)\.", r"blocks.\1.attention.\2."),
    (r"encoder\.layer\.(\d+)\.attention\.output\.dense\.", r"blocks.\1.attention.out."),
    (r"encoder\.layer\.(\d+)\.attention\.output\.LayerNorm\.", r"blocks.\1.norm1."),
    (r"encoder\.layer\.(\d+)\.intermediate\.dense\.", r"blocks.\1.ffn.up."),
    (r"encoder\.layer\.(\d+)\.output\.dense\.", r"blocks.\1.ffn.down."),
    (r"encoder\.layer\.(\d+)\.output\.LayerNorm\.", r"blocks.\1.norm2."),
    (r"cls\.predictions\.transform\.dense\.", "mlm.dense."),
    (r"cls\.predictions\.transform\.LayerNorm\.", "mlm.norm."),
    (r"cls\.predictions\.bias$", "mlm.bias"),
]
# in Hugging Face's state but not needed here: the pooler (NSP and sentence tasks), the tied decoder, a buffer
_UNUSED = re.compile(r"(^|\.)(pooler\.|position_ids$)|^cls\.predictions\.decoder\.|^cls\.seq_relationship\.")


def hf_name(name: str) -> str | None:
    """This module's name for a Hugging Face BERT parameter name (None: not used here)."""
    if _UNUSED.search(name):
        return None
    prefix = "bert." if name.startswith("bert.") else ""
    inner = name.removeprefix("bert.")
    for pattern, replacement in _RENAMES:
        renamed, hits = re.subn("^" + pattern, replacement, inner)
        if hits:
            return prefix + renamed if not renamed.startswith("mlm.") else renamed
    return name  # e.g. classifier.weight: the same name on both sides


def load_hf_weights(model: nn.Module, hf_state: dict[str, torch.Tensor]) -> None:
    """Copy a `transformers` BERT state dict into `model` by name; raise naming anything
    that does not fit."""
    converted = {}
    for name, tensor in hf_state.items():
        if (new := hf_name(name)) is not None:  # None: a buffer we do not keep
            converted[new] = tensor
    ours = model.state_dict()
    tied, words = "mlm.word_embeddings.weight", "bert.embeddings.word.weight"
    if tied in ours and words in converted:
        converted[tied] = converted[words]  # tied: one matrix
    missing = sorted(set(ours) - set(converted))
    unexpected = sorted(set(converted) - set(ours))
    shared = set(ours) & set(converted)
    wrong = sorted(n for n in shared if ours[n].shape != converted[n].shape)
    if missing or unexpected or wrong:
        raise ValueError(
            f"the checkpoint does not fit {type(model).__name__}: "
            f"missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}, wrong shape {wrong[:5]}; "
            "is it a BERT checkpoint of the same shape (BertShape.from_hf(config))?"
        )
    model.load_state_dict(converted)
