"""The demo page in headless Chromium highlights what the model found."""

import dataclasses

import pytest
from tiny_models import save_tiny_tagger

from course_utils import browser_check, ner, service_process
from course_utils.config import SERVE

CFG = dataclasses.replace(SERVE.pick("smoke"), max_chars=100)


def test_demo_page_highlights_entities_in_chromium(tmp_path):
    if browser_check.chromium_path() is None:
        pytest.skip("chromium is not installed (apt-get install chromium); CI installs it")
    saved = save_tiny_tagger(tmp_path / "ner-model")
    with service_process.ServiceProcess(saved, CFG, batching=True) as service:
        model, tokenizer, _ = ner.load_finetuned(saved)
        text = "Ada Lovelace met Charles Babbage in London ."
        marks = browser_check.check_demo_page(service.url, text, screenshot=tmp_path / "demo.png")
    expected = [{"text": e["text"], "type": e["type"]} for e in ner.predict(model, tokenizer, text)]
    assert marks == expected and (tmp_path / "demo.png").stat().st_size > 0
