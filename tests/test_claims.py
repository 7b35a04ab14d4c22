"""The conclusions the chapters assert in the `cpu` profile, rerun with other seeds: the claim must hold for
another model of the same recipe, not only for the one a chapter happened to train.

Minutes of training, so not part of `make test`: `make claims` runs it (COURSE_PROFILE=cpu COURSE_CLAIMS=1).
Each test rebuilds what its chapter's asserting cells compute, through the same course_utils calls, with seeds
the chapters never use, and checks the chapter's *_EXPECT bound, never a number of this run.
"""

from __future__ import annotations

import copy
import math
import os
from dataclasses import replace
from functools import cache

import pytest
import torch

from course_utils import baselines, explain, export, mlm, mlm_data, ner, ner_data, quant, stats
from course_utils.config import (
    GPT,
    GPT_EXPECT,
    MLM,
    MLM_EXPECT,
    NER,
    NER_EXPECT,
    PEFT_EXPECT,
    SERVE_EXPECT,
    TRUST,
    TRUST_EXPECT,
    get_profile,
)

pytestmark = pytest.mark.skipif(
    os.environ.get("COURSE_CLAIMS") != "1" or get_profile() != "cpu",
    reason="minutes of training: run with make claims (COURSE_PROFILE=cpu COURSE_CLAIMS=1)",
)
OTHER_SEEDS = (3, 4, 5)  # chapter 04 trains (0, 1, 2)


def _tokenizer():
    from transformers import AutoTokenizer

    from course_utils.resources import from_pretrained

    return from_pretrained(AutoTokenizer)


@cache
def _prepared():
    return ner_data.prepare_ner_data(NER.pick(), _tokenizer())


@cache
def _taggers() -> dict[int, object]:
    """Chapter 04's recipe with other seeds: {seed: fine-tuned model} (cached across the tests)."""
    cfg, out = NER.pick(), {}
    for seed in OTHER_SEEDS:
        out[seed] = ner.new_token_classifier(seed, quiet=True)
        ner.fine_tune(out[seed], _prepared(), replace(cfg, seed=seed), progress=False)
    return out


def _test_counts(model) -> torch.Tensor:
    data = _prepared()
    scored = ner.evaluate_ner(model, data.tokenized["test"], data.collate, model.config.id2label)
    return stats.entity_counts(scored["true_tags"], scored["pred_tags"])


def test_chapter_04_reaches_its_floor_and_pretraining_helps_with_other_seeds():
    expect, cfg = NER_EXPECT.pick(), NER.pick()
    score = stats.score([_test_counts(m) for m in _taggers().values()])
    assert score.mean >= expect.min_test_f1, f"seeds {OTHER_SEEDS}: {score}"
    from transformers import BertForTokenClassification

    torch.manual_seed(OTHER_SEEDS[0])
    scratch = BertForTokenClassification(_taggers()[OTHER_SEEDS[0]].config)  # chapter 04's: random weights
    ner.fine_tune(scratch, _prepared(), replace(cfg.plain(), seed=OTHER_SEEDS[0]), progress=False)
    scratch_f1 = float(stats.f1_from_counts(_test_counts(scratch)))
    assert scratch_f1 < score.low, f"random initialisation {scratch_f1:.3f} vs pretrained {score}"


def _f1(model, device=None) -> float:
    data = _prepared()
    return ner.evaluate_ner(model, data.tokenized["test"], data.collate, model.config.id2label, device=device)["f1"]


@pytest.mark.parametrize("seed", OTHER_SEEDS)
def test_int8_keeps_f1_with_other_seeds(seed, tmp_path):
    """Chapter 05's int8 (dynamic, embeddings too; chapter 06's torchao backend) and chapter 06's ONNX Runtime
    backends lose at most their chapters' bounds."""
    fp32 = copy.deepcopy(_taggers()[seed]).cpu().eval()
    reference, cpu = _f1(fp32), torch.device("cpu")
    int8_drop = reference - _f1(quant.quantize_int8(copy.deepcopy(fp32), "int8-dynamic", embeddings=True))
    assert int8_drop <= PEFT_EXPECT.pick().max_int8_drop + 1e-9, f"seed {seed}: int8 lost {int8_drop:.4f} F1"
    example = _tokenizer()(["Ada Lovelace met Charles Babbage ."] * 2, return_tensors="pt")
    onnx_path = export.export_onnx(copy.deepcopy(fp32), example, tmp_path / "ner.onnx")
    int8_path = export.quantize_onnx_int8(onnx_path, tmp_path / "ner-int8.onnx")
    for path in (onnx_path, int8_path):
        drop = reference - _f1(export.OrtModel(path, fp32.config), device=cpu)
        assert drop <= SERVE_EXPECT.pick().max_f1_drop + 1e-9, f"seed {seed}: {path.name} lost {drop:.4f} F1"


def test_integrated_gradients_is_complete_on_another_seed_s_model():
    """Chapter 07: the trapezoid rule at the sweep's most steps sums to F(x) - F(x') within 1%."""
    assert TRUST_EXPECT.pick().check_completeness, "chapter 07 asserts completeness in this profile"
    cfg, tokenizer = TRUST.pick(), _tokenizer()
    model = _taggers()[OTHER_SEEDS[1]].eval()
    specials = (tokenizer.cls_token_id, tokenizer.sep_token_id)
    test_words = ner_data.load_ner_data()["test"]["tokens"]
    for target in explain.entity_targets(model, tokenizer, test_words, 3):
        ids = target.encoded["input_ids"]
        f, x = explain.label_score(model, target), explain.embed(model, ids)[0].detach()
        base = explain.pad_baseline(model, ids, tokenizer.pad_token_id, specials)[0].detach()
        gap = float((f(x[None]) - f(base[None])).detach())
        total = float(explain.integrated_gradients(f, x, base, cfg.ig_step_sweep[-1]).sum())
        assert abs(total - gap) < 0.01 * abs(gap), f"completeness: {total:.4f} vs {gap:.4f}"


def test_chapter_02_s_masked_lm_beats_its_baselines_with_another_seed():
    """The ratios chapter 02 asserts, for its cpu recipe trained from another seed."""
    from transformers import BertConfig, BertForMaskedLM

    cfg, expect = replace(MLM.pick(), seed=7), MLM_EXPECT.pick()  # chapter 02 uses 0 and 1
    data = mlm_data.load_mlm_data(cfg)
    tokenizer = data.tokenizer
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=cfg.hidden_size, num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads, intermediate_size=4 * cfg.hidden_size,
        max_position_embeddings=cfg.block_size, hidden_dropout_prob=cfg.dropout,
        attention_probs_dropout_prob=cfg.dropout,
    )
    torch.manual_seed(cfg.seed)
    model = BertForMaskedLM(config)
    held = mlm_data.held_out_batches(data)
    targets = torch.cat([b["labels"].flatten() for b in held])
    log_probs = baselines.unigram_log_probs(data.train_ids, len(tokenizer))
    history = mlm.pretrain(model, data, cfg, evaluate=lambda m: mlm.evaluate_mlm(m, held), progress=False)
    ratio = history.evals[-1]["perplexity"] / baselines.unigram_perplexity(log_probs, targets)
    assert ratio <= expect.max_unigram_ratio, f"perplexity {ratio:.3f} x unigram"
    parts = mlm.loss_by_corruption(model, held, tokenizer.mask_token_id, log_probs)
    assert parts["kept"]["ratio"] < parts["mask"]["ratio"], "copying a visible token is the easy part"
    neighbour = baselines.neighbour_model_at_masks(
        held, baselines.bigram_counts(data.train_ids, len(tokenizer)), log_probs, tokenizer.mask_token_id
    )
    assert neighbour["ratio"] < 1, "the neighbours carry information the unigram lacks"
    if expect.max_mask_ratio is not None:
        assert parts["mask"]["ratio"] <= expect.max_mask_ratio and parts["mask"]["ratio"] < neighbour["ratio"]


def test_chapter_08_s_anchor_bpe_model_and_block_comparison_hold_with_other_seeds():
    """Chapter 08's three conclusions, for its cpu recipes trained from seeds it never uses (it uses 1337, 0-2)."""
    from course_utils import bpe, gpt, lm_data, resources
    from course_utils.pretrain import pretrain

    cfg, expect, cpu = GPT.pick(), GPT_EXPECT.pick(), torch.device("cpu")
    text = resources.read_text(resources.resolve_data("text").location, "the text corpus")[: cfg.corpus_chars]
    splits, chars = lm_data.Splits.of(text), lm_data.CharVocab.of(text)
    merges = bpe.train(splits.train, cfg.bpe_vocab)
    ids = {  # (characters, BPE) ids of each split
        s: (torch.tensor(chars.encode(getattr(splits, s))), torch.tensor(bpe.encode(getattr(splits, s), merges)))
        for s in ("train", "dev", "test")
    }
    block = {"bias": False, "gelu": "exact", "layers": cfg.char.layers, "heads": cfg.char.heads,
             "width": cfg.char.width, "context": cfg.char.context}
    char_shape = gpt.DecoderShape(vocab_size=chars.size, **block)
    bpe_shape = gpt.DecoderShape(vocab_size=merges.vocab_size + 1, **block)
    windows = {s: [lm_data.held_out_windows(i, cfg.char.context) for i in pair] for s, pair in ids.items()}
    char_model, _ = pretrain(char_shape, cfg.char, ids["train"][0], windows["dev"][0], 7, cpu, progress=False)
    validation = torch.cat([windows["dev"][0], windows["test"][0]])
    assert lm_data.mean_loss(char_model, validation) < expect.anchor_bound
    bpe_model, _ = pretrain(bpe_shape, cfg.bpe, ids["train"][1], windows["dev"][1], 7, cpu, progress=False)
    char_bpc = lm_data.mean_loss(char_model, windows["test"][0]) / math.log(2)
    bpe_bpc = lm_data.bits_per_character(
        lm_data.mean_loss(bpe_model, windows["test"][1]), len(ids["test"][1]), len(splits.test)
    )
    assert bpe_bpc < char_bpc, f"BPE {bpe_bpc:.3f} vs characters {char_bpc:.3f} bits per character"
    test_losses = {}
    for name, shape in (("gpt2", bpe_shape), ("llama", gpt.llama_style(bpe_shape))):
        def run(seed, lr, shape=shape):
            return pretrain(shape, cfg.bpe, ids["train"][1], windows["dev"][1], seed, cpu, cfg.compare_steps, lr,
                            progress=False)
        grid = {lr: run(OTHER_SEEDS[0], lr) for lr in cfg.compare_lrs}  # the dev grid on the first seed
        lr = min(grid, key=lambda r: grid[r][1].evals[-1]["dev_loss"])
        models = [grid[lr][0]] + [run(seed, lr)[0] for seed in OTHER_SEEDS[1 : cfg.compare_seeds]]
        test_losses[name] = [lm_data.mean_loss(m, windows["test"][1]) for m in models]
    _, low, _ = stats.paired_t_interval(test_losses["gpt2"], test_losses["llama"])
    assert expect.block_conclusion and low > 0, f"paired interval from {low:+.3f}: {test_losses}"


def test_chapter_10_s_copy_and_smeared_key_heads_hold_with_other_seeds():
    """Chapter 10's copy model copies through its top heads, and one smeared-key layer grows heads that match
    content (the notebook's head_kind "content"), for seeds it never uses: it trains seed 0, and its smeared
    recipe was chosen on seeds 0-3. The probes are built as the chapter builds them."""
    from course_utils import bpe, gpt, induction, lm_data, resources
    from course_utils.config.ch10_prompts import PROMPTS, PROMPTS_EXPECT
    from course_utils.pretrain import pretrain

    cfg, expect, ch08, cpu = PROMPTS.pick(), PROMPTS_EXPECT.pick(), GPT.pick(), torch.device("cpu")
    text = resources.read_text(resources.resolve_data("text").location, "the text corpus")[: ch08.corpus_chars]
    splits = lm_data.Splits.of(text)
    merges = bpe.train(splits.train, ch08.bpe_vocab)
    ids = {s: torch.tensor(bpe.encode(getattr(splits, s), merges)) for s in ("train", "dev")}
    vocab, L, L2 = merges.vocab_size + 1, cfg.repeat_length, cfg.other_length
    probe = induction.repeated_random_tokens(vocab - 1, L, cfg.repeat_batch, seed=11)
    other = induction.repeated_random_tokens(vocab - 1, L2, cfg.repeat_batch, seed=12)
    plain = torch.randint(vocab - 1, (cfg.repeat_batch, 2 * L), generator=torch.Generator().manual_seed(13))

    def gaps(model, repeated) -> torch.Tensor:  # (sequences,): first-copy minus second-copy mean loss
        losses, n = induction.token_losses(model, repeated), repeated.shape[1] // 2
        return losses[:, : n - 1].mean(1) - losses[:, n:].mean(1)

    def low(values: torch.Tensor) -> float:  # the lower end of a bootstrap interval of the mean
        units = torch.stack([values.double(), torch.ones_like(values, dtype=torch.double)], 1)
        return stats.paired_mean_difference(units, torch.zeros_like(units) + torch.tensor([0.0, 1.0]))[1]

    def trained(recipe, data: torch.Tensor, dev: torch.Tensor, seed: int, smeared: bool):
        shape = gpt.DecoderShape(vocab_size=vocab, context=recipe.context, layers=recipe.layers,
                                 heads=recipe.heads, width=recipe.width, gelu="exact", position="rope",
                                 smeared_keys=smeared)
        windows = lm_data.held_out_windows(dev, recipe.context - 1)[:64]
        return pretrain(shape, recipe, data, windows, seed, cpu, progress=False)[0]

    def top_heads(model) -> list[tuple[int, int]]:
        ranked = induction.prefix_matching_scores(model, probe).flatten().argsort(descending=True)
        return [divmod(int(i), model.shape.heads) for i in ranked[: cfg.ablate_heads]]

    def beats_controls(model, top) -> bool:  # the top heads' fall in the gap, beyond every matched draw's
        with induction.ablated(model, top):
            top_gaps = gaps(model, probe)
        for heads in induction.matched_heads(top, model.shape.heads, cfg.control_draws):
            with induction.ablated(model, heads):
                if low(gaps(model, probe) - top_gaps) <= 0:
                    return False
        return True

    shortest, longest = cfg.stretches
    varied = {s: induction.read_twice_varied(i, shortest, longest, seed=1) for s, i in ids.items()}
    for seed in (4, 5, 6):
        copier = trained(cfg.copy_recipe, induction.read_twice(ids["train"], L), induction.read_twice(ids["dev"], L),
                         seed, smeared=False)
        assert low(gaps(copier, probe)) > expect.copy_gain, seed
        if expect.copy_ablation:
            assert beats_controls(copier, top_heads(copier)), seed
        if not expect.smeared_induction:
            continue
        smeared = trained(cfg.smeared_recipe, varied["train"], varied["dev"], seed, smeared=True)
        top = top_heads(smeared)
        at_l, at_l2 = gaps(smeared, probe), gaps(smeared, other)
        assert low(at_l) > 0 and low(at_l2) > 0.5 * float(at_l.mean()), seed
        assert beats_controls(smeared, top), seed
        probs = induction.attention_probs(smeared, plain)
        rows = torch.arange(L - 1, 2 * L)
        even = float((1 / (rows + 1).double()).mean())
        scores, other_scores = (induction.prefix_matching_scores(smeared, p) for p in (probe, other))
        uniform = [sum(1 / (i + 1) for i in range(n, 2 * n - 1)) / (n - 1) for n in (L, L2)]  # even attention
        strong = [h for h in top if scores[h] > 2 * uniform[0]] or top  # the heads that copy
        for layer, head in strong:  # they match at L' too, and on tokens that never repeat do not look back
            assert other_scores[layer, head] > 2 * uniform[1], (seed, layer, head)
            back = probs[layer][:, head, rows, rows - L + 1].mean().item()
            assert back <= max(0.5 * scores[layer, head].item(), 2 * even), (seed, layer, head, back)
