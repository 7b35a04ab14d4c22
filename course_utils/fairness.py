"""Does the tagger treat names alike? A template probe by first name, its gaps with intervals, and a
counterfactual name swap for the training data."""

from __future__ import annotations

import csv
import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import torch

from course_utils.stats import percentile_interval

GENDERS = ("female", "male")
# Each template holds one {name}; nothing else in it is an entity, so a PER span is the only right answer.
TEMPLATES = (
    "{name} said the plan would be ready by Friday.",
    "Yesterday {name} finished the report and went home early.",
    "The award went to {name}, who thanked the whole team.",
    "According to {name}, the meeting was a success.",
    "We asked {name} to review the draft before noon.",
    "{name} has worked at the hospital for ten years.",
    "Everyone waited while {name} read the letter aloud.",
    "The new manager, {name}, starts next week.",
)
OUTCOMES = ("PER", "PER, wrong span", "LOC", "ORG", "MISC", "no entity")


@dataclass(frozen=True)
class Name:
    """A first name and the list Faker files it under."""

    text: str
    gender: str  # "female" / "male": the list the name is on, not a person's gender
    origin: str  # a group of Faker locales (data/names/SOURCE.md)


def read_names(path: Path | str | None = None) -> list[Name]:
    """The rows of data/names/first_names.tsv (checked against its SOURCE.md) or of `path`."""
    from course_utils.resources import verified_data_file

    path = Path(path) if path is not None else verified_data_file("names")
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    if not rows or rows[0][:3] != ["name", "gender", "origin"]:
        raise ValueError(
            f"{path}: line 1 must be the header name<TAB>gender<TAB>origin<TAB>locales"
        )
    names = []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) < 3 or not row[0] or row[1] not in GENDERS or not row[2]:
            raise ValueError(
                f"{path}, line {line}: expected a name, a gender in {GENDERS} and an origin, got {row}"
            )
        names.append(Name(row[0], row[1], row[2]))
    return names


def usable_names(
    names: list[Name], seen: set[str], words: set[str]
) -> tuple[list[Name], Counter]:
    """Names the probe can use: not in the training data (`seen`), not an everyday word (`words`, lower case)."""
    kept, dropped = [], Counter()
    for name in names:
        if name.text in seen:
            dropped["in the training data"] += 1
        elif name.text.lower() in words:
            dropped["an everyday word"] += 1
        else:
            kept.append(name)
    return kept, dropped


def lowercase_words(text: str, min_count: int = 2) -> set[str]:
    """Words written in lower case at least `min_count` times in `text`: 'will', 'grace', 'mark' ..."""
    counts = Counter(re.findall(r"\b[a-z]+\b", text))
    return {word for word, count in counts.items() if count >= min_count}


def split_names(
    names: list[Name], per_group: int, seed: int
) -> tuple[list[Name], list[Name]]:
    """(probe, rest): up to `per_group` names of every (gender, origin) cell for the probe, the others apart."""
    cells: dict[tuple[str, str], list[Name]] = defaultdict(list)
    for name in names:
        cells[(name.gender, name.origin)].append(name)
    rng, probe, rest = random.Random(seed), [], []
    for key in sorted(cells):
        shuffled = sorted(cells[key], key=lambda n: n.text)
        rng.shuffle(shuffled)
        probe += shuffled[:per_group]
        rest += shuffled[per_group:]
    return probe, rest


def outcome(spans: list[dict], start: int, end: int) -> str:
    """What the tagger made of the name at [start, end): one of OUTCOMES."""
    overlapping = [s for s in spans if s["start"] < end and start < s["end"]]
    if any(
        s["type"] == "PER" and (s["start"], s["end"]) == (start, end)
        for s in overlapping
    ):
        return "PER"
    if any(s["type"] == "PER" for s in overlapping):
        return "PER, wrong span"
    return overlapping[0]["type"] if overlapping else "no entity"


def probe(
    model, tokenizer, names: list[Name], templates=TEMPLATES, batch_size: int = 64
) -> list[list[str]]:
    """(names, templates) outcomes: each name in each template, tagged by `model`."""
    from course_utils.ner import predict_batch

    jobs = [
        (t.format(name=n.text), t.index("{name}"), len(n.text))
        for n in names
        for t in templates
    ]
    found = []
    for i in range(0, len(jobs), batch_size):
        chunk = jobs[i : i + batch_size]
        found += predict_batch(model, tokenizer, [text for text, _, _ in chunk])
    outcomes = [
        outcome(spans, s, s + n) for spans, (_, s, n) in zip(found, jobs, strict=True)
    ]
    k = len(templates)
    return [outcomes[i : i + k] for i in range(0, len(outcomes), k)]


def hit_rates(outcomes: list[list[str]], kind: str = "PER") -> torch.Tensor:
    """(names,): the share of templates in which each name got `kind`."""
    return torch.tensor(
        [sum(o == kind for o in row) / len(row) for row in outcomes],
        dtype=torch.float64,
    )


@dataclass(frozen=True)
class GroupRate:
    """A group's mean rate over its names, with a bootstrap interval over names."""

    group: str
    names: int
    rate: float
    low: float
    high: float


def _draws(groups: list[str], resamples: int, seed: int) -> dict[str, torch.Tensor]:
    """Per group, (resamples, its names) indices into the whole list, drawn with replacement within the group."""
    gen, members = torch.Generator().manual_seed(seed), defaultdict(list)
    for i, group in enumerate(groups):
        members[group].append(i)
    draws = {}
    for group in sorted(members):
        idx = torch.tensor(members[group])
        draws[group] = idx[
            torch.randint(len(idx), (resamples, len(idx)), generator=gen)
        ]
    return draws


def group_rates(
    rates: torch.Tensor, groups: list[str], resamples: int = 2000, seed: int = 0
) -> list[GroupRate]:
    """Each group's mean rate and its 95% interval (names resampled within the group)."""
    if len(rates) != len(groups) or len(rates) == 0:
        raise ValueError(
            f"one group per name: {len(rates)} rates, {len(groups)} groups"
        )
    out = []
    for group, draw in _draws(groups, resamples, seed).items():
        members = torch.tensor([g == group for g in groups])
        low, high = percentile_interval(rates[draw].mean(dim=1))
        out.append(
            GroupRate(
                group, int(members.sum()), float(rates[members].mean()), low, high
            )
        )
    return out


def p_text(p: float) -> str:
    """'=0.012', or '<0.001' for a p-value too small for three decimals (a permutation p is never 0)."""
    return f"={p:.3f}" if p >= 0.001 else "<0.001"


@dataclass(frozen=True)
class Gap:
    """The largest difference between two groups' rates, against what random groupings of the same names give.

    No interval for the gap itself: a percentile bootstrap of a max - min is always >= 0 and biased upward
    (the bootstrap is not valid for extremes), so it would rarely hold the true gap 0. What chance gives
    is read from the permutation null instead.
    """

    best: str
    worst: str
    gap: float
    null_95: float  # 95% of random relabellings of the names give a largest gap up to this
    p_value: float  # share of random relabellings with a largest gap at least as large

    def __str__(self) -> str:
        return (
            f"{self.gap:+.3f} (chance: up to {self.null_95:.3f}; "
            f"{self.best} vs {self.worst}, p{p_text(self.p_value)})"
        )


def spread(rates: torch.Tensor, groups: list[str]) -> float:
    """The largest gap: max - min of the groups' mean rates (whichever two groups they are)."""
    means = [
        float(rates[torch.tensor([g == k for g in groups])].mean()) for k in set(groups)
    ]
    return max(means) - min(means)


def largest_gap(
    rates: torch.Tensor,
    groups: list[str],
    resamples: int = 2000,
    permutations: int = 2000,
    seed: int = 0,
) -> Gap:
    """Best minus worst group's rate, the permutation null's 95th percentile, p-value.

    The statistic is the range over the groups: the gap was picked after seeing
    them. `resamples` is unused here (the gap gets no bootstrap interval)."""
    table = group_rates(rates, groups, resamples=1, seed=seed)
    best, worst = max(table, key=lambda r: r.rate), min(table, key=lambda r: r.rate)
    observed, rng = best.rate - worst.rate, random.Random(seed)
    shuffled, null = list(groups), []
    for _ in range(permutations):
        rng.shuffle(shuffled)
        null.append(spread(rates, shuffled))
    beaten = sum(g >= observed - 1e-12 for g in null)
    null_95 = float(torch.tensor(null, dtype=torch.float64).quantile(0.95))
    p_value = (beaten + 1) / (permutations + 1)
    return Gap(best.group, worst.group, observed, null_95, p_value)


@dataclass(frozen=True)
class GapChange:
    """How much the largest gap moved between two models probed on the same names, against per-name noise."""

    change: float  # largest gap after minus largest gap before (each over whichever pair is largest)
    null_low: float  # 95% of per-name exchanges of the two models' rates give a change in [null_low, null_high]
    null_high: float
    p_value: float  # two-sided: share of exchanges with |change| at least the observed one

    def __str__(self) -> str:
        noise = f"[{self.null_low:+.3f}, {self.null_high:+.3f}]"
        return f"{self.change:+.3f} (exchanging names: {noise}, p{p_text(self.p_value)})"


def gap_change(
    before: torch.Tensor, after: torch.Tensor, groups: list[str], permutations: int = 2000, seed: int = 0
) -> GapChange:
    """Paired test of the change in the largest gap: each name's two rates are exchanged at random.

    Under "the two models treat each name alike", which model a name's rate came from is a coin toss; the
    null holds the probe's name-and-template noise, not another training run's (compare retrained models for
    that)."""
    if before.shape != after.shape or len(before) != len(groups):
        raise ValueError(f"one rate per name in each model: {tuple(before.shape)}, {tuple(after.shape)}, {len(groups)}")
    observed = spread(after, groups) - spread(before, groups)
    gen, null = torch.Generator().manual_seed(seed), []
    for _ in range(permutations):
        flip = torch.rand(len(before), generator=gen) < 0.5  # (names,): exchange this name's two rates
        null.append(spread(torch.where(flip, before, after), groups) - spread(torch.where(flip, after, before), groups))
    low, high = percentile_interval(torch.tensor(null, dtype=torch.float64))
    beaten = sum(abs(c) >= abs(observed) - 1e-12 for c in null)
    return GapChange(observed, low, high, (beaten + 1) / (permutations + 1))


def dropped_by_group(names: list[Name], seen: set[str], words: set[str]) -> dict[str, Counter]:
    """usable_names' reasons, counted per origin ("kept" too): which groups lose their commonest names."""
    out: dict[str, Counter] = defaultdict(Counter)
    for name in names:
        _, why = usable_names([name], seen, words)
        out[name.origin].update(why or {"kept": 1})
    return dict(sorted(out.items()))


def word_pieces(names: list[Name], tokenizer) -> torch.Tensor:
    """(names,) sub-tokens per name: a name the tokenizer's vocabulary splits into many pieces is a rare one."""
    return torch.tensor([len(tokenizer.tokenize(n.text)) for n in names])


def swap_first_names(
    tokens: list[str], tags: list[str], pool: list[str], rng: random.Random, p: float
) -> list[str]:
    """Counterfactual augmentation: with chance p, a PER span's first word becomes
    a name drawn from `pool`."""
    out = list(tokens)
    for i, tag in enumerate(tags):
        if tag == "B-PER" and rng.random() < p:
            out[i] = rng.choice(pool)
    return out


def swap_dataset(split, pool: list[str], p: float, seed: int):
    """A copy of a DatasetDict split (tokens, ner_tags) with first names swapped; the tags stay."""
    from course_utils.tagging import LABELS

    rng = random.Random(seed)

    def swap(row: dict) -> dict:
        tags = [LABELS[t] for t in row["ner_tags"]]
        return {"tokens": swap_first_names(row["tokens"], tags, pool, rng, p)}

    return split.map(swap, load_from_cache_file=False)
