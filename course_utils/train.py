"""The course's one training loop (chapters 02-05 and 08): AdamW, warmup + linear or cosine decay, clipping,
AMP, eval, checkpoints, gradient accumulation, activation checkpointing, and data-parallel processes (DDP)."""

from __future__ import annotations

import contextlib
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm

from course_utils import checkpoint
from course_utils.config.loop import TrainConfig
from course_utils.device import pick_precision
from course_utils.losses import IGNORE_INDEX


@dataclass
class History:
    """What happened: one row per step and one per evaluation, ready to plot."""

    steps: list[dict] = field(default_factory=list)
    evals: list[dict] = field(default_factory=list)
    best: dict | None = None
    seconds: float = 0.0  # wall time of the whole run, evaluations included
    eval_seconds: float = 0.0  # of which spent evaluating


def linear_warmup_decay(warmup_steps: int, total_steps: int) -> Callable[[int], float]:
    """LR multiplier: 0 -> 1 over warmup_steps, then linearly 1 -> 0 at total_steps."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    return factor


def cosine_warmup_decay(warmup_steps: int, total_steps: int, min_ratio: float) -> Callable[[int], float]:
    """LR multiplier: nanoGPT's schedule, (step + 1) / (warmup + 1) over warmup, then a half cosine from 1
    down to min_ratio at total_steps."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / (warmup_steps + 1)
        done = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return min_ratio + 0.5 * (1 + math.cos(math.pi * done)) * (1 - min_ratio)

    return factor


def lr_schedule(cfg: TrainConfig, total_steps: int) -> Callable[[int], float]:
    """The multiplier cfg.schedule names."""
    if cfg.schedule == "cosine":
        return cosine_warmup_decay(cfg.warmup_steps, total_steps, cfg.min_lr_ratio)
    return linear_warmup_decay(cfg.warmup_steps, total_steps)


def count_parameters(model: torch.nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def lr_scales(model: torch.nn.Module, layer_decay: float, head_scale: float) -> dict[str, float]:
    """Each trainable parameter's lr multiplier: decays layer by layer below the top; head_scale above it."""
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    layer_of = {n: int(m.group(1)) for n in names if (m := re.search(r"(?:^|\.)layers?\.(\d+)\.", n))}
    depth = max(layer_of.values(), default=-1) + 1

    def scale(name: str) -> float:
        if name in layer_of:
            return layer_decay ** (depth - 1 - layer_of[name])
        return layer_decay**depth if "embeddings" in name else head_scale

    return {name: scale(name) for name in names}


def param_groups(model: torch.nn.Module, cfg: TrainConfig) -> list[dict]:
    """AdamW groups: weight decay on matrices only (not biases, LayerNorm), and each parameter's lr scale."""
    scales, groups = lr_scales(model, cfg.layer_lr_decay, cfg.head_lr_scale), {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            groups.setdefault((cfg.weight_decay if p.dim() >= 2 else 0.0, scales[name]), []).append(p)
    return [{"params": ps, "weight_decay": wd, "lr": cfg.lr * scale} for (wd, scale), ps in groups.items()]


def default_loss(model: torch.nn.Module, batch: dict) -> torch.Tensor:
    """Hugging Face models compute their own loss when the batch has `labels`."""
    return model(**batch).loss


def loss_units(batch: dict) -> int:
    """What a batch's mean loss divides by: its labelled tokens (labels != -100), else its examples."""
    if "labels" in batch:
        return int((batch["labels"] != IGNORE_INDEX).sum())
    return len(next(iter(batch.values())))


def world_size() -> int:
    """The number of training processes: torch.distributed's world, or 1."""
    distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
    return torch.distributed.get_world_size() if distributed else 1


def sum_over_processes(tensor: torch.Tensor) -> torch.Tensor:
    """The sum of `tensor` over every process (NCCL reduces CUDA tensors, gloo CPU ones)."""
    nccl = torch.distributed.get_backend() == "nccl"
    summed = tensor.to("cuda" if nccl else "cpu")
    torch.distributed.all_reduce(summed)  # in place
    return summed.to(tensor.device)


def loss_weights(batches: list[dict]) -> list[float]:
    """Each micro-batch's factor on its mean loss, so the step's gradient is that of the
    mean over all its units: units / all units, over every process (x their number, as
    DDP averages the processes' gradients)."""
    counts = [loss_units(b) for b in batches]  # labelled tokens (or examples) of each
    total, world = float(sum(counts)), world_size()
    if world > 1:
        total = float(sum_over_processes(torch.tensor([total], dtype=torch.float64)))
    if len(batches) == 1 and world == 1:
        return [1.0]  # the plain step: the loss as it is
    if total == 0:
        raise ValueError("no labelled token in this step (every label is -100)")
    return [count * world / total for count in counts]


def enable_checkpointing(model: torch.nn.Module) -> None:
    """Turn on activation checkpointing in a transformers model (DDP- or peft-wrapped ones too)."""
    inner = getattr(model, "module", model)  # DistributedDataParallel keeps the model in .module
    if hasattr(inner, "activation_checkpointing_enable"):  # transformers 5's name
        inner.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    elif hasattr(inner, "gradient_checkpointing_enable"):  # its name before
        inner.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    else:
        raise TypeError(
            f"gradient_checkpointing=True needs a transformers model (activation_checkpointing_enable); "
            f"{type(inner).__name__} has none: use torch.utils.checkpoint in its forward"
        )


def no_sync(model: torch.nn.Module, last: bool):
    """DDP's no_sync() for every micro-batch but a step's last (gradients then add up locally), else nothing."""
    return contextlib.nullcontext() if last or not hasattr(model, "no_sync") else model.no_sync()


def backward_step(model, group: list[dict], loss_fn, amp_dtype: torch.dtype, scaler) -> torch.Tensor:
    """Forward and backward over one step's micro-batches: .grad ends up holding the gradient of the mean
    loss over all their labelled tokens (over every process under DDP). Returns that loss."""
    device = next(model.parameters()).device
    loss = torch.zeros((), device=device)  # the weighted sum of the micro-batches' losses
    for i, (batch, weight) in enumerate(zip(group, loss_weights(group), strict=True)):
        batch = {k: v.to(device) for k, v in batch.items()}
        with no_sync(model, last=i == len(group) - 1):  # DDP: average after the last only
            autocast = amp_dtype != torch.float32
            with torch.autocast(device.type, dtype=amp_dtype, enabled=autocast):
                micro_loss = loss_fn(model, batch) * weight
            scaler.scale(micro_loss).backward()  # .grad adds up; a no-op scale unless fp16
        loss += micro_loss.detach()
    if world_size() > 1:  # each process holds its share of the mean: add them up
        loss = sum_over_processes(loss) / world_size()
    return loss


def micro_batch_groups(loader, k: int):
    """The loader's batches in groups of k (the last group of an epoch may be shorter): one group per step."""
    group = []
    for batch in loader:
        group.append(batch)
        if len(group) == k:
            yield group
            group = []
    if group:
        yield group


def fit(
    model,
    train_loader,
    cfg: TrainConfig,
    evaluate=None,
    loss_fn=default_loss,
    device=None,
    progress=True,
):
    """Train `model` on `train_loader`, calling `evaluate(model) -> dict` as it goes."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if any(
        p.device != device for p in model.parameters()
    ):  # bitsandbytes models are placed at load time
        model.to(device)
    model.train()
    if cfg.gradient_checkpointing:
        enable_checkpointing(model)
    steps_per_epoch = math.ceil(len(train_loader) / cfg.accumulation_steps)
    total = cfg.max_steps or cfg.num_epochs * steps_per_epoch
    optimizer = torch.optim.AdamW(
        param_groups(model, cfg), lr=cfg.lr, betas=(0.9, cfg.adam_beta2)
    )
    schedule = lr_schedule(cfg, total)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, schedule
    )  # scales every group's own lr
    amp_dtype = (
        pick_precision(device) if cfg.mixed_precision else torch.float32
    )  # weights stay fp32 either way
    scaler = torch.amp.GradScaler(
        device.type, enabled=amp_dtype == torch.float16
    )  # fp16 needs loss scaling
    ema_fn = get_ema_multi_avg_fn(cfg.ema_decay or 0.0)
    ema = AveragedModel(model, multi_avg_fn=ema_fn) if cfg.ema_decay else None
    run = Run(model, optimizer, scheduler, scaler, ema, History())
    saved = resume(run, checkpoint.latest(cfg.checkpoint_dir))  # None: a new run
    history, step = run.history, run.step
    start, bar = (
        time.perf_counter() - history.seconds,
        tqdm(total=total, initial=step, disable=not progress, desc="train"),
    )
    sampler, epoch = getattr(train_loader, "sampler", None), run.epoch
    while step < total:
        if saved:  # the epoch the run stopped in: the same batches again
            restore_epoch_start(train_loader, saved)
        run.epoch_start = epoch_start(train_loader)
        if hasattr(sampler, "set_epoch"):  # DistributedSampler: a new shuffle per epoch
            sampler.set_epoch(epoch)
        groups = micro_batch_groups(train_loader, cfg.accumulation_steps)
        run.groups_done, saved = skip_done(groups, saved), None  # on from there
        for group in groups:
            loss = backward_step(model, group, loss_fn, amp_dtype, scaler)
            scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
            grad_norm = torch.nn.utils.clip_grad_norm_(
                model.parameters(), cfg.max_grad_norm or float("inf")
            )
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            if ema:
                ema.update_parameters(model)
            step += 1
            run.groups_done += 1
            history.steps.append(
                {
                    "step": step,
                    "loss": loss.item(),
                    "lr": cfg.lr * schedule(step),
                    "grad_norm": float(grad_norm),
                }
            )
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
            out_of_time = (
                cfg.time_budget_s is not None
                and time.perf_counter() - start > cfg.time_budget_s
            )
            end_of_epoch = step % steps_per_epoch == 0
            evaluated = evaluate and (
                (cfg.eval_every and step % cfg.eval_every == 0)
                or (not cfg.eval_every and end_of_epoch)
                or step >= total
                or out_of_time
            )
            if evaluated:
                run_eval(ema.module if ema else model, evaluate, cfg, history, step)
            periodic = cfg.checkpoint_every and step % cfg.checkpoint_every == 0
            if cfg.checkpoint_dir and (evaluated or periodic):
                history.seconds = time.perf_counter() - start
                save_checkpoint(run, step, epoch, cfg)
            if step >= total or out_of_time:
                total = step
                break
        epoch += 1
    bar.close()
    history.seconds = time.perf_counter() - start
    if history.best is not None and "state" in history.best:  # restore the best weights
        restore_trainable(model, history.best.pop("state"))
    elif ema:  # nothing chose: the average is the result
        model.load_state_dict(ema.module.state_dict())
    return history


def run_eval(model, evaluate, cfg: TrainConfig, history: History, step: int) -> None:
    """Evaluate, record, and keep the best weights."""
    start = time.perf_counter()
    metrics = {"step": step, **evaluate(model)}
    model.train()
    history.eval_seconds += time.perf_counter() - start
    history.evals.append(metrics)
    if cfg.best_metric:
        value, sign = metrics[cfg.best_metric], 1 if cfg.best_mode == "max" else -1
        if history.best is None or sign * value > sign * history.best[cfg.best_metric]:
            history.best = {**metrics, "state": trainable_state(model)}


def trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Copies of the parameters that train: all a run changes, so all that "the best weights" must keep.

    Frozen weights stay out: a PEFT run keeps kilobytes, not the model, and a 4-bit base's quantization
    state (absmax, quant_map ...) is never copied back into it.
    """
    return {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}


def restore_trainable(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load `trainable_state` copies back into `model`; every name must be one of its parameters."""
    unexpected = model.load_state_dict(state, strict=False).unexpected_keys
    if unexpected:
        raise KeyError(f"not parameters of {type(model).__name__}: {unexpected[:5]}")


@dataclass
class Run:
    """Everything a run changes as it goes: what a checkpoint must hold for a resumed run to be the same run."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: object
    scaler: torch.amp.GradScaler
    ema: AveragedModel | None
    history: History
    step: int = 0
    epoch: int = 0  # epochs started before the current one
    groups_done: int = 0  # optimizer steps taken in the current epoch
    epoch_start: dict | None = None  # random generators and loader state as the current epoch began


def epoch_start(loader) -> dict:
    """The random generators and the loader's state as an epoch begins: enough to draw its batches again."""
    return {"rng": checkpoint.rng_state(), "loader": checkpoint.loader_state(loader)}


def restore_epoch_start(loader, saved: dict) -> None:
    """Put the generators and the loader back as they were when the checkpoint's epoch began."""
    checkpoint.set_rng_state(saved["epoch_start"]["rng"])
    checkpoint.set_loader_state(loader, saved["epoch_start"]["loader"])


def skip_done(groups, saved: dict | None) -> int:
    """Draw, and drop, the batches a resumed epoch had trained on; then restore the generators. Returns how many."""
    if not saved:
        return 0
    for _ in range(saved["groups_done"]):
        next(groups)
    checkpoint.set_rng_state(saved["rng"])  # as they were at the checkpoint, after those steps' dropout
    return saved["groups_done"]


def plain_values(value):
    """`value` with NumPy scalars and arrays as Python numbers and lists: what torch.load(weights_only=True) reads."""
    if isinstance(value, dict):
        return {k: plain_values(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain_values(v) for v in value)
    return value.tolist() if hasattr(value, "tolist") and not isinstance(value, torch.Tensor) else value


def save_checkpoint(run: Run, step: int, epoch: int, cfg: TrainConfig) -> Path:
    """Every state of the run at `step`, written atomically into cfg.checkpoint_dir."""
    tensors = {"model": run.model.state_dict()}
    if run.ema is not None:
        tensors["ema"] = run.ema.state_dict()
    best = dict(run.history.best) if run.history.best else None
    if best and "state" in best:
        tensors["best"] = best.pop("state")
    state = {
        "step": step,
        "epoch": epoch,
        "groups_done": run.groups_done,
        "epoch_start": run.epoch_start,
        "rng": checkpoint.rng_state(),
        "optimizer": run.optimizer.state_dict(),
        "scheduler": run.scheduler.state_dict(),
        "scaler": run.scaler.state_dict(),
        "history": plain_values(
            {"steps": run.history.steps, "evals": run.history.evals, "best": best,
             "seconds": run.history.seconds, "eval_seconds": run.history.eval_seconds}
        ),
    }
    return checkpoint.save(cfg.checkpoint_dir, step, tensors, state, keep=cfg.keep_checkpoints)


def resume(run: Run, path: Path | None) -> dict | None:
    """Load the checkpoint at `path` into `run` (None: nothing to do); return its state for the loop."""
    if path is None:
        return None
    tensors, state = checkpoint.load(path)
    missing = {"model"} | ({"ema"} if run.ema is not None else set())
    if not missing <= tensors.keys():
        raise ValueError(
            f"checkpoint {path} has no {sorted(missing - tensors.keys())} weights: it was written by a run with "
            "other settings (ema_decay); resume with the same config, or delete the folder to start over"
        )
    try:
        run.model.load_state_dict(tensors["model"])
        if run.ema is not None:
            run.ema.load_state_dict(tensors["ema"])
        run.optimizer.load_state_dict(state["optimizer"])
    except (RuntimeError, ValueError, KeyError) as err:
        raise ValueError(
            f"checkpoint {path} does not fit this model or optimizer ({err}): it belongs to another run; "
            "point checkpoint_dir at a new folder or delete this one"
        ) from err
    run.scheduler.load_state_dict(state["scheduler"])
    run.scaler.load_state_dict(state["scaler"])
    saved = state["history"]
    best = saved["best"]
    if best is not None and "best" in tensors:
        best = {**best, "state": tensors["best"]}
    run.history = History(saved["steps"], saved["evals"], best, saved["seconds"], saved["eval_seconds"])
    run.step, run.epoch = state["step"], state["epoch"]
    return state
