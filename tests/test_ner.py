import copy
import itertools
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer, BertConfig, BertForTokenClassification, BertTokenizerFast

from course_utils import ner
from course_utils.resources import resolve_model, verified_data_file


def write(tmp_path, text, name="sample.conll"):
    path = tmp_path / name
    path.write_text(text)
    return path


SAMPLE = "-DOCSTART- O\n\nJohn I-PER\nSmith I-PER\nvisited O\nParis I-LOC\n. O\n\nIBM I-ORG\nrose O\n\n"


def test_read_conll_converts_iob1_to_iob2_and_keeps_documents(tmp_path):
    sentences = ner.read_conll(write(tmp_path, SAMPLE + "-DOCSTART- O\n\nHe O\n"))
    assert [s.tags for s in sentences[:2]] == [["B-PER", "I-PER", "O", "B-LOC", "O"], ["B-ORG", "O"]]
    assert [s.doc for s in sentences] == [0, 0, 1] and sentences[0].line == 3


def test_to_iob2_and_entities():
    assert ner.to_iob2(["I-PER", "I-PER", "I-LOC", "O", "I-ORG", "B-ORG"]) == [
        "B-PER",
        "I-PER",
        "B-LOC",
        "O",
        "B-ORG",
        "B-ORG",
    ]
    assert ner.entities(["B-PER", "I-PER", "O", "B-LOC", "B-LOC"]) == [("PER", 0, 2), ("LOC", 3, 4), ("LOC", 4, 5)]


@pytest.mark.parametrize(
    "text,message",
    [
        ("John I-PER\nSmith\n", r"sample.conll:2: expected 2 columns"),
        ("John I-PER\nSmith NNP I-PER\n", r"sample.conll:2: expected 2 columns .* got 3"),
        ("John I-PER\nSmith I-PERSON\n", r"sample.conll:2: unknown tag 'I-PERSON'"),
        ("", r"sample.conll: no sentences"),
        ("-DOCSTART- O\n\n", r"sample.conll: no sentences"),
    ],
)
def test_malformed_files_name_file_and_line(tmp_path, text, message):
    with pytest.raises(ner.ConllFormatError, match=message):
        ner.read_conll(write(tmp_path, text))


def test_iob2_promise_is_checked(tmp_path):
    path = write(tmp_path, "Hello O\nParis I-LOC\n")
    with pytest.raises(ner.ConllFormatError, match=r"sample.conll:2: I-LOC follows O, which IOB2 forbids"):
        ner.read_conll(path, scheme="iob2")
    assert ner.read_conll(path, scheme="iob1")[0].tags == ["O", "B-LOC"]
    with pytest.raises(ValueError, match="scheme='bio'"):
        ner.read_conll(path, scheme="bio")


def test_wikigold_split_is_by_document_deterministic_and_complete():
    sentences = ner.read_conll(verified_data_file("ner"))
    splits = ner.split_by_document(sentences)
    again = ner.split_by_document(ner.read_conll(verified_data_file("ner")))
    assert [len(v) for v in splits.values()] == [len(v) for v in again.values()]
    docs = {name: {s.doc for s in rows} for name, rows in splits.items()}
    assert not (docs["train"] & docs["dev"]) and not (docs["train"] & docs["test"]) and not (docs["dev"] & docs["test"])
    assert sum(len(v) for v in splits.values()) == len(sentences) == 1696
    stats = ner.corpus_stats(sentences)
    assert stats["tokens"] == 39007 and stats["entities"] == sum(stats[t] for t in ner.ENTITY_TYPES)
    with pytest.raises(ValueError, match="fractions"):
        ner.split_by_document(sentences, (0.5, 0.5, 0.5))


def test_dataset_dict_uses_the_conll_label_set():
    data = ner.to_dataset_dict(ner.split_by_document(ner.read_conll(verified_data_file("ner"))))
    assert set(data) == {"train", "dev", "test"}
    assert data["train"].features["ner_tags"].feature.names == ner.LABELS


def test_label_alignment_on_a_hand_made_sentence():
    tokenizer = AutoTokenizer.from_pretrained(resolve_model("smoke").location)
    words, tags = ["Angela", "Merkel", "visited", "Washington"], ["B-PER", "I-PER", "O", "B-LOC"]
    encoded = tokenizer(words, is_split_into_words=True)
    labels = ner.align_labels(encoded.word_ids(), [ner.LABEL2ID[t] for t in tags])
    pieces = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
    assert pieces[0] == "[CLS]" and labels[0] == -100 and labels[-1] == -100
    first_pieces = [p for p, lab in zip(pieces, labels, strict=True) if lab != -100]
    assert len(first_pieces) == len(words)  # exactly one scored sub-token per word
    assert [ner.LABELS[lab] for lab in labels if lab != -100] == tags
    for piece, lab in zip(pieces, labels, strict=True):
        if piece.startswith("##"):
            assert lab == -100


def test_truncated_words_are_counted_and_scored_as_missed():
    tokenizer = AutoTokenizer.from_pretrained(resolve_model("smoke").location)
    examples = {"tokens": [["Paris"] * 10], "ner_tags": [[ner.LABEL2ID["B-LOC"]] * 10]}
    encoded = ner.tokenize_and_align(examples, tokenizer, max_length=6)  # [CLS] + 4 words + [SEP]
    assert encoded["words_cut"] == [6]
    logits = torch.zeros(6, len(ner.LABELS))
    logits[1:5, ner.LABEL2ID["B-LOC"]] = 10.0  # the 4 kept words look like locations
    for constrained in (False, True):
        preds = ner.decode_words(logits, encoded["word_ids"][0], 10, dict(enumerate(ner.LABELS)), constrained)
        assert preds == [5, 5, 5, 5] + [0] * 6  # the 6 cut words are predicted O: missed, not dropped


def test_constrained_decode_is_the_best_valid_iob2_sequence():
    id2label = dict(enumerate(ner.LABELS))
    generator = torch.Generator().manual_seed(0)
    for _ in range(3):
        log_probs = torch.randn(4, len(ner.LABELS), generator=generator).log_softmax(-1)  # (words, labels)
        best = max(
            (seq for seq in itertools.product(range(len(ner.LABELS)), repeat=4)
             if ner.to_iob2([id2label[i] for i in seq]) == [id2label[i] for i in seq]),  # valid IOB2 only
            key=lambda seq: float(sum(log_probs[t, i] for t, i in enumerate(seq))),
        )
        assert ner.constrained_decode(log_probs, id2label) == list(best)


def test_constrained_decode_fixes_a_stray_inside_tag():
    id2label = dict(enumerate(ner.LABELS))
    log_probs = torch.full((2, len(ner.LABELS)), -9.0)
    log_probs[0, ner.LABEL2ID["O"]], log_probs[0, ner.LABEL2ID["B-ORG"]] = -0.5, -1.0
    log_probs[1, ner.LABEL2ID["I-ORG"]] = -0.1  # argmax says O I-ORG: an entity with no beginning
    assert log_probs.argmax(-1).tolist() == [ner.LABEL2ID["O"], ner.LABEL2ID["I-ORG"]]
    assert ner.constrained_decode(log_probs, id2label) == [ner.LABEL2ID["B-ORG"], ner.LABEL2ID["I-ORG"]]


def test_uncased_tokenizers_get_the_capitals_as_token_types():
    uncased = AutoTokenizer.from_pretrained(resolve_model("smoke").location)
    cased = BertTokenizerFast(str(Path(resolve_model("smoke").location) / "vocab.txt"), do_lower_case=False)
    assert ner.lowercases(uncased) and not ner.lowercases(cased)
    examples = {"tokens": [["Paris", "is", "big"]], "ner_tags": [[5, 0, 0]]}
    encoded = ner.tokenize_and_align(examples, uncased, max_length=16)
    assert encoded["token_type_ids"][0] == ner.casing_type_ids(["Paris", "is", "big"], encoded.word_ids(0))
    assert encoded["token_type_ids"][0] == [0, 1, 0, 0, 0]  # [CLS] Paris is big [SEP]
    assert set(ner.tokenize_and_align(examples, cased, max_length=16)["token_type_ids"][0]) == {0}


def test_length_grouped_batches_cover_everything_once_with_less_padding():
    lengths = [((i * 37) % 50) + 1 for i in range(200)]
    batches = ner.length_grouped_batches(lengths, batch_size=8, seed=0)
    assert sorted(i for b in batches for i in b) == list(range(200))
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    random_batches = [list(range(i, min(i + 8, 200))) for i in range(0, 200, 8)]
    assert padded < sum(len(b) * max(lengths[i] for i in b) for b in random_batches)


def test_entity_scores_are_strict_and_per_type():
    true = [["B-PER", "I-PER", "O", "B-LOC"]]
    pred = [["B-PER", "O", "O", "B-LOC"]]  # the person's span is cut short: wrong at entity level
    scores = ner.entity_scores(true, pred)
    assert scores["precision"] == pytest.approx(0.5) and scores["recall"] == pytest.approx(0.5)
    assert scores["types"]["LOC"]["f1-score"] == 1.0 and scores["types"]["PER"]["f1-score"] == 0.0


def test_entity_confusion_counts_types_missed_and_spurious():
    confusion = ner.entity_confusion([["B-PER", "O", "B-LOC", "O"]], [["B-ORG", "O", "O", "B-MISC"]])
    assert confusion["PER"]["ORG"] == 1 and confusion["LOC"]["missed"] == 1 and confusion["spurious"]["MISC"] == 1


@pytest.fixture(scope="module")
def tiny_ner():
    tokenizer = AutoTokenizer.from_pretrained(resolve_model("smoke").location)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        num_labels=len(ner.LABELS),
        id2label=dict(enumerate(ner.LABELS)),
        label2id=ner.LABEL2ID,
    )
    torch.manual_seed(0)
    return BertForTokenClassification(config), tokenizer


def test_evaluate_ner_scores_every_word(tiny_ner):
    model, tokenizer = tiny_ner
    data = ner.to_dataset_dict({"test": ner.read_conll(verified_data_file("ner"))[:20]})["test"]
    tokenized = data.map(lambda ex: ner.tokenize_and_align(ex, tokenizer, 16), batched=True)
    result = ner.evaluate_ner(model, tokenized, ner.make_collator(tokenizer), model.config.id2label)
    assert (
        [len(t) for t in result["true_tags"]]
        == [len(t) for t in result["pred_tags"]]
        == [len(x) for x in data["tokens"]]
    )
    assert 0 <= result["f1"] <= 1 and result["loss"] > 0


def test_predict_returns_spans_with_offsets_and_scores(tiny_ner, tmp_path):
    model, tokenizer = tiny_ner
    model = copy.deepcopy(model)
    with torch.no_grad():  # make the model tag "Merkel"-like words I-PER and everything else O, via the bias
        model.classifier.bias.zero_()
        model.classifier.bias[ner.LABEL2ID["I-PER"]] = 20.0
    text = "Angela Merkel met Obama."
    spans = ner.predict(model, tokenizer, text)
    # every word says I-PER; valid IOB2 must begin with B-PER, so the first word gets B-PER (probability ~0)
    # and the 4 others I-PER (probability ~1): one PER entity over the whole text, score 4/5
    assert spans == [{"text": text, "type": "PER", "start": 0, "end": len(text), "score": pytest.approx(0.8)}]
    assert ner.predict(model, tokenizer, "   ") == []
    model.save_pretrained(tmp_path)
    reloaded = BertForTokenClassification.from_pretrained(tmp_path)
    assert ner.predict(reloaded, tokenizer, text) == spans


def test_collator_pads_labels_with_ignore_index_and_sampler_reshuffles(tiny_ner):
    model, tokenizer = tiny_ner
    data = ner.to_dataset_dict({"train": ner.read_conll(verified_data_file("ner"))[:40]})["train"]
    tokenized = data.map(lambda ex: ner.tokenize_and_align(ex, tokenizer, 64), batched=True)
    batch = ner.make_collator(tokenizer)([tokenized[0], tokenized[1]])
    padding = batch["attention_mask"] == 0
    assert padding.any() and (batch["labels"][padding] == -100).all()
    fixed = ner.make_collator(tokenizer, pad_to=64)([tokenized[0]])
    assert fixed["input_ids"].shape == (1, 64)
    sampler = ner.LengthGroupedSampler([len(x) for x in tokenized["input_ids"]], batch_size=8)
    first, second = list(sampler), list(sampler)
    assert len(first) == len(sampler) and first != second
    assert ner.tokens_per_second(model, tokenized, ner.make_collator(tokenizer), first[:2]) > 0


def test_fine_tune_trains_keeps_the_best_dev_epoch_and_measures_cost(tiny_ner):
    model, tokenizer = tiny_ner
    model = copy.deepcopy(model)
    sentences = ner.read_conll(verified_data_file("ner"))[:48]
    data = ner.to_dataset_dict({"train": sentences[:32], "dev": sentences[32:]})
    tokenized = data.map(lambda ex: ner.tokenize_and_align(ex, tokenizer, 32), batched=True)
    before = copy.deepcopy(model.state_dict())
    result = ner.fine_tune(
        model, tokenized, ner.make_collator(tokenizer), lr=1e-3, num_epochs=2, batch_size=8, progress=False
    )
    assert result.epochs == 2 and len(result.history.evals) == 2
    assert result.seconds_per_epoch > 0 and result.peak_memory_mb >= 0
    assert result.history.best["f1"] == max(e["f1"] for e in result.history.evals)
    assert 0 < result.history.eval_seconds < result.history.seconds
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_finetuned_model_round_trips_with_its_metrics(tiny_ner, tmp_path):
    model, tokenizer = tiny_ner
    with pytest.raises(FileNotFoundError, match="run notebooks/04_bert_ner_finetuning.ipynb first"):
        ner.load_finetuned(tmp_path / "nothing")
    ner.save_finetuned(model, tokenizer, {"test_f1": 0.5}, tmp_path / "ner-model")
    reloaded, reloaded_tokenizer, metrics = ner.load_finetuned(tmp_path / "ner-model")
    assert metrics == {"test_f1": 0.5} and reloaded_tokenizer.vocab == tokenizer.vocab
    ids = torch.tensor([[101, 2000, 102]])
    assert torch.equal(reloaded.eval()(input_ids=ids).logits, model.eval()(input_ids=ids).logits)


def test_limit_sentences_keeps_the_first_rows_of_each_split():
    data = ner.to_dataset_dict(ner.split_by_document(ner.read_conll(verified_data_file("ner"))))
    sizes = {name: len(split) for name, split in data.items()}
    limited = ner.limit_sentences(data, 10, 5)
    assert {name: len(split) for name, split in limited.items()} == {"train": 10, "dev": 5, "test": 5}
    assert ner.limit_sentences(data, None, None)["train"].num_rows == 10 and sizes["train"] > 10
