"""Chapter 04: named-entity recognition - CoNLL files, IOB2, label alignment, entity-level metrics, prediction."""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch

from course_utils.losses import IGNORE_INDEX
from course_utils.train import History, TrainConfig, train

ENTITY_TYPES = ("PER", "ORG", "LOC", "MISC")
# CoNLL-2003's label order, so that the Hub copy and the local WikiGold files share one label set
LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
LABEL2ID = {label: i for i, label in enumerate(LABELS)}
_TAG = re.compile(r"^(O|[BI]-(PER|ORG|LOC|MISC))$")


class ConllFormatError(ValueError):
    """A CoNLL file that does not follow the format; the message names the file and line."""


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
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    sentences, tokens, tags, doc, start, columns = [], [], [], -1, 0, None

    def close() -> None:
        if tokens:
            if scheme == "iob2":
                check_iob2(tags, path, start)
            sentences.append(Sentence(tokens.copy(), to_iob2(tags), max(doc, 0), start))
            tokens.clear()
            tags.clear()

    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.split()
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
        if not _TAG.match(fields[-1]):
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


def check_iob2(tags: list[str], path: Path | str = "<tags>", first_line: int = 1) -> None:
    """Raise if an I-X tag does not continue a B-X or I-X (what IOB2 promises)."""
    previous = "O"
    for offset, tag in enumerate(tags):
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            raise ConllFormatError(
                f"{path}:{first_line + offset}: {tag} follows {previous}, which IOB2 forbids "
                "(read the file with scheme='iob1' to convert it)"
            )
        previous = tag


def to_iob2(tags: list[str]) -> list[str]:
    """IOB1 or IO tags to IOB2: an I-X that starts an entity becomes B-X."""
    out, previous = [], "O"
    for tag in tags:
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            tag = "B-" + tag[2:]
        out.append(tag)
        previous = tag
    return out


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


def entities(tags: list[str]) -> list[tuple[str, int, int]]:
    """(type, start, end) spans of IOB2 tags, end exclusive."""
    spans, current = [], None
    for i, tag in enumerate([*tags, "O"]):
        if current and not (tag.startswith("I-") and tag[2:] == current[0]):
            spans.append((current[0], current[1], i))
            current = None
        if tag.startswith("B-") or (tag.startswith("I-") and current is None):
            current = (tag[2:], i)
    return spans


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
    """The first max_train training and max_eval dev/test sentences (None: all): the small profiles' data."""
    limits = {"train": max_train, "dev": max_eval, "test": max_eval}
    for name, limit in limits.items():
        if limit is not None and name in data:
            data[name] = data[name].select(range(min(limit, len(data[name]))))
    return data


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


def word_log_probs(token_log_probs: torch.Tensor, word_ids: list[int], num_words: int) -> torch.Tensor:
    """(num_words, labels): each word's first sub-token's log-probabilities; words truncation removed are surely O."""
    out = torch.full((num_words, token_log_probs.shape[-1]), -math.inf)
    out[:, LABEL2ID["O"]] = 0.0  # rows left like this score the word as missed, never drop it
    seen = set()
    for position, word in enumerate(word_ids[: len(token_log_probs)]):
        if word >= 0 and word not in seen:
            out[word] = token_log_probs[position]
            seen.add(word)
    return out


def allowed_transitions(id2label: dict) -> torch.Tensor:
    """(labels, labels): 0 where label j may follow label i in IOB2, -inf where not (I-X needs B-X or I-X before)."""
    n = len(id2label)
    allowed = torch.zeros(n, n)
    for i in range(n):
        for j in range(n):
            if id2label[j].startswith("I-") and id2label[i][2:] != id2label[j][2:]:
                allowed[i, j] = -math.inf
    return allowed


def constrained_decode(log_probs: torch.Tensor, id2label: dict) -> list[int]:
    """Viterbi: the most probable valid IOB2 sequence (I-X never after O or first)."""
    allowed = allowed_transitions(id2label)  # (labels, labels)
    start = torch.tensor(
        [
            -math.inf if id2label[j].startswith("I-") else 0.0
            for j in range(len(id2label))
        ]
    )
    score, back = start + log_probs[0], []  # (labels,)
    for emission in log_probs[1:]:
        best, previous = (score[:, None] + allowed).max(
            dim=0
        )  # (labels,): the best predecessor of each label
        back.append(previous)
        score = best + emission
    path = [int(score.argmax())]
    for previous in reversed(back):
        path.append(int(previous[path[-1]]))
    return path[::-1]


def decode_words(token_logits: torch.Tensor, word_ids: list[int], num_words: int, id2label: dict, constrained: bool):
    """Word-level label ids from one row's (seq, labels) logits: constrained (Viterbi) or per-word argmax."""
    if num_words == 0:
        return []
    scores = word_log_probs(token_logits.float().log_softmax(-1), word_ids, num_words)  # (words, labels)
    return constrained_decode(scores, id2label) if constrained else scores.argmax(-1).tolist()


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
    """Yields length-grouped batches, reshuffled every epoch."""

    def __init__(self, lengths: list[int], batch_size: int, seed: int = 0) -> None:
        self.lengths, self.batch_size, self.seed, self.epoch = lengths, batch_size, seed, 0
        self.num_batches = len(length_grouped_batches(lengths, batch_size, seed))

    def __iter__(self):
        batches = length_grouped_batches(self.lengths, self.batch_size, self.seed + self.epoch)
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


def tokens_per_second(model, dataset, collate, batches: list[list[int]]) -> float:
    """Real (non-padding) tokens per second of forward + backward over `batches` of row indices."""
    import time

    device = next(model.parameters()).device
    model.train()
    real_tokens, start = 0, time.perf_counter()
    for indices in batches:
        batch = {k: v.to(device) for k, v in collate([dataset[i] for i in indices]).items()}
        model(**batch).loss.backward()
        real_tokens += int(batch["attention_mask"].sum())
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    model.zero_grad(set_to_none=True)
    return real_tokens / seconds


# --- metrics -------------------------------------------------------------------------------------------


def entity_scores(true_tags: list[list[str]], pred_tags: list[list[str]]) -> dict:
    """seqeval entity-level precision, recall and F1 (strict IOB2), overall and per type."""
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOB2

    report = classification_report(true_tags, pred_tags, mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
    scores = {t: report[t] for t in ENTITY_TYPES if t in report}
    overall = report["micro avg"]
    return {"precision": overall["precision"], "recall": overall["recall"], "f1": overall["f1-score"], "types": scores}


def entity_confusion(true_tags: list[list[str]], pred_tags: list[list[str]]) -> dict[str, Counter]:
    """For each gold type: how its entities were predicted (a type on the exact span, 'missed'); plus 'spurious'."""
    confusion = {t: Counter() for t in (*ENTITY_TYPES, "spurious")}
    for gold, pred in zip(true_tags, pred_tags, strict=True):
        gold_spans = {(s, e): t for t, s, e in entities(gold)}
        pred_spans = {(s, e): t for t, s, e in entities(pred)}
        for span, kind in gold_spans.items():
            confusion[kind][pred_spans.get(span, "missed")] += 1
        for span, kind in pred_spans.items():
            if span not in gold_spans:
                confusion["spurious"][kind] += 1
    return confusion


@torch.no_grad()
def evaluate_ner(model, dataset, collate, id2label: dict, batch_size: int = 32, device=None, constrained=True) -> dict:
    """Loss, entity-level scores and word-level predictions on a tokenized split (Viterbi-decoded by default)."""
    device = device or next(model.parameters()).device
    model.eval()
    true_tags, pred_tags, total_loss, total_tokens = [], [], 0.0, 0
    for start in range(0, len(dataset), batch_size):
        rows = dataset[start : start + batch_size]
        keys = [k for k in MODEL_KEYS if k in rows]
        batch = collate([{k: rows[k][i] for k in keys} for i in range(len(rows["input_ids"]))])
        batch = {k: v.to(device) for k, v in batch.items()}
        out = model(**batch)
        scored = int((batch["labels"] != IGNORE_INDEX).sum())
        total_loss += float(out.loss) * scored
        total_tokens += scored
        for logits, word_ids, tags in zip(out.logits.cpu(), rows["word_ids"], rows["ner_tags"], strict=True):
            words = decode_words(logits, word_ids, len(tags), id2label, constrained)
            pred_tags.append(to_iob2([id2label[p] for p in words]))  # argmax: a stray I- after O starts an entity
            true_tags.append([id2label[t] for t in tags])
    model.train()
    return {
        "loss": total_loss / max(total_tokens, 1),
        **entity_scores(true_tags, pred_tags),
        "true_tags": true_tags,
        "pred_tags": pred_tags,
    }


# --- fine-tuning (chapters 04 and 05) -------------------------------------------------------------------


@dataclass
class FineTuneResult:
    """What a fine-tuning run cost and reached: the loop's history, train seconds per epoch, peak memory."""

    history: History
    epochs: float  # epochs done (fewer than planned if the time budget stopped the run)
    seconds_per_epoch: float  # training only: dev evaluations excluded
    peak_memory_mb: float  # see course_utils.env.PeakMemory


def fine_tune(
    model,
    tokenized,
    collate,
    lr: float,
    num_epochs: int,
    batch_size: int,
    warmup_ratio: float = 0.1,
    time_budget_s: float | None = None,
    progress: bool = True,
    layer_lr_decay: float = 1.0,
    head_lr_scale: float = 1.0,
    ema_decay: float | None = None,
) -> FineTuneResult:
    """Train on tokenized['train'] with the shared loop; keep the best dev entity F1."""
    from course_utils.env import PeakMemory, pick_device

    device = pick_device()
    lengths = [len(ids) for ids in tokenized["train"]["input_ids"]]
    loader = torch.utils.data.DataLoader(
        tokenized["train"],
        batch_sampler=LengthGroupedSampler(lengths, batch_size),
        collate_fn=collate,
    )
    steps = num_epochs * len(loader)
    cfg = TrainConfig(
        lr=lr,
        num_epochs=num_epochs,
        warmup_steps=int(warmup_ratio * steps),
        time_budget_s=time_budget_s,
        best_metric="f1",
        layer_lr_decay=layer_lr_decay,
        head_lr_scale=head_lr_scale,
        ema_decay=ema_decay,
    )

    def dev_scores(m) -> dict:
        result = evaluate_ner(m, tokenized["dev"], collate, m.config.id2label)
        return {k: result[k] for k in ("loss", "precision", "recall", "f1")}

    with PeakMemory(device) as peak:
        history = train(
            model, loader, cfg, evaluate=dev_scores, device=device, progress=progress
        )
    epochs = len(history.steps) / len(loader)
    return FineTuneResult(
        history, epochs, (history.seconds - history.eval_seconds) / epochs, peak.mb
    )


METRICS_FILE = "course_metrics.json"


def save_finetuned(model, tokenizer, metrics: dict, directory: Path) -> None:
    """Save model (safetensors), tokenizer and the run's figures (chapter 05 compares against them)."""
    import json

    directory = Path(directory)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    (directory / METRICS_FILE).write_text(json.dumps(metrics, indent=1) + "\n")


def load_finetuned(directory: Path):
    """(model, tokenizer, metrics) saved by chapter 04; a clear error when chapter 04 has not been run."""
    import json

    from transformers import AutoTokenizer, BertForTokenClassification

    directory = Path(directory)
    if not (directory / METRICS_FILE).is_file():
        raise FileNotFoundError(
            f"no fine-tuned NER model in {directory}: run notebooks/04_bert_ner_finetuning.ipynb first, "
            "in the same COURSE_PROFILE (it saves the model there). On Colab each notebook gets a new "
            "machine: let chapter 04's first cell mount Google Drive, and mount the same Drive here"
        )
    model = BertForTokenClassification.from_pretrained(directory)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    return model, tokenizer, json.loads((directory / METRICS_FILE).read_text())


# --- using the model ----------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+(?:[-'.]\w+)*|[^\w\s]")


@torch.no_grad()
def predict(model, tokenizer, text: str) -> list[dict]:
    """Entity spans in raw text: [{'text', 'type', 'start', 'end', 'score'}], from word-level predictions."""
    matches = list(_WORD.finditer(text))
    if not matches:
        return []
    words = [m.group() for m in matches]
    device = next(model.parameters()).device
    encoded = tokenizer(words, is_split_into_words=True, truncation=True, return_tensors="pt")
    word_ids = [-1 if w is None else w for w in encoded.word_ids(0)]
    if lowercases(tokenizer):  # as in training: the capital letters go in as token types
        encoded["token_type_ids"] = torch.tensor([casing_type_ids(words, word_ids)])
    model.eval()
    logits = model(**{k: v.to(device) for k, v in encoded.items()}).logits[0].cpu()  # (seq, labels)
    id2label = model.config.id2label
    labels = [id2label[i] for i in decode_words(logits, word_ids, len(words), id2label, constrained=True)]
    probs = word_log_probs(logits.float().log_softmax(-1), word_ids, len(words)).exp()  # (words, labels)
    scores = [float(probs[w, model.config.label2id[label]]) for w, label in enumerate(labels)]
    spans = []
    for kind, start, end in entities(to_iob2(labels)):
        spans.append(
            {
                "text": text[matches[start].start() : matches[end - 1].end()],
                "type": kind,
                "start": matches[start].start(),
                "end": matches[end - 1].end(),
                "score": sum(scores[start:end]) / (end - start),  # mean of its words' probabilities
            }
        )
    return spans
