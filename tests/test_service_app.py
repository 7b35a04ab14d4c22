"""The app: /ner answers as predict does, every class of bad input gets a 4xx that names it, /info, the demo page."""

import dataclasses

import pytest
from fastapi.testclient import TestClient
from tiny_models import save_tiny_tagger

from course_utils import backends, ner, service_app, tagging
from course_utils.config import SERVE

CFG = dataclasses.replace(SERVE.pick("smoke"), max_chars=100)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    return save_tiny_tagger(tmp_path_factory.mktemp("ner-model"))


@pytest.fixture(scope="module")
def client(saved):
    app = service_app.create_app(backends.load_tagger(saved), CFG, max_batch=4, max_wait_ms=5)
    with TestClient(app) as client:
        yield client


def test_ner_returns_what_predict_returns(client, saved):
    model, tokenizer, _ = ner.load_finetuned(saved)
    text = "Ada Lovelace met Charles Babbage in London ."
    answer = client.post("/ner", json={"text": text})
    assert answer.status_code == 200
    got, expected = answer.json()["entities"], ner.predict(model, tokenizer, text)
    assert [{**e, "score": 0} for e in got] == [{**e, "score": 0} for e in expected]
    assert [e["score"] for e in got] == pytest.approx([e["score"] for e in expected])


@pytest.mark.parametrize(
    ("body", "status", "names"),
    [
        ('{"text": "   "}', 422, "empty"),
        ('{"text": "' + "word " * 30 + '"}', 413, "limit is 100"),
        ('{"text": "Ada",', 400, "not valid JSON"),
        ('{"txt": "Ada"}', 422, 'unknown field "txt"'),
        ('{}', 422, '"text" is missing'),
        ('{"text": 5}', 422, "must be a string, got int"),
        ('["Ada"]', 422, "must be a JSON object, got list"),
    ],
)
def test_bad_input_gets_a_4xx_that_names_the_problem(client, body, status, names):
    answer = client.post("/ner", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == status
    assert names in answer.json()["error"]
    assert client.get("/health").json() == {"status": "ok"}, "the service is still up"


def test_info_and_demo_page(client):
    info = client.get("/info").json()
    assert info["labels"] == tagging.LABELS and info["max_chars"] == 100 and info["max_batch"] == 4
    page = client.get("/")
    assert page.status_code == 200 and 'id="text"' in page.text and "100 characters" in page.text
