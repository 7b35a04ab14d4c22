"""The name probe: the shipped lists, outcomes of a tagged name, group intervals, the gap's test, the swap."""

import random

import pytest
import torch

from course_utils import fairness
from course_utils.fairness import Name


def test_shipped_names_cover_every_cell():
    names = fairness.read_names()
    cells = {(n.gender, n.origin) for n in names}
    assert len(cells) == 12 and len({n.text for n in names}) == len(names)
    assert all(n.text.isascii() and n.text[0].isupper() for n in names)


def test_bad_names_file_names_the_line(tmp_path):
    path = tmp_path / "names.tsv"
    path.write_text("name\tgender\torigin\tlocales\nAda\tfemale\tEnglish-speaking\ten_GB\nBob\tunknown\tX\tx\n")
    with pytest.raises(ValueError, match=r"names.tsv, line 3"):
        fairness.read_names(path)
    path.write_text("first\tsecond\n")
    with pytest.raises(ValueError, match="line 1"):
        fairness.read_names(path)


def test_usable_names_and_split():
    names = [Name("Grace", "female", "A"), Name("Ada", "female", "A"), Name("Kofi", "male", "B"),
             Name("Ama", "female", "B"), Name("Yaw", "male", "B")]
    kept, dropped = fairness.usable_names(names, seen={"Ada"}, words=fairness.lowercase_words("grace, grace"))
    assert [n.text for n in kept] == ["Kofi", "Ama", "Yaw"]
    assert dropped == {"in the training data": 1, "an everyday word": 1}
    probe, rest = fairness.split_names(kept, per_group=1, seed=0)
    assert len(probe) == 2 and len(rest) == 1 and not {n.text for n in probe} & {n.text for n in rest}


@pytest.mark.parametrize(
    ("spans", "expected"),
    [
        ([{"type": "PER", "start": 0, "end": 3}], "PER"),
        ([{"type": "PER", "start": 0, "end": 8}], "PER, wrong span"),
        ([{"type": "LOC", "start": 0, "end": 3}], "LOC"),
        ([{"type": "ORG", "start": 10, "end": 14}], "no entity"),
    ],
)
def test_outcome(spans, expected):
    assert fairness.outcome(spans, 0, 3) == expected


def test_group_rates_and_gap():
    rates = torch.tensor([1.0, 1.0, 0.9, 1.0, 0.2, 0.3, 0.1, 0.2], dtype=torch.float64)
    groups = ["a"] * 4 + ["b"] * 4
    table = {r.group: r for r in fairness.group_rates(rates, groups, resamples=500)}
    assert table["a"].rate == pytest.approx(0.975) and table["a"].low <= 0.975 <= table["a"].high
    gap = fairness.largest_gap(rates, groups, resamples=500, permutations=500)
    assert (gap.best, gap.worst) == ("a", "b") and gap.gap == pytest.approx(0.775)
    assert gap.null_95 < gap.gap and gap.p_value < 0.05
    same = fairness.largest_gap(torch.ones(8, dtype=torch.float64), groups, resamples=200, permutations=200)
    assert same.gap == 0 and same.p_value == 1.0 and same.null_95 == 0
    with pytest.raises(ValueError, match="one group per name"):
        fairness.group_rates(rates, groups[:3])


def test_swap_first_names_keeps_tags_and_other_words():
    tokens, tags = ["Ada", "Lovelace", "met", "Charles", "Babbage"], ["B-PER", "I-PER", "O", "B-PER", "I-PER"]
    out = fairness.swap_first_names(tokens, tags, ["Kofi"], random.Random(0), p=1.0)
    assert out == ["Kofi", "Lovelace", "met", "Kofi", "Babbage"]
    assert fairness.swap_first_names(tokens, tags, ["Kofi"], random.Random(0), p=0.0) == tokens


def test_with_no_real_gap_the_largest_gap_exceeds_chance_about_one_time_in_twenty():
    """Six equal groups (40 names x 8 Bernoulli(0.8) templates): the rule "gap above the null's 95th
    percentile" must fire about 5% of the time, where the old bootstrap interval never held the true 0."""
    generator, fired = torch.Generator().manual_seed(0), 0
    groups = [g for g in "abcdef" for _ in range(40)]
    for trial in range(40):
        rates = (torch.rand(240, 8, generator=generator) < 0.8).double().mean(dim=1)
        gap = fairness.largest_gap(rates, groups, permutations=200, seed=trial)
        fired += gap.gap > gap.null_95
    assert fired <= 6, f"{fired} of 40 null trials called a gap"


def test_the_null_s_95th_percentile_and_the_p_value_agree():
    generator = torch.Generator().manual_seed(2)
    groups = [g for g in "abc" for _ in range(30)]
    for trial in range(20):
        rates = (torch.rand(90, 8, generator=generator) < 0.7).double().mean(dim=1)
        rates[:30] += 0.1 * (trial % 3)  # no gap, a small one, a larger one
        gap = fairness.largest_gap(rates, groups, permutations=400, seed=trial)
        assert 0 < gap.null_95 < 1
        if gap.gap > gap.null_95:
            assert gap.p_value <= 0.06
        else:
            assert gap.p_value >= 0.04


def test_gap_change_is_paired_over_names_and_calls_no_change_at_most_6_times_in_40():
    groups = [g for g in "abc" for _ in range(30)]
    generator, fired = torch.Generator().manual_seed(3), 0
    for trial in range(40):  # two draws of the same models' behaviour: no change
        truth = torch.rand(90, generator=generator)
        before, after = ((torch.rand(90, 8, generator=generator) < truth[:, None]).double().mean(1) for _ in "ab")
        fired += fairness.gap_change(before, after, groups, permutations=200, seed=trial).p_value < 0.05
    assert fired <= 6, f"{fired} of 40 no-change trials called a change"
    before = torch.cat([torch.full((30,), 0.9), torch.full((60,), 0.5)]).double()
    closed = fairness.gap_change(before, torch.full((90,), 0.7).double(), groups, permutations=200)
    assert closed.change == pytest.approx(-0.4) and closed.p_value < 0.05 and closed.null_low < 0 < closed.null_high
    with pytest.raises(ValueError, match="one rate per name"):
        fairness.gap_change(before, before[:10], groups)


def test_dropped_by_group_and_word_pieces():
    names = [fairness.Name("Mary", "female", "English"), fairness.Name("Grace", "female", "English"),
             fairness.Name("Kofi", "male", "West African")]
    table = fairness.dropped_by_group(names, seen={"Mary"}, words={"grace"})
    assert table == {"English": {"in the training data": 1, "an everyday word": 1},
                     "West African": {"kept": 1}}

    class Pieces:
        def tokenize(self, text):
            return list(text[:2])

    assert fairness.word_pieces(names, Pieces()).tolist() == [2, 2, 2]


def test_p_values_print_without_a_false_zero():
    assert fairness.p_text(0.0123) == "=0.012" and fairness.p_text(1 / 2001) == "<0.001"
