"""The saved tagger loaded behind the service: PyTorch runs it as chapter 04 does; a wrong backend is named."""

import pytest
from tiny_models import save_tiny_tagger

from course_utils import backends, ner


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    return save_tiny_tagger(tmp_path_factory.mktemp("ner-model"))


def test_torch_backend_tags_as_predict_batch_does(saved):
    tagger = backends.load_tagger(saved)
    model, tokenizer, _ = ner.load_finetuned(saved)
    texts = ["Ada Lovelace met Charles Babbage in London .", "London"]
    got, expected = tagger.run(texts), ner.predict_batch(model, tokenizer, texts)
    assert [[e["text"] for e in row] for row in got] == [[e["text"] for e in row] for row in expected]
    assert tagger.backend == "torch" and tagger.summary.test_f1 == 0.5


def test_a_wrong_backend_or_a_missing_onnx_file_is_named(saved):
    with pytest.raises(ValueError, match="is not one of"):
        backends.load_tagger(saved, backend="tensorrt")
    with pytest.raises(ValueError, match="needs onnx_path"):
        backends.load_tagger(saved, backend="onnx")
