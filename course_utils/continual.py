"""Learning in stages without forgetting: stage data, a replay buffer, EWC from scratch, one adapter per stage."""

from __future__ import annotations

import random

import torch

from course_utils.tagging import LABEL2ID, LABELS, entities, entity_scores

STAGES = (
    ("PER", "LOC"),
    ("ORG", "MISC"),
)  # stage 1 learns these types, stage 2 the others


def keep_types(tags: list[str], types: tuple[str, ...]) -> list[str]:
    """IOB2 tags with every entity not of `types` turned into O."""
    return [t if t != "O" and t[2:] in types else "O" for t in tags]


def stage_split(split, types: tuple[str, ...], rows: list[int] | None = None):
    """The rows of a (tokens, ner_tags) split, annotated for `types` only: the others look like O."""
    split = split if rows is None else split.select(rows)

    def relabel(row: dict) -> dict:
        tags = keep_types([LABELS[t] for t in row["ner_tags"]], types)
        return {"ner_tags": [LABEL2ID[t] for t in tags]}

    return split.map(relabel, load_from_cache_file=False)


def halves(n: int, seed: int) -> tuple[list[int], list[int]]:
    """Two disjoint, shuffled halves of range(n): stage 1's sentences and stage 2's."""
    rows = list(range(n))
    random.Random(seed).shuffle(rows)
    return sorted(rows[: n // 2]), sorted(rows[n // 2 :])


def stage_data(
    raw, types: tuple[str, ...], rows: list[int], tokenizer, max_length: int
):
    """A stage's NERData: its training rows and the dev split annotated for `types`; test as it is."""
    from datasets import DatasetDict

    from course_utils.ner_data import NERData, make_collator, tokenize

    splits = DatasetDict(
        {
            "train": stage_split(raw["train"], types, rows),
            "dev": stage_split(raw["dev"], types),
            "test": raw["test"],
        }
    )
    return NERData(tokenize(splits, tokenizer, max_length), make_collator(tokenizer))


def stage_f1(
    true_tags: list[list[str]], pred_tags: list[list[str]], types: tuple[str, ...]
) -> float:
    """Entity F1 counting only entities of `types`, on both sides."""
    keep = lambda rows: [keep_types(r, types) for r in rows]  # noqa: E731
    return float(entity_scores(keep(true_tags), keep(pred_tags))["f1"])


def stage_counts(
    true_tags: list[list[str]], pred_tags: list[list[str]], types: tuple[str, ...]
) -> torch.Tensor:
    """(sentences, 3) matched/predicted/true counts of `types`' entities: stats' intervals take these."""
    from course_utils.stats import entity_counts

    return entity_counts(
        [keep_types(r, types) for r in true_tags],
        [keep_types(r, types) for r in pred_tags],
    )


def merge_predictions(
    first: list[list[str]], second: list[list[str]]
) -> list[list[str]]:
    """Stage 1's entities, then stage 2's wherever they overlap none of them (one adapter per stage)."""
    merged = []
    for a, b in zip(first, second, strict=True):
        out = list(a)
        for kind, start, end in entities(b):
            if all(t == "O" for t in out[start:end]):
                out[start:end] = [f"B-{kind}"] + [f"I-{kind}"] * (end - start - 1)
        merged.append(out)
    return merged


def pseudo_labelled(split, old_tags: list[list[str]], old_types: tuple[str, ...]):
    """A stage's split whose O words take the old model's `old_types` predictions."""
    from course_utils.tagging import LABEL2ID, LABELS

    gold = [[LABELS[t] for t in row] for row in split["ner_tags"]]
    filled = merge_predictions(gold, [keep_types(r, old_types) for r in old_tags])
    return split.remove_columns("ner_tags").add_column(
        "ner_tags",
        [[LABEL2ID[t] for t in row] for row in filled],
        feature=split.features["ner_tags"],
    )


# --- elastic weight consolidation ---------------------------------------------------------------------------


def fisher_diagonal(model, batches, seed: int = 0) -> dict[str, torch.Tensor]:
    """Diagonal Fisher: the mean of (d log p(y|x) / d theta)^2, y drawn from the model.

    Each batch is one example (a sentence); its tokens' labels are sampled from the
    model's own softmax, so the estimate is of the Fisher, not of the squared gradient
    of the true labels (the 'empirical' Fisher).
    """
    gen = torch.Generator().manual_seed(seed)
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    total = {n: torch.zeros_like(p) for n, p in params.items()}
    was_training = model.training
    model.eval()  # no dropout: the Fisher of the function the weights compute
    count = 0
    for batch in batches:
        logits = model(
            **{k: v for k, v in batch.items() if k != "labels"}
        ).logits  # (1, seq, labels)
        scored = batch["labels"] != -100  # (1, seq): the words' first sub-tokens
        probs = logits.detach().softmax(-1)[scored]  # (words, labels)
        sampled = (
            torch.multinomial(probs.float().cpu(), 1, generator=gen)
            .squeeze(1)
            .to(logits.device)
        )
        log_lik = logits.log_softmax(-1)[scored].gather(1, sampled[:, None]).sum()
        grads = torch.autograd.grad(log_lik, list(params.values()), allow_unused=True)
        for (name, _), g in zip(params.items(), grads, strict=True):
            if g is not None:
                total[name] += g.detach() ** 2
        count += 1
    model.train(was_training)  # the caller's mode
    if count == 0:
        raise ValueError("fisher_diagonal needs at least one example")
    return {n: t / count for n, t in total.items()}


class EWCLoss:
    """The model's loss + (strength / 2) sum_i F_i (theta_i - theta*_i)^2."""

    def __init__(self, model, fisher: dict[str, torch.Tensor], strength: float) -> None:
        if strength < 0:
            raise ValueError(f"strength must be >= 0, got {strength}")
        self.strength, self.fisher = strength, fisher
        self.anchor = {
            n: p.detach().clone() for n, p in model.named_parameters() if n in fisher
        }

    def penalty(self, model) -> torch.Tensor:
        """sum_i F_i (theta_i - theta*_i)^2 over the anchored parameters."""
        terms = [
            (self.fisher[n] * (p - self.anchor[n]) ** 2).sum()
            for n, p in model.named_parameters()
            if n in self.anchor
        ]
        return torch.stack(terms).sum()

    def __call__(self, model, batch: dict) -> torch.Tensor:
        return model(**batch).loss + self.strength / 2 * self.penalty(model)
