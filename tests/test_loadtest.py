"""The load test: percentiles as NumPy computes them, loopback only, bounded."""

import numpy as np
import pytest

from course_utils import loadtest


@pytest.mark.parametrize("q", [0, 50, 95, 99, 100])
def test_percentile_matches_numpy(q):
    values = list(np.random.default_rng(0).exponential(size=37))
    assert loadtest.percentile(values, q) == pytest.approx(np.percentile(values, q))


def test_percentile_names_bad_input():
    with pytest.raises(ValueError, match="no successful request"):
        loadtest.percentile([], 50)
    with pytest.raises(ValueError, match="percentage"):
        loadtest.percentile([1.0], 101)


def test_load_test_sends_only_to_this_machine():
    with pytest.raises(ValueError, match="only sends to this machine"):
        loadtest.load_test("http://example.com/ner", ["a"], 1, 1)
    with pytest.raises(ValueError, match="concurrency"):
        loadtest.load_test("http://127.0.0.1:9/ner", ["a"], 4, 2)
