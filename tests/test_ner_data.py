"""CoNLL files, the splits, sub-token label alignment and batches."""

from pathlib import Path

import pytest
from transformers import AutoTokenizer, BertTokenizerFast

from course_utils import ner_data, tagging
from course_utils.config import NER
from course_utils.resources import resolve_model, verified_data_file


def write(tmp_path, text, name="sample.conll"):
    path = tmp_path / name
    path.write_text(text)
    return path


SAMPLE = "-DOCSTART- O\n\nJohn I-PER\nSmith I-PER\nvisited O\nParis I-LOC\n. O\n\nIBM I-ORG\nrose O\n\n"


def test_read_conll_converts_iob1_to_iob2_and_keeps_documents(tmp_path):
    sentences = ner_data.read_conll(write(tmp_path, SAMPLE + "-DOCSTART- O\n\nHe O\n"))
    assert [s.tags for s in sentences[:2]] == [["B-PER", "I-PER", "O", "B-LOC", "O"], ["B-ORG", "O"]]
    assert [s.doc for s in sentences] == [0, 0, 1] and sentences[0].line == 3


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
    with pytest.raises(tagging.ConllFormatError, match=message):
        ner_data.read_conll(write(tmp_path, text))


def test_iob2_promise_is_checked(tmp_path):
    path = write(tmp_path, "Hello O\nParis I-LOC\n")
    with pytest.raises(tagging.ConllFormatError, match=r"sample.conll:2: I-LOC follows O, which IOB2 forbids"):
        ner_data.read_conll(path, scheme="iob2")
    assert ner_data.read_conll(path, scheme="iob1")[0].tags == ["O", "B-LOC"]
    with pytest.raises(ValueError, match="scheme='bio'"):
        ner_data.read_conll(path, scheme="bio")


def test_wikigold_split_is_by_document_deterministic_and_complete():
    sentences = ner_data.read_conll(verified_data_file("ner"))
    splits = ner_data.split_by_document(sentences)
    again = ner_data.split_by_document(ner_data.read_conll(verified_data_file("ner")))
    assert [len(v) for v in splits.values()] == [len(v) for v in again.values()]
    docs = {name: {s.doc for s in rows} for name, rows in splits.items()}
    assert not (docs["train"] & docs["dev"]) and not (docs["train"] & docs["test"]) and not (docs["dev"] & docs["test"])
    assert sum(len(v) for v in splits.values()) == len(sentences) == 1696
    stats = ner_data.corpus_stats(sentences)
    assert stats["tokens"] == 39007 and stats["entities"] == sum(stats[t] for t in tagging.ENTITY_TYPES)
    with pytest.raises(ValueError, match="fractions"):
        ner_data.split_by_document(sentences, (0.5, 0.5, 0.5))


def test_dataset_dict_uses_the_conll_label_set():
    data = ner_data.to_dataset_dict(ner_data.split_by_document(ner_data.read_conll(verified_data_file("ner"))))
    assert set(data) == {"train", "dev", "test"}
    assert data["train"].features["ner_tags"].feature.names == tagging.LABELS


def test_label_alignment_on_a_hand_made_sentence():
    tokenizer = AutoTokenizer.from_pretrained(resolve_model("smoke").location)
    words, tags = ["Angela", "Merkel", "visited", "Washington"], ["B-PER", "I-PER", "O", "B-LOC"]
    encoded = tokenizer(words, is_split_into_words=True)
    labels = ner_data.align_labels(encoded.word_ids(), [tagging.LABEL2ID[t] for t in tags])
    pieces = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
    assert pieces[0] == "[CLS]" and labels[0] == -100 and labels[-1] == -100
    first_pieces = [p for p, lab in zip(pieces, labels, strict=True) if lab != -100]
    assert len(first_pieces) == len(words)  # exactly one scored sub-token per word
    assert [tagging.LABELS[lab] for lab in labels if lab != -100] == tags
    for piece, lab in zip(pieces, labels, strict=True):
        if piece.startswith("##"):
            assert lab == -100


def test_uncased_tokenizers_get_the_capitals_as_token_types():
    uncased = AutoTokenizer.from_pretrained(resolve_model("smoke").location)
    cased = BertTokenizerFast(str(Path(resolve_model("smoke").location) / "vocab.txt"), do_lower_case=False)
    assert ner_data.lowercases(uncased) and not ner_data.lowercases(cased)
    examples = {"tokens": [["Paris", "is", "big"]], "ner_tags": [[5, 0, 0]]}
    encoded = ner_data.tokenize_and_align(examples, uncased, max_length=16)
    assert encoded["token_type_ids"][0] == ner_data.casing_type_ids(["Paris", "is", "big"], encoded.word_ids(0))
    assert encoded["token_type_ids"][0] == [0, 1, 0, 0, 0]  # [CLS] Paris is big [SEP]
    assert set(ner_data.tokenize_and_align(examples, cased, max_length=16)["token_type_ids"][0]) == {0}


def test_length_grouped_batches_cover_everything_once_with_less_padding():
    lengths = [((i * 37) % 50) + 1 for i in range(200)]
    batches = ner_data.length_grouped_batches(lengths, batch_size=8, seed=0)
    assert sorted(i for b in batches for i in b) == list(range(200))
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    random_batches = [list(range(i, min(i + 8, 200))) for i in range(0, 200, 8)]
    assert padded < sum(len(b) * max(lengths[i] for i in b) for b in random_batches)


def test_collator_pads_labels_with_ignore_index_and_sampler_reshuffles():
    tokenizer = AutoTokenizer.from_pretrained(resolve_model("smoke").location)
    data = ner_data.to_dataset_dict({"train": ner_data.read_conll(verified_data_file("ner"))[:40]})["train"]
    tokenized = data.map(lambda ex: ner_data.tokenize_and_align(ex, tokenizer, 64), batched=True)
    batch = ner_data.make_collator(tokenizer)([tokenized[0], tokenized[1]])
    padding = batch["attention_mask"] == 0
    assert padding.any() and (batch["labels"][padding] == -100).all()
    fixed = ner_data.make_collator(tokenizer, pad_to=64)([tokenized[0]])
    assert fixed["input_ids"].shape == (1, 64)
    sampler = ner_data.LengthGroupedSampler([len(x) for x in tokenized["input_ids"]], batch_size=8)
    first, second = list(sampler), list(sampler)
    assert len(first) == len(sampler) and first != second


def test_sampler_seeds_give_other_orders_not_shifted_epochs():
    lengths = [3 + (i * 7) % 40 for i in range(200)]

    def two_epochs(seed: int) -> list[list[list[int]]]:
        sampler = ner_data.LengthGroupedSampler(lengths, 8, seed)
        return [list(sampler), list(sampler)]

    assert two_epochs(1)[0] not in two_epochs(0)  # seed 1's first epoch is not seed 0's second


def test_limit_sentences_keeps_the_first_rows_of_each_split():
    data = ner_data.to_dataset_dict(ner_data.split_by_document(ner_data.read_conll(verified_data_file("ner"))))
    sizes = {name: len(split) for name, split in data.items()}
    limited = ner_data.limit_sentences(data, 10, 5)
    assert {name: len(split) for name, split in limited.items()} == {"train": 10, "dev": 5, "test": 5}
    assert ner_data.limit_sentences(data, None, None)["train"].num_rows == sizes["train"] > 10


def test_limit_sentences_leaves_the_loaded_data_as_it_was():
    data = ner_data.to_dataset_dict(ner_data.split_by_document(ner_data.read_conll(verified_data_file("ner"))))
    before = {name: len(split) for name, split in data.items()}
    ner_data.limit_sentences(data, 10, 5)
    assert {name: len(split) for name, split in data.items()} == before


def test_prepare_ner_data_is_load_limit_tokenize_with_dynamic_padding():
    tokenizer = AutoTokenizer.from_pretrained(resolve_model("smoke").location)
    cfg = NER.pick("smoke")
    prepared = ner_data.prepare_ner_data(cfg, tokenizer)
    by_hand = ner_data.tokenize(
        ner_data.limit_sentences(ner_data.load_ner_data(), cfg.max_train_sentences, cfg.max_eval_sentences),
        tokenizer,
        cfg.max_length,
    )
    for name in ("train", "dev", "test"):
        assert prepared.tokenized[name]["input_ids"] == by_hand[name]["input_ids"]
    assert len(prepared.tokenized["train"]) == cfg.max_train_sentences
    rows = [prepared.tokenized["train"][i] for i in range(4)]
    batch = prepared.collate(rows)
    assert batch["input_ids"].shape[1] == max(len(r["input_ids"]) for r in rows)
