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


def test_bad_input_a_lone_surrogate_is_the_client_s_fault(client):
    answer = client.post("/ner", content='{"text": "\\ud800 Obama"}', headers={"content-type": "application/json"})
    assert answer.status_code == 422 and "lone surrogate" in answer.json()["error"]
    assert client.get("/health").json() == {"status": "ok"}


def test_bad_input_a_body_nested_too_deep_gets_the_service_s_error_shape(saved):
    roomy = dataclasses.replace(SERVE.pick("smoke"), max_chars=2000)  # the limit lets the body through
    app = service_app.create_app(backends.load_tagger(saved), roomy, max_batch=4, max_wait_ms=5)
    with TestClient(app) as big_client:
        body = '{"text": ' + "[" * 5000 + "]" * 5000 + "}"
        assert len(body) < service_app.body_limit(roomy.max_chars)
        answer = big_client.post("/ner", content=body, headers={"content-type": "application/json"})
        assert 400 <= answer.status_code < 500 and set(answer.json()) == {"error"}


def test_bad_input_a_huge_body_is_refused_before_it_is_read(client):
    limit = service_app.body_limit(CFG.max_chars)
    huge = '{"text": "' + "a" * (10 * limit) + '"}'
    answer = client.post("/ner", content=huge, headers={"content-type": "application/json"})
    assert answer.status_code == 413 and f"the limit is {limit:,}" in answer.json()["error"]

    def chunks():  # no Content-Length: the middleware counts what arrives
        yield b'{"text": "'
        for _ in range(10):
            yield b"a" * limit
        yield b'"}'

    streamed = client.post("/ner", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413 and set(streamed.json()) == {"error"}
    assert client.get("/health").json() == {"status": "ok"}


def test_bad_input_a_body_that_is_not_utf8_is_named(client):
    answer = client.post("/ner", content=b'{"text": "caf\xe9"}', headers={"content-type": "application/json"})
    assert 400 <= answer.status_code < 500 and "not UTF-8" in answer.json()["error"]


def test_the_body_limit_counts_a_streamed_body_and_answers_once():
    """The middleware alone, driven as a server would: 12 chunks, a limit of 3 chunks' bytes."""
    import asyncio
    import json

    chunks = [{"type": "http.request", "body": b"x" * 100, "more_body": True} for _ in range(11)]
    chunks.append({"type": "http.request", "body": b"x" * 100, "more_body": False})
    read, sent = [], []

    async def app(scope, receive, send):  # an app that reads to the end, then answers 200
        while (message := await receive())["type"] == "http.request" and message.get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def receive():
        read.append(1)
        return chunks[len(read) - 1]

    async def send(message):
        sent.append(message)

    middleware = service_app.BodyLimit(app, limit=300)
    asyncio.run(middleware({"type": "http", "headers": []}, receive, send))
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert len(read) == 4, "it stops reading once the limit is passed"
    assert [m["status"] for m in starts] == [413] and (b"connection", b"close") in starts[0]["headers"]
    body = json.loads(sent[-1]["body"])
    assert "the limit is 300" in body["error"]


def test_the_length_check_never_shares_the_model_thread_s_tokenizer(saved, monkeypatch):
    """A fast tokenizer's padding setting is shared state: the event loop's unpadded length check and the
    model thread's padded batches must not use one tokenizer at once (under load they did, and a batch
    came out with rows of mixed lengths)."""
    tagger, used = backends.load_tagger(saved), []
    check = ner.check_text
    monkeypatch.setattr(ner, "check_text", lambda model, tokenizer, text: (used.append(tokenizer),
                                                                             check(model, tokenizer, text)))
    app = service_app.create_app(tagger, CFG, max_batch=8, max_wait_ms=5)
    with TestClient(app) as many:
        import concurrent.futures

        texts = ["Ada met Bob .", "Ada Lovelace met Charles Babbage in London in 1833 ."] * 16
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda t: many.post("/ner", json={"text": t}), texts))
    assert used and all(t is not tagger.tokenizer for t in used)
    assert [a.status_code for a in answers] == [200] * len(texts)
