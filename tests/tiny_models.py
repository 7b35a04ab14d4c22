"""Tiny things for the unit tests: a random BERT tagger (and its saved folder), a masked LM, a WordPiece tokenizer."""

import torch
from transformers import AutoTokenizer, BertConfig, BertForMaskedLM, BertForTokenClassification

from course_utils import mlm_data, ner, tagging
from course_utils.handover import NERRunSummary, SeedRun
from course_utils.resources import resolve_model

LINES = ["To be, or not to be, that is the question:", "Whether 'tis nobler in the mind to suffer"] * 20


def run_summary(profile: str = "smoke", test_f1: float = 0.5, **changes) -> NERRunSummary:
    """A chapter-04 run summary of one seed, from `profile` and its encoder."""
    run = SeedRun(seed=0, dev_f1=0.5, test_counts=[[1, 2, 2], [0, 1, 0]], seconds_per_epoch=1.0, peak_memory_mb=10.0)
    values = dict(profile=profile, encoder=resolve_model(profile).location, dev_f1=0.5, test_f1=test_f1, epochs=1.0,
                  seconds_per_epoch=1.0, peak_memory_mb=10.0, trainable_parameters=100, device="cpu", seed=0,
                  seeds=(run,))
    return NERRunSummary(**{**values, **changes})


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


def save_tiny_tagger(folder):
    """A tiny tagger saved in `folder` as chapter 04 saves its model; untrained, but it tags names: spans to show."""
    model, tokenizer = tiny_tagger()
    with torch.no_grad():
        model.classifier.bias[tagging.LABEL2ID["B-PER"]] = 5.0
    ner.save_finetuned(model, tokenizer, run_summary(), folder)
    return folder


def tiny_masked_lm(vocab_size: int) -> BertForMaskedLM:
    """A two-layer BertForMaskedLM of width 16 over `vocab_size` tokens and 16 positions."""
    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
    )
    return BertForMaskedLM(config)


def tiny_wordpiece(vocab_size: int = 120):
    """A WordPiece tokenizer trained on LINES."""
    return mlm_data.train_wordpiece(LINES, vocab_size=vocab_size)


def ordinary_ids(tokenizer, n: int = 100) -> list[int]:
    """`n` token ids that are not special tokens (ids 0-4 are)."""
    return [5 + i % (len(tokenizer) - 5) for i in range(n)]
