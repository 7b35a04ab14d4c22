"""Distillation: the soft-target loss and its T^2, the combined loss, the student cut from the teacher."""

import pytest
import torch
import torch.nn.functional as F
from transformers import BertConfig, BertForTokenClassification

from course_utils import distill


def test_soft_target_gradient_is_t_times_the_probability_gap():
    torch.manual_seed(0)
    student = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
    teacher = torch.randn(6, 5, dtype=torch.float64)
    for t in (1.0, 3.0):
        (grad,) = torch.autograd.grad(distill.soft_target_loss(student, teacher, t), student)
        gap = F.softmax(student / t, -1) - F.softmax(teacher / t, -1)
        assert torch.allclose(grad, t * gap.detach() / len(student))
    # T^2 keeps the gradient's size: for large T it tends to the centred logit gap / classes
    (grad,) = torch.autograd.grad(distill.soft_target_loss(student, teacher, 1000.0), student)
    diff = (student - teacher).detach()
    limit = (diff - diff.mean(-1, keepdim=True)) / 5 / len(student)
    assert torch.allclose(grad, limit, atol=1e-3)  # off by O(1/T)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        distill.soft_target_loss(student, teacher, 0.0)


def test_combined_loss_mixes_soft_and_hard_on_labelled_tokens_only():
    torch.manual_seed(0)
    student, teacher = torch.randn(2, 4, 3), torch.randn(2, 4, 3)
    labels = torch.tensor([[0, 2, -100, 1], [1, -100, -100, 0]])
    scored = labels != -100
    hard = F.cross_entropy(student[scored], labels[scored])
    soft = distill.soft_target_loss(student[scored], teacher[scored], 2.0)
    assert torch.allclose(distill.distillation_loss(student, teacher, labels, 2.0, 0.0), hard)
    assert torch.allclose(distill.distillation_loss(student, teacher, labels, 2.0, 1.0), soft)
    mixed = distill.distillation_loss(student, teacher, labels, 2.0, 0.3)
    assert torch.allclose(mixed, 0.3 * soft + 0.7 * hard)
    with pytest.raises(ValueError, match="alpha"):
        distill.distillation_loss(student, teacher, labels, 2.0, 1.5)


def tiny_teacher():
    sizes = {"hidden_size": 16, "num_hidden_layers": 4, "num_attention_heads": 2, "intermediate_size": 32}
    torch.manual_seed(0)
    return BertForTokenClassification(BertConfig(vocab_size=50, num_labels=3, **sizes)).eval()


def test_student_keeps_the_teachers_weights_for_the_chosen_layers():
    teacher = tiny_teacher()
    student = distill.student_from(teacher, (0, 2))
    assert len(student.bert.encoder.layer) == 2 == student.config.num_hidden_layers
    kept, source = student.bert.encoder.layer[1], teacher.bert.encoder.layer[2]
    assert torch.equal(kept.output.dense.weight, source.output.dense.weight)
    assert len(teacher.bert.encoder.layer) == 4  # the teacher is untouched
    ids = torch.randint(50, (2, 7))
    whole = distill.student_from(teacher, (0, 1, 2, 3))
    assert torch.allclose(whole(input_ids=ids).logits, teacher(input_ids=ids).logits)
    with pytest.raises(ValueError, match="pick from 0 to 3"):
        distill.student_from(teacher, (0, 4))


def pad(batch_rows: list[dict]) -> dict[str, torch.Tensor]:
    """Chapter 04's collator in miniature: pad ids with 0 and labels with -100."""
    width = max(len(r["input_ids"]) for r in batch_rows)
    lengths = torch.tensor([len(r["input_ids"]) for r in batch_rows])
    return {
        "input_ids": torch.tensor([r["input_ids"] + [0] * (width - len(r["input_ids"])) for r in batch_rows]),
        "attention_mask": (torch.arange(width) < lengths[:, None]).long(),
        "labels": torch.tensor([r["labels"] + [-100] * (width - len(r["labels"])) for r in batch_rows]),
    }


def test_cached_teacher_logits_give_the_loss_of_a_live_teacher():
    teacher = tiny_teacher()
    torch.manual_seed(1)
    rows = [{"input_ids": torch.randint(50, (n,)).tolist(), "labels": torch.randint(3, (n,)).tolist()} for n in (5, 7)]
    cached = distill.teacher_logits(teacher, rows, pad, batch_size=1)
    assert [tuple(t.shape) for t in cached] == [(5, 3), (7, 3)]
    batch = distill.with_teacher_logits(pad, cached)([{**r, "row": i} for i, r in enumerate(rows)])
    student = distill.student_from(teacher, (1, 3))
    inputs = {k: v for k, v in batch.items() if k not in ("labels", "teacher_logits")}
    expected = distill.distillation_loss(student(**inputs).logits, teacher(**inputs).logits, batch["labels"], 2.0, 0.5)
    assert torch.allclose(distill.soft_label_loss(2.0, 0.5)(student, batch), expected, atol=1e-6)
    assert "teacher_logits" not in distill.with_teacher_logits(pad, cached)(rows)  # rows without an index
