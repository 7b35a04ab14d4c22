"""BERT from scratch equals transformers' BERT once it holds the same weights (the real MiniLM included)."""

import pytest
import torch
from transformers import AutoTokenizer, BertConfig, BertForMaskedLM, BertForTokenClassification, BertModel

from course_utils import bert
from course_utils.resources import resolve_model

SENTENCES = ["Angela Merkel visited Washington.", "The quick brown fox jumps over the lazy dog near Paris."]


@pytest.fixture(scope="module")
def minilm():
    location = resolve_model("smoke").location  # the embedded all-MiniLM-L6-v2
    return BertModel.from_pretrained(location).eval(), AutoTokenizer.from_pretrained(location)


def test_names_map_from_hugging_face():
    assert bert.hf_name("bert.encoder.layer.3.attention.self.key.bias") == "bert.blocks.3.attention.key.bias"
    assert bert.hf_name("encoder.layer.0.output.LayerNorm.weight") == "blocks.0.norm2.weight"
    assert bert.hf_name("cls.predictions.transform.dense.weight") == "mlm.dense.weight"
    assert bert.hf_name("classifier.weight") == "classifier.weight"
    assert bert.hf_name("bert.pooler.dense.weight") is None and bert.hf_name("embeddings.position_ids") is None


def test_the_real_minilm_gives_the_same_hidden_states(minilm):
    hf, tokenizer = minilm
    ours = bert.Bert(bert.BertShape.from_hf(hf.config)).eval()
    bert.load_hf_weights(ours, hf.state_dict())
    batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")  # the first row is padded
    with torch.no_grad():
        expected = hf(**batch, output_hidden_states=True).hidden_states
        states = ours(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    assert len(states) == len(expected) == hf.config.num_hidden_layers + 1
    real = batch["attention_mask"].bool()
    for layer, (a, b) in enumerate(zip(states, expected, strict=True)):
        assert torch.allclose(a[real], b[real], atol=1e-5), f"layer {layer}: {(a - b).abs().max():.2e}"


def test_token_classifier_and_tied_mlm_head_match_their_transformers_models(minilm):
    _, tokenizer = minilm
    sizes = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64}
    small = BertConfig(vocab_size=tokenizer.vocab_size, num_labels=5, **sizes)
    batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    real = batch["attention_mask"].bool()
    torch.manual_seed(0)
    for hf_cls, ours in (
        (BertForTokenClassification, bert.BertTagger(bert.BertShape.from_hf(small), 5)),
        (BertForMaskedLM, bert.BertForMLM(bert.BertShape.from_hf(small))),
    ):
        hf = hf_cls(small).eval()
        bert.load_hf_weights(ours, hf.state_dict())
        with torch.no_grad():
            expected = hf(**batch).logits
            logits = ours.eval()(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
        assert torch.allclose(logits[real], expected[real], atol=1e-5), hf_cls.__name__
    assert ours.mlm.word_embeddings.weight is ours.bert.embeddings.word.weight, "one matrix in and out"


def test_a_checkpoint_of_another_shape_is_refused_by_name(minilm):
    hf, _ = minilm
    shape = bert.BertShape.from_hf(hf.config)
    narrower = bert.Bert(bert.BertShape(shape.vocab_size, 64, 2, 2, 128, shape.max_positions))
    with pytest.raises(ValueError, match="does not fit Bert.*wrong shape"):
        bert.load_hf_weights(narrower, hf.state_dict())
    with pytest.raises(ValueError, match="hidden_act"):
        bert.BertShape.from_hf(BertConfig(hidden_act="relu"))
