"""The service: micro-batching, every class of bad input answered 4xx, a real process, the demo page."""

import asyncio
import dataclasses

import httpx
import pytest
import torch
from fastapi.testclient import TestClient
from tiny_models import tiny_tagger

from course_utils import loadtest, ner, serve, tagging
from course_utils.config import SERVE

CFG = dataclasses.replace(SERVE.pick("smoke"), max_chars=100)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A tiny tagger saved as chapter 04 saves its model."""
    model, tokenizer = tiny_tagger()
    with torch.no_grad():
        model.classifier.bias[tagging.LABEL2ID["B-PER"]] = 5.0  # untrained, but it tags names: spans to show
    folder = tmp_path_factory.mktemp("ner-model")
    ner.save_finetuned(model, tokenizer, {"profile": "smoke", "test_f1": 0.5}, folder)
    return folder


@pytest.fixture(scope="module")
def client(saved):
    with TestClient(serve.create_app(serve.load_tagger(saved), CFG, max_batch=4, max_wait_ms=5)) as client:
        yield client


def test_collect_batch_takes_what_waits_up_to_max_batch():
    async def scenario():
        queue = asyncio.Queue()
        for i in range(5):
            queue.put_nowait(i)
        first = await serve.collect_batch(queue, max_batch=3, max_wait_s=1.0)
        second = await serve.collect_batch(queue, max_batch=3, max_wait_s=0.01)  # 2 left: waits, then goes
        return first, second

    assert asyncio.run(scenario()) == ([0, 1, 2], [3, 4])


def test_collect_batch_waits_for_late_arrivals_within_the_window():
    async def scenario():
        queue = asyncio.Queue()
        queue.put_nowait("a")
        loop = asyncio.get_running_loop()
        loop.call_later(0.01, queue.put_nowait, "b")  # inside the window
        loop.call_later(0.5, queue.put_nowait, "c")  # after it
        return await serve.collect_batch(queue, max_batch=8, max_wait_s=0.1)

    assert asyncio.run(scenario()) == ["a", "b"]


def test_batcher_runs_concurrent_requests_together_and_survives_a_failure():
    def run(texts):
        if "boom" in texts:
            raise RuntimeError("boom")
        return [t.upper() for t in texts]

    async def scenario():
        batcher = serve.MicroBatcher(run, max_batch=8, max_wait_ms=20)
        await batcher.start()
        results = await asyncio.gather(*(batcher.submit(t) for t in "abcdef"))
        with pytest.raises(RuntimeError, match="boom"):
            await batcher.submit("boom")
        after = await batcher.submit("g")
        await batcher.stop()
        return results, after, batcher.sizes

    results, after, sizes = asyncio.run(scenario())
    assert results == list("ABCDEF") and after == "G"
    assert sizes[6] == 1, "the six concurrent requests ran as one batch"


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


def test_service_process_serves_and_load_test_measures(saved):
    with serve.ServiceProcess(saved, CFG, batching=True) as service:
        assert httpx.get(f"{service.url}/health").json() == {"status": "ok"}
        result = loadtest.load_test(f"{service.url}/ner", ["Ada Lovelace .", "London"], concurrency=4, requests=12)
        assert result.errors == 0 and result.requests_per_s > 0 and result.p50_ms <= result.p99_ms
        assert sum(int(k) * v for k, v in httpx.get(f"{service.url}/info").json()["batch_sizes"].items()) == 16
    assert service.process.poll() is not None, "stopped"


def test_service_process_reports_why_it_did_not_start(tmp_path):
    with pytest.raises(RuntimeError, match="run notebooks/04"):
        serve.ServiceProcess(tmp_path, CFG, batching=False)


def test_demo_page_highlights_entities_in_chromium(saved, tmp_path):
    if serve.chromium_path() is None:
        pytest.skip("chromium is not installed (apt-get install chromium); CI installs it")
    with serve.ServiceProcess(saved, CFG, batching=True) as service:
        model, tokenizer, _ = ner.load_finetuned(saved)
        text = "Ada Lovelace met Charles Babbage in London ."
        marks = serve.check_demo_page(service.url, text, screenshot=tmp_path / "demo.png")
    expected = [{"text": e["text"], "type": e["type"]} for e in ner.predict(model, tokenizer, text)]
    assert marks == expected and (tmp_path / "demo.png").stat().st_size > 0
