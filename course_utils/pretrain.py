"""Pretraining a decoder with the course's one loop: random windows of the training ids, the recipe's AdamW
and cosine schedule, dev loss (and a sample) at each evaluation."""

from __future__ import annotations

import dataclasses
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch.utils.data import DataLoader

from course_utils import checkpoint, lm_data, train
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
    snapshots: Path | None = None,
    snapshot_every: int | None = None,
) -> tuple[GPT, train.History]:
    """GPT(shape) trained by the recipe (or steps, lr); the model in eval mode.
    With `snapshots`, its weights at step 0 and every `snapshot_every` steps are
    kept in that folder (`snapshot_steps` lists them)."""
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
    if snapshots is None:
        history = train.fit(model, loader, loop, evaluate, lm_loss, device, progress)
    else:
        every = snapshot_every or run.eval_every
        fit = (model, loader, loop, evaluate, lm_loss, device, progress)
        history = _fit_keeping_snapshots(fit, Path(snapshots), every)
    return model.eval(), history


def _fit_keeping_snapshots(fit: tuple, folder: Path, every: int) -> train.History:
    """train.fit(*fit), keeping the model's weights at step 0, every `every` steps and at each evaluation in
    `folder` (emptied first: a new run). The loop's own checkpoints carry them; the optimizer's state is dropped."""
    model, loader, loop = fit[:3]
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    save_file(_weights(model.state_dict()), folder / snapshot_name(0))
    with tempfile.TemporaryDirectory() as tmp:
        saving = dataclasses.replace(
            loop, checkpoint_dir=Path(tmp), checkpoint_every=every, keep_checkpoints=loop.max_steps + 1
        )
        history = train.fit(model, loader, saving, *fit[3:])
        for saved in checkpoint.checkpoints(Path(tmp)):
            step = int(saved.name.split("-")[1])
            save_file(load_file(saved / "model.safetensors"), folder / snapshot_name(step))
    return history


_SNAPSHOT = re.compile(r"step-(\d{8})\.safetensors")


def snapshot_name(step: int) -> str:
    """The file of the weights at `step`."""
    return f"step-{step:08d}.safetensors"


def snapshot_steps(folder: Path) -> list[int]:
    """The steps whose weights `pretrain(..., snapshots=folder)` kept, in order; a clear error for none."""
    found = sorted(int(m.group(1)) for p in Path(folder).glob("step-*") if (m := _SNAPSHOT.fullmatch(p.name)))
    if not found:
        raise FileNotFoundError(f"no snapshots in {folder}: run chapter 08 again to keep its training snapshots")
    return found


def load_snapshot(model: GPT, folder: Path, step: int) -> GPT:
    """`model` with the weights it had at `step` of pretraining (eval mode). A model built with biases takes
    the weights of one built without: its biases are set to 0, which adds nothing (gpt.with_zero_biases)."""
    path = Path(folder) / snapshot_name(step)
    if not path.is_file():
        raise FileNotFoundError(f"no snapshot of step {step} in {folder}: the steps are {snapshot_steps(folder)}")
    state = load_file(path)
    own = model.state_dict()
    for name in set(own) - set(state):
        if name.endswith(".bias") and name[: -len("bias")] + "weight" in state:
            state[name] = torch.zeros_like(own[name])
    model.load_state_dict(state)
    return model.eval()


def _weights(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """CPU copies (safetensors refuses tensors that share memory, as tied weights do)."""
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in state.items()}
