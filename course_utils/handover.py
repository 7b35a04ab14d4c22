"""What a chapter keeps for later ones: typed, versioned records, checked when they are read back.

A later chapter never reads a raw dict: it loads the record its source chapter saved, and a record from
another layout, profile or encoder is refused with the chapter to run again.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from course_utils.resources import read_text


class HandoverError(ValueError):
    """A saved record cannot be used here: another layout, profile or encoder, or a damaged file."""


def read_record(cls, directory: Path, what: str) -> tuple[dict, Path, str]:
    """The fields of `cls`'s record in `directory`, its path and what to do when it is refused: a damaged file,
    another layout or another set of fields is a HandoverError naming the chapter to run again."""
    path = directory / cls.FILE
    rerun = f"run {cls.CHAPTER} again in the profile you use (it rewrites {directory})"
    try:
        raw = json.loads(read_text(path, what))
    except json.JSONDecodeError as err:
        raise HandoverError(f"{path} is damaged ({err}): {rerun}") from err
    if not isinstance(raw, dict):
        raise HandoverError(f"{path} holds no record (a JSON object was expected): {rerun}")
    layout = raw.pop("layout", 1)
    if layout != cls.LAYOUT:
        raise HandoverError(
            f"{path} has layout {layout}, and this course reads layout {cls.LAYOUT} "
            f"(saved by an older or newer course_utils): {rerun}"
        )
    missing, extra = {f.name for f in fields(cls)} - set(raw), set(raw) - {f.name for f in fields(cls)}
    if missing or extra:
        raise HandoverError(
            f"{path} is not a layout-{cls.LAYOUT} record: missing {sorted(missing)}, unexpected {sorted(extra)}: "
            f"{rerun}"
        )
    return raw, path, rerun


def save_record(record, directory: Path) -> Path:
    """Write a record into `directory` as JSON, with its layout number."""
    path = Path(directory) / record.FILE
    path.write_text(json.dumps({"layout": record.LAYOUT, **asdict(record)}, indent=1) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class SeedRun:
    """One fine-tuning run of chapter 04: its seed, dev F1 and per-sentence test counts."""

    seed: int
    dev_f1: float
    test_counts: list[list[int]]  # (sentences, 3): true positives, predicted and gold entities of each
    seconds_per_epoch: float
    peak_memory_mb: float


@dataclass(frozen=True)
class NERRunSummary:
    """Chapter 04's fine-tuning as chapters 05-07 read it: the kept run and every seed's run."""

    profile: str  # the profile chapter 04 ran in
    encoder: str  # where its encoder came from (resources.resolve_model().location)
    dev_f1: float  # the kept run's
    test_f1: float
    epochs: float
    seconds_per_epoch: float
    peak_memory_mb: float
    trainable_parameters: int
    device: str
    seed: int  # the kept run's seed, chosen on dev
    seeds: tuple[SeedRun, ...]  # every run, for the intervals of chapter 05

    FILE = "course_metrics.json"  # beside the model chapter 04 saves
    LAYOUT = 2  # raise when a field changes: older files are then refused by name
    CHAPTER = "notebooks/04_bert_ner_finetuning.ipynb"

    @property
    def kept_run(self) -> SeedRun:
        """The run whose weights chapter 04 saved."""
        return next(run for run in self.seeds if run.seed == self.seed)

    def save(self, directory: Path) -> Path:
        """Write the record into `directory`, with its layout number."""
        return save_record(self, directory)

    @classmethod
    def load(cls, directory: Path, profile: str | None = None) -> NERRunSummary:
        """Read the record; with `profile`, it must come from that profile and its encoder."""
        raw, path, rerun = read_record(cls, Path(directory), "chapter 04's run summary")
        try:
            summary = cls(**{**raw, "seeds": tuple(SeedRun(**run) for run in raw["seeds"])})
        except TypeError as err:  # a seed's entry with a field missing or unknown
            raise HandoverError(f"{path} has a damaged seed entry ({err}): {rerun}") from err
        if summary.seed not in {run.seed for run in summary.seeds}:
            raise HandoverError(f"{path} keeps seed {summary.seed}, which is not among its runs: {rerun}")
        if profile is not None:
            summary.check_same_run(profile, Path(directory))
        return summary

    def check_same_run(self, profile: str, directory: Path) -> None:
        """The record must come from `profile` and its encoder; otherwise say which run it is and what to do."""
        if self.profile != profile:
            raise HandoverError(
                f"the model in {directory} was fine-tuned in the {self.profile!r} profile, and this is {profile!r}: "
                f"run chapter 04 in {profile!r}, or set COURSE_PROFILE={self.profile} to study that model"
            )
        check_encoder(self.encoder, profile, directory, "chapter 04")


def check_encoder(encoder: str, profile: str, directory: Path, chapter: str) -> None:
    """A record's encoder must be this profile's (wherever installed); otherwise say what to do."""
    from course_utils.resources import resolve_model

    expected = resolve_model(profile).location
    if Path(encoder).parts[-2:] != Path(expected).parts[-2:]:
        raise HandoverError(
            f"the runs in {directory} fine-tuned {encoder!r}, and this profile's encoder is {expected!r} "
            f"(COURSE_ENCODER changed?): run {chapter} again with this encoder, or restore it"
        )


@dataclass(frozen=True)
class GPTSummary:
    """Chapter 08's pretrained GPT as chapters 09-10 read it: its shape, its tokenizer and how well it predicts."""

    profile: str  # the profile chapter 08 ran in
    vocab_size: int  # the BPE's ids and <|endoftext|> (its last id)
    context: int
    layers: int
    heads: int
    width: int
    parameters: int
    train_characters: int  # the characters of tiny Shakespeare it was trained on
    steps: int
    seconds: float  # training wall time
    device: str
    dev_loss: float  # nats per token, the validation split's first half
    test_loss: float  # the second half, read once
    test_bits_per_character: float
    tokens_per_character: float  # of the BPE on the test split
    snapshot_steps: tuple[int, ...]  # the steps whose weights it kept in snapshots/ (chapter 10's curves)

    FILE = "gpt_summary.json"  # beside the model and tokenizer chapter 08 saves
    LAYOUT = 2
    SNAPSHOTS = "snapshots"  # the folder of those weights, inside the model's
    CHAPTER = "notebooks/08_gpt_from_scratch.ipynb"

    def save(self, directory: Path) -> Path:
        """Write the record into `directory`, with its layout number."""
        return save_record(self, directory)

    @classmethod
    def load(cls, directory: Path, profile: str | None = None) -> GPTSummary:
        """Read the record; with `profile`, it must come from that profile."""
        raw, _, rerun = read_record(cls, Path(directory), "chapter 08's model summary")
        summary = cls(**{**raw, "snapshot_steps": tuple(raw["snapshot_steps"])})
        if profile is not None and summary.profile != profile:
            raise HandoverError(
                f"the GPT in {directory} was pretrained in the {summary.profile!r} profile, and this is "
                f"{profile!r}: {rerun}, or set COURSE_PROFILE={summary.profile} to study that model"
            )
        return summary


@dataclass(frozen=True)
class AssistantSummary:
    """Chapter 09's instruction-tuned GPT as chapter 10 reads it: where it came from, how it was tuned, and its
    test exact match per task family."""

    profile: str  # the profile chapter 09 ran in
    decoder: str  # the base model it was tuned from (resources.resolve("decoder").location)
    families: tuple[str, ...]  # the task families it was tuned on (course_utils.instruct_data)
    train_per_family: int
    steps: int
    lr: float  # chosen on dev
    seed: int
    seconds: float  # training wall time
    device: str
    test_exact: dict[str, float]  # family -> exact-match share on test (trained and held-out phrasings)

    FILE = "assistant_summary.json"  # beside the model and tokenizer chapter 09 saves
    LAYOUT = 1
    CHAPTER = "notebooks/09_assistant.ipynb"

    def save(self, directory: Path) -> Path:
        """Write the record into `directory`, with its layout number."""
        return save_record(self, directory)

    @classmethod
    def load(cls, directory: Path, profile: str | None = None) -> AssistantSummary:
        """Read the record; with `profile`, it must come from that profile."""
        raw, _, rerun = read_record(cls, Path(directory), "chapter 09's model summary")
        summary = cls(**{**raw, "families": tuple(raw["families"])})
        if profile is not None and summary.profile != profile:
            raise HandoverError(
                f"the assistant in {directory} was tuned in the {summary.profile!r} profile, and this is "
                f"{profile!r}: {rerun}, or set COURSE_PROFILE={summary.profile} to study that model"
            )
        return summary


@dataclass(frozen=True)
class MethodRuns:
    """One parameter-efficient method of chapter 05: its learning rate (chosen on dev), size and every run."""

    name: str  # as course_utils.dev_search names it ("LoRA", "top-k layers", ...): how to build it again
    label: str  # as the tables show it ("LoRA r=8", "top 2 layers", ...)
    lr: float
    trainable: int  # parameters it trains (the head included)
    total: int  # parameters of the whole model
    stored_mb: float  # what must be kept to ship it beside the pretrained encoder
    runs: tuple[SeedRun, ...]


@dataclass(frozen=True)
class PEFTRunsSummary:
    """Chapter 05's parameter-efficient runs as chapter 10 reads them: on chapter 04's task, data and budget."""

    profile: str
    encoder: str  # resources.resolve_model().location, as chapter 04's record
    methods: tuple[MethodRuns, ...]

    FILE = "peft_runs.json"
    LAYOUT = 1
    CHAPTER = "notebooks/05_peft_and_quantization.ipynb"

    def by_name(self, name: str) -> MethodRuns:
        """The method called `name`; a clear error listing the methods for another."""
        for method in self.methods:
            if method.name == name:
                return method
        raise KeyError(f"chapter 05 ran no {name!r}: it ran {', '.join(m.name for m in self.methods)}")

    def save(self, directory: Path) -> Path:
        """Write the record into `directory` (made if missing), with its layout number."""
        Path(directory).mkdir(parents=True, exist_ok=True)
        return save_record(self, directory)

    @classmethod
    def load(cls, directory: Path, profile: str | None = None) -> PEFTRunsSummary:
        """Read the record; with `profile`, it must come from that profile and its encoder."""
        raw, path, rerun = read_record(cls, Path(directory), "chapter 05's runs")
        try:
            methods = tuple(
                MethodRuns(**{**m, "runs": tuple(SeedRun(**r) for r in m["runs"])}) for m in raw["methods"]
            )
        except TypeError as err:
            raise HandoverError(f"{path} has a damaged method entry ({err}): {rerun}") from err
        summary = cls(profile=raw["profile"], encoder=raw["encoder"], methods=methods)
        if profile is not None:
            if summary.profile != profile:
                raise HandoverError(
                    f"the runs in {directory} come from the {summary.profile!r} profile, and this is {profile!r}: "
                    f"{rerun}, or set COURSE_PROFILE={summary.profile}"
                )
            check_encoder(summary.encoder, profile, Path(directory), "chapter 05")
        return summary
