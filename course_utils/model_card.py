"""A model card: what the model is for, how it was trained and scored, where it fails, under which licences."""

from __future__ import annotations

from dataclasses import dataclass, field

# Licences of what the course trains on and starts from (each checked at its source; see data/*/SOURCE.md).
LICENCES = {
    "all-MiniLM-L6-v2": "Apache-2.0 (sentence-transformers/all-MiniLM-L6-v2 on the Hugging Face Hub)",
    "bert-base-cased": "Apache-2.0 (google-bert/bert-base-cased on the Hugging Face Hub)",
    "WikiGold": "CC-BY 4.0, attribution: Balasuriya et al. (2009), Nothman et al. (2013)",
    "CoNLL-2003": "Reuters RCV1 text: research use under the Reuters Corpus agreement, no redistribution",
}
ENTITY_TYPES = {
    "PER": "people",
    "ORG": "organisations",
    "LOC": "places",
    "MISC": "other names (events, nationalities, works)",
}


@dataclass(frozen=True)
class CardFacts:
    """What the card states: every figure comes from a run, none is typed in."""

    encoder: str  # "all-MiniLM-L6-v2", "bert-base-cased", or a path
    uncased: bool  # the encoder lowercases its input (capitals go in as token types)
    data: str  # "WikiGold" or "CoNLL-2003"
    sentences: dict[str, int]  # split -> sentences
    profile: str
    epochs: float
    seeds: int  # fine-tuning runs behind the mean
    test_f1: float  # the served model's entity F1 on test
    test_f1_seeds: tuple[float, float]  # mean and sd over the seeds' runs
    per_type: dict[str, dict[str, float]]  # type -> precision, recall, f1, support
    latency_ms: dict[str, float] = field(default_factory=dict)  # what -> milliseconds
    size_mb: float = 0.0


def _domain(data: str) -> str:
    """The kind of text a data set holds."""
    return {"WikiGold": "Wikipedia articles", "CoNLL-2003": "Reuters news, 1996-97"}.get(data, "its own text")


def model_card(facts: CardFacts) -> str:
    """The card as Markdown (a Hugging Face README.md: save it beside the weights)."""
    licence_model = LICENCES.get(facts.encoder, "see the encoder's own model card")
    licence_data = LICENCES.get(facts.data, "see the data's own SOURCE.md")
    splits = ", ".join(f"{n:,} {split}" for split, n in facts.sentences.items())
    mean, sd = facts.test_f1_seeds
    rows = "\n".join(
        f"| {kind} ({ENTITY_TYPES.get(kind, '')}) | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} "
        f"| {int(s['support']):,} |"
        for kind, s in sorted(facts.per_type.items())
    )
    weakest = min(facts.per_type, key=lambda kind: facts.per_type[kind]["f1"])
    speed = "; ".join(f"{what}: {ms:.1f} ms" for what, ms in facts.latency_ms.items())
    casing = (
        "The encoder is uncased: it sees lowercase text, and capital letters reach the model only as token "
        "types. All-caps or all-lowercase input (headlines, chat, transcripts) loses that cue and scores lower."
        if facts.uncased
        else "The encoder is cased: capital letters are part of the input, so all-caps or all-lowercase text "
        "(headlines, chat, transcripts) is far from what it was trained on and scores lower."
    )
    return f"""# Named-entity tagger: {facts.encoder} fine-tuned on {facts.data}

Tags people (PER), organisations (ORG), places (LOC) and other names (MISC) in English text, and returns each
entity's characters, type and a probability. Built in chapter 04 of the course, in its `{facts.profile}` profile.

## Intended use
- Marking names in English prose of the kind it was trained on ({facts.data}: {_domain(facts.data)}),
  to help a person read, search or index text.
- Teaching: how a pretrained encoder is fine-tuned, measured, shrunk and served.

Not for: decisions about the people it names; text in other languages; medical, legal or other specialised
documents; anything where a missed or invented name causes harm without a person checking.

## Training
- Encoder: {facts.encoder}, all weights fine-tuned with a new 9-label head (IOB2 tags), {facts.epochs:g} epochs.
- Data: {facts.data}, split by document ({splits} sentences).
- {facts.seeds} runs with different seeds; this model is the one with the best dev F1. Settings were chosen
  on dev; test was read once.

## Results on the test split
Entity-level F1 (strict: type and both ends must match): **{facts.test_f1:.3f}** for this model;
{mean:.3f} ± {sd:.3f} (mean ± sd) over the {facts.seeds} seeds.

| type | precision | recall | F1 | entities in test |
|---|---|---|---|---|
{rows}

The weakest type is {weakest}.{f" Latency on the serving machine: {speed}." if speed else ""}\
{f" Size: {facts.size_mb:.0f} MB." if facts.size_mb else ""}

## Known limits
- Domain: trained on {facts.data} only. News, social media, scientific or historical text differ in names and
  style; expect lower scores there, and measure before relying on it.
- {casing}
- Long input: the encoder reads at most 512 sub-tokens; the service refuses texts over its character limit
  (split them into paragraphs).
- The four types are CoNLL-2003's. Dates, amounts, products and many other kinds of names are not tagged, and
  MISC mixes several kinds.
- Names from some regions and cultures are rarer in the training data and may be found less often;
  this model has not been audited for that.

## Licences
- Encoder: {licence_model}.
- Data: {licence_data}.
- The fine-tuned weights inherit both: keep the attribution, and respect the data's terms.
"""
