"""The exercises' self-checks: a stub is 'not attempted', a wrong answer fails (the solutions page passes them)."""

import math

import pytest
import torch

from course_utils import exercises

STUB_CHECKS = [
    (exercises.check_softmax_t, lambda z, T: None),
    (exercises.check_unchanged_fraction, lambda p, V: None),
    (exercises.check_gradient_row_sums, lambda z, y: None),
    (exercises.check_rms_norm_backward, lambda x, g: None),
    (exercises.check_layernorm_counts, lambda b, s, h: None),
    (exercises.check_invariance_gap, lambda x, a, b: None),
    (exercises.check_lora_all_linear_count, lambda d, d_ff, layers, r: None),
    (exercises.check_int4_absmax, lambda w: None),
    (exercises.check_update_rank, lambda layer: None),
    (exercises.check_sliding_window_keep, lambda n, window: None),
    (exercises.check_bits_per_char, lambda nats, rate: None),
    (exercises.check_kv_cache_bytes, lambda layers, tokens, kv, d, b, batch: None),
    (exercises.check_reply_labels, lambda ids, prompt_length, end: None),
    (exercises.check_dpo_pair_loss, lambda pc, pr, rc, rr, beta: None),
    (exercises.check_left_pad, lambda prompts, pad: None),
    (exercises.check_adapter_count, lambda d, m, layers, placement: None),
    (exercises.check_induction_predict, lambda ids: None),
]

WRONG_ANSWERS = [
    (exercises.check_softmax_t, lambda z, T: torch.softmax(z, dim=-1)),  # ignores T
    (exercises.check_unchanged_fraction, lambda p, V: 0.1 * p + 0.01),
    (exercises.check_gradient_row_sums, lambda z, y: torch.ones(len(y), dtype=z.dtype)),
    (exercises.check_rms_norm_backward, lambda x, g: g),  # forgets the normalisation
    (exercises.check_layernorm_counts, lambda b, s, h: {"parameters": h, "statistics": b * s}),
    (exercises.check_invariance_gap, lambda x, a, b: 1.0),
    (exercises.check_lora_all_linear_count, lambda d, d_ff, layers, r: layers * r * 6 * 2 * d),
    (exercises.check_int4_absmax, lambda w: w.round()),
    (exercises.check_update_rank, lambda layer: layer.r + 1),
    (exercises.check_sliding_window_keep, lambda n, window: torch.ones(n, n, dtype=torch.bool).tril()),  # no window
    (exercises.check_bits_per_char, lambda nats, rate: nats * rate),  # nats, not bits
    (exercises.check_kv_cache_bytes, lambda layers, tokens, kv, d, b, batch: layers * tokens * kv * d * b * batch),
    (exercises.check_reply_labels, lambda ids, n, end: [-100] * n + ids[n:]),  # keeps what follows the end
    (exercises.check_dpo_pair_loss, lambda pc, pr, rc, rr, beta: -math.log(1 / (1 + math.exp(-(pc - pr))))),  # no ref
    (exercises.check_left_pad, lambda prompts, pad: (  # pads on the right
        [list(p) + [pad] * (3 - len(p)) for p in prompts], [[1] * len(p) + [0] * (3 - len(p)) for p in prompts])),
    (exercises.check_adapter_count, lambda d, m, layers, placement: layers * (2 * d * m)),  # no biases, one each
    (exercises.check_induction_predict, lambda ids: [None, *ids[:-1]]),  # the previous token, not induction
]


def test_every_check_is_covered():
    names = {name for name in dir(exercises) if name.startswith("check_")}
    assert {check.__name__ for check, _ in STUB_CHECKS} == names


@pytest.mark.parametrize(("check", "stub"), STUB_CHECKS, ids=lambda x: getattr(x, "__name__", ""))
def test_a_stub_is_not_attempted_and_points_to_the_solutions(check, stub, capsys):
    check(stub)
    out = capsys.readouterr().out
    assert "not attempted yet" in out and "solutions" in out and "correct" not in out


@pytest.mark.parametrize(("check", "wrong"), WRONG_ANSWERS, ids=lambda x: getattr(x, "__name__", ""))
def test_a_wrong_answer_fails(check, wrong):
    with pytest.raises(AssertionError):
        check(wrong)
