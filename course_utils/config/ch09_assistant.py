"""Chapter 09's config: the instruction data, supervised fine-tuning and its ablations, LoRA on the decoder,
the learning curve and DPO."""

from __future__ import annotations

from dataclasses import dataclass

from course_utils.config.loop import TrainConfig
from course_utils.config.profiles import Checked, Profiles, at_least, bounded, positive, share


@dataclass(frozen=True)
class AssistantConfig(Checked):
    """Chapter 09: from chapter 08's text predictor to an assistant on checkable tasks."""

    max_words: int = at_least(1)  # NER sentences cut into pieces of at most this many words (to fit the context)
    train_per_family: int = at_least(1)  # training examples of each task family
    dev_per_family: int = at_least(1)  # dev examples of each family and phrasing kind: every choice
    test_per_family: int = at_least(1)  # test examples of each family and phrasing kind: read at the end
    max_reply: int = at_least(1)  # tokens a reply may take before it is cut
    ner_pieces: int | None = at_least(1)  # test pieces of the generative-NER comparison (None: every one)
    batch_size: int = at_least(1)
    steps: int = at_least(1)  # optimizer steps of every SFT run: every arm gets the same budget
    warmup: int = at_least(0)
    full_lrs: tuple[float, ...] = bounded(above=0, min_items=1)  # the dev grid of full SFT ...
    lora_lrs: tuple[float, ...] = bounded(above=0, min_items=1)  # ... and of LoRA (a smaller update: larger lr)
    seeds: int = at_least(2)  # runs per arm at its chosen lr (seed-paired across arms)
    lora_r: int = at_least(1)
    lora_alpha: float = positive()
    lora_targets: tuple[str, ...]  # the decoder's nn.Linear names LoRA wraps: attention and MLP
    curve_sizes: tuple[int, ...] = at_least(1)  # training examples per family of the learning curve
    pair_prompts: int = at_least(1)  # training prompts per family whose samples make DPO pairs
    pair_samples: int = at_least(2)  # replies sampled per prompt ...
    pair_temperature: float = positive()  # ... at this temperature, judged by the checker
    answer_if_none_right: bool  # a prompt with no right sample: the reference answer is the chosen reply
    dpo_betas: tuple[float, ...] = bounded(above=0, min_items=1)  # the dev grid of beta
    dpo_steps: int = at_least(1)
    dpo_lr: float = positive()
    dpo_batch: int = at_least(1)  # pairs per step
    resamples: int = at_least(100)  # bootstrap draws of every interval

    def loop(self, lr: float, device: str, steps: int | None = None) -> TrainConfig:
        """The shared loop's settings for one run (no weight decay: the embedding rows of old tokens that a
        run freezes must not shrink; fp32 on a CPU, mixed precision on a GPU)."""
        return TrainConfig(
            lr=lr, max_steps=steps or self.steps, warmup_steps=self.warmup, schedule="cosine", min_lr_ratio=0.1,
            adam_beta2=0.99, weight_decay=0.0, max_grad_norm=1.0, mixed_precision=device == "cuda",
        )


ATTENTION_AND_MLP = ("query", "key", "value", "out", "fc", "proj")

ASSISTANT = Profiles(
    smoke=AssistantConfig(
        max_words=6,
        train_per_family=16,
        dev_per_family=4,
        test_per_family=4,
        max_reply=8,
        ner_pieces=48,
        batch_size=8,
        steps=6,
        warmup=1,
        full_lrs=(3e-3,),  # one value each: the mechanics
        lora_lrs=(1e-2,),
        seeds=2,
        lora_r=2,
        lora_alpha=4,
        lora_targets=ATTENTION_AND_MLP,
        curve_sizes=(8,),
        pair_prompts=2,
        pair_samples=3,
        pair_temperature=1.0,
        answer_if_none_right=True,  # a 6-step model is never right: mechanics only
        dpo_betas=(0.1,),
        dpo_steps=3,
        dpo_lr=1e-3,
        dpo_batch=4,
        resamples=200,
    ),
    cpu=AssistantConfig(
        max_words=6,  # a 64-token context holds the longest phrasing, 6 words and their entities
        train_per_family=500,
        dev_per_family=40,
        test_per_family=100,
        max_reply=28,  # the longest answer that fits (a piece's typed entities) is 26 tokens
        ner_pieces=None,
        batch_size=32,
        steps=500,  # ~40 s a run on 2 cores
        warmup=25,
        full_lrs=(1e-3, 3e-3),
        lora_lrs=(3e-3, 1e-2),
        seeds=3,
        lora_r=8,
        lora_alpha=16,
        lora_targets=ATTENTION_AND_MLP,
        curve_sizes=(50, 150),  # and train_per_family, from the seed-0 run
        pair_prompts=60,
        pair_samples=8,
        pair_temperature=1.0,
        answer_if_none_right=False,  # chosen and rejected are both the model's own replies
        dpo_betas=(0.1, 0.5),
        dpo_steps=150,
        dpo_lr=1e-4,
        dpo_batch=16,
        resamples=2000,
    ),
    full=AssistantConfig(
        max_words=40,  # GPT-2's 1,024 positions hold most CoNLL-2003 sentences whole
        train_per_family=2000,
        dev_per_family=100,
        test_per_family=300,
        max_reply=96,  # typed entities of a 40-word sentence
        ner_pieces=None,
        batch_size=32,
        steps=1500,
        warmup=50,
        full_lrs=(3e-5, 1e-4),
        lora_lrs=(3e-4, 1e-3),
        seeds=3,
        lora_r=16,
        lora_alpha=32,
        lora_targets=ATTENTION_AND_MLP,
        curve_sizes=(100, 500),
        pair_prompts=200,
        pair_samples=8,
        pair_temperature=1.0,
        answer_if_none_right=False,  # chosen and rejected are both the model's own replies
        dpo_betas=(0.1, 0.5),
        dpo_steps=300,
        dpo_lr=5e-6,
        dpo_batch=16,
        resamples=2000,
    ),
)


@dataclass(frozen=True)
class AssistantExpectations(Checked):
    """Chapter 09's asserted results."""

    max_dpo_gap: float = positive()  # from-scratch DPO loss vs TRL's on the same log-probabilities
    sft_beats_base: bool  # SFT's test exact match is above the base model's beyond its interval
    min_turn_ends: float | None = share()  # share of SFT replies that end their turn (None: printed)


ASSISTANT_EXPECT = Profiles(
    smoke=AssistantExpectations(max_dpo_gap=1e-6, sft_beats_base=False, min_turn_ends=None),  # 6 steps
    cpu=AssistantExpectations(max_dpo_gap=1e-6, sft_beats_base=True, min_turn_ends=0.9),
    full=AssistantExpectations(max_dpo_gap=1e-6, sft_beats_base=False, min_turn_ends=None),  # not yet run
)
