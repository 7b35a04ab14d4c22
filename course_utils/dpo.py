"""Direct preference optimisation (Rafailov et al. 2023) from scratch: sequence log-probabilities and the loss.

The KL-regularised reward objective max E[r] - beta KL(pi || pi_ref) has the optimum pi* ∝ pi_ref exp(r / beta),
so r = beta log(pi* / pi_ref) + const: the policy's log-ratio is an implicit reward. Under the Bradley-Terry model
P(chosen > rejected) = sigmoid(r_c - r_r) the constant cancels, and the negative log-likelihood of the preferences is
-log sigmoid(beta [(log pi_c - log ref_c) - (log pi_r - log ref_r)]).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from course_utils.losses import IGNORE_INDEX


def sequence_logprobs(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(batch, seq, vocab) logits and (batch, seq) labels (pre-shifted; IGNORE_INDEX skipped) -> (batch,) the
    summed log-probability of each sequence's labelled tokens."""
    if logits.shape[:2] != labels.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and labels {tuple(labels.shape)} do not fit together")
    keep = labels != IGNORE_INDEX
    log_probs = logits.float().log_softmax(dim=-1)
    picked = log_probs.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)  # (batch, seq)
    return (picked * keep).sum(dim=1)


@dataclass(frozen=True)
class DPOResult:
    """The loss and what to watch while it trains."""

    loss: torch.Tensor  # mean over pairs
    chosen_rewards: torch.Tensor  # (pairs,) beta (log pi - log ref) of the chosen answers
    rejected_rewards: torch.Tensor

    @property
    def margin(self) -> float:
        """Mean implicit reward of chosen minus rejected."""
        return float((self.chosen_rewards - self.rejected_rewards).mean())

    @property
    def accuracy(self) -> float:
        """Share of pairs whose chosen answer has the larger implicit reward."""
        return float((self.chosen_rewards > self.rejected_rewards).float().mean())


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float,
) -> DPOResult:
    """DPO's loss from (pairs,) sequence log-probabilities of the policy and the frozen reference."""
    if beta <= 0:
        raise ValueError(f"beta={beta} must be > 0: it weighs the KL to the reference")
    shapes = {t.shape for t in (policy_chosen, policy_rejected, ref_chosen, ref_rejected)}
    if len(shapes) != 1 or policy_chosen.dim() != 1:
        raise ValueError(f"the four log-probabilities must be (pairs,) tensors of one shape, got {sorted(shapes)}")
    chosen = beta * (policy_chosen - ref_chosen)  # the implicit rewards
    rejected = beta * (policy_rejected - ref_rejected)
    loss = -F.logsigmoid(chosen - rejected).mean()
    return DPOResult(loss, chosen.detach(), rejected.detach())
