"""Chapter 02's pretraining data: the corpus lines, a WordPiece tokenizer trained on them, blocks of tokens."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch

from course_utils.masking import MLMCollator
from course_utils.resources import read_text

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def read_corpus(path: str | Path) -> list[str]:
    """The non-blank lines of a UTF-8 text file; a clear error for a missing or empty file."""
    lines = [line.strip() for line in read_text(path, "corpus file").splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        raise ValueError(f"corpus file {path} is empty (no non-blank lines): nothing to train on")
    return lines


def words_of(lines: list[str], normalizer, pre_tokenizer) -> set[str]:
    """The distinct words of `lines` as the tokenizer will see them: normalized, then pre-tokenized."""
    return {w for line in lines for w, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(line))}


def train_wordpiece(lines: list[str], vocab_size: int):
    """A lower-casing BERT WordPiece tokenizer trained on `lines`, as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    normalizer, pre_tokenizer = normalizers.BertNormalizer(lowercase=True), pre_tokenizers.BertPreTokenizer()
    trainer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    trainer.normalizer, trainer.pre_tokenizer = normalizer, pre_tokenizer
    # tokenizers' trainer numbers the "##x" pieces in hash-map order, and its merges break ties by number, so
    # the vocabulary changed from run to run (huggingface/tokenizers#1794). Numbered here first, in sorted
    # order, every run learns the same vocabulary.
    pieces = sorted({"##" + c for w in words_of(lines, normalizer, pre_tokenizer) for c in w[1:]})
    trainer.train_from_iterator(
        lines, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS + pieces)
    )
    tok = Tokenizer(models.WordPiece(trainer.get_vocab(), unk_token="[UNK]"))  # the pieces as ordinary tokens
    tok.normalizer, tok.pre_tokenizer = normalizer, pre_tokenizer
    tok.add_special_tokens(SPECIAL_TOKENS)
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    tok.decoder = decoders.WordPiece()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )


def chunk_token_stream(ids: list[int], block_size: int, cls_id: int, sep_id: int) -> torch.Tensor:
    """Cut one long token stream into (num_blocks, block_size) rows of [CLS] ... [SEP] (the tail is dropped)."""
    if block_size < 3:
        raise ValueError(f"block_size must be at least 3 ([CLS] + a token + [SEP]), got {block_size}")
    body = block_size - 2
    num_blocks = len(ids) // body
    if num_blocks == 0:
        raise ValueError(f"{len(ids)} tokens are fewer than one block of {body}: use a longer text")
    blocks = torch.tensor(ids[: num_blocks * body]).view(num_blocks, body)  # (blocks, body)
    cls = torch.full((num_blocks, 1), cls_id)
    sep = torch.full((num_blocks, 1), sep_id)
    return torch.cat([cls, blocks, sep], dim=1)  # (blocks, block_size)


@dataclass
class MLMData:
    """A tokenizer trained on the training split, and both splits as token streams and blocks."""

    tokenizer: object
    train_ids: list[int]
    held_ids: list[int]
    train_blocks: torch.Tensor  # (num_train_blocks, block_size)
    held_blocks: torch.Tensor  # (num_held_blocks, block_size)
    num_lines: int  # corpus lines used, both splits
    held_lines: list[str]  # the held-out lines as text


def prepare_mlm_data(lines: list[str], vocab_size: int, block_size: int, held_fraction: float = 0.1) -> MLMData:
    """Split lines into train / held-out (the last `held_fraction`, contiguous: no overlap), tokenize, chunk."""
    if not 0.0 < held_fraction < 1.0:
        raise ValueError(f"held_fraction must be in (0, 1), got {held_fraction}")
    cut = int(len(lines) * (1 - held_fraction))
    tokenizer = train_wordpiece(lines[:cut], vocab_size)  # the held-out text never shapes the vocabulary
    train_ids = tokenizer(" ".join(lines[:cut]), add_special_tokens=False)["input_ids"]
    held_ids = tokenizer(" ".join(lines[cut:]), add_special_tokens=False)["input_ids"]
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    return MLMData(
        tokenizer,
        train_ids,
        held_ids,
        chunk_token_stream(train_ids, block_size, cls, sep),
        chunk_token_stream(held_ids, block_size, cls, sep),
        len(lines),
        lines[cut:],
    )


class CorpusSizes(Protocol):
    """What `load_mlm_data` reads from a chapter config (chapters 02 and 03 both have these fields)."""

    corpus_lines: int | None  # None: the whole corpus
    vocab_size: int
    block_size: int


def load_mlm_data(cfg: CorpusSizes) -> MLMData:
    """The text corpus (tiny Shakespeare, checksum-verified, or COURSE_TEXT_DATA): its first `corpus_lines` lines,
    tokenized, chunked."""
    from course_utils.resources import resolve_data

    if cfg.corpus_lines is not None and cfg.corpus_lines < 20:
        raise ValueError(f"corpus_lines={cfg.corpus_lines}: use None (the whole corpus) or at least 20 lines")
    lines = read_corpus(resolve_data("text").location)[: cfg.corpus_lines]
    return prepare_mlm_data(lines, cfg.vocab_size, cfg.block_size)


def held_out_batches(data: MLMData, batch_size: int = 64, seed: int = 1) -> list[dict[str, torch.Tensor]]:
    """The held-out blocks masked once, at BERT's 15%, with a fixed seed: every evaluation sees the same masks."""
    collate = MLMCollator(data.tokenizer, 0.15, seed=seed)
    return [collate(list(data.held_blocks[i : i + batch_size])) for i in range(0, len(data.held_blocks), batch_size)]
