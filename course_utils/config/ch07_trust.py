"""Chapter 07's config: explanations, the name probe and its mitigation, learning in two stages, and what they
must show. Its LoRA adapters are chapter 05's (the same rank, alpha and learning rate, read from PEFT)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from course_utils.config.ch04_ner import NERConfig
from course_utils.config.ch05_peft import PEFT
from course_utils.config.profiles import Checked, Profiles, at_least, positive, share


@dataclass(frozen=True)
class TrustConfig(Checked):
    """Chapter 07: explanations, the name probe and its mitigation, learning in two stages."""

    ig_steps: int = at_least(2)  # path points of the attributions shown
    ig_step_sweep: tuple[int, ...] = at_least(2)  # completeness error against the number of points
    attention_entities: int = at_least(1)  # predicted entities whose attributions and attention are compared
    names_per_group: int = at_least(1)  # probe names per (gender list, origin) cell; the rest feed the swap
    swap_probability: float = share()  # chance that a training PER span's first word is swapped for another name
    resamples: int = at_least(1)  # bootstrap draws (and permutations) of every interval
    stage_epochs: int = at_least(1)  # epochs of each stage's fine-tuning
    replay_sentences: int = at_least(0)  # stage-1 sentences kept and mixed into stage 2
    fisher_sentences: int = at_least(1)  # stage-1 sentences the Fisher is estimated on
    ewc_strengths: tuple[float, ...] = positive()  # EWC's lambda, chosen on dev
    adapter_r: int = at_least(1)  # one LoRA adapter per stage: chapter 05's rank ...
    adapter_alpha: float = positive()  # ... alpha ...
    adapter_lr: float = positive()  # ... and learning rate
    adapter_epochs: int = at_least(1)  # chosen on dev from stage_epochs and chapter 04's epochs (dev_search)

    def stage_config(self, ner: NERConfig, seed: int) -> NERConfig:
        """A stage's run: chapter 04's recipe and data sizes, stage_epochs long."""
        return replace(ner.plain(), num_epochs=self.stage_epochs, seed=seed)

    def adapter_config(self, ner: NERConfig, seed: int = 0) -> NERConfig:
        """A stage's LoRA run: chapter 04's recipe at the adapter's lr, adapter_epochs long."""
        return replace(ner.plain(), lr=self.adapter_lr, num_epochs=self.adapter_epochs, seed=seed)


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
        adapter_r=PEFT.smoke.lora_r,
        adapter_alpha=PEFT.smoke.lora_alpha,
        adapter_lr=PEFT.smoke.lora_lr,
        adapter_epochs=2,
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
        # on dev (dev_search continual): stage 1 kept 0.000 at 1e2-1e4, 0.103 at 1e5; 1e6 freezes the
        # model (0.811 stage 1, 0.000 stage 2): the grid stops where stage 2 still learns
        ewc_strengths=(1e4, 1e5),
        adapter_r=PEFT.cpu.lora_r,
        adapter_alpha=PEFT.cpu.lora_alpha,
        adapter_lr=PEFT.cpu.lora_lr,
        adapter_epochs=5,  # stage-1 dev F1 0.000 at 3 epochs (everything O), 0.693 at 5
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
        adapter_r=PEFT.full.lora_r,
        adapter_alpha=PEFT.full.lora_alpha,
        adapter_lr=PEFT.full.lora_lr,
        adapter_epochs=3,  # not yet searched: chapter 04's epochs
    ),
)


@dataclass(frozen=True)
class TrustExpectations(Checked):
    """Chapter 07's asserted results. What the probe, the swap and the stages find are readings of chapter 04's
    model, and another thread count or device trains another model (a 2-thread cpu run stopped at the origin-gap
    check), so they are printed, not asserted; completeness is arithmetic and holds everywhere."""

    check_completeness: bool  # the trapezoid rule's attributions sum to F(x) - F(x') within 1% at the most steps


TRUST_EXPECT = Profiles(
    smoke=TrustExpectations(check_completeness=False),  # 16 steps at most
    cpu=TrustExpectations(check_completeness=True),
    full=TrustExpectations(check_completeness=True),
)
