import math
import random

import pytest
import torch

from course_utils import stats
from course_utils.tagging import entity_scores, to_iob2

TYPES = ("PER", "ORG", "LOC", "MISC")


def random_tags(rng: random.Random, length: int) -> list[str]:
    """A random valid IOB2 sequence."""
    raw = [rng.choice(["O", "O", "O", *(f"I-{t}" for t in TYPES), *(f"B-{t}" for t in TYPES)]) for _ in range(length)]
    return to_iob2(raw)


def noisy_copy(rng: random.Random, tags: list[str], flip: float) -> list[str]:
    """`tags` with a share `flip` of the positions redrawn (a model's predictions)."""
    return to_iob2([random_tags(rng, 1)[0] if rng.random() < flip else t for t in tags])


def corpus(seed: int, sentences: int, flip: float = 0.2):
    rng = random.Random(seed)
    true = [random_tags(rng, rng.randint(0, 12)) for _ in range(sentences)]
    return true, [noisy_copy(rng, t, flip) for t in true]


def test_f1_from_counts_is_seqevals_strict_micro_f1():
    for seed in range(5):
        true, pred = corpus(seed, 60)
        ours = float(stats.f1_from_counts(stats.entity_counts(true, pred)))
        assert ours == pytest.approx(entity_scores(true, pred)["f1"], abs=1e-12)


def test_no_entities_scores_zero():
    counts = stats.entity_counts([["O", "O"]], [["O", "O"]])
    assert counts.tolist() == [[0.0, 0.0, 0.0]] and float(stats.f1_from_counts(counts)) == 0.0


def test_interval_holds_the_estimate_and_narrows_with_more_sentences():
    widths = []
    for sentences in (50, 800):
        true, pred = corpus(1, sentences)
        s = stats.score([stats.entity_counts(true, pred)], resamples=500)
        assert s.low <= s.mean <= s.high and s.seeds == 1 and math.isnan(s.sd)
        widths.append(s.high - s.low)
    assert widths[1] < widths[0] / 2  # ~1/sqrt(n): 4x narrower for 16x the sentences


def test_seeds_give_mean_and_sample_sd():
    true, _ = corpus(2, 80)
    rng = random.Random(3)
    runs = [stats.entity_counts(true, [noisy_copy(rng, t, flip) for t in true]) for flip in (0.1, 0.2, 0.3)]
    f1s = torch.tensor([float(stats.f1_from_counts(r)) for r in runs])
    s = stats.score(runs, resamples=300)
    assert s.mean == pytest.approx(float(f1s.mean())) and s.sd == pytest.approx(float(f1s.std(correction=1)))
    assert str(s).startswith(f"{s.mean:.3f} ± {s.sd:.3f} [")


def test_paired_difference():
    true, pred = corpus(4, 100)
    same = [stats.entity_counts(true, pred)]
    assert stats.difference(same, same, resamples=200) == (0.0, 0.0, 0.0)  # the draws are shared
    perfect = [stats.entity_counts(true, true)]
    gap, low, high = stats.difference(perfect, same, resamples=500)
    assert gap == pytest.approx(1 - float(stats.f1_from_counts(same[0]))) and 0 < low <= gap <= high


def test_bad_input_is_named():
    true, pred = corpus(5, 10)
    with pytest.raises(ValueError, match="same non-empty test set"):
        stats.score([stats.entity_counts(true, pred), stats.entity_counts(true[:5], pred[:5])])
    with pytest.raises(ValueError, match="no runs"):
        stats.score([])
    with pytest.raises(ValueError, match="level"):
        stats.percentile_interval(torch.ones(3), level=95)


def test_paired_mean_difference_interval_holds_the_observed_value():
    torch.manual_seed(0)
    counts = torch.randint(5, 10, (200,)).double()
    a = torch.stack([counts * 2.0 + torch.rand(200), counts], dim=1)  # mean about 2.05
    b = torch.stack([counts * 1.5 + torch.rand(200), counts], dim=1)
    observed, low, high = stats.paired_mean_difference(a, b, resamples=500)
    assert low < observed < high and 0.45 < observed < 0.65
    same = stats.paired_mean_difference(a, a, resamples=100)
    assert same == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="tables of the same units"):
        stats.paired_mean_difference(a, b[:10])


def test_a_prediction_interval_fires_by_chance_at_its_level_where_the_range_of_three_fires_half_the_time():
    generator = torch.Generator().manual_seed(0)
    outside_range = outside_interval = 0
    trials = 4000
    for _ in range(trials):
        runs, new = torch.randn(3, generator=generator).tolist(), float(torch.randn(1, generator=generator))
        low, high = stats.prediction_interval(runs)
        outside_interval += not low <= new <= high
        outside_range += not min(runs) <= new <= max(runs)
    assert abs(outside_range / trials - 0.5) < 0.03 and abs(outside_interval / trials - 0.05) < 0.015
    with pytest.raises(ValueError, match="at least 2 runs"):
        stats.prediction_interval([0.7])


def test_the_noise_of_a_difference_of_two_runs_fires_at_its_level_with_the_sd_estimated():
    generator, trials, fired, fired_normal = torch.Generator().manual_seed(1), 4000, 0, 0
    for _ in range(trials):
        seeds = torch.randn(3, generator=generator).tolist()  # the spread is estimated from 3 runs
        a, b = torch.randn(2, generator=generator).tolist()  # two more runs, no effect between them
        fired += abs(a - b) > stats.noise_of_a_difference(seeds)
        sd = float(torch.tensor(seeds).std())
        fired_normal += abs(a - b) > 1.96 * 2**0.5 * sd
    assert abs(fired / trials - 0.05) < 0.015
    assert fired_normal / trials > 0.12, "the normal 1.96 with an estimated sd fires far more than 5%"
    with pytest.raises(ValueError, match="at least 2 runs"):
        stats.noise_of_a_difference([0.7])


def test_holm_matches_its_step_down_definition():
    """p sorted 0.01, 0.02, 0.03, 0.5 over 4 tests: 4 x 0.01, max(that, 3 x 0.02), max(..., 2 x 0.03), 1 x 0.5."""
    assert stats.holm([0.03, 0.5, 0.01, 0.02]) == pytest.approx([0.06, 0.5, 0.04, 0.06])
    assert stats.holm([0.9, 0.8]) == pytest.approx([1.0, 1.0]), "capped at 1"
    assert stats.holm([0.4, 0.3, 0.6]) == pytest.approx([0.9, 0.9, 0.9])
    assert stats.holm([]) == []


def test_holm_keeps_the_family_s_false_rejections_at_the_level():
    """Four true nulls (uniform p-values): some test below 0.05 alone fires ~19% of the time, Holm's under 5%."""
    generator = torch.Generator().manual_seed(0)
    alone = holm_fired = 0
    for _ in range(2000):
        p = torch.rand(4, generator=generator).tolist()
        alone += min(p) < 0.05
        holm_fired += min(stats.holm(p)) < 0.05
    assert alone / 2000 > 0.15 and holm_fired / 2000 < 0.06


def test_paired_t_interval_is_the_one_sample_t_interval_of_the_differences():
    from scipy.stats import t

    a, b = [3.9, 3.95, 3.93], [3.55, 3.53, 3.54]
    mean, low, high = stats.paired_t_interval(a, b)
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / 2)
    assert mean == pytest.approx(sum(diffs) / 3)
    assert high - mean == pytest.approx(t.ppf(0.975, 2) * sd / math.sqrt(3))
    assert low < mean < high
    with pytest.raises(ValueError, match="same k >= 2"):
        stats.paired_t_interval([1.0], [2.0])


def test_share_score_is_the_seed_mean_with_an_interval_over_examples():
    g = torch.Generator().manual_seed(0)
    correct = (torch.rand(400, 3, generator=g) < torch.tensor([0.3, 0.4, 0.5])).int()
    s = stats.share_score(correct, resamples=500)
    per_seed = correct.float().mean(0)
    assert s.mean == pytest.approx(float(per_seed.mean())) and s.sd == pytest.approx(float(per_seed.std()))
    assert s.low < s.mean < s.high and s.high - s.low < 0.1
    assert math.isnan(stats.share_score(correct[:, :1], resamples=100).sd)
    both = stats.share_score(correct, resamples=500, over_seeds=True)  # seeds 0.3..0.5 apart: a wider interval
    assert both.mean == s.mean and both.high - both.low > 2 * (s.high - s.low)
    with pytest.raises(ValueError, match="examples, seeds"):
        stats.share_score(torch.ones(5))


def test_share_difference_pairs_examples_and_seeds():
    g = torch.Generator().manual_seed(1)
    base = (torch.rand(300, 4, generator=g) < 0.5).int()
    better = base | (torch.rand(300, 4, generator=g) < 0.2).int()  # right wherever base is, and more
    gap, low, high = stats.share_difference(better, base, resamples=500, over_seeds=True)
    assert gap == pytest.approx(float((better - base).double().mean())) and 0 < low < gap < high
    same = stats.share_difference(base, base[:, :1].expand(-1, 4).clone(), resamples=200)
    assert same[0] == pytest.approx(float((base - base[:, :1]).double().mean()))
    with pytest.raises(ValueError, match="same examples"):
        stats.share_difference(base, base[:10])
