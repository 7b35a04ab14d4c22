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
        path = Path(directory) / self.FILE
        path.write_text(json.dumps({"layout": self.LAYOUT, **asdict(self)}, indent=1) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, directory: Path, profile: str | None = None) -> NERRunSummary:
        """Read the record; with `profile`, it must come from that profile and its encoder."""
        path = Path(directory) / cls.FILE
        rerun = f"run {cls.CHAPTER} again in the profile you use (it rewrites {directory})"
        try:
            raw = json.loads(read_text(path, "chapter 04's run summary"))
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
        from course_utils.resources import resolve_model

        if self.profile != profile:
            raise HandoverError(
                f"the model in {directory} was fine-tuned in the {self.profile!r} profile, and this is {profile!r}: "
                f"run chapter 04 in {profile!r}, or set COURSE_PROFILE={self.profile} to study that model"
            )
        expected = resolve_model(profile).location
        if Path(self.encoder).parts[-2:] != Path(expected).parts[-2:]:  # the same encoder, wherever installed
            raise HandoverError(
                f"the model in {directory} was fine-tuned from {self.encoder!r}, and this profile's encoder is "
                f"{expected!r} (COURSE_ENCODER changed?): run chapter 04 again with this encoder, or restore it"
            )
