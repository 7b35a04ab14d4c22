"""NER data: CoNLL files, the profile's train/dev/test splits, sub-token label alignment, batching."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from course_utils.config import NERConfig
from course_utils.losses import IGNORE_INDEX
from course_utils.resources import read_text
from course_utils.tagging import (
    ENTITY_TYPES,
    LABEL2ID,
    LABELS,
    TAG_PATTERN,
    ConllFormatError,
    check_iob2,
    entities,
    to_iob2,
)


@dataclass
class Sentence:
    """One sentence: its tokens and tags, the document it belongs to, and the line it starts on."""

    tokens: list[str]
    tags: list[str]
    doc: int
    line: int


def read_conll(path: str | Path, scheme: str = "iob1") -> list[Sentence]:
    """Sentences of a CoNLL file (token first, tag last; -DOCSTART- starts a document), tags converted to IOB2.

    `scheme` is what the file promises: 'iob1' or 'io' (converted to IOB2) or 'iob2' (checked as it is).
    """
    if scheme not in ("iob1", "io", "iob2"):
        raise ValueError(f"scheme={scheme!r}: use 'iob1', 'io' or 'iob2'")
    path = Path(path)
    text = read_text(path, "CoNLL file")
    sentences, tokens, tags, doc, start, columns = [], [], [], -1, 0, None

    def close() -> None:
        if tokens:
            if scheme == "iob2":
                check_iob2(tags, path, start)
            sentences.append(Sentence(tokens.copy(), to_iob2(tags), max(doc, 0), start))
            tokens.clear()
            tags.clear()

    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()  # any whitespace: tabs and spaces may mix
        if not fields:
            close()
            continue
        if fields[0] == "-DOCSTART-":
            close()
            doc += 1
            continue
        columns = columns or len(fields)
        if len(fields) < 2 or len(fields) != columns:
            raise ConllFormatError(
                f"{path}:{number}: expected {max(columns, 2)} columns (token ... tag), got {len(fields)}: {line!r}"
            )
        if not TAG_PATTERN.match(fields[-1]):
            raise ConllFormatError(
                f"{path}:{number}: unknown tag {fields[-1]!r}; the tags are O and B-/I- with {', '.join(ENTITY_TYPES)}"
            )
        if not tokens:
            start = number
        tokens.append(fields[0])
        tags.append(fields[-1])
    close()
    if not sentences:
        raise ConllFormatError(f"{path}: no sentences (the file is empty or holds only -DOCSTART- lines)")
    return sentences


def split_by_document(
    sentences: list[Sentence], fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0
) -> dict[str, list[Sentence]]:
    """Deterministic train/dev/test split of whole documents (no document is shared between splits)."""
    if abs(sum(fractions) - 1) > 1e-9 or min(fractions) <= 0:
        raise ValueError(f"fractions must be positive and sum to 1, got {fractions}")
    docs = sorted({s.doc for s in sentences})
    random.Random(seed).shuffle(docs)
    cut1 = round(len(docs) * fractions[0])
    cut2 = cut1 + round(len(docs) * fractions[1])
    assignment = {doc: "train" for doc in docs[:cut1]} | {doc: "dev" for doc in docs[cut1:cut2]}
    assignment |= {doc: "test" for doc in docs[cut2:]}
    return {name: [s for s in sentences if assignment[s.doc] == name] for name in ("train", "dev", "test")}


def corpus_stats(sentences: list[Sentence]) -> dict[str, int]:
    """Sentences, tokens and entities (overall and per type)."""
    counts = Counter(kind for s in sentences for kind, _, _ in entities(s.tags))
    return {
        "sentences": len(sentences),
        "tokens": sum(len(s.tokens) for s in sentences),
        "entities": sum(counts.values()),
        **{t: counts[t] for t in ENTITY_TYPES},
    }


def to_dataset_dict(splits: dict[str, list[Sentence]]):
    """A datasets.DatasetDict with `tokens` and ClassLabel `ner_tags` (LABELS) per split."""
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Sequence, Value

    features = Features({"tokens": Sequence(Value("string")), "ner_tags": Sequence(ClassLabel(names=LABELS))})
    return DatasetDict(
        {
            name: Dataset.from_dict(
                {"tokens": [s.tokens for s in rows], "ner_tags": [[LABEL2ID[t] for t in s.tags] for s in rows]},
                features=features,
            )
            for name, rows in splits.items()
        }
    )


def load_ner_data(profile: str | None = None):
    """The profile's NER data as a DatasetDict (train/dev/test) with the LABELS label set."""
    from course_utils.resources import resolve_data

    resource = resolve_data("ner", profile)
    if resource.local and Path(resource.location).is_file():  # a CoNLL text file: WikiGold
        return to_dataset_dict(split_by_document(read_conll(resource.location, scheme="iob1")))
    from datasets import load_dataset

    from course_utils.resources import classify_load_error

    try:
        loaded = load_dataset(resource.location, revision=resource.revision)
    except Exception as err:  # no Hub and no cache; a source this version cannot load; a wrong folder
        raise classify_load_error(resource, err) from err
    return check_ner_data(loaded, resource)


def check_ner_data(loaded, resource):
    """CoNLL-2003's layout or a DataMismatchError naming what differs; returns train/dev/test with tokens, ner_tags."""
    from datasets import DatasetDict

    from course_utils.resources import data_mismatch

    splits = {"dev" if name == "validation" else name: split for name, split in loaded.items()}
    if set(splits) != {"train", "dev", "test"}:
        raise data_mismatch(resource, f"its splits are {sorted(loaded)}, not train/validation/test")
    for name, split in splits.items():
        missing = {"tokens", "ner_tags"} - set(split.column_names)
        if missing:
            raise data_mismatch(resource, f"split {name!r} has no column {', '.join(sorted(missing))}")
        feature = getattr(split.features["ner_tags"], "feature", None)
        names = getattr(feature, "names", None)
        if names != LABELS:
            raise data_mismatch(resource, f"split {name!r} has ner_tags labels {names}")
    sizes = {name: len(split) for name, split in splits.items()}
    if resource.expected_splits is not None and sizes != resource.expected_splits:
        raise data_mismatch(resource, f"its splits hold {sizes} sentences, not {resource.expected_splits}")
    return DatasetDict({name: splits[name].select_columns(["tokens", "ner_tags"]) for name in ("train", "dev", "test")})


def limit_sentences(data, max_train: int | None, max_eval: int | None):
    """A new DatasetDict of the first max_train training and max_eval dev/test sentences (None: all)."""
    limits = {"train": max_train, "dev": max_eval, "test": max_eval}
    return type(data)(
        {
            name: split if limits.get(name) is None else split.select(range(min(limits[name], len(split))))
            for name, split in data.items()
        }
    )


# --- sub-tokens and labels ---------------------------------------------------------------------------


def align_labels(word_ids: list[int | None], word_labels: list[int]) -> list[int]:
    """The first sub-token of each word carries the word's label; later sub-tokens and specials get -100."""
    labels, previous = [], None
    for word_id in word_ids:
        if word_id is None or word_id == previous:
            labels.append(IGNORE_INDEX)  # [CLS]/[SEP]/padding, or a continuation piece: not scored
        else:
            labels.append(word_labels[word_id])
        previous = word_id
    return labels


def lowercases(tokenizer) -> bool:
    """True when the tokenizer maps "Paris" and "paris" to the same ids (an uncased model cannot see case)."""
    capital, lower = (tokenizer(word, add_special_tokens=False)["input_ids"] for word in ("Paris", "paris"))
    return capital == lower


def casing_type_ids(words: list[str], word_ids: list[int | None]) -> list[int]:
    """Token type 1 for every sub-token of a capitalised word, 0 elsewhere (specials included)."""
    return [0 if w is None or w < 0 else int(words[w][:1].isupper()) for w in word_ids]


def tokenize_and_align(examples: dict, tokenizer, max_length: int) -> dict:
    """Tokenize pre-split words, align labels, record word ids and cut words; casing as token types if uncased."""
    encoded = tokenizer(examples["tokens"], is_split_into_words=True, truncation=True, max_length=max_length)
    encoded["labels"], encoded["word_ids"], encoded["words_cut"] = [], [], []
    uncased, casing = lowercases(tokenizer), []
    for i, word_labels in enumerate(examples["ner_tags"]):
        word_ids = encoded.word_ids(i)
        kept = {w for w in word_ids if w is not None}
        encoded["labels"].append(align_labels(word_ids, word_labels))
        encoded["word_ids"].append([-1 if w is None else w for w in word_ids])
        encoded["words_cut"].append(len(word_labels) - len(kept))
        if uncased:  # single sentences leave the segment embedding unused: let it carry the capitals
            casing.append(casing_type_ids(examples["tokens"][i], word_ids))
    if uncased:
        encoded["token_type_ids"] = casing
    return encoded


# --- batches ------------------------------------------------------------------------------------------


def length_grouped_batches(lengths: list[int], batch_size: int, seed: int = 0, group: int = 50) -> list[list[int]]:
    """Batches of similar length (less padding): shuffle, sort within groups of `group` batches, shuffle batches."""
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    batches = []
    for start in range(0, len(order), batch_size * group):
        chunk = sorted(order[start : start + batch_size * group], key=lambda i: lengths[i], reverse=True)
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


class LengthGroupedSampler(torch.utils.data.Sampler):
    """Yields length-grouped batches, reshuffled every epoch; another seed, another sequence of orders."""

    def __init__(self, lengths: list[int], batch_size: int, seed: int = 0) -> None:
        self.lengths, self.batch_size, self.seed, self.epoch = lengths, batch_size, seed, 0
        self.num_batches = len(length_grouped_batches(lengths, batch_size, seed))

    def __iter__(self):
        batches = length_grouped_batches(self.lengths, self.batch_size, self.seed * 10_000 + self.epoch)
        self.epoch += 1
        return iter(batches)

    def __len__(self) -> int:
        return self.num_batches


MODEL_KEYS = ("input_ids", "attention_mask", "token_type_ids", "labels")


def make_collator(tokenizer, pad_to: int | None = None):
    """Pad a batch to its longest row (or to `pad_to`); labels are padded with -100, never with O."""
    from transformers import DataCollatorForTokenClassification

    base = DataCollatorForTokenClassification(
        tokenizer, padding="max_length" if pad_to else True, max_length=pad_to, label_pad_token_id=IGNORE_INDEX
    )
    return lambda rows: base([{k: row[k] for k in MODEL_KEYS if k in row} for row in rows])


# --- the whole pipeline (chapters 04 and 05) ------------------------------------------------------


def tokenize(data, tokenizer, max_length: int):
    """Every split through `tokenize_and_align`, in batches of rows."""
    return data.map(lambda rows: tokenize_and_align(rows, tokenizer, max_length), batched=True)


@dataclass
class NERData:
    """The data a fine-tuning run needs: tokenized train/dev/test and the batch collator."""

    tokenized: dict  # a DatasetDict: train/dev/test with input_ids, labels, word_ids, ner_tags ...
    collate: Callable[[list[dict]], dict[str, torch.Tensor]]  # rows -> a batch padded to its longest row


def prepare_ner_data(cfg: NERConfig, tokenizer, data=None) -> NERData:
    """Load (unless `data` is given), keep the profile's share, tokenize, pad."""
    data = load_ner_data() if data is None else data
    data = limit_sentences(data, cfg.max_train_sentences, cfg.max_eval_sentences)
    return NERData(tokenize(data, tokenizer, cfg.max_length), make_collator(tokenizer))
