"""Chapter 02's data: the corpus read, WordPiece trained the same in every process, blocks, the splits."""

from dataclasses import replace

import pytest
import torch
from tiny_models import tiny_wordpiece

from course_utils import mlm_data
from course_utils.config import LAYERNORM, MLM
from course_utils.resources import verified_data_file


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_wordpiece()


def test_read_corpus_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.txt does not exist"):
        mlm_data.read_corpus(tmp_path / "missing.txt")
    (tmp_path / "empty.txt").write_text("\n  \n")
    with pytest.raises(ValueError, match="empty.txt is empty"):
        mlm_data.read_corpus(tmp_path / "empty.txt")
    (tmp_path / "ok.txt").write_text("a\n\n b \n")
    assert mlm_data.read_corpus(tmp_path / "ok.txt") == ["a", "b"]


def test_wordpiece_tokenizer_has_bert_specials_and_round_trips(tokenizer):
    assert tokenizer.all_special_tokens[:1] and tokenizer.mask_token == "[MASK]"
    ids = tokenizer("to be or not")["input_ids"]
    assert ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id
    assert tokenizer.decode(ids, skip_special_tokens=True) == "to be or not"


VOCABULARY_OF_A_FRESH_PROCESS = """
import hashlib, json, sys
from course_utils import mlm_data
from course_utils.resources import verified_data_file
lines = [line for line in verified_data_file("text").read_text().splitlines() if line.strip()][:5000]
vocab = mlm_data.train_wordpiece(lines, vocab_size=600).get_vocab()
print(hashlib.sha256(json.dumps(sorted(vocab.items())).encode()).hexdigest())
"""


def test_wordpiece_vocabulary_is_the_same_in_every_process():
    """tokenizers numbers its ##pieces in hash-map order; train_wordpiece must not depend on it."""
    import subprocess
    import sys

    runs = {
        subprocess.run(
            [sys.executable, "-c", VOCABULARY_OF_A_FRESH_PROCESS], capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(3)
    }
    assert len(runs) == 1, "the same lines gave different vocabularies (ids included) in different processes"


def test_wordpiece_pieces_are_ordinary_tokens(tokenizer):
    assert "##e" in tokenizer.get_vocab() and "##e" not in tokenizer.all_special_tokens
    assert tokenizer.convert_ids_to_tokens(tokenizer("nobler")["input_ids"])[1:-1]


def test_chunks_are_framed_by_cls_and_sep():
    blocks = mlm_data.chunk_token_stream(list(range(10, 30)), block_size=6, cls_id=2, sep_id=3)
    assert blocks.shape == (5, 6) and (blocks[:, 0] == 2).all() and (blocks[:, -1] == 3).all()
    assert blocks[0, 1:5].tolist() == [10, 11, 12, 13]
    with pytest.raises(ValueError, match="fewer than one block"):
        mlm_data.chunk_token_stream([1, 2], block_size=6, cls_id=2, sep_id=3)
    with pytest.raises(ValueError, match="block_size must be at least 3"):
        mlm_data.chunk_token_stream([1, 2], block_size=2, cls_id=2, sep_id=3)


def test_prepare_mlm_data_splits_without_overlap_and_fixes_eval_masks():
    lines = [f"line number {i} of the play" for i in range(200)]
    data = mlm_data.prepare_mlm_data(lines, vocab_size=80, block_size=10, held_fraction=0.1)
    assert data.train_blocks.shape[1] == data.held_blocks.shape[1] == 10
    assert len(data.train_ids) > 8 * len(data.held_ids)
    first, again = mlm_data.held_out_batches(data, 4, seed=1), mlm_data.held_out_batches(data, 4, seed=1)
    assert all(torch.equal(a["labels"], b["labels"]) for a, b in zip(first, again, strict=True))
    with pytest.raises(ValueError, match="held_fraction"):
        mlm_data.prepare_mlm_data(lines, 80, 10, held_fraction=1.0)


def test_load_mlm_data_reads_the_configs_corpus_sizes():
    cfg = MLM.pick("smoke")
    data = mlm_data.load_mlm_data(cfg)
    assert data.num_lines == cfg.corpus_lines and len(data.tokenizer) <= cfg.vocab_size
    lines = mlm_data.read_corpus(verified_data_file("text"))[: cfg.corpus_lines]
    assert data.held_lines == lines[int(0.9 * len(lines)) :]
    assert data.train_blocks.shape[1] == cfg.block_size
    assert mlm_data.load_mlm_data(LAYERNORM.pick("smoke")).num_lines == LAYERNORM.pick("smoke").corpus_lines


def test_load_mlm_data_refuses_a_corpus_too_small_to_split():
    with pytest.raises(ValueError, match="MLMConfig.corpus_lines=0: must be at least 1"):
        mlm_data.load_mlm_data(replace(MLM.pick("smoke"), corpus_lines=0))
