"""Byte-level BPE (Sennrich et al. 2016; GPT-2's byte-level variant): train merges, encode, decode.

Text is split into GPT-2's pre-tokens, each pre-token into its UTF-8 bytes (256 ids: no unknown token), and
the most frequent adjacent pair is merged into a new id, again and again. Encoding applies the merges in the
order they were learned. `to_tokenizers` hands the same merges to the `tokenizers` library.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from itertools import pairwise

import regex

# GPT-2's pre-tokenizer: contractions, letters, digits, other symbols, each with one leading space, and whitespace
GPT2_SPLIT = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
END_OF_TEXT = "<|endoftext|>"  # GPT-2's one special token: it separates documents


def pretokenize(text: str) -> list[str]:
    """GPT-2's pre-tokens: merges never cross their borders (a word never merges with the next)."""
    return GPT2_SPLIT.findall(text)


@dataclass(frozen=True)
class Merges:
    """Learned merges in order: merge i turns the pair pairs[i] into the id 256 + i."""

    pairs: tuple[tuple[int, int], ...]

    @property
    def vocab_size(self) -> int:
        """256 byte ids plus one id per merge (special tokens come on top)."""
        return 256 + len(self.pairs)

    def token_bytes(self) -> list[bytes]:
        """The bytes each id stands for."""
        table = [bytes([b]) for b in range(256)]
        for a, b in self.pairs:
            table.append(table[a] + table[b])
        return table


def merge_pair(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace every occurrence of `pair` in `ids`, left to right, by `new_id`."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _pairs(word: tuple[int, ...]) -> Counter:
    """Adjacent pairs of one word, with their counts in it."""
    return Counter(pairwise(word))


def train(text: str, vocab_size: int) -> Merges:
    """Learn vocab_size - 256 merges on `text`: each time the most frequent pair (ties: the smallest ids).

    Only the words that hold the merged pair are recounted, so a merge costs the words it touches.
    """
    if vocab_size < 256:
        raise ValueError(f"vocab_size={vocab_size}: a byte-level vocabulary has at least the 256 bytes")
    words = Counter(tuple(w.encode("utf-8")) for w in pretokenize(text))
    vocab = list(words)  # each distinct pre-token once, with its count
    counts = [words[w] for w in vocab]
    pair_counts: Counter = Counter()
    where: dict[tuple[int, int], set[int]] = defaultdict(set)  # pair -> words that hold it
    for i, word in enumerate(vocab):
        for pair, n in _pairs(word).items():
            pair_counts[pair] += n * counts[i]
            where[pair].add(i)
    merges = []
    for new_id in range(256, vocab_size):
        live = [(n, p) for p, n in pair_counts.items() if n > 0]
        if not live:
            break  # every word is one token already
        best = max(live, key=lambda item: (item[0], -item[1][0], -item[1][1]))[1]
        merges.append(best)
        for i in list(where[best]):
            old = vocab[i]
            new = tuple(merge_pair(list(old), best, new_id))
            for pair, n in _pairs(old).items():
                pair_counts[pair] -= n * counts[i]
            for pair, n in _pairs(new).items():
                pair_counts[pair] += n * counts[i]
                where[pair].add(i)
            vocab[i] = new
        del pair_counts[best]
    return Merges(tuple(merges))


def encode_word(word: bytes, ranks: dict[tuple[int, int], int]) -> list[int]:
    """One pre-token's ids: merge the pair learned earliest, until no learned pair is left."""
    ids = list(word)
    while len(ids) > 1:
        pair = min(pairwise(ids), key=lambda p: ranks.get(p, len(ranks)))
        if pair not in ranks:
            break
        ids = merge_pair(ids, pair, 256 + ranks[pair])
    return ids


def encode(text: str, merges: Merges) -> list[int]:
    """The ids of `text`: pre-tokens, bytes, then the merges in the order they were learned.

    END_OF_TEXT in the text is its one id (merges.vocab_size), as the tokenizers built from the merges read it.
    """
    ranks = {pair: i for i, pair in enumerate(merges.pairs)}
    cache: dict[str, list[int]] = {}  # a word's ids never change: encode each distinct one once
    ids: list[int] = []
    for n, piece in enumerate(text.split(END_OF_TEXT)):
        if n:
            ids.append(merges.vocab_size)  # the special token between two pieces
        for word in pretokenize(piece):
            if word not in cache:
                cache[word] = encode_word(word.encode("utf-8"), ranks)
            ids += cache[word]
    return ids


def decode(ids: list[int], merges: Merges) -> str:
    """The text of `ids`: join their bytes and decode them as UTF-8 (a cut character shows as U+FFFD)."""
    table = [*merges.token_bytes(), END_OF_TEXT.encode()]  # the last id: the special token
    bad = [i for i in ids if not 0 <= i < len(table)]
    if bad:
        raise ValueError(f"ids {bad[:5]} are outside this vocabulary of {len(table)} ids")
    return b"".join(table[i] for i in ids).decode("utf-8", errors="replace")


def byte_to_unicode() -> dict[int, str]:
    """GPT-2's printable stand-in for each byte, the alphabet `tokenizers`' ByteLevel writes vocabularies in."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def to_tokenizers(merges: Merges, special_tokens: tuple[str, ...] = (END_OF_TEXT,)):
    """The same vocabulary as a `tokenizers.Tokenizer` (BPE model, ByteLevel pre-tokenizer and decoder).

    Special tokens take the ids after the merges: END_OF_TEXT is id `merges.vocab_size`.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    alphabet = byte_to_unicode()

    def spelled(token: bytes) -> str:
        return "".join(alphabet[b] for b in token)

    table = merges.token_bytes()
    vocab = {spelled(token): i for i, token in enumerate(table)}
    pairs = [(spelled(table[a]), spelled(table[b])) for a, b in merges.pairs]
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=pairs))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens(list(special_tokens))
    return tokenizer


def to_transformers(merges: Merges, context: int):
    """A `transformers` fast tokenizer over the same vocabulary, END_OF_TEXT as its eos and bos token."""
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=to_tokenizers(merges),
        eos_token=END_OF_TEXT,
        bos_token=END_OF_TEXT,
        model_max_length=context,
    )


def tokens_per_character(text: str, merges: Merges) -> float:
    """How many tokens a character of `text` costs with these merges (1.0 before any merge, for ASCII)."""
    if not text:
        raise ValueError("tokens_per_character needs some text")
    return len(encode(text, merges)) / len(text)
