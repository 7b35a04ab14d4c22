"""The dev searches behind chapter 05's learning rates and chapter 07's EWC strengths and adapter epochs."""

import pytest

from course_utils import dev_search, ner, ner_data
from course_utils.config import NER, PEFT
from course_utils.lora import LoRALinear


def trainable_names(model) -> list[str]:
    return [n for n, p in model.named_parameters() if p.requires_grad]


def test_each_method_trains_only_its_own_parameters():
    names = {method: trainable_names(dev_search.peft_model(method)) for method in dev_search.LR_METHODS}
    everything = names["full fine-tuning"]
    assert all("classifier" in " ".join(n) for n in names.values()), "every method trains the new head"
    assert all(len(names[m]) < len(everything) for m in dev_search.LR_METHODS[1:])
    assert all("lora_" in n or n.startswith("classifier") for n in names["LoRA"])
    assert all(n.endswith(".bias") or n.startswith("classifier") for n in names["BitFit"])
    assert all("ia3_" in n or "classifier" in n for n in names["IA3"])
    assert all(".adapter." in n or n.startswith("classifier") for n in names["Houlsby adapters"])
    assert len(names["Pfeiffer adapters"]) == len(names["Houlsby adapters"]) // 2 + 1  # one per layer, not two
    assert all("prompt_encoder" in n or "classifier" in n for n in names["prefix (P-tuning v2)"])
    assert sorted(names["prompt tuning"]) == ["model.classifier.bias", "model.classifier.weight", "prompt"]
    lora_model = dev_search.peft_model("LoRA")
    assert any(isinstance(m, LoRALinear) for m in lora_model.modules())
    with pytest.raises(ValueError, match="method='LoRA r=4' is not one of"):
        dev_search.peft_model("LoRA r=4")


@pytest.fixture
def scored_splits(monkeypatch):
    """The first input ids of every split ner.evaluate_ner scores during a test."""
    seen, evaluate = [], ner.evaluate_ner

    def spy(model, dataset, *args, **kwargs):
        seen.append(dataset[0]["input_ids"])
        return evaluate(model, dataset, *args, **kwargs)

    monkeypatch.setattr(ner, "evaluate_ner", spy)
    return seen


def first_ids(split: str) -> list[int]:
    return ner_data.prepare_ner_data(NER.pick(), dev_search._tokenizer()).tokenized[split][0]["input_ids"]


def test_the_lr_search_tries_every_value_of_the_grid_on_dev(scored_splits):
    rows = list(dev_search.lr_search(("BitFit",)))
    assert scored_splits and all(ids == first_ids("dev") for ids in scored_splits), "dev only, never test"
    assert first_ids("dev") != first_ids("test")
    grid, _ = PEFT.pick().lr_grids()["BitFit"]
    assert [r.setting for r in rows] == [f"BitFit @ {lr:g}" for lr in grid]
    assert all(len(r.dev_f1) == 1 and 0 <= r.dev_f1[0] <= 1 and r.seconds > 0 for r in rows)


def test_the_continual_search_scores_both_stages_on_dev(scored_splits):
    rows = list(dev_search.continual_search(strengths=(1e4,)))
    assert scored_splits and all(ids == first_ids("dev") for ids in scored_splits), "dev only, never test"
    assert [r.search for r in rows] == ["stage 1", "EWC", "stage-1 adapter", "stage-1 adapter"]
    assert all(len(r.dev_f1) == 2 and all(0 <= f <= 1 for f in r.dev_f1) for r in rows)
