"""Chapter 05: knowledge distillation - a smaller student trained on the fine-tuned teacher's soft labels."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F

from course_utils.losses import IGNORE_INDEX


def soft_target_loss(
    student: torch.Tensor, teacher: torch.Tensor, temperature: float
) -> torch.Tensor:
    """T^2 x KL(teacher || student) of the logits softened by T, averaged over
    the rows (rows, classes); the T^2 keeps its gradient's size as T grows."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    log_p_student = F.log_softmax(student / temperature, dim=-1)
    log_p_teacher = F.log_softmax(teacher / temperature, dim=-1)
    kl = F.kl_div(log_p_student, log_p_teacher, reduction="batchmean", log_target=True)
    return temperature**2 * kl


def distillation_loss(
    student: torch.Tensor,  # (batch, seq, labels)
    teacher: torch.Tensor,  # (batch, seq, labels)
    labels: torch.Tensor,  # (batch, seq), -100 where not scored
    temperature: float,
    alpha: float,
) -> torch.Tensor:
    """alpha x the soft-target loss + (1 - alpha) x cross-entropy with the true labels,
    both over the labelled tokens only."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha weighs the teacher's loss: use a value in [0, 1], got {alpha}")
    scored = labels != IGNORE_INDEX  # the first sub-token of each word
    soft = soft_target_loss(student[scored], teacher[scored], temperature)
    hard = F.cross_entropy(student[scored], labels[scored])
    return alpha * soft + (1 - alpha) * hard


def student_from(teacher, layers: tuple[int, ...]):
    """A copy of a BERT token classifier keeping only encoder `layers` (DistilBERT's
    start: the teacher's own weights, every other layer)."""
    encoder = teacher.bert.encoder.layer
    if not layers or min(layers) < 0 or max(layers) >= len(encoder):
        raise ValueError(f"student layers {layers}: pick from 0 to {len(encoder) - 1}")
    student = copy.deepcopy(teacher)
    student.bert.encoder.layer = torch.nn.ModuleList(copy.deepcopy(encoder[i]) for i in layers)
    student.config.num_hidden_layers = len(layers)
    return student


@torch.no_grad()
def teacher_logits(teacher, dataset, collate, batch_size: int = 64) -> list[torch.Tensor]:
    """The teacher's logits for every row of `dataset`, in order: (row length, labels) each.
    Computed once (eval mode, so no dropout), they serve every epoch and every student."""
    teacher.eval()
    device = next(teacher.parameters()).device
    out = []
    for start in range(0, len(dataset), batch_size):
        rows = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
        batch = {k: v.to(device) for k, v in collate(rows).items() if k != "labels"}
        logits = teacher(**batch).logits.float().cpu()  # (batch, seq, labels)
        out += [logits[i, : len(row["input_ids"])] for i, row in enumerate(rows)]
    return out


def with_teacher_logits(collate, logits: list[torch.Tensor]):
    """A collator that adds `teacher_logits` (batch, seq, labels), padded with zeros, to
    batches of rows that carry their index in a `row` column (other rows: unchanged)."""

    def collate_rows(rows: list[dict]) -> dict[str, torch.Tensor]:
        batch = collate(rows)
        if rows and "row" in rows[0]:
            length = batch["input_ids"].shape[1]
            padded = torch.zeros(len(rows), length, logits[0].shape[-1])
            for i, row in enumerate(rows):
                target = logits[row["row"]]
                padded[i, : len(target)] = target
            batch["teacher_logits"] = padded
        return batch

    return collate_rows


def soft_label_loss(temperature: float, alpha: float):
    """The loop's loss_fn for a student whose batches carry `teacher_logits`."""

    def loss_fn(student, batch: dict) -> torch.Tensor:
        inputs = {k: v for k, v in batch.items() if k not in ("labels", "teacher_logits")}
        logits = student(**inputs).logits.float()
        return distillation_loss(logits, batch["teacher_logits"], batch["labels"], temperature, alpha)

    return loss_fn
