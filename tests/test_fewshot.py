import tempfile
from pathlib import Path

import pytest
import torch

from course_utils import fewshot


def tiny_encoder():
    from transformers import BertConfig, BertModel, BertTokenizerFast

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "ann", "lee", "went", "to", "paris", "rome", "##s", "a", "city"]
    folder = Path(tempfile.mkdtemp())
    (folder / "vocab.txt").write_text("\n".join(vocab))
    tokenizer = BertTokenizerFast(str(folder / "vocab.txt"))
    torch.manual_seed(0)
    model = BertModel(BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                 intermediate_size=32, max_position_embeddings=32)).eval()
    return model, tokenizer


def test_word_vectors_average_a_words_sub_tokens():
    model, tokenizer = tiny_encoder()
    sentences = [["ann", "went", "to", "pariss"], ["rome"]]
    vectors = fewshot.word_vectors(model, tokenizer, sentences)
    assert [v.shape for v in vectors] == [(4, 16), (1, 16)]
    encoded = tokenizer([sentences[0]], is_split_into_words=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**encoded).last_hidden_state[0]
    pieces = [i for i, w in enumerate(encoded.word_ids(0)) if w == 3]  # "paris" "##s"
    assert len(pieces) == 2 and torch.allclose(vectors[0][3], hidden[pieces].mean(0), atol=1e-6)
    span = fewshot.span_embeddings(vectors, [(0, 2, 4, "LOC")])
    assert torch.allclose(span[0], vectors[0][2:4].mean(0))


def test_nearest_prototype_and_sampling():
    embeddings = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.8]])
    protos = fewshot.prototypes(embeddings, ["A", "A", "B", "B"], ["A", "B"])
    assert fewshot.nearest(torch.tensor([[2.0, 0.1], [0.0, 3.0]]), protos).tolist() == [0, 1]
    spans = [(i, 0, 1, t) for i, t in enumerate("AABBB")]
    draw = fewshot.k_shot(spans, ["A", "B"], k=2, seed=0)
    assert [s[3] for s in draw] == ["A", "A", "B", "B"] and len(set(draw)) == 4
    assert fewshot.k_shot(spans, ["A", "B"], 2, seed=0) == draw
    assert fewshot.accuracy(["A", "B"], ["A", "A"]) == 0.5


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="no example of"):
        fewshot.prototypes(torch.zeros(1, 2), ["A"], ["A", "B"])
    with pytest.raises(ValueError, match="fewer than k=3"):
        fewshot.k_shot([(0, 0, 1, "A")], ["A"], 3, 0)
    with pytest.raises(ValueError, match="no spans"):
        fewshot.span_embeddings([], [])
    with pytest.raises(ValueError, match="one per span"):
        fewshot.accuracy(["A"], [])
    model, tokenizer = tiny_encoder()
    assert fewshot.text_embeddings(model, tokenizer, ["a city", "ann lee"]).shape == (2, 16)


def test_gold_spans_read_iob2_rows():
    rows = [["B-PER", "I-PER", "O", "B-LOC"], ["O"], ["B-MISC"]]
    assert fewshot.gold_spans(rows) == [(0, 0, 2, "PER"), (0, 3, 4, "LOC"), (2, 0, 1, "MISC")]
    # every wording describes each of the four types once, in TYPES' order, each with its own words
    assert all(len(w) == len(fewshot.TYPES) == len(set(w)) for w in fewshot.WORDINGS.values())
    assert len({w for wording in fewshot.WORDINGS.values() for w in wording}) == 4 * len(fewshot.WORDINGS)


def test_the_span_classifier_embeds_a_span_as_span_embeddings_does_and_learns_four_spans():
    model, tokenizer = tiny_encoder()
    sentences = [["ann", "lee", "went", "to", "pariss"], ["rome", "a", "city"]]
    spans = [(0, 0, 2, "PER"), (0, 4, 5, "LOC"), (1, 0, 1, "LOC"), (1, 1, 3, "MISC")]
    examples = fewshot.encode_spans(tokenizer, sentences, spans, ["PER", "LOC", "MISC"])
    assert all(abs(float(e["span_weights"].sum()) - 1) < 1e-6 for e in examples)
    classifier = fewshot.SpanClassifier(model, 3).eval()
    batch = fewshot.collate_spans(examples)
    with torch.no_grad():
        pooled = classifier.embed(batch["input_ids"], batch["attention_mask"], batch["span_weights"])
    reference = fewshot.span_embeddings(fewshot.word_vectors(model, tokenizer, sentences), spans)
    assert torch.allclose(pooled, reference, atol=1e-5)  # padding changes nothing: the mask hides it

    from torch.utils.data import DataLoader

    from course_utils import train
    from course_utils.config import TrainConfig

    loader = DataLoader(examples, batch_size=4, collate_fn=fewshot.collate_spans)
    train.fit(classifier, loader, TrainConfig(lr=1e-2, max_steps=30), device="cpu", progress=False)
    assert fewshot.classify(classifier, examples, ["PER", "LOC", "MISC"]) == ["PER", "LOC", "LOC", "MISC"]


def test_bad_input_a_span_cut_off_by_truncation_is_named():
    with pytest.raises(ValueError, match="cut off by truncation"):
        fewshot.span_weights([None, 0, 1, None], 2, 3)


def test_words_kept_counts_the_words_truncation_leaves():
    _, tokenizer = tiny_encoder()
    tokenizer.model_max_length = 5  # [CLS] + 3 sub-tokens + [SEP]
    assert fewshot.words_kept(tokenizer, [["ann", "lee"], ["ann", "went", "to", "rome"]]) == [2, 3]
