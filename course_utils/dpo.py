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
        """Share of pairs whose chosen answer has the larger implicit reward, a tie counting one half
        (the reference itself, every reward 0, scores 0.5: chance)."""
        wins = (self.chosen_rewards > self.rejected_rewards).float()
        ties = (self.chosen_rewards == self.rejected_rewards).float()
        return float((wins + 0.5 * ties).mean())


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


@dataclass(frozen=True)
class PreferencePair:
    """One prompt with a reply the checker accepts (chosen) and one it rejects."""

    family: str
    instruction: str
    chosen: str
    rejected: str


def make_pairs(
    instruction: str, family: str, replies: list[str], check, answer: str, answer_if_none_right: bool = False
) -> list[PreferencePair]:
    """Pairs from one prompt's sampled replies judged by the checker: each distinct wrong reply against a
    distinct right one (none when every reply is right, or every one wrong, unless `answer_if_none_right`:
    then the reference answer is the chosen reply)."""
    right = sorted({r for r in replies if check(r, answer)})
    wrong = sorted({r for r in replies if not check(r, answer)})
    if not right and answer_if_none_right:
        right = [answer]
    return [PreferencePair(family, instruction, right[i % len(right)], w) for i, w in enumerate(wrong)] if right else []


def encode_pair(tokenizer, pair: PreferencePair, context: int) -> dict[str, list[int]]:
    """Shifted inputs and reply-only labels of the chosen and the rejected conversation."""
    from course_utils.instruct_data import Example
    from course_utils.sft import encode

    row = {}
    for side in ("chosen", "rejected"):
        example = Example(pair.family, pair.instruction, getattr(pair, side), False)
        encoded = encode(tokenizer, example, context)
        row[f"{side}_ids"], row[f"{side}_labels"] = encoded["input_ids"], encoded["labels"]
    return row


def pad_pairs(rows: list[dict], pad_id: int = 0) -> dict[str, torch.Tensor]:
    """One batch of 2 x pairs sequences, chosen first then rejected, right-padded (labels IGNORE_INDEX);
    the reference's log-probabilities ride along when the rows have them."""
    from course_utils.sft import pad

    sides = [(f"{side}_ids", f"{side}_labels") for side in ("chosen", "rejected")]
    padded = pad([{"input_ids": r[i], "labels": r[lab]} for i, lab in sides for r in rows], pad_id)
    ids, labels = padded["input_ids"], padded["labels"]
    batch = {"pair_ids": ids, "pair_labels": labels}  # (2 x pairs, width) each
    if "ref_chosen" in rows[0]:
        batch["ref"] = torch.tensor([r["ref_chosen"] for r in rows] + [r["ref_rejected"] for r in rows])
    return batch


def pair_logprobs(model, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """(pairs,) summed reply log-probabilities of the chosen and of the rejected sequences."""
    logps = sequence_logprobs(model(batch["pair_ids"]), batch["pair_labels"])  # (2 x pairs,)
    return logps.chunk(2)


@torch.no_grad()
def with_reference(model, rows: list[dict], batch_size: int = 32) -> list[dict]:
    """The rows with the frozen reference's log-probabilities added (computed once, before training)."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        batch = {k: v.to(device) for k, v in pad_pairs(chunk).items()}
        chosen, rejected = pair_logprobs(model, batch)
        out += [r | {"ref_chosen": float(c), "ref_rejected": float(j)}
                for r, c, j in zip(chunk, chosen.tolist(), rejected.tolist(), strict=True)]
    return out


def loss_fn(beta: float):
    """The shared loop's loss for DPO batches (from `pad_pairs` over rows `with_reference`)."""

    def dpo_batch_loss(model, batch: dict) -> torch.Tensor:
        chosen, rejected = pair_logprobs(model, batch)
        ref_chosen, ref_rejected = batch["ref"].float().chunk(2)
        return dpo_loss(chosen, rejected, ref_chosen, ref_rejected, beta).loss

    return dpo_batch_loss


@torch.no_grad()
def evaluate_pairs(model, rows: list[dict], beta: float, batch_size: int = 32) -> DPOResult:
    """The loss, implicit rewards, margin and preference accuracy of `model` on held-out pairs."""
    model.eval()
    device = next(model.parameters()).device
    parts = []
    for start in range(0, len(rows), batch_size):
        batch = {k: v.to(device) for k, v in pad_pairs(rows[start : start + batch_size]).items()}
        chosen, rejected = pair_logprobs(model, batch)
        ref_chosen, ref_rejected = batch["ref"].float().chunk(2)
        parts.append((chosen, rejected, ref_chosen, ref_rejected))
    pc, pr, rc, rr = (torch.cat(t) for t in zip(*parts, strict=True))
    return dpo_loss(pc, pr, rc, rr, beta)


@torch.no_grad()
def token_kl(policy, reference, rows: list[dict], batch_size: int = 32) -> float:
    """Mean KL(policy || reference) of the next-token distributions over the reply positions of `rows`
    (exact over the vocabulary, on fixed texts: how far the policy has moved from the reference)."""
    policy.eval()
    reference.eval()
    device = next(policy.parameters()).device
    total, count = 0.0, 0
    for start in range(0, len(rows), batch_size):
        batch = {k: v.to(device) for k, v in pad_pairs(rows[start : start + batch_size]).items()}
        keep = batch["pair_labels"] != IGNORE_INDEX  # (2 x pairs, width)
        log_p = policy(batch["pair_ids"]).float().log_softmax(-1)[keep]  # (positions, vocab)
        log_q = reference(batch["pair_ids"]).float().log_softmax(-1)[keep]
        total += float((log_p.exp() * (log_p - log_q)).sum())
        count += int(keep.sum())
    return total / count
