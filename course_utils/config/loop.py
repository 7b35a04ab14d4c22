"""The training loop's settings: every chapter's config turns itself into one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from course_utils.config.profiles import Checked, at_least, bounded, one_of, positive, share


@dataclass(frozen=True)
class TrainConfig(Checked):
    """What the loop needs to know; every chapter fills one from its profile config."""

    lr: float = positive()
    num_epochs: int = at_least(1, default=1)
    max_steps: int | None = at_least(1, default=None)  # the run's length in optimizer steps (overrides num_epochs)
    time_budget_s: float | None = at_least(0, default=None)  # ... or after this many seconds of training
    warmup_steps: int = at_least(0, default=0)
    schedule: str = one_of("linear", "cosine", default="linear")  # after warmup: linear to 0, or cosine to min_lr
    min_lr_ratio: float = share(default=0.0)  # cosine: the lr it decays to, as a share of lr
    adam_beta2: float = bounded(0.999, above=0, below=1)  # AdamW's second-moment decay (0.99: a shorter memory)
    weight_decay: float = at_least(0, default=0.01)
    layer_lr_decay: float = positive(default=1.0)  # layer i of n at lr * decay**(n - 1 - i), embeddings decay**n
    head_lr_scale: float = positive(default=1.0)  # lr multiplier outside the layers and embeddings (the head)
    ema_decay: float | None = bounded(None, above=0, below=1)  # evaluate (and keep) a moving average of weights
    max_grad_norm: float | None = positive(default=1.0)  # None: no clipping
    eval_every: int | None = at_least(1, default=None)  # evaluate every N steps; None: after each epoch
    best_metric: str | None = None  # keep the weights with the best value of this eval metric
    best_mode: str = one_of("max", "min", default="max")
    mixed_precision: bool = True  # autocast to device.pick_precision: bf16/fp16 on CUDA, bf16 on bf16 CPUs
    accumulation_steps: int = at_least(1, default=1)  # micro-batches per optimizer step: a k-times batch
    gradient_checkpointing: bool = False  # keep only each layer's input; recompute the rest in backward
    checkpoint_dir: Path | None = None  # save every state at each eval (and checkpoint_every); resume from the newest
    checkpoint_every: int | None = at_least(1, default=None)  # also save every N steps (None: at evaluations only)
    keep_checkpoints: int = at_least(1, default=2)  # the newest N stay on disk
