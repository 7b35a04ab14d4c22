"""Profiles (`smoke`, `cpu`, `full`) and the one frozen config dataclass per chapter."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Generic, TypeVar

import torch

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


# --- Chapter 01: the environment check ------------------------------------------------------


@dataclass(frozen=True)
class EnvCheckConfig:
    """Chapter 01: sizes of the matmul benchmark."""

    matmul_size: int  # n of the (n, n) @ (n, n) product
    repeats: int  # timed runs after one warm-up; the best is reported


ENV_CHECK = Profiles(
    smoke=EnvCheckConfig(matmul_size=256, repeats=3),
    cpu=EnvCheckConfig(matmul_size=1024, repeats=5),
    full=EnvCheckConfig(matmul_size=4096, repeats=20),
)


# --- Chapter 02: masked language modelling ----------------------------------------------------


@dataclass(frozen=True)
class MLMConfig:
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
    max_unigram_ratio: float | None  # asserted: held-out perplexity at most this x the unigram one
    max_mask_ratio: float | None  # asserted: the same at the [MASK] positions only, where context is the only clue
    position_init_scale: float  # position embeddings start at this x the sinusoidal table (see mlm.py)
    position_init_base: float  # its longest wavelength is 2*pi*base positions
    dropout: float = 0.0  # ~1M tokens, seen a few times: the model underfits, dropout only slows it
    seed: int = 0


# What was tried for `cpu` (2 cores; held-out perplexity as a multiple of the unigram one, and in brackets the same
# at [MASK] only). With the position embeddings started at random (BERT's normal(0, 0.02)), every run below stayed
# on the unigram plateau at [MASK], however long it ran on this budget; its headline ratio came from copying the 10%
# kept tokens. All BertForMaskedLM with 4 layers, hidden 256, 64-token blocks unless noted:
#   15% masking, batch 32, lr 1e-3: 0.90 after 150 s     40% masking: 0.68 after 150 s, 0.58 after 9 min
#   lr 2e-3 (warmup 50): stuck at the unigram prediction (1.05)     batch 16: 0.63 after 7 min on 1 thread
#   batch 8, lr 7e-4: 0.63     vocabulary 1,000 or 2,000: 0.62-0.63     Pre-LN encoder (layers.py), lr 1e-3/3e-3: worse
#   bf16 autocast, batch 16, 50% masking, 3,400 steps in 9 min: 0.54-0.56 (0.95)     output bias at log-unigram,
#   55% masking, lr 2e-3 with Adam beta2 0.98, hidden 384, Pre-LN: 0.57-0.61 after 1,200 steps
#   hidden 128, 9,000 steps: 0.53 (0.96)     hidden 192, 5,000 steps: 0.51
# The plateau is about positions: to use a neighbour, attention must learn which of 64 random position vectors is
# next to which. Starting them at the sinusoidal table (Vaswani et al. 2017; a fixed linear map takes every
# position to its neighbour) breaks it. Hidden 128, 50% masking, lr 1e-3, 1,500 steps on 1 thread:
#   base 10,000, scale 0.03: 0.58 (0.96) | 0.08: 0.45 (0.70), seed 1: 0.54 (0.88) | 0.15: 0.56 (0.91) | 0.3: 0.62 (0.97)
#   base 100, scale 0.08: 0.43 (0.67), seed 1: 0.46 (0.72) - with 64 positions, base 10,000 leaves most of the
#   frequencies almost constant across a block        hidden 256, base 10,000, scale 0.08, 3,400 steps: 0.56 (0.95)
# Adopted: hidden 128, base 100, scale 0.08 (word embeddings start at std 0.02), 5,000 steps on 2 threads in 6.4 min:
#   0.12 (0.18) - the plateau ends between steps 1,000 and 2,000. For scale, the notebook's count model of the two
#   neighbours (mlm.neighbour_log_probs) reaches 0.24 at [MASK] with smoothing 0.1; the best of 0.01/0.03/0.1/0.3/1,
#   chosen on the held-out text itself, 0.22 (0.03). A count model p(w | left) p(right | w) reading the true,
#   unmasked neighbours at every held-out position reached 0.19 (a script; an easier task than the masked input).
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
        max_unigram_ratio=None,  # 40 steps only show the loss going down
        max_mask_ratio=None,
        position_init_scale=0.08,
        position_init_base=100.0,
    ),
    cpu=MLMConfig(
        corpus_lines=None,
        vocab_size=4000,
        block_size=64,
        hidden_size=128,  # 256 (base 10,000) stayed on the plateau for 3,400 steps (9 min); 128 runs 5,000 in 6.4
        num_layers=4,
        num_heads=2,
        batch_size=16,  # more, smaller steps beat fewer large ones on this budget (32 reached 0.58 in 9 min)
        lr=1e-3,  # 2e-3 collapsed a hidden-256 model to the unigram prediction
        warmup_steps=100,
        max_steps=5000,
        time_budget_s=660,
        train_mlm_probability=0.5,
        eval_every=500,
        max_unigram_ratio=0.3,  # the target is 0.5; measured 0.12 (see above)
        max_mask_ratio=0.4,  # measured 0.18 (script); on the plateau it was 0.95
        position_init_scale=0.08,
        position_init_base=100.0,
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
        warmup_steps=500,
        max_steps=10000,
        time_budget_s=None,
        train_mlm_probability=0.3,
        eval_every=1000,
        max_unigram_ratio=0.5,
        max_mask_ratio=0.5,
        position_init_scale=0.08,
        position_init_base=100.0,  # as in cpu; not yet run at 128 positions
        dropout=0.1,
    ),
)


# --- Chapter 03: LayerNorm ------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerNormConfig:
    """Chapter 03: gradients at init (chapter 02's MLM data), the placement experiment (repeat task), timings."""

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
    check_conclusion: bool  # assert the conclusion the notebook draws (runs long enough to separate the placements)
    timing_rows: int  # tokens in the LayerNorm timing input (rows x hidden)
    timing_hidden: int
    timing_repeats: int
    compile_timing: bool  # time a torch.compile'd LayerNorm (compiling takes ~40 s on 2 cores)


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
        check_conclusion=False,  # 15 steps show the mechanics only
        timing_rows=512,
        timing_hidden=256,
        timing_repeats=5,
        compile_timing=False,
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
        lrs=(1e-3, 3e-3),  # measured (bf16): at 3e-3 Post-LN fails without warmup, Pre-LN solves it either way
        warmup_steps=50,
        steps=300,  # ~30 s per run on 2 cores
        check_conclusion=True,
        timing_rows=4096,
        timing_hidden=768,
        timing_repeats=20,
        compile_timing=True,
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
        check_conclusion=False,  # not run on a GPU yet (none was lent): the conclusion is printed, not asserted
        timing_rows=16384,
        timing_hidden=1024,
        timing_repeats=50,
        compile_timing=True,
    ),
)


# --- Chapter 04: NER fine-tuning --------------------------------------------------------------------


@dataclass(frozen=True)
class NERConfig:
    """Chapter 04: fine-tuning the profile's encoder for NER (WikiGold offline, CoNLL-2003 in full)."""

    max_train_sentences: int | None  # None: the whole training split
    max_eval_sentences: int | None  # None: the whole dev and test splits
    max_length: int  # sub-tokens per sentence after truncation
    batch_size: int
    lr: float
    num_epochs: int
    warmup_ratio: float
    time_budget_s: float | None  # a safety stop for the fine-tuning
    speed_batches: int  # batches timed for dynamic vs fixed padding
    min_test_f1: float | None  # the test entity F1 the notebook asserts (what the profile reaches)
    layer_lr_decay: float = 1.0  # each encoder layer trains at this x the lr of the layer above (1.0: one lr)
    head_lr_scale: float = 1.0  # the new classifier's lr, as a multiple of lr
    ema_decay: float | None = None  # evaluate and keep a moving average of the weights (None: the weights)


NER = Profiles(
    smoke=NERConfig(
        max_train_sentences=250,
        max_eval_sentences=100,
        max_length=128,
        batch_size=16,
        lr=2e-4,
        num_epochs=3,
        warmup_ratio=0.1,
        time_budget_s=None,  # 48 steps; a budget would make the result depend on how busy the machine is
        speed_batches=3,
        min_test_f1=None,
        layer_lr_decay=0.85,
        head_lr_scale=5.0,
        ema_decay=0.9,  # 48 steps: a short memory (0.995 would still mostly remember the first steps)
    ),
    cpu=NERConfig(
        max_train_sentences=None,
        max_eval_sentences=None,
        max_length=128,
        batch_size=16,
        lr=3e-4,  # small encoder: 1e-4 for 8 epochs gave test F1 0.650 (before casing and constrained decoding)
        num_epochs=20,  # 28-30 s per epoch on 2 cores (bf16): the 10 minutes of training the course allows
        warmup_ratio=0.1,
        time_budget_s=660,  # a safety stop on slower machines: 10 minutes of training plus the dev evaluations
        speed_batches=20,
        min_test_f1=0.70,  # the goal is 0.72; the notebook measured 0.740 (dev 0.811), scripts 0.738 and 0.767;
        # asserted lower because one standard error on this test split is 0.025
        layer_lr_decay=0.85,
        head_lr_scale=5.0,
        ema_decay=0.995,  # an average over the last ~200 steps (2 epochs)
        # Test F1 with constrained decoding, 20 epochs, capitals as token types (/tmp script runs, dev in brackets):
        #   one lr, raw weights: 0.680 (0.803) in `make book`, 0.710 (0.793) in a script
        #   + moving average 0.995: 0.733 (0.800)
        #   + moving average, layer decay 0.85, head x5: 0.767 (0.805) seed 0, 0.738 (0.816) seed 1
        #   one lr, raw weights, one mention-replacement copy of the training set (an entity swapped for another of
        #   its type with p=0.5), 10 epochs (same steps): 0.717 (0.791)
        # Earlier: 12 epochs, argmax decoding, no casing: test 0.626-0.642 across runs (dev 0.70-0.72).
        # Four casing classes (lower/Title/UPPER/other) in a resized token-type embedding: dev 0.807, test 0.682.
        # Document context (neighbouring sentences of the same document as unlabelled context, 112 vs ~35
        # sub-tokens per row): dev 0.730, test 0.658 (argmax, no casing), at 3x the training time.
        # The test split is 15 documents, 328 entities: +/-0.025 F1 is one standard error.
    ),
    full=NERConfig(
        max_train_sentences=None,
        max_eval_sentences=None,
        max_length=128,
        batch_size=32,
        lr=5e-5,
        num_epochs=3,
        warmup_ratio=0.1,
        time_budget_s=None,
        speed_batches=50,
        min_test_f1=0.89,  # published sentence-level BERT-base results are about 0.91
        # The usual BERT recipe: one lr, raw weights. Not yet run on a GPU with the cpu profile's per-layer lr and
        # moving average; try layer_lr_decay=0.9, head_lr_scale=5.0, ema_decay=0.998 when one is lent.
    ),
)


# --- Chapter 05: PEFT and quantization ----------------------------------------------------------------


@dataclass(frozen=True)
class PEFTConfig:
    """Chapter 05: each parameter-efficient method on chapter 04's task (its data, encoder and batch size)."""

    num_epochs: int  # every PEFT run (chapter 04's full fine-tuning ran NER.num_epochs)
    lora_r: int
    lora_alpha: float
    lora_lr: float  # few parameters, started at zero: a larger step than full fine-tuning's
    top_k: int  # "top k layers": encoder layers trained, with the head
    other_lr: float  # top-k layers, BitFit, IA3
    rank_sweep: tuple[int, ...]
    latency_repeats: int
    compile_latency: bool  # torch.compile the fp32 and int8 models for the latency table (slow on 2 cores)
    prune_sparsities: tuple[float, ...]
    max_lora_gap: float | None  # asserted: LoRA's test F1 at most this below full fine-tuning's
    max_int8_drop: float | None  # asserted: int8's test F1 at most this below fp32's
    int8_faster_at_16: bool  # asserted: int8 beats fp32 latency at batch 16


PEFT = Profiles(
    smoke=PEFTConfig(
        num_epochs=1,
        lora_r=4,
        lora_alpha=8,
        lora_lr=3e-3,
        top_k=1,
        other_lr=3e-3,
        rank_sweep=(1,),
        latency_repeats=2,
        compile_latency=False,
        prune_sparsities=(0.0, 0.5, 0.9),
        max_lora_gap=None,  # one epoch on 250 sentences shows the mechanics, not the result
        max_int8_drop=None,
        int8_faster_at_16=False,
    ),
    cpu=PEFTConfig(
        num_epochs=5,  # chapter 04 runs 20; LoRA r=8 at 3e-3 peaked on dev at epoch 5 of 6 (test 0.622)
        lora_r=8,
        lora_alpha=16,
        lora_lr=3e-3,
        top_k=2,
        other_lr=5e-3,  # BitFit at 5e-3 for 6 epochs: dev 0.622, test 0.648
        rank_sweep=(2, 32),  # beside lora_r; each rank is another ~1 min run (bf16 autocast; 2.5 min in fp32)
        latency_repeats=10,
        compile_latency=True,
        prune_sparsities=(0.0, 0.2, 0.4, 0.6, 0.8),
        max_lora_gap=0.03,  # LoRA r=8 measured 0.726 with raw weights; with chapter 04's moving average (0.995)
        # it fell to 0.666: in 455 steps an average over the last ~200 lags behind
        max_int8_drop=0.01,
        int8_faster_at_16=True,
    ),
    full=PEFTConfig(
        num_epochs=3,
        lora_r=16,
        lora_alpha=32,
        lora_lr=5e-4,
        top_k=4,
        other_lr=1e-3,
        rank_sweep=(1, 4, 64),
        latency_repeats=50,
        compile_latency=True,
        prune_sparsities=(0.0, 0.2, 0.4, 0.6, 0.8),
        max_lora_gap=0.03,
        max_int8_drop=0.01,
        int8_faster_at_16=False,  # on a GPU the fp16/bf16 tensor cores, not int8 on the CPU, set the pace
    ),
)
