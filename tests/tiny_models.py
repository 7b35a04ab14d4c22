"""A tiny, randomly initialised BERT tagger with the course's labels and the smoke tokenizer's vocabulary."""

import torch
from transformers import AutoTokenizer, BertConfig, BertForTokenClassification

from course_utils import tagging
from course_utils.resources import resolve_model


def tiny_tagger(hidden_size: int = 16, layers: int = 1, seed: int = 0):
    """(model, tokenizer): a seeded BertForTokenClassification small enough for unit tests."""
    tokenizer = AutoTokenizer.from_pretrained(resolve_model("smoke").location)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=hidden_size,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=2 * hidden_size,
        num_labels=len(tagging.LABELS),
        id2label=dict(enumerate(tagging.LABELS)),
        label2id=tagging.LABEL2ID,
    )
    torch.manual_seed(seed)
    return BertForTokenClassification(config), tokenizer
