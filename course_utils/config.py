"""Profiles (`smoke`, `cpu`, `full`) and the one frozen config dataclass per chapter."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Generic, TypeVar

import torch

if TYPE_CHECKING:
    from course_utils.train import TrainConfig

PROFILES = ("smoke", "cpu", "full")
OFFLINE_PROFILES = ("smoke", "cpu")
PROFILE_HELP = {
    "smoke": "CI: tiny data and models, seconds per notebook",
    "cpu": "a laptop without a GPU: the embedded MiniLM encoder and local data, minutes",
    "full": "a CUDA GPU: bert-base-cased and CoNLL-2003 from the Hugging Face Hub",
}

T = TypeVar("T")


def get_profile() -> str:
    """The active profile: `COURSE_PROFILE`, else `full` with CUDA and `cpu` without."""
    value = os.environ.get("COURSE_PROFILE", "").strip().lower()
    if not value:
        return "full" if torch.cuda.is_available() else "cpu"
    if value not in PROFILES:
        choices = ", ".join(f"{name} ({PROFILE_HELP[name]})" for name in PROFILES)
        raise ValueError(
            f"COURSE_PROFILE={value!r} is not a profile. Choose one of: {choices}; "
            "or unset it to pick full with a CUDA GPU and cpu without."
        )
    return value


def get_sizes() -> str:
    """Whose sizes the chapter configs use: `COURSE_SIZES` if set, else the active profile's own.

    The full-profile rehearsal of `make test` runs `full`'s code path at `smoke`'s sizes this way.
    """
    value = os.environ.get("COURSE_SIZES", "").strip().lower()
    if not value:
        return get_profile()
    if value not in PROFILES:
        raise ValueError(f"COURSE_SIZES={value!r} is not a profile: use one of {', '.join(PROFILES)}, or unset it")
    return value


def apply_profile_environment(profile: str | None = None) -> None:
    """In the offline profiles, tell every Hugging Face library never to touch the network."""
    if (profile or get_profile()) in OFFLINE_PROFILES:
        for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
            os.environ[name] = "1"
        # Read at import time by huggingface_hub: already-imported copies need the flag too.
        try:
            import huggingface_hub.constants as hub_constants
        except ImportError:  # pragma: no cover - huggingface_hub is a requirement
            return
        hub_constants.HF_HUB_OFFLINE = True


@dataclass(frozen=True)
class Profiles(Generic[T]):
    """One chapter's config in the three profiles, side by side."""

    smoke: T
    cpu: T
    full: T

    def pick(self, profile: str | None = None) -> T:
        """The config of `profile` (default: the active sizes, see `get_sizes`)."""
        name = profile or get_sizes()
        if name not in PROFILES:
            raise ValueError(f"profile={name!r} is not one of {', '.join(PROFILES)}")
        return getattr(self, name)


# The config values that may be 0 (every other whole number must be at least 1), and those that are shares.
AT_LEAST_ZERO = ("seed", "seeds", "distill_seeds", "warmup_steps", "max_wait_ms", "top_k")
SHARES = (
    "train_mlm_probability", "dropout", "warmup_ratio", "ema_decay", "layer_lr_decay", "distill_alpha",
    "prune_sparsities", "swap_probability",
)


def check_ranges(cfg) -> None:
    """Refuse a config value out of its range, naming the field and the value: each number finite and not
    negative, each whole number at least 1 (or 0 where AT_LEAST_ZERO says), shares in [0, 1], rates above 0."""
    from dataclasses import fields

    for field in fields(cfg):
        value = getattr(cfg, field.name)
        for v in value if isinstance(value, tuple) else (value,):
            if v is None or isinstance(v, bool) or not isinstance(v, (int, float)):
                continue
            where = f"{type(cfg).__name__}.{field.name}={value!r}"
            fix = f"change it with dataclasses.replace(cfg, {field.name}=...)"
            if v != v or v in (float("inf"), float("-inf")):
                raise ValueError(f"{where}: must be a finite number; {fix}")
            if field.name in SHARES and not 0 <= v <= 1:
                raise ValueError(f"{where}: a share, must be between 0 and 1; {fix}")
            positive = "lr" in field.name.split("_") or "lrs" == field.name or "temperature" in field.name
            if positive and v <= 0:
                raise ValueError(f"{where}: must be above 0; {fix}")
            least = 0 if isinstance(v, float) or field.name in AT_LEAST_ZERO else 1
            if v < least:
                raise ValueError(f"{where}: must be at least {least}; {fix}")


class Checked:
    """Base of every chapter config: values are range-checked when made, `replace` included."""

    def __post_init__(self) -> None:
        check_ranges(self)


# --- Chapter 01: the environment check ------------------------------------------------------


@dataclass(frozen=True)
class EnvCheckConfig(Checked):
    """Chapter 01: sizes of the matmul benchmark."""

    matmul_size: int  # n of the (n, n) @ (n, n) product
    repeats: int  # timed runs after one warm-up; the best is reported


ENV_CHECK = Profiles(
    smoke=EnvCheckConfig(matmul_size=256, repeats=3),
    cpu=EnvCheckConfig(matmul_size=1024, repeats=5),
    full=EnvCheckConfig(matmul_size=4096, repeats=20),
)


# --- Chapter 02: masked language modelling ----------------------------------------------------
# The design notes page of the book tells what else was tried on the cpu budget and what it showed.


@dataclass(frozen=True)
class MLMConfig(Checked):
    """Chapter 02: the tiny BERT pretrained from scratch on tiny Shakespeare."""

    corpus_lines: int | None  # None: the whole corpus (40k lines)
    vocab_size: int  # WordPiece vocabulary
    block_size: int  # tokens per training sequence, [CLS] and [SEP] included
    hidden_size: int
    num_layers: int
    num_heads: int
    batch_size: int
    lr: float
    warmup_steps: int
    max_steps: int
    time_budget_s: float | None  # a safety stop; the schedule is planned for max_steps
    train_mlm_probability: float  # masking rate in training; evaluation always uses BERT's 15%
    eval_every: int
    position_init_scale: float  # position embeddings start at this x the sinusoidal table (see mlm.py)
    position_init_base: float  # its longest wavelength is 2*pi*base positions
    pair_steps: int  # each sentence-pair run (MLM alone, + NSP, + SOP) trains this many steps
    dropout: float = 0.0  # ~1M tokens, seen a few times: the model underfits, dropout only slows it
    seed: int = 0

    def train_config(self) -> TrainConfig:
        """The loop's settings: max_steps steps, evaluated every eval_every."""
        from course_utils.train import TrainConfig  # the loop imports torch.optim, tqdm ...: only when used

        return TrainConfig(
            lr=self.lr,
            max_steps=self.max_steps,
            time_budget_s=self.time_budget_s,
            warmup_steps=self.warmup_steps,
            eval_every=self.eval_every,
        )

    def pair_train_config(self) -> TrainConfig:
        """A sentence-pair run's loop settings: `train_config`'s, for pair_steps steps, no evaluation on the way."""
        return replace(self.train_config(), max_steps=self.pair_steps, eval_every=self.pair_steps)


MLM = Profiles(
    smoke=MLMConfig(
        corpus_lines=3000,
        vocab_size=600,
        block_size=32,
        hidden_size=64,
        num_layers=2,
        num_heads=2,
        batch_size=32,
        lr=2e-3,
        warmup_steps=5,
        max_steps=40,
        time_budget_s=60,
        train_mlm_probability=0.4,
        eval_every=20,
        position_init_scale=0.08,
        position_init_base=100.0,
        pair_steps=20,
    ),
    cpu=MLMConfig(
        corpus_lines=None,
        vocab_size=4000,
        block_size=64,
        hidden_size=128,  # 256 stays on the unigram plateau for this budget's 3,400 steps
        num_layers=4,
        num_heads=2,
        batch_size=16,  # more, smaller steps beat fewer large ones on this budget
        lr=1e-3,  # 2e-3 collapsed a wider model to the unigram prediction
        warmup_steps=100,
        max_steps=5000,  # about 6.5 minutes on 2 cores
        time_budget_s=660,
        train_mlm_probability=0.5,  # more masked tokens, more signal per step (Wettig et al. 2022)
        eval_every=500,
        position_init_scale=0.08,  # 0.03 and 0.3 both stayed on the plateau
        position_init_base=100.0,  # with 64 positions, base 10,000 leaves most frequencies flat
        pair_steps=1200,  # five runs of ~80 s each on 2 cores
    ),
    full=MLMConfig(
        corpus_lines=None,
        vocab_size=8000,
        block_size=128,
        hidden_size=512,
        num_layers=8,
        num_heads=8,
        batch_size=128,
        lr=5e-4,
        warmup_steps=100,
        max_steps=1000,  # ~65 epochs of 250k tokens; past that this 30M-parameter model memorises them
        time_budget_s=None,
        train_mlm_probability=0.3,
        eval_every=250,
        position_init_scale=0.08,
        position_init_base=100.0,  # as in cpu
        pair_steps=1000,
        dropout=0.1,
    ),
)


@dataclass(frozen=True)
class MLMExpectations(Checked):
    """Chapter 02's asserted results (None: the profile is too small to show them)."""

    max_unigram_ratio: float | None  # held-out perplexity at most this x the unigram one
    max_mask_ratio: float | None  # the same at [MASK] only, where context is the only clue


MLM_EXPECT = Profiles(
    smoke=MLMExpectations(max_unigram_ratio=None, max_mask_ratio=None),  # 40 steps: the loss falls
    cpu=MLMExpectations(max_unigram_ratio=0.3, max_mask_ratio=0.4),  # measured 0.12 and 0.18
    full=MLMExpectations(max_unigram_ratio=0.5, max_mask_ratio=0.5),  # measured 0.11 and 0.16 (H100)
)


# --- Chapter 03: LayerNorm ------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerNormConfig(Checked):
    """Chapter 03: gradients at init, the placement experiment (repeat task), timings, attention."""

    hidden: int  # width of the blocks in every experiment
    depth_for_stats: int  # layers in the "why normalise" stack
    corpus_lines: int | None
    vocab_size: int
    block_size: int
    layers: int  # depth of the placement experiment's encoder
    heads: int
    batch_size: int
    task_vocab: int  # the repeat task: random tokens from this vocabulary ...
    task_len: int  # ... in rows of this length, the second half repeating the first
    lrs: tuple[float, ...]  # learning rates tried for each placement, with and without warmup
    warmup_steps: int
    steps: int  # per run
    timing_rows: int  # tokens in the LayerNorm timing input (rows x hidden)
    timing_hidden: int
    timing_repeats: int
    compile_timing: bool  # time a torch.compile'd LayerNorm (compiling takes ~40 s on 2 cores)
    attention_lengths: tuple[int, ...]  # sequence lengths of the attention-cost table (12 heads of 64)

    def train_config(self, lr: float, warmup_steps: int) -> TrainConfig:
        """One placement run's loop settings: `steps` steps, three evaluations."""
        from course_utils.train import TrainConfig

        return TrainConfig(lr=lr, max_steps=self.steps, warmup_steps=warmup_steps, eval_every=max(1, self.steps // 3))


LAYERNORM = Profiles(
    smoke=LayerNormConfig(
        hidden=64,
        depth_for_stats=6,
        corpus_lines=2000,
        vocab_size=500,
        block_size=32,
        layers=4,
        heads=2,
        batch_size=16,
        task_vocab=16,
        task_len=8,
        lrs=(1e-3, 1e-2),
        warmup_steps=5,
        steps=15,
        timing_rows=512,
        timing_hidden=256,
        timing_repeats=5,
        compile_timing=False,
        attention_lengths=(64, 128),
    ),
    cpu=LayerNormConfig(
        hidden=128,
        depth_for_stats=12,
        corpus_lines=None,
        vocab_size=2000,
        block_size=64,
        layers=6,
        heads=4,
        batch_size=32,
        task_vocab=64,
        task_len=32,
        lrs=(1e-3, 3e-3),  # at 3e-3 Post-LN needs warmup and Pre-LN does not
        warmup_steps=50,
        steps=300,  # ~30 s per run on 2 cores
        timing_rows=4096,
        timing_hidden=768,
        timing_repeats=20,
        compile_timing=True,
        attention_lengths=(128, 256, 512, 1024, 2048),  # 2048: a 200 MB score tensor
    ),
    full=LayerNormConfig(
        hidden=256,
        depth_for_stats=24,
        corpus_lines=None,
        vocab_size=8000,
        block_size=128,
        layers=12,
        heads=4,
        batch_size=64,
        task_vocab=256,
        task_len=64,
        lrs=(3e-4, 1e-3, 3e-3),
        warmup_steps=300,
        steps=1500,
        timing_rows=16384,
        timing_hidden=1024,
        timing_repeats=50,
        compile_timing=True,
        attention_lengths=(256, 512, 1024, 2048, 4096),
    ),
)


@dataclass(frozen=True)
class LayerNormExpectations(Checked):
    """Chapter 03's asserted results."""

    placement_conclusion: bool  # the runs are long enough to separate Pre-LN from Post-LN


LAYERNORM_EXPECT = Profiles(
    smoke=LayerNormExpectations(placement_conclusion=False),  # 15 steps show the mechanics only
    cpu=LayerNormExpectations(placement_conclusion=True),
    full=LayerNormExpectations(placement_conclusion=False),  # not yet measured: printed, not asserted
)


# --- Chapter 04: NER fine-tuning --------------------------------------------------------------------


@dataclass(frozen=True)
class NERConfig(Checked):
    """Chapter 04: fine-tuning the profile's encoder for NER (WikiGold offline, CoNLL-2003 in full)."""

    max_train_sentences: int | None  # None: the whole training split
    max_eval_sentences: int | None  # None: the whole dev and test splits
    max_length: int  # sub-tokens per sentence after truncation
    batch_size: int
    lr: float
    num_epochs: int  # chapter 05's parameter-efficient methods get the same budget
    warmup_ratio: float
    time_budget_s: float | None  # a safety stop for the fine-tuning
    speed_batches: int  # batches timed for dynamic vs fixed padding
    seeds: tuple[int, ...]  # one fine-tuning run per seed: results are their mean and spread
    memory_shape: str  # the model whose training memory is measured (memory.SHAPES)
    memory_batches: tuple[int, ...]  # batch sizes the per-sample memory is fitted on
    ddp_steps: int  # steps of the one- and two-process runs compared
    tricks: bool = False  # use the three settings below (chapter 04 compares both ways on dev)
    layer_lr_decay: float = 0.85  # trick: each layer trains at this x the lr of the layer above
    head_lr_scale: float = 5.0  # trick: the new classifier's lr, as a multiple of lr
    ema_decay: float = 0.99  # trick: evaluate and keep a moving average of the weights
    seed: int = 0  # this run's batch order (new_token_classifier's seed draws the new head)

    def train_config(self, steps_per_epoch: int) -> TrainConfig:
        """The loop's settings for this run, keeping the weights with the best dev F1."""
        from course_utils.train import TrainConfig

        return TrainConfig(
            lr=self.lr,
            num_epochs=self.num_epochs,
            warmup_steps=int(self.warmup_ratio * self.num_epochs * steps_per_epoch),
            time_budget_s=self.time_budget_s,
            best_metric="f1",
            layer_lr_decay=self.layer_lr_decay if self.tricks else 1.0,
            head_lr_scale=self.head_lr_scale if self.tricks else 1.0,
            ema_decay=self.ema_decay if self.tricks else None,
        )

    def plain(self) -> NERConfig:
        """The same run with one learning rate for every layer and the raw weights (no moving average)."""
        return replace(self, tricks=False)

    def with_tricks(self) -> NERConfig:
        """The same run with per-layer learning rates, a faster head and a moving average of the weights."""
        return replace(self, tricks=True)


NER = Profiles(
    smoke=NERConfig(
        max_train_sentences=250,
        max_eval_sentences=100,
        max_length=128,
        batch_size=16,
        lr=2e-4,
        num_epochs=3,
        warmup_ratio=0.1,
        time_budget_s=None,  # 48 steps; a budget would make the result depend on the machine's load
        speed_batches=3,
        seeds=(0, 1),  # two: the mechanics of seeds and intervals
        memory_shape="small",  # seconds, not the minute bert-base takes
        memory_batches=(1, 2),
        ddp_steps=2,
        ema_decay=0.9,  # 48 steps need a short memory
    ),
    cpu=NERConfig(
        max_train_sentences=None,
        max_eval_sentences=None,
        max_length=128,
        batch_size=16,
        lr=3e-4,  # on dev: 0.802 at 3e-4, 0.783 at 1e-4 (5 epochs, seed 0)
        num_epochs=5,  # the budget: 3 seeds here and in chapter 05 (20 epochs: +0.03 dev F1)
        warmup_ratio=0.1,
        time_budget_s=300,  # a safety stop on slower machines (a run takes ~2 min on 2 cores)
        speed_batches=12,  # enough to rank the three ways of padding
        seeds=(0, 1, 2),
        memory_shape="bert-base",  # random weights weigh what trained ones do
        memory_batches=(1, 2, 4),
        ddp_steps=10,
        tricks=False,  # at 5 epochs, dev F1 0.794 with them and 0.802 without (seed 0)
    ),
    full=NERConfig(
        max_train_sentences=None,
        max_eval_sentences=None,
        max_length=128,
        batch_size=32,
        lr=5e-5,  # the usual BERT recipe: one lr, the raw weights
        num_epochs=3,
        warmup_ratio=0.1,
        time_budget_s=None,
        speed_batches=50,
        seeds=(0, 1, 2),
        memory_shape="bert-base",
        memory_batches=(2, 4, 8),
        ddp_steps=20,
        ema_decay=0.995,  # ~1,300 steps: an average over the last ~200
    ),
)


@dataclass(frozen=True)
class NERExpectations(Checked):
    """Chapter 04's asserted results."""

    min_test_f1: float | None  # test entity F1 at least this


NER_EXPECT = Profiles(
    smoke=NERExpectations(min_test_f1=None),  # 48 steps on 250 sentences
    cpu=NERExpectations(min_test_f1=0.70),  # the seeds' mean: measured 0.730 ± 0.030 (3 seeds)
    full=NERExpectations(min_test_f1=0.89),  # published sentence-level BERT-base: about 0.91
)


# --- Chapter 05: PEFT and quantization ----------------------------------------------------------------


@dataclass(frozen=True)
class PEFTConfig(Checked):
    """Chapter 05: each parameter-efficient method on chapter 04's task, data, budget and seeds."""

    lora_r: int
    lora_alpha: float
    lora_lr: float  # few parameters, started at zero: a larger step than full fine-tuning's
    top_k: int  # "top k layers": encoder layers trained, with the head
    other_lr: float  # top-k layers, BitFit, IA3
    rank_sweep: tuple[int, ...]
    latency_repeats: int
    compile_latency: bool  # torch.compile the fp32 and int8 models for the latency table (slow on 2 cores)
    prune_sparsities: tuple[float, ...]
    student_stride: int  # the student keeps every stride-th encoder layer of the teacher
    distill_seeds: tuple[int, ...]  # seeds of the two students (with and without the teacher)
    distill_temperature: float = 2.0  # softens the teacher's probabilities; a usual start, not tuned
    distill_alpha: float = 0.5  # the teacher's share of the student's loss; the labels have the rest

    def run_config(self, ner: NERConfig, lr: float, seed: int = 0) -> NERConfig:
        """A PEFT method's run: chapter 04's data, batch size, epochs and plain loop, with its own lr."""
        return replace(ner.plain(), lr=lr, seed=seed)


PEFT = Profiles(
    smoke=PEFTConfig(
        lora_r=4,
        lora_alpha=8,
        lora_lr=3e-3,
        top_k=1,
        other_lr=3e-3,
        rank_sweep=(1,),
        latency_repeats=2,
        compile_latency=False,
        prune_sparsities=(0.0, 0.5, 0.9),
        student_stride=2,
        distill_seeds=(0,),
    ),
    cpu=PEFTConfig(
        lora_r=8,
        lora_alpha=16,
        lora_lr=3e-3,  # LoRA r=8 peaked on dev at epoch 5 of 6 at this lr
        top_k=2,
        other_lr=5e-3,
        rank_sweep=(),  # each rank is another ~90 s run: full sweeps, cpu keeps 15 min
        latency_repeats=10,
        compile_latency=True,
        prune_sparsities=(0.0, 0.2, 0.4, 0.6, 0.8),
        student_stride=2,  # every other layer, as DistilBERT: 3 of MiniLM's 6
        distill_seeds=(0,),  # two ~1.5 min runs per seed: one seed fits the chapter's 15 min
    ),
    full=PEFTConfig(
        lora_r=16,
        lora_alpha=32,
        lora_lr=5e-4,
        top_k=4,
        other_lr=1e-3,
        rank_sweep=(1, 4, 64),
        latency_repeats=50,
        compile_latency=True,
        prune_sparsities=(0.0, 0.2, 0.4, 0.6, 0.8),
        student_stride=2,  # 6 of bert-base's 12, as DistilBERT
        distill_seeds=(0, 1, 2),
    ),
)


@dataclass(frozen=True)
class PEFTExpectations(Checked):
    """Chapter 05's asserted results (None/False: not asserted in that profile)."""

    lora_margin: float | None  # the 95% interval of LoRA minus full fine-tuning's test F1 starts above -this
    max_int8_drop: float | None  # int8's test F1 at most this below fp32's
    int8_faster_at_16: bool  # int8 beats fp32 latency at batch 16


PEFT_EXPECT = Profiles(
    smoke=PEFTExpectations(lora_margin=None, max_int8_drop=None, int8_faster_at_16=False),
    cpu=PEFTExpectations(
        lora_margin=0.06,  # measured LoRA - full: -0.018 [-0.049, +0.014]
        max_int8_drop=0.01,
        int8_faster_at_16=True,
    ),
    # on a GPU the fp16/bf16 tensor cores, not int8 on the CPU, set the pace
    full=PEFTExpectations(lora_margin=0.02, max_int8_drop=0.01, int8_faster_at_16=False),  # not yet run
)


# --- Chapter 06: serving ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ServeConfig(Checked):
    """Chapter 06: chapter 04's model exported, served over HTTP, load-tested and shown in a page."""

    backend: str  # what the service runs (serve.BACKENDS)
    max_batch: int  # the most requests run as one batch
    max_wait_ms: float  # how long a batch's first request waits for company
    max_chars: int  # the longest text /ner accepts (longer: 413, split it)
    threads: int | None  # the service's PyTorch threads (None: PyTorch's choice)
    latency_repeats: int
    compile_latency: bool  # torch.compile a row of the latency table (slow on 2 cores)
    concurrency: tuple[int, ...]  # clients sending at once in the load test
    requests_per_level: int  # requests sent at each concurrency, batching off and on
    load_texts: int  # test sentences the load test cycles through


SERVE = Profiles(
    smoke=ServeConfig(
        backend="torch",
        max_batch=8,
        max_wait_ms=5,
        max_chars=2000,
        threads=None,
        latency_repeats=2,
        compile_latency=False,
        concurrency=(1, 16),
        requests_per_level=48,  # the mechanics in seconds
        load_texts=50,
    ),
    cpu=ServeConfig(
        backend="torch",  # the model as chapter 04 trained it, as full serves it on the GPU
        max_batch=8,  # at 16 clients: 105-106 requests/s against 99-101 with 16 (less padding)
        max_wait_ms=5,  # about a third of one request's model time
        max_chars=2000,  # a long paragraph; the encoder reads 512 sub-tokens at most
        threads=None,
        latency_repeats=10,
        compile_latency=True,
        concurrency=(1, 2, 4, 8, 16),
        requests_per_level=400,
        load_texts=200,
    ),
    full=ServeConfig(
        backend="torch",
        max_batch=16,  # a GPU gains with every text it adds to a batch
        max_wait_ms=5,
        max_chars=2000,
        threads=None,
        latency_repeats=50,
        compile_latency=True,
        concurrency=(1, 2, 4, 8, 16, 32),
        requests_per_level=1000,
        load_texts=500,
    ),
)


@dataclass(frozen=True)
class ServeExpectations(Checked):
    """Chapter 06's asserted results (None: not asserted in that profile)."""

    max_onnx_difference: float  # ONNX Runtime's fp32 logits within this of PyTorch's
    max_f1_drop: float | None  # every backend's test F1 at most this below PyTorch fp32's
    min_batching_speedup: float | None  # requests/s with batching over without, at the top concurrency


SERVE_EXPECT = Profiles(
    smoke=ServeExpectations(max_onnx_difference=1e-4, max_f1_drop=None, min_batching_speedup=None),
    # 2 shared CPU cores: a batch is mostly arithmetic; measured 1.28-1.9x over runs, near the two-latency bound
    cpu=ServeExpectations(max_onnx_difference=1e-4, max_f1_drop=0.01, min_batching_speedup=1.1),
    # a GPU runs 16 short sentences in about the time of one; not yet run
    full=ServeExpectations(max_onnx_difference=1e-4, max_f1_drop=0.01, min_batching_speedup=3.0),
)


# --- Chapter 07: trust ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrustConfig(Checked):
    """Chapter 07: explanations, the name probe and its mitigation, learning in two stages."""

    ig_steps: int  # path points of the attributions shown
    ig_step_sweep: tuple[int, ...]  # completeness error against the number of points
    attention_entities: int  # predicted entities whose attributions and attention are compared
    names_per_group: int  # probe names per (gender list, origin) cell; the rest feed the swap
    swap_probability: float  # chance that a training PER span's first word is swapped for another name
    resamples: int  # bootstrap draws (and permutations) of every interval
    stage_epochs: int  # epochs of each stage's fine-tuning
    replay_sentences: int  # stage-1 sentences kept and mixed into stage 2
    fisher_sentences: int  # stage-1 sentences the Fisher is estimated on
    ewc_strengths: tuple[float, ...]  # EWC's lambda, chosen on dev

    def stage_config(self, ner: NERConfig, seed: int) -> NERConfig:
        """A stage's run: chapter 04's recipe and data sizes, stage_epochs long."""
        return replace(ner.plain(), num_epochs=self.stage_epochs, seed=seed)


TRUST = Profiles(
    smoke=TrustConfig(
        ig_steps=16,
        ig_step_sweep=(4, 16),
        attention_entities=4,
        names_per_group=2,
        swap_probability=0.5,
        resamples=200,
        stage_epochs=1,
        replay_sentences=8,
        fisher_sentences=8,
        ewc_strengths=(1e4,),
    ),
    cpu=TrustConfig(
        ig_steps=64,
        ig_step_sweep=(4, 8, 16, 32, 64, 128),
        attention_entities=40,
        names_per_group=20,  # 240 names x 8 templates
        swap_probability=0.5,
        resamples=2000,
        stage_epochs=3,
        replay_sentences=50,
        fisher_sentences=200,
        ewc_strengths=(1e4, 1e5),  # 1e3 left stage 1 at 0.0; 1e5 also stopped stage 2 (0.05)
    ),
    full=TrustConfig(
        ig_steps=64,
        ig_step_sweep=(4, 8, 16, 32, 64, 128),
        attention_entities=200,
        names_per_group=20,
        swap_probability=0.5,
        resamples=2000,
        stage_epochs=2,
        replay_sentences=200,
        fisher_sentences=500,
        ewc_strengths=(1e3, 1e4, 1e5),
    ),
)


@dataclass(frozen=True)
class TrustExpectations(Checked):
    """Chapter 07's asserted results (check_results False: the profile only shows the mechanics)."""

    check_results: bool
    min_origin_gap: float  # the probe's largest origin gap in PER rate, before swapping, at least this
    max_swap_f1_cost: float  # name swapping costs at most this much test F1


TRUST_EXPECT = Profiles(
    smoke=TrustExpectations(check_results=False, min_origin_gap=0.0, max_swap_f1_cost=1.0),
    cpu=TrustExpectations(check_results=True, min_origin_gap=0.1, max_swap_f1_cost=0.04),  # measured 0.169, 0.017
    full=TrustExpectations(check_results=False, min_origin_gap=0.0, max_swap_f1_cost=0.02),  # not yet run
)
