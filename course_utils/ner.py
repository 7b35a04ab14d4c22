"""The NER model: a new head on the encoder, fine-tuning it, scoring it, saving it, predicting with it."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from course_utils.config import NER, NERConfig
from course_utils.device import PeakMemory, pick_device, time_calls
from course_utils.handover import NERRunSummary, SeedRun
from course_utils.losses import IGNORE_INDEX
from course_utils.ner_data import MODEL_KEYS, LengthGroupedSampler, NERData, casing_type_ids, lowercases
from course_utils.stats import entity_counts
from course_utils.tagging import LABEL2ID, LABELS, decode_words, entities, entity_scores, to_iob2, word_log_probs
from course_utils.train import History, default_loss, fit


def new_token_classifier(seed: int = 0, quiet: bool = False, cfg: NERConfig | None = None, **kwargs):
    """The profile's pretrained encoder, cut to `cfg.encoder_layers` (default: the active profile's NER config),
    with a new, seeded 9-label head (`quiet`: no load report)."""
    import transformers
    from transformers import BertForTokenClassification

    from course_utils.resources import from_pretrained

    layers = (cfg or NER.pick()).encoder_layers
    if layers is not None:
        from transformers import AutoConfig

        depth = from_pretrained(AutoConfig).num_hidden_layers
        if layers > depth:
            raise ValueError(
                f"NERConfig.encoder_layers={layers}, but the encoder has {depth} layers: keep at most {depth} "
                "(None keeps them all)"
            )
        kwargs.setdefault("num_hidden_layers", layers)  # the first `layers` load; the rest are left out
    torch.manual_seed(seed)  # the head's random initialisation
    verbosity = transformers.logging.get_verbosity()
    if quiet:  # the report says "classifier MISSING": the new head, expected
        transformers.logging.set_verbosity_error()
    try:
        labels = {"num_labels": len(LABELS), "id2label": dict(enumerate(LABELS)), "label2id": LABEL2ID}
        return from_pretrained(BertForTokenClassification, **labels, **kwargs)
    finally:
        transformers.logging.set_verbosity(verbosity)


def encoder_description(cfg: NERConfig | None = None) -> str:
    """The encoder the tagger is built on, as the chapters print it: its description, and the layers kept."""
    from course_utils.resources import resolve_model

    layers = (cfg or NER.pick()).encoder_layers
    kept = f", its first {layers} layers" if layers is not None else ""
    return resolve_model().description + kept


def tokens_per_second(model, dataset, collate, batches: list[list[int]]) -> float:
    """Real (non-padding) tokens per second of forward + backward over `batches` of row indices."""
    device = next(model.parameters()).device
    model.train()
    rows = [collate([dataset[i] for i in indices]) for indices in batches]
    real_tokens = sum(int(batch["attention_mask"].sum()) for batch in rows)

    def forward_backward() -> None:
        for batch in rows:
            model(**{k: v.to(device) for k, v in batch.items()}).loss.backward()

    (seconds,) = time_calls(forward_backward, repeats=1, warmup=0, device=device)
    model.zero_grad(set_to_none=True)
    return real_tokens / seconds


# --- scoring -----------------------------------------------------------------------------------------------


@torch.no_grad()
def evaluate_ner(model, dataset, collate, id2label: dict, batch_size: int = 32, device=None, constrained=True) -> dict:
    """Loss, entity-level scores and word-level predictions on a tokenized split (Viterbi-decoded by default),
    the predictions in the split's order (it is batched by length).

    The model is scored in eval mode and left in the mode it came in."""
    device = device or _device(model)
    was_training = model.training
    model.eval()
    true_tags, pred_tags = [None] * len(dataset), [None] * len(dataset)
    total_loss, total_tokens = 0.0, 0
    lengths = [len(ids) for ids in dataset["input_ids"]]
    order = sorted(range(len(dataset)), key=lengths.__getitem__)  # batches of like lengths: little padding
    for start in range(0, len(dataset), batch_size):
        chosen = order[start : start + batch_size]
        rows = dataset[chosen]
        keys = [k for k in MODEL_KEYS if k in rows]
        batch = collate([{k: rows[k][i] for k in keys} for i in range(len(chosen))])
        batch = {k: v.to(device) for k, v in batch.items()}
        out = model(**batch)
        scored = int((batch["labels"] != IGNORE_INDEX).sum())
        total_loss += float(out.loss) * scored
        total_tokens += scored
        for i, logits, word_ids, tags in zip(chosen, out.logits.cpu(), rows["word_ids"], rows["ner_tags"], strict=True):
            words = decode_words(logits, word_ids, len(tags), id2label, constrained)
            pred_tags[i] = to_iob2([id2label[p] for p in words])  # argmax: a stray I- after O starts an entity
            true_tags[i] = [id2label[t] for t in tags]  # in the dataset's order again
    model.train(was_training)
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
    peak_memory_mb: float  # see course_utils.device.PeakMemory


def fine_tune(
    model, data: NERData, cfg: NERConfig, progress: bool = True, loss_fn=default_loss
) -> FineTuneResult:
    """Train with the shared loop and `cfg`'s recipe; keep the best dev entity F1."""
    empty = [name for name in ("train", "dev") if len(data.tokenized[name]) == 0]
    if empty:
        splits = " and ".join(empty)
        raise ValueError(f"the {splits} split is empty: check the data and the limits")
    device = pick_device()
    lengths = [len(ids) for ids in data.tokenized["train"]["input_ids"]]
    loader = torch.utils.data.DataLoader(
        data.tokenized["train"],
        batch_sampler=LengthGroupedSampler(lengths, cfg.batch_size, cfg.seed),
        collate_fn=data.collate,
    )

    def dev_scores(m) -> dict:
        result = evaluate_ner(m, data.tokenized["dev"], data.collate, m.config.id2label)
        return {k: result[k] for k in ("loss", "precision", "recall", "f1")}

    with PeakMemory(device) as peak:
        history = fit(
            model,
            loader,
            cfg.train_config(len(loader)),
            evaluate=dev_scores,
            loss_fn=loss_fn,  # the model's own loss, or e.g. a teacher's (chapter 05)
            device=device,
            progress=progress,
        )
    epochs = len(history.steps) / len(loader)
    return FineTuneResult(
        history, epochs, (history.seconds - history.eval_seconds) / epochs, peak.mb
    )


def seed_run(model, data: NERData, cfg: NERConfig, progress: bool = False) -> SeedRun:
    """Fine-tune what requires grad in `model` by `cfg` (its seed orders the batches), then read test once."""
    return test_run(model, data, fine_tune(model, data, cfg, progress=progress), cfg.seed)


def test_run(model, data: NERData, result: FineTuneResult, seed: int) -> SeedRun:
    """A fine-tuned run's record: its dev F1 and cost, and the test split read now (once, for a kept run)."""
    test = evaluate_ner(model, data.tokenized["test"], data.collate, model.config.id2label)
    return SeedRun(
        seed=seed,
        dev_f1=result.history.best["f1"],
        test_counts=entity_counts(test["true_tags"], test["pred_tags"]).long().tolist(),
        seconds_per_epoch=result.seconds_per_epoch,
        peak_memory_mb=result.peak_memory_mb,
    )


# --- saving and loading ------------------------------------------------------------------------------------

SEEDS_FOLDER = "seeds"  # beside the kept model: every other seed's weights, one folder per seed


def save_finetuned(model, tokenizer, summary: NERRunSummary, directory: Path, others: dict | None = None) -> None:
    """Save the kept model (safetensors), tokenizer and the run's summary, and `others` {seed: model} in seeds/."""
    directory, others = Path(directory), others or {}
    wrong = [seed for seed in others if seed == summary.seed or seed not in {run.seed for run in summary.seeds}]
    if wrong:
        raise ValueError(f"seeds {wrong} are the kept seed or not among the summary's runs: nothing was saved")
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    summary.save(directory)
    shutil.rmtree(directory / SEEDS_FOLDER, ignore_errors=True)  # an earlier run's seeds
    for seed, other in others.items():
        other.save_pretrained(directory / SEEDS_FOLDER / str(seed))


def load_seed_model(directory: Path, seed: int, profile: str | None = None):
    """The model chapter 04 trained with `seed` (the kept one or another seed's), from `directory`; with
    `profile`, the folder must come from chapter 04 in that profile."""
    from transformers import BertForTokenClassification

    directory = Path(directory)
    summary = NERRunSummary.load(directory, profile)
    if seed == summary.seed:
        where = directory
    elif seed in {run.seed for run in summary.seeds}:
        where = directory / SEEDS_FOLDER / str(seed)
    else:
        raise ValueError(f"chapter 04 ran no seed {seed} (its seeds: {[run.seed for run in summary.seeds]})")
    if not (where / "model.safetensors").is_file():
        raise FileNotFoundError(
            f"no weights for seed {seed} in {where}: run notebooks/04_bert_ner_finetuning.ipynb again "
            "in the profile you use (it saves every seed's model)"
        )
    return BertForTokenClassification.from_pretrained(where, use_safetensors=True)


def load_finetuned(directory: Path, profile: str | None = None) -> tuple:
    """(model, tokenizer, NERRunSummary) saved by chapter 04; a clear error when missing, damaged or another run's.

    With `profile`, the folder must come from chapter 04 in that profile, with that profile's encoder.
    """
    from safetensors import SafetensorError
    from transformers import AutoTokenizer, BertForTokenClassification

    directory = Path(directory)
    rerun = f"run notebooks/04_bert_ner_finetuning.ipynb again in the profile you use (it rewrites {directory})"
    if not (directory / NERRunSummary.FILE).is_file():
        raise FileNotFoundError(
            f"no fine-tuned NER model in {directory}: run notebooks/04_bert_ner_finetuning.ipynb first, "
            "in the same COURSE_PROFILE (it saves the model there). On Colab each notebook gets a new "
            "machine: let chapter 04's first cell mount Google Drive, and mount the same Drive here"
        )
    summary = NERRunSummary.load(directory, profile)
    if not (directory / "model.safetensors").is_file():
        raise FileNotFoundError(
            f"{directory} has no model.safetensors (the weights); the course loads weights only from safetensors, "
            f"never from a pickled .bin: {rerun}"
        )
    try:
        model = BertForTokenClassification.from_pretrained(directory, use_safetensors=True)
        tokenizer = AutoTokenizer.from_pretrained(directory)
    except (OSError, ValueError, RuntimeError, SafetensorError) as err:
        problem = f"{type(err).__name__}: {err}"
        raise ValueError(f"the model in {directory} could not be loaded ({problem}): {rerun}") from err
    return model, tokenizer, summary


# --- using the model ----------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+(?:[-'.]\w+)*|[^\w\s]")


def _device(model) -> torch.device:
    """Where the model's weights are; the CPU for a model with none of its own (an ONNX Runtime session)."""
    return next(model.parameters(), torch.empty(0)).device


@torch.no_grad()
def max_tokens(model) -> int:
    """The most sub-tokens, [CLS] and [SEP] included, the model can read at once."""
    return model.config.max_position_embeddings


def check_text(model, tokenizer, text, where: str = "text") -> None:
    """A clear error for what the tagger cannot read: not a string, empty, or longer than its positions."""
    if not isinstance(text, str):
        raise TypeError(f"{where} must be a str, not {type(text).__name__}: pass the sentence itself")
    words = [m.group() for m in _WORD.finditer(text)]
    if not words:
        raise ValueError(f"{where} is empty: pass at least one word to tag")
    n = len(tokenizer(words, is_split_into_words=True)["input_ids"])
    if n > max_tokens(model):
        raise ValueError(
            f"{where} has {len(words):,} words, {n:,} sub-tokens with [CLS] and [SEP]; the model reads at most "
            f"{max_tokens(model):,}: split it into sentences and tag each"
        )


@torch.no_grad()
def predict_batch(model, tokenizer, texts: list[str]) -> list[list[dict]]:
    """Entity spans for each text, run as one padded batch: [{'text', 'type', 'start', 'end', 'score'}]."""
    if isinstance(texts, str):
        raise TypeError("texts must be a list of str; for one text call predict(model, tokenizer, text)")
    for i, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            check_text(model, tokenizer, text, where=f"texts[{i}]")
    found = [list(_WORD.finditer(text)) for text in texts]
    rows = [i for i, matches in enumerate(found) if matches]
    results: list[list[dict]] = [[] for _ in texts]
    if not rows:
        return results
    words = [[m.group() for m in found[i]] for i in rows]
    encoded = tokenizer(words, is_split_into_words=True, padding=True, return_tensors="pt")
    if encoded["input_ids"].shape[1] > max_tokens(model):  # never cut a text short without saying so
        for i in rows:
            check_text(model, tokenizer, texts[i], where=f"texts[{i}]")
    word_ids = [[-1 if w is None else w for w in encoded.word_ids(r)] for r in range(len(rows))]
    if lowercases(tokenizer):  # as in training: the capital letters go in as token types
        casing = [casing_type_ids(w, ids) for w, ids in zip(words, word_ids, strict=True)]
        encoded["token_type_ids"] = torch.tensor(casing)
    model.eval()
    device = _device(model)
    logits = model(**{k: v.to(device) for k, v in encoded.items()}).logits.float().cpu()  # (texts, seq, labels)
    id2label, label2id = model.config.id2label, model.config.label2id
    for r, i in enumerate(rows):
        n = len(words[r])
        labels = [id2label[j] for j in decode_words(logits[r], word_ids[r], n, id2label, constrained=True)]
        probs = word_log_probs(logits[r].log_softmax(-1), word_ids[r], n).exp()  # (words, labels)
        scores = [float(probs[w, label2id[label]]) for w, label in enumerate(labels)]
        matches = found[i]
        results[i] = [
            {
                "text": texts[i][matches[start].start() : matches[end - 1].end()],
                "type": kind,
                "start": matches[start].start(),
                "end": matches[end - 1].end(),
                "score": sum(scores[start:end]) / (end - start),  # mean of its words' probabilities
            }
            for kind, start, end in entities(to_iob2(labels))
        ]
    return results


def predict(model, tokenizer, text: str) -> list[dict]:
    """Entity spans in raw text: [{'text', 'type', 'start', 'end', 'score'}], from word-level predictions."""
    check_text(model, tokenizer, text)
    return predict_batch(model, tokenizer, [text])[0]
