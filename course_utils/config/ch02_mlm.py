"""Chapter 02's config: the tiny BERT pretrained from scratch on tiny Shakespeare, and what it must show.

The design notes page of the book tells what else was tried on the cpu budget and what it showed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from course_utils.config.loop import TrainConfig
from course_utils.config.profiles import Checked, Profiles, at_least, positive, share


@dataclass(frozen=True)
class MLMConfig(Checked):
    """Chapter 02: the tiny BERT pretrained from scratch on tiny Shakespeare."""

    corpus_lines: int | None = at_least(1)  # None: the whole corpus (40k lines)
    vocab_size: int = at_least(1)  # WordPiece vocabulary
    block_size: int = at_least(1)  # tokens per training sequence, [CLS] and [SEP] included
    hidden_size: int = at_least(1)
    num_layers: int = at_least(1)
    num_heads: int = at_least(1)
    batch_size: int = at_least(1)
    lr: float = positive()
    warmup_steps: int = at_least(0)
    max_steps: int = at_least(1)
    time_budget_s: float | None = at_least(0)  # a safety stop; the schedule is planned for max_steps
    train_mlm_probability: float = share()  # masking rate in training; evaluation always uses BERT's 15%
    eval_every: int = at_least(1)
    position_init_scale: float = at_least(0)  # position embeddings start at this x the sinusoidal table
    position_init_base: float = positive()  # its longest wavelength is 2*pi*base positions
    pair_steps: int = at_least(1)  # each sentence-pair run (MLM alone, + NSP, + SOP) trains this many steps
    dropout: float = share()
    seed: int = at_least(0)

    def train_config(self) -> TrainConfig:
        """The loop's settings: max_steps steps, evaluated every eval_every."""
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
        dropout=0.0,
        seed=0,
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
        train_mlm_probability=0.5,  # more masked tokens, more signal per step (Wettig et al. 2023)
        eval_every=500,
        position_init_scale=0.08,  # 0.03 and 0.3 both stayed on the plateau
        position_init_base=100.0,  # with 64 positions, base 10,000 leaves most frequencies flat
        pair_steps=1200,  # five runs of ~80 s each on 2 cores
        dropout=0.0,  # ~1M tokens, seen a few times: the model underfits, dropout only slows it
        seed=0,
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
        seed=0,
    ),
)


@dataclass(frozen=True)
class MLMExpectations(Checked):
    """Chapter 02's asserted results (None: not asserted: the profile is too small to show them, or what it
    shows depends on the seed)."""

    max_unigram_ratio: float | None = positive()  # held-out perplexity at most this x the unigram one
    max_mask_ratio: float | None = positive()  # the same at [MASK] only, where context is the only clue


MLM_EXPECT = Profiles(
    smoke=MLMExpectations(max_unigram_ratio=None, max_mask_ratio=None),  # 40 steps: the loss falls
    # seed 0 reached 0.13 and 0.18 (at [MASK]); seed 7 (make claims) 0.53 and 0.91, behind the neighbour
    # counts' 0.24: whether a 4-minute run learns to use context is the seed's luck, so the [MASK] figures
    # are readings, and what holds for both is asserted (below the unigram, copying easier than context)
    cpu=MLMExpectations(max_unigram_ratio=0.9, max_mask_ratio=None),
    full=MLMExpectations(max_unigram_ratio=0.9, max_mask_ratio=None),  # seed 0 on an H100: 0.11 and 0.16
)
