"""Settings chosen on dev outside a chapter's time budget, rerunnable: chapter 05's and chapter 10's learning
rates (every method a grid of the same length, seed 0, chapter 04's budget) and chapter 07's EWC strengths and
adapter epochs.

    COURSE_PROFILE=cpu python -m course_utils.dev_search lr [--methods LoRA BitFit "Houlsby adapters"]
    COURSE_PROFILE=cpu python -m course_utils.dev_search continual

Each prints one row per value tried with its dev F1 (never test); the configs keep the choice beside the grid
and the design notes list the rows.
"""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

from course_utils import adapters, continual, lora, ner, ner_data, soft_prompt
from course_utils.config import NER, PEFT, TRUST, get_profile
from course_utils.config.ch10_prompts import PROMPTS
from course_utils.device import pick_device
from course_utils.resources import from_pretrained

CHAPTER_05_METHODS = ("full fine-tuning", "LoRA", "top-k layers", "BitFit", "IA3")
CHAPTER_10_METHODS = ("Houlsby adapters", "Pfeiffer adapters", "prefix (P-tuning v2)", "prompt tuning")
LR_METHODS = CHAPTER_05_METHODS + CHAPTER_10_METHODS


@dataclass(frozen=True)
class DevRun:
    """One value tried: what, the setting, its dev F1 (of each stage, for chapter 07) and its wall time."""

    search: str
    setting: str
    dev_f1: tuple[float, ...]
    seconds: float


def _tokenizer():
    """The profile's encoder's tokenizer."""
    from transformers import AutoTokenizer

    return from_pretrained(AutoTokenizer)


def peft_model(method: str, seed: int = 0):
    """Chapter 05's or 10's model for `method`: chapter 04's start with only that method's parameters (and the
    new head) trainable."""
    cfg, more = PEFT.pick(), PROMPTS.pick()
    model = ner.new_token_classifier(seed, quiet=True)
    if method == "LoRA":
        lora.inject_lora(model, ("query", "value"), r=cfg.lora_r, alpha=cfg.lora_alpha)
    elif method == "top-k layers":
        lora.train_top_layers(model, cfg.top_layers)
    elif method == "BitFit":
        lora.bitfit(model)
    elif method == "IA3":
        from peft import IA3Config, get_peft_model

        model = get_peft_model(model, IA3Config(task_type="TOKEN_CLS"))
    elif method in ("Houlsby adapters", "Pfeiffer adapters"):
        adapters.inject_adapters(model, more.adapter_size, method.split()[0].lower())
    elif method == "prefix (P-tuning v2)":
        from peft import PrefixTuningConfig, get_peft_model

        model = get_peft_model(model, PrefixTuningConfig(task_type="TOKEN_CLS", num_virtual_tokens=more.prefix_tokens))
    elif method == "prompt tuning":
        model = soft_prompt.PromptedTagger(model, more.tagger_prompt_tokens, seed=seed)
    elif method != "full fine-tuning":
        raise ValueError(f"method={method!r} is not one of {', '.join(LR_METHODS)}")
    return model


def lr_search(methods: tuple[str, ...] = LR_METHODS) -> Iterator[DevRun]:
    """Each method at each value of its grid, seed 0, chapter 04's data and budget: best dev F1 of each."""
    cfg, ner_cfg = PEFT.pick(), NER.pick()
    grids = {**cfg.lr_grids(), **PROMPTS.pick().lr_grids()}
    prepared = ner_data.prepare_ner_data(ner_cfg, _tokenizer())
    for method in methods:
        grid, _ = grids[method]
        for lr in grid:
            start = time.perf_counter()
            run_cfg = cfg.run_config(ner_cfg, lr, 0)
            result = ner.fine_tune(peft_model(method, 0), prepared, run_cfg, progress=False)
            yield DevRun("lr", f"{method} @ {lr:g}", (result.history.best["f1"],), time.perf_counter() - start)


def continual_search(strengths: tuple[float, ...] = (1e2, 1e3, 1e4, 1e5, 1e6)) -> Iterator[DevRun]:
    """Chapter 07 on dev: stage 2 with EWC at each strength, and stage 1's adapter at both candidate lengths."""
    cfg, ner_cfg = TRUST.pick(), NER.pick()
    tokenizer = _tokenizer()
    raw = ner_data.limit_sentences(ner_data.load_ner_data(), ner_cfg.max_train_sentences, ner_cfg.max_eval_sentences)
    prepared = ner_data.prepare_ner_data(ner_cfg, tokenizer, raw)
    first_rows, second_rows = continual.halves(len(raw["train"]), seed=0)
    stage = [
        continual.stage_data(raw, types, rows, tokenizer, ner_cfg.max_length)
        for types, rows in zip(continual.STAGES, (first_rows, second_rows), strict=True)
    ]
    dev = prepared.tokenized["dev"]

    def dev_scores(model) -> tuple[float, ...]:
        scored = ner.evaluate_ner(model, dev, prepared.collate, model.config.id2label)
        return tuple(continual.stage_f1(scored["true_tags"], scored["pred_tags"], t) for t in continual.STAGES)

    def timed(model, data, run_cfg, **kwargs) -> float:
        start = time.perf_counter()
        ner.fine_tune(model, data, run_cfg, progress=False, **kwargs)
        return time.perf_counter() - start

    stage_cfg = cfg.stage_config(ner_cfg, seed=0)
    first = ner.new_token_classifier(0, quiet=True)
    seconds = timed(first, stage[0], stage_cfg)
    yield DevRun("stage 1", "plain", dev_scores(first), seconds)
    fisher_rows = stage[0].tokenized["train"].select(range(min(cfg.fisher_sentences, len(stage[0].tokenized["train"]))))
    keys = [k for k in ner_data.MODEL_KEYS if k in fisher_rows.column_names]
    device = pick_device()
    batches = [stage[0].collate([{k: row[k] for k in keys}]) for row in fisher_rows]
    fisher = continual.fisher_diagonal(first.to(device), [{k: v.to(device) for k, v in b.items()} for b in batches])
    for strength in strengths:
        m = copy.deepcopy(first)
        seconds = timed(m, stage[1], stage_cfg, loss_fn=continual.EWCLoss(m, fisher, strength))
        yield DevRun("EWC", f"lambda {strength:g}", dev_scores(m), seconds)
    for epochs in sorted({cfg.stage_epochs, ner_cfg.num_epochs}):
        adapter = ner.new_token_classifier(0, quiet=True)
        lora.inject_lora(adapter, r=cfg.adapter_r, alpha=cfg.adapter_alpha)
        seconds = timed(adapter, stage[0], replace(cfg.adapter_config(ner_cfg), num_epochs=epochs))
        yield DevRun("stage-1 adapter", f"{epochs} epochs", dev_scores(adapter), seconds)


def main(argv: list[str] | None = None) -> None:
    """Run one search in the active profile and print its rows."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("search", choices=("lr", "continual"))
    parser.add_argument("--methods", nargs="+", choices=LR_METHODS, default=LR_METHODS)
    args = parser.parse_args(argv)
    print(f"profile {get_profile()}: dev F1 of each value tried")
    rows = lr_search(tuple(args.methods)) if args.search == "lr" else continual_search()
    for row in rows:
        scores = " / ".join(f"{f:.3f}" for f in row.dev_f1)
        print(f"{row.search:16s} {row.setting:28s} dev F1 {scores:15s} {row.seconds:6.0f} s", flush=True)


if __name__ == "__main__":
    main()
