"""Pretraining a decoder with the course's one loop: random windows of the training ids, the recipe's AdamW
and cosine schedule, dev loss (and a sample) at each evaluation."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch
from torch.utils.data import DataLoader

from course_utils import lm_data, train
from course_utils.config.ch08_gpt import Recipe
from course_utils.gpt import GPT, DecoderShape, lm_loss


def pretrain(
    shape: DecoderShape,
    recipe: Recipe,
    train_ids: torch.Tensor,
    dev_windows: torch.Tensor,
    seed: int,
    device: torch.device,
    steps: int | None = None,
    lr: float | None = None,
    sample: Callable[[GPT], str] | None = None,
    progress: bool = True,
) -> tuple[GPT, train.History]:
    """GPT(shape) trained by the recipe (or steps, lr); the model in eval mode."""
    torch.manual_seed(seed)  # the initial weights
    model = GPT(shape)
    run = dataclasses.replace(
        recipe, max_iters=steps or recipe.max_iters, lr=lr or recipe.lr
    )
    count = run.max_iters * run.batch_size  # one window per example of every step
    windows = lm_data.RandomWindows(train_ids, shape.context, count, seed)  # drawn once

    def evaluate(m: GPT) -> dict:
        row = {"dev_loss": lm_data.mean_loss(m, dev_windows)}
        return row | ({"sample": sample(m)} if sample else {})

    loop = run.train_config(mixed_precision=device.type == "cuda")  # CPU: fp32
    loader = DataLoader(windows, batch_size=run.batch_size)  # in order: resumable
    history = train.fit(model, loader, loop, evaluate, lm_loss, device, progress)
    return model.eval(), history
