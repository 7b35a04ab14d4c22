import math

import pytest
import torch

from course_utils import dpo
from course_utils.losses import IGNORE_INDEX


def test_sequence_logprobs_sums_the_labelled_tokens_only():
    logits = torch.randn(2, 4, 7, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([[1, 2, IGNORE_INDEX, 3], [IGNORE_INDEX, IGNORE_INDEX, 0, 6]])
    log_probs = logits.log_softmax(-1)
    expected = torch.stack([
        log_probs[0, 0, 1] + log_probs[0, 1, 2] + log_probs[0, 3, 3],
        log_probs[1, 2, 0] + log_probs[1, 3, 6],
    ])
    assert torch.allclose(dpo.sequence_logprobs(logits, labels), expected)


def test_the_loss_is_the_bradley_terry_likelihood_of_the_implicit_rewards():
    g = torch.Generator().manual_seed(1)
    pc, pr, rc, rr = (torch.randn(5, generator=g, dtype=torch.float64) for _ in range(4))
    out = dpo.dpo_loss(pc, pr, rc, rr, beta=0.1)
    delta = 0.1 * ((pc - rc) - (pr - rr))
    assert torch.allclose(out.loss, torch.log1p(torch.exp(-delta)).mean())
    assert out.margin == pytest.approx(float(delta.mean()))
    same = dpo.dpo_loss(rc, rr, rc, rr, beta=0.5)  # the policy is the reference: no preference yet
    assert same.loss.item() == pytest.approx(math.log(2)) and same.accuracy == 0.0


def test_the_gradient_pushes_chosen_up_and_rejected_down_weighted_by_the_error():
    pc = torch.tensor([0.0, 2.0], requires_grad=True)
    pr = torch.tensor([0.0, -2.0], requires_grad=True)
    ref = torch.zeros(2)
    dpo.dpo_loss(pc, pr, ref, ref, beta=0.5).loss.backward()
    weight = torch.sigmoid(-0.5 * (pc - pr)).detach()  # how wrong each pair still is
    assert torch.allclose(pc.grad, -0.5 * weight / 2) and torch.allclose(pr.grad, 0.5 * weight / 2)
    assert pc.grad[0].abs() > pc.grad[1].abs(), "a pair already ranked right pulls less"


def test_bad_input_is_named():
    x = torch.zeros(3)
    with pytest.raises(ValueError, match="beta=0"):
        dpo.dpo_loss(x, x, x, x, beta=0)
    with pytest.raises(ValueError, match="one shape"):
        dpo.dpo_loss(x, torch.zeros(2), x, x, beta=0.1)
    with pytest.raises(ValueError, match="do not fit"):
        dpo.sequence_logprobs(torch.zeros(2, 3, 5), torch.zeros(2, 4, dtype=torch.long))
