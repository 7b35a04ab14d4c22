"""Byte-level BPE: the fast trainer agrees with the plain one, `tokenizers` gives the same ids, round trips."""

from collections import Counter
from itertools import pairwise

import pytest

from course_utils import bpe

TEXT = "the cat sat on the mat; the hat. That's the cat's hat!\n\n  aaaa aaa"


def plain_train(text: str, vocab_size: int) -> list[tuple[int, int]]:
    """The teaching version: recount every pair after every merge."""
    words = [list(w.encode("utf-8")) for w in bpe.pretokenize(text)]
    merges = []
    for new_id in range(256, vocab_size):
        counts = Counter(p for w in words for p in pairwise(w))
        if not counts:
            break
        best = max(counts.items(), key=lambda item: (item[1], -item[0][0], -item[0][1]))[0]
        merges.append(best)
        words = [bpe.merge_pair(w, best, new_id) for w in words]
    return merges


def test_fast_training_makes_the_plain_merges():
    assert list(bpe.train(TEXT * 3, 300).pairs) == plain_train(TEXT * 3, 300)


def test_merge_pair_left_to_right():
    assert bpe.merge_pair([97, 97, 97], (97, 97), 256) == [256, 97]


@pytest.mark.parametrize("text", [TEXT, "你好，世界", "emoji 🙂👍🏽 and naïve café", "tabs\tand\r\nnewlines  "])
def test_round_trip_and_tokenizers_agree(text):
    merges = bpe.train(TEXT * 5, 320)
    ids = bpe.encode(text, merges)
    assert bpe.decode(ids, merges) == text  # bytes: nothing is unknown
    tokenizer = bpe.to_tokenizers(merges)
    assert tokenizer.encode(text).ids == ids
    assert tokenizer.decode(ids) == text


def test_special_token_and_transformers_tokenizer():
    merges = bpe.train(TEXT, 270)
    fast = bpe.to_transformers(merges, context=32)
    assert fast.convert_tokens_to_ids(bpe.END_OF_TEXT) == merges.vocab_size
    assert fast(TEXT)["input_ids"] == bpe.encode(TEXT, merges)


def test_merges_shrink_the_token_count():
    assert bpe.tokens_per_character(TEXT, bpe.train(TEXT, 256)) == 1.0
    assert bpe.tokens_per_character(TEXT, bpe.train(TEXT, 300)) < 0.6


def test_bad_input():
    with pytest.raises(ValueError, match="256 bytes"):
        bpe.train(TEXT, 100)
    with pytest.raises(ValueError, match="outside this vocabulary"):
        bpe.decode([999], bpe.train(TEXT, 260))


def test_end_of_text_is_one_id_as_the_tokenizers_read_it():
    merges = bpe.train(TEXT, 290)
    text = f"the cat{bpe.END_OF_TEXT}the hat{bpe.END_OF_TEXT}"
    ids = bpe.encode(text, merges)
    assert ids.count(merges.vocab_size) == 2
    assert ids == bpe.to_transformers(merges, context=32)(text)["input_ids"]
    assert ids == bpe.to_tokenizers(merges).encode(text).ids
    assert bpe.decode(ids, merges) == text
