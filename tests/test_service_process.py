"""The service as its own process: it answers, the load test measures it, it stops, and says why it did not start."""

import dataclasses

import httpx
import pytest
from tiny_models import save_tiny_tagger

from course_utils import loadtest, service_process
from course_utils.config import SERVE

CFG = dataclasses.replace(SERVE.pick("smoke"), max_chars=100)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    return save_tiny_tagger(tmp_path_factory.mktemp("ner-model"))


def test_service_process_serves_and_load_test_measures(saved):
    with service_process.ServiceProcess(saved, CFG, batching=True) as service:
        assert httpx.get(f"{service.url}/health").json() == {"status": "ok"}
        result = loadtest.load_test(f"{service.url}/ner", ["Ada Lovelace .", "London"], concurrency=4, requests=12)
        assert result.errors == 0 and result.requests_per_s > 0 and result.p50_ms <= result.p99_ms
        assert sum(int(k) * v for k, v in httpx.get(f"{service.url}/info").json()["batch_sizes"].items()) == 16
    assert service.process.poll() is not None, "stopped"


def test_service_process_reports_why_it_did_not_start(tmp_path):
    with pytest.raises(RuntimeError, match="run notebooks/04"):
        service_process.ServiceProcess(tmp_path, CFG, batching=False)
