"""How sure is a score: bootstrap intervals over test sentences, mean and spread over seeds."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from course_utils.tagging import entities


def entity_counts(true_tags: list[list[str]], pred_tags: list[list[str]]) -> torch.Tensor:
    """(sentences, 3): entities matched exactly, predicted and true, per sentence (IOB2 tags)."""
    rows = []
    for true, pred in zip(true_tags, pred_tags, strict=True):
        gold, guessed = set(entities(true)), set(entities(pred))
        rows.append((len(gold & guessed), len(guessed), len(gold)))
    return torch.tensor(rows, dtype=torch.float64).reshape(-1, 3)


def f1_from_counts(counts: torch.Tensor) -> torch.Tensor:
    """Micro F1 = 2 matched / (predicted + true), summed over the sentence axis (-2)."""
    totals = counts.sum(dim=-2)  # (..., 3)
    denominator = totals[..., 1] + totals[..., 2]
    return torch.where(denominator > 0, 2 * totals[..., 0] / denominator.clamp(min=1), 0.0)


def resampled_f1(runs: list[torch.Tensor], resamples: int, seed: int) -> torch.Tensor:
    """(resamples,): the runs' mean F1 on test sets drawn with replacement, the same draw for every run."""
    n = _same_sentences(runs)
    picks = torch.randint(n, (resamples, n), generator=torch.Generator().manual_seed(seed))  # (B, n)
    times = torch.zeros(resamples, n, dtype=torch.float64).scatter_add_(1, picks, torch.ones(resamples, n).double())
    totals = torch.stack([times @ run for run in runs])  # (runs, B, 3): each resampled test set's sums
    return f1_from_counts(totals.unsqueeze(-2)).mean(dim=0)  # (runs, B) -> (B,)


def _same_sentences(runs: list[torch.Tensor]) -> int:
    """The common number of sentences of the runs' count tables; a clear error otherwise."""
    if not runs:
        raise ValueError("no runs to score: pass one (sentences, 3) count table per run")
    sizes = {len(run) for run in runs}
    if len(sizes) != 1 or 0 in sizes:
        raise ValueError(f"every run must be scored on the same non-empty test set; sentence counts {sorted(sizes)}")
    return sizes.pop()


@dataclass(frozen=True)
class Score:
    """A method's test F1: the mean over seeds, their spread, and a bootstrap interval over sentences."""

    mean: float
    sd: float  # across seeds (nan with one seed)
    low: float  # the percentile interval of the seed-mean over resampled test sets
    high: float
    seeds: int

    def __str__(self) -> str:
        spread = f" ± {self.sd:.3f}" if self.seeds > 1 else ""
        return f"{self.mean:.3f}{spread} [{self.low:.3f}, {self.high:.3f}]"


def score(runs: list[torch.Tensor], resamples: int = 2000, level: float = 0.95, seed: int = 0) -> Score:
    """Mean and sd of F1 over the runs (one count table per seed) and its bootstrap interval."""
    _same_sentences(runs)
    f1s = torch.stack([f1_from_counts(run) for run in runs])
    low, high = percentile_interval(resampled_f1(runs, resamples, seed), level)
    sd = float(f1s.std()) if len(runs) > 1 else math.nan  # the n-1 (sample) standard deviation
    return Score(float(f1s.mean()), sd, low, high, len(runs))


def share_score(
    correct: torch.Tensor, resamples: int = 2000, level: float = 0.95, seed: int = 0, over_seeds: bool = False
) -> Score:
    """(examples, seeds) 0/1 outcomes -> the mean share correct over seeds, their sd, and a bootstrap interval
    of the seed-mean over resampled examples (the same draw for every seed); with `over_seeds`, the seeds are
    resampled too, so the interval also covers which seed (which training examples) a run got."""
    if correct.ndim != 2 or 0 in correct.shape:
        raise ValueError(f"correct must be an (examples, seeds) table, got shape {tuple(correct.shape)}")
    per_seed = correct.double().mean(dim=0)  # (seeds,)
    generator = torch.Generator().manual_seed(seed)
    picks = torch.randint(len(correct), (resamples, len(correct)), generator=generator)
    by_seed = correct.double()[picks].mean(dim=1)  # (resamples, seeds)
    if over_seeds:
        seeds = torch.randint(correct.shape[1], (resamples, correct.shape[1]), generator=generator)
        by_seed = by_seed.gather(1, seeds)
    resampled = by_seed.mean(dim=1)  # (resamples,)
    low, high = percentile_interval(resampled, level)
    sd = float(per_seed.std()) if len(per_seed) > 1 else math.nan
    return Score(float(per_seed.mean()), sd, low, high, len(per_seed))


def share_difference(
    a: torch.Tensor, b: torch.Tensor, resamples: int = 2000, level: float = 0.95, seed: int = 0,
    over_seeds: bool = False,
) -> tuple[float, float, float]:
    """Mean share right of a minus b, (examples, seeds) 0/1 tables of the same examples and seeds (b may have
    one seed column, broadcast), with a paired bootstrap interval: the same examples (and, with `over_seeds`,
    the same seeds) drawn for both."""
    if a.ndim != 2 or b.ndim != 2 or len(a) != len(b) or b.shape[1] not in (1, a.shape[1]):
        raise ValueError(f"a and b must be (examples, seeds) tables of the same examples: {tuple(a.shape)}, "
                         f"{tuple(b.shape)}")
    diff = a.double() - b.double()  # (examples, seeds), b broadcast
    generator = torch.Generator().manual_seed(seed)
    picks = torch.randint(len(diff), (resamples, len(diff)), generator=generator)
    by_seed = diff[picks].mean(dim=1)  # (resamples, seeds)
    if over_seeds:
        seeds = torch.randint(diff.shape[1], (resamples, diff.shape[1]), generator=generator)
        by_seed = by_seed.gather(1, seeds)
    return (float(diff.mean()), *percentile_interval(by_seed.mean(dim=1), level))


def difference(
    runs_a: list[torch.Tensor], runs_b: list[torch.Tensor], resamples: int = 2000, level: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """Mean F1 of a minus b and its paired bootstrap interval (both scored on each resampled test set)."""
    _same_sentences([*runs_a, *runs_b])
    a, b = resampled_f1(runs_a, resamples, seed), resampled_f1(runs_b, resamples, seed)  # same draws
    observed = score(runs_a, resamples=1).mean - score(runs_b, resamples=1).mean
    return (observed, *percentile_interval(a - b, level))


def percentile_interval(samples: torch.Tensor, level: float = 0.95) -> tuple[float, float]:
    """The central `level` share of `samples`: (low, high)."""
    if not 0 < level < 1:
        raise ValueError(f"level is a probability in (0, 1), got {level}")
    tail = (1 - level) / 2
    low, high = torch.quantile(samples.double(), torch.tensor([tail, 1 - tail], dtype=torch.float64))
    return float(low), float(high)


def paired_mean_difference(
    a: torch.Tensor, b: torch.Tensor, resamples: int = 2000, level: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """a's total / count minus b's over the same units ((units, 2) tables of total and count), with a paired
    bootstrap interval: both resampled with one draw of units."""
    if a.shape != b.shape or a.ndim != 2 or a.shape[1] != 2 or len(a) == 0:
        raise ValueError(f"a and b must be (units, 2) tables of the same units, got {tuple(a.shape)}, {tuple(b.shape)}")
    picks = torch.randint(len(a), (resamples, len(a)), generator=torch.Generator().manual_seed(seed))

    def means(table: torch.Tensor) -> torch.Tensor:  # (resamples,): total / count of each resampled set
        sums = table.double()[picks].sum(dim=1)  # (resamples, 2)
        return sums[:, 0] / sums[:, 1]

    observed = float(a[:, 0].sum() / a[:, 1].sum() - b[:, 0].sum() / b[:, 1].sum())
    return (observed, *percentile_interval(means(a) - means(b), level))


def _mean_sd(values: list[float]) -> tuple[float, float]:
    """Mean and sample (n - 1) standard deviation of k >= 2 values."""
    mean = sum(values) / len(values)
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def prediction_interval(values: list[float], level: float = 0.95) -> tuple[float, float]:
    """Where one more run of the same recipe lands, from k >= 2 runs: mean ± t(k-1) · sd · sqrt(1 + 1/k).

    A rule "outside this range" then fires by chance with probability 1 - level (for normal scores); "outside
    the range of the k runs" would fire 2/(k+1) of the time: half the time with 3 seeds.
    """
    from scipy.stats import t

    k = len(values)
    if k < 2:
        raise ValueError(f"a prediction interval needs at least 2 runs, got {k}")
    mean, sd = _mean_sd(values)
    half = float(t.ppf(0.5 + level / 2, k - 1)) * sd * math.sqrt(1 + 1 / k)
    return mean - half, mean + half


def paired_t_interval(a: list[float], b: list[float], level: float = 0.95) -> tuple[float, float, float]:
    """mean(a - b) over paired runs (the same seeds) and its t interval: mean ± t(k-1) · sd(a - b) / sqrt(k)."""
    from scipy.stats import t

    if len(a) != len(b) or len(a) < 2:
        raise ValueError(f"a paired interval needs two lists of the same k >= 2 runs, got {len(a)} and {len(b)}")
    mean, sd = _mean_sd([x - y for x, y in zip(a, b, strict=True)])
    half = float(t.ppf(0.5 + level / 2, len(a) - 1)) * sd / math.sqrt(len(a))
    return mean, mean - half, mean + half


def noise_of_a_difference(seed_values: list[float], level: float = 0.95) -> float:
    """The largest |a - b| two single runs of one recipe give `level` of the time, from k >= 2 runs' scores.

    A difference of two runs has sd sqrt(2) x the seeds' sd; estimated from k runs, the bound takes Student's t
    with k - 1 degrees of freedom (the normal 1.96 would call 19% of no-effect gaps real with 3 seeds). Comparing
    with the sd itself would call about half of them real."""
    from scipy.stats import t

    k = len(seed_values)
    if k < 2:
        raise ValueError(f"the seeds' spread needs at least 2 runs, got {k}")
    _, sd = _mean_sd(seed_values)
    return float(t.ppf(0.5 + level / 2, k - 1)) * math.sqrt(2) * sd


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the input order: reject those below the level, and the chance of
    any false rejection in the family stays below it (reading each test at 0.05 alone would not)."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted, running = [0.0] * len(p_values), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted
