import copy
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
    assert same.loss.item() == pytest.approx(math.log(2)) and same.accuracy == 0.5  # ties: one half each


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


def test_pairs_are_right_against_wrong_and_none_without_both():
    from course_utils.instruct_data import exact

    pairs = dpo.make_pairs("Add 2 and 3.", "add", ["5", "6", "5", "7"], exact, "5")
    assert [(p.chosen, p.rejected) for p in pairs] == [("5", "6"), ("5", "7")]
    assert dpo.make_pairs("Add 2 and 3.", "add", ["5", "5"], exact, "5") == []
    assert dpo.make_pairs("Add 2 and 3.", "add", ["6", "7"], exact, "5") == []


def tiny_chat_model():
    from course_utils import bpe, chat, gpt

    fast = bpe.to_transformers(bpe.train("Add 2 and 3. Reverse the word king. " * 30, 280), context=64)
    chat.add_chat_tokens(fast)
    torch.manual_seed(0)
    shape = gpt.DecoderShape(vocab_size=len(fast), context=64, layers=1, heads=2, width=32)
    return fast, gpt.GPT(shape).eval()


def test_training_starts_at_log_2_and_moves_the_policy_towards_the_chosen():
    from course_utils import train
    from course_utils.config.loop import TrainConfig

    fast, reference = tiny_chat_model()
    pairs = [dpo.PreferencePair("add", "Add 2 and 3.", "5", "6"), dpo.PreferencePair("add", "Add 1 and 1.", "2", "3")]
    rows = dpo.with_reference(reference, [dpo.encode_pair(fast, p, 64) for p in pairs])
    start = dpo.evaluate_pairs(reference, rows, beta=0.1)
    assert start.loss.item() == pytest.approx(math.log(2), abs=1e-6) and start.margin == pytest.approx(0, abs=1e-6)
    assert dpo.token_kl(reference, reference, rows) == pytest.approx(0, abs=1e-7)
    policy = copy.deepcopy(reference).train()
    loader = torch.utils.data.DataLoader(rows, batch_size=2, collate_fn=dpo.pad_pairs)
    loop = TrainConfig(lr=1e-2, max_steps=20, mixed_precision=False, weight_decay=0.0)
    train.fit(policy, loader, loop, None, dpo.loss_fn(0.1), "cpu", progress=False)
    after = dpo.evaluate_pairs(policy.eval(), rows, beta=0.1)
    assert after.loss.item() < start.loss.item() and after.accuracy == 1.0
    assert dpo.token_kl(policy, reference, rows) > 0


def test_the_loss_equals_trls_on_the_same_log_probabilities(tmp_path):
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    from course_utils import gpt

    fast, reference = tiny_chat_model()
    fast.pad_token = fast.pad_token or "<|end|>"
    policy = copy.deepcopy(reference)
    with torch.no_grad():
        for p in policy.parameters():
            p.add_(0.02 * torch.randn(p.shape, generator=torch.Generator().manual_seed(1)))
    hf_policy, hf_reference = gpt.to_gpt2(policy).eval(), gpt.to_gpt2(reference).eval()
    records = [{"prompt": [{"role": "user", "content": q}], "chosen": [{"role": "assistant", "content": c}],
                "rejected": [{"role": "assistant", "content": r}]}
               for q, c, r in (("Add 2 and 3.", "5", "6"), ("Reverse the word king.", "gnik", "king"))]
    args = DPOConfig(output_dir=str(tmp_path), beta=0.1, per_device_train_batch_size=2, max_length=64,
                     report_to="none", use_cpu=True)
    trainer = DPOTrainer(model=hf_policy, ref_model=hf_reference, args=args, train_dataset=Dataset.from_list(records),
                         processing_class=fast)
    batch = next(iter(trainer.get_train_dataloader()))
    with torch.no_grad():
        theirs = trainer.compute_loss(trainer.model.eval(), batch).item()
        labels = batch["input_ids"][:, 1:].masked_fill(batch["completion_mask"][:, 1:] == 0, IGNORE_INDEX)
        pol, ref = (dpo.sequence_logprobs(m(batch["input_ids"]).logits[:, :-1], labels)
                    for m in (hf_policy, hf_reference))
        ours = dpo.dpo_loss(*pol.chunk(2), *ref.chunk(2), beta=0.1).loss.item()
    assert abs(ours - theirs) <= 1e-6 and abs(theirs - math.log(2)) > 1e-4


def test_the_reference_answer_stands_in_only_when_asked():
    from course_utils.instruct_data import exact

    pairs = dpo.make_pairs("Add 2 and 3.", "add", ["6", "7"], exact, "5", answer_if_none_right=True)
    assert [(p.chosen, p.rejected) for p in pairs] == [("5", "6"), ("5", "7")]


def test_kl_is_zero_for_the_same_model_and_positive_otherwise():
    fast, reference = tiny_chat_model()
    pair = dpo.PreferencePair("add", "Add 2 and 3.", "5", "6")
    rows = dpo.with_reference(reference, [dpo.encode_pair(fast, pair, 64)])
    other = copy.deepcopy(reference)
    with torch.no_grad():
        other.head.weight.add_(0.1)
    assert dpo.token_kl(reference, reference, rows) == pytest.approx(0, abs=1e-7)
    assert dpo.token_kl(other, reference, rows) > 0
