import importlib
import os
import pkgutil
from dataclasses import MISSING, fields, replace

import pytest
import torch

import course_utils.config as config_package
from course_utils.config import (
    ENV_CHECK,
    LAYERNORM,
    MLM,
    NER,
    PEFT,
    PROFILES,
    Profiles,
    apply_profile_environment,
    get_profile,
)


def test_profile_from_environment(monkeypatch):
    for name in PROFILES:
        monkeypatch.setenv("COURSE_PROFILE", name.upper())
        assert get_profile() == name


def test_default_profile_follows_cuda(monkeypatch):
    monkeypatch.delenv("COURSE_PROFILE", raising=False)
    assert get_profile() == ("full" if torch.cuda.is_available() else "cpu")


def test_unknown_profile_names_the_choices(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "gpu")
    with pytest.raises(ValueError, match=r"COURSE_PROFILE='gpu'.*smoke.*cpu.*full"):
        get_profile()


def test_pick_returns_the_profile_value():
    table = Profiles(smoke=1, cpu=2, full=3)
    assert [table.pick(p) for p in PROFILES] == [1, 2, 3]
    with pytest.raises(ValueError, match=r"profile='tiny'"):
        table.pick("tiny")


def test_chapter_configs_are_frozen_and_grow_with_the_profile():
    smoke, cpu, full = (ENV_CHECK.pick(p) for p in PROFILES)
    assert smoke.matmul_size < cpu.matmul_size < full.matmul_size
    with pytest.raises(AttributeError):
        smoke.matmul_size = 1


def test_offline_profiles_set_hub_offline(monkeypatch):
    import huggingface_hub.constants as hub_constants

    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    apply_profile_environment("full")
    assert "HF_HUB_OFFLINE" not in os.environ and hub_constants.HF_HUB_OFFLINE is False
    apply_profile_environment("cpu")
    assert os.environ["HF_HUB_OFFLINE"] == "1" and hub_constants.HF_HUB_OFFLINE is True


def test_course_sizes_picks_another_profiles_sizes_for_the_same_code_path(monkeypatch):
    from course_utils.config import NER

    monkeypatch.setenv("COURSE_PROFILE", "full")
    monkeypatch.setenv("COURSE_SIZES", "smoke")
    assert get_profile() == "full" and NER.pick() == NER.smoke
    monkeypatch.setenv("COURSE_SIZES", "huge")
    with pytest.raises(ValueError, match="COURSE_SIZES='huge'"):
        NER.pick()


def test_chapter_configs_turn_into_the_loops_config():
    mlm, ner, peft = MLM.pick("cpu"), NER.pick("cpu"), PEFT.pick("cpu")
    loop = mlm.train_config()
    assert (loop.lr, loop.max_steps, loop.warmup_steps, loop.eval_every) == (
        mlm.lr, mlm.max_steps, mlm.warmup_steps, mlm.eval_every
    )
    loop = ner.train_config(steps_per_epoch=100)
    assert loop.warmup_steps == int(ner.warmup_ratio * ner.num_epochs * 100) and loop.best_metric == "f1"
    tricks = ner.with_tricks().train_config(steps_per_epoch=100)
    assert (tricks.layer_lr_decay, tricks.head_lr_scale, tricks.ema_decay) == (
        ner.layer_lr_decay, ner.head_lr_scale, ner.ema_decay
    )
    plain = ner.plain().train_config(steps_per_epoch=100)
    assert (plain.layer_lr_decay, plain.head_lr_scale, plain.ema_decay) == (1.0, 1.0, None)
    run = peft.run_config(ner, lr=1e-3, seed=2)
    assert (run.lr, run.num_epochs, run.batch_size, run.tricks, run.seed) == (
        1e-3, ner.num_epochs, ner.batch_size, False, 2
    )
    ln = LAYERNORM.pick("cpu").train_config(lr=3e-3, warmup_steps=50)
    assert (ln.max_steps, ln.warmup_steps) == (LAYERNORM.pick("cpu").max_steps, 50)


def test_every_profile_runs_distinct_seeds():
    for profile in ("smoke", "cpu", "full"):
        seeds = NER.pick(profile).seeds
        assert seeds and len(set(seeds)) == len(seeds), profile
    assert len(NER.pick("cpu").seeds) >= 3, "the headline comparison needs a spread"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("lr", 0.0, "NERConfig.lr=0.0: must be above 0"),
        ("batch_size", 0, "NERConfig.batch_size=0: must be at least 1"),
        ("num_epochs", -1, "NERConfig.num_epochs=-1: must be at least 1"),
        ("warmup_ratio", 1.5, "NERConfig.warmup_ratio=1.5: a share, must be between 0 and 1"),
        ("seeds", (0, -1), r"NERConfig.seeds=\(0, -1\): must be at least 0"),
        ("max_train_sentences", 0, "NERConfig.max_train_sentences=0: must be at least 1"),
        ("time_budget_s", float("nan"), "must be a finite number"),
    ],
)
def test_bad_input_out_of_range_config_values_are_named(field, value, message):
    with pytest.raises(ValueError, match=message):
        replace(NER.pick("cpu"), **{field: value})


def test_every_profile_value_is_in_range():
    from course_utils import config

    for profiles in (v for v in vars(config).values() if isinstance(v, config.Profiles)):
        for profile in PROFILES:
            config.check_ranges(profiles.pick(profile))


CHAPTER_MODULES = [  # every course_utils/config/chNN_*.py, re-exported or not
    importlib.import_module(f"course_utils.config.{m.name}")
    for m in pkgutil.iter_modules(config_package.__path__) if m.name.startswith("ch")
]
CHAPTER_CONFIGS = [v for module in CHAPTER_MODULES for v in vars(module).values() if isinstance(v, Profiles)]


def test_each_chapter_has_its_config_module():
    from course_utils.chapters import CHAPTERS

    numbers = sorted(m.__name__.rsplit(".", 1)[1][2:4] for m in CHAPTER_MODULES)
    assert numbers == [c.number for c in CHAPTERS]


def test_every_number_of_every_chapter_config_declares_its_range():
    for profiles in CHAPTER_CONFIGS:
        for f in fields(profiles.cpu):
            value = getattr(profiles.cpu, f.name)
            numeric = any(isinstance(v, (int, float)) and not isinstance(v, bool)
                          for v in (value if isinstance(value, tuple) else (value,)))
            if numeric or f.type in ("int", "float") or "int" in str(f.type) or "float" in str(f.type):
                assert "bounds" in f.metadata, f"{type(profiles.cpu).__name__}.{f.name} declares no range"


def test_every_value_of_a_profile_is_written_in_its_block():
    for profiles in CHAPTER_CONFIGS:
        for f in fields(profiles.cpu):
            assert f.default is MISSING and f.default_factory is MISSING, (
                f"{type(profiles.cpu).__name__}.{f.name} has a default: write it in each profile's block"
            )


def test_bad_input_a_number_in_a_field_without_a_range_is_refused():
    from dataclasses import dataclass

    from course_utils.config.profiles import Checked, at_least

    @dataclass(frozen=True)
    class Sloppy(Checked):
        steps: int = at_least(1)
        rate: float = 0.1  # no declared range

    with pytest.raises(TypeError, match=r"Sloppy.rate=0.1: the field declares no range"):
        Sloppy(steps=1)
    with pytest.raises(ValueError, match="Sloppy.steps=0: must be at least 1"):
        Sloppy(steps=0, rate=None)


def test_a_renamed_field_keeps_its_check():
    """The check travels with the field, not with a name list: any name gets the rule it declares."""
    assert fields(NER.cpu)[[f.name for f in fields(NER.cpu)].index("lr")].metadata["bounds"].above == 0
    with pytest.raises(ValueError, match="TrustConfig.adapter_lr=0: must be above 0"):
        replace(config_package.TRUST.pick("cpu"), adapter_lr=0)


def test_every_chapter_05_method_chooses_its_lr_from_a_grid_as_long_as_full_fine_tuning_s():
    for profile in PROFILES:
        peft, ner = PEFT.pick(profile), NER.pick(profile)
        grids = peft.lr_grids()
        assert ner.lr in grids["full fine-tuning"][0], f"{profile}: chapter 04's lr comes from its grid"
        assert len({len(grid) for grid, _ in grids.values()}) == 1, f"{profile}: the same number of values each"
        for method, (grid, chosen) in grids.items():
            assert chosen is None or chosen in grid, f"{profile}: {method}'s lr comes from its grid"


def test_chapter_07_s_adapters_are_chapter_05_s_lora():
    for profile in PROFILES:
        trust, peft = config_package.TRUST.pick(profile), PEFT.pick(profile)
        assert (trust.adapter_r, trust.adapter_alpha, trust.adapter_lr) == (peft.lora_r, peft.lora_alpha, peft.lora_lr)
        ner = NER.pick(profile)
        assert replace(trust.adapter_config(ner), num_epochs=ner.num_epochs) == peft.run_config(ner, lr=peft.lora_lr)
        assert trust.adapter_epochs in (trust.stage_epochs, ner.num_epochs), "the dev search's two lengths"


def test_the_shared_names_mean_the_same_across_chapters():
    for profiles in (MLM, LAYERNORM):
        names = {f.name for f in fields(profiles.cpu)}
        assert {"hidden_size", "num_layers", "num_heads", "max_steps", "batch_size"} <= names


def test_bad_input_an_empty_list_of_seeds_or_an_unknown_memory_shape_is_named():
    from course_utils import memory

    with pytest.raises(ValueError, match=r"NERConfig.seeds=\(\): needs at least 1 value"):
        replace(NER.pick("cpu"), seeds=())
    with pytest.raises(ValueError, match="NERConfig.memory_shape='huge': must be one of 'small', 'bert-base'"):
        replace(NER.pick("cpu"), memory_shape="huge")
    shape_field = next(f for f in fields(NER.cpu) if f.name == "memory_shape")
    assert set(shape_field.metadata["bounds"].choices) == set(memory.SHAPES)


def test_chapter_10_s_copy_models_read_chapter_08_s_windows():
    from course_utils.config.ch08_gpt import GPT
    from course_utils.config.ch10_prompts import PROMPTS

    for profile in ("smoke", "cpu", "full"):
        ch10, ch08 = getattr(PROMPTS, profile), getattr(GPT, profile).bpe
        assert ch10.copy_recipe.context == ch08.context, profile  # one set of windows and probes
        assert 2 * ch10.repeat_length <= ch08.context and ch10.icl_late < ch08.context, profile
        assert ch10.icl_early < ch10.repeat_length <= ch10.icl_late, profile  # late can copy, early cannot
        # the second probe length tells content from position: not the stretch, nor a divisor of it
        assert ch10.repeat_length % ch10.other_length and 2 * ch10.other_length <= ch08.context, profile
        # every top head has a layer-matched control, however the top heads fall
        assert ch10.ablate_heads <= min(ch10.copy_recipe.heads, ch08.heads) // 2, profile
        # the smeared-key models read the same windows; their stretches hold both probe lengths
        shortest, longest = ch10.stretches
        assert ch10.smeared_recipe.context == ch08.context and ch10.ablate_heads <= ch10.smeared_recipe.heads // 2
        assert shortest <= ch10.other_length <= longest == ch10.repeat_length, profile
