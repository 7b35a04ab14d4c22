"""Package code shown in a notebook: highlighted HTML, the real source, no sideways scrolling."""

import functools
import json
import re
from pathlib import Path

import pytest
from IPython.display import Code

from course_utils import (
    adapters,
    attention,
    bert,
    chat,
    continual,
    distill,
    distributed,
    explain,
    export,
    fairness,
    generative_ner,
    gpt,
    layers,
    lora,
    losses,
    masking,
    memory,
    micro_batching,
    mlm,
    ner,
    ner_data,
    nsp,
    quant,
    service_app,
    sft,
    show,
    soft_prompt,
    tagging,
    train,
)
from course_utils.pretrain import pretrain

ROOT = Path(__file__).resolve().parent.parent
MODULES = {  # the name a chapter uses for each module it shows code from
    **{m.__name__.rsplit(".", 1)[1]: m for m in (attention, bert, distill, distributed, layers, losses, lora)},
    **{m.__name__.rsplit(".", 1)[1]: m for m in (masking, memory, mlm, ner, ner_data, nsp, quant, tagging)},
    **{m.__name__.rsplit(".", 1)[1]: m for m in (continual, explain, export, fairness, micro_batching, service_app)},
    "train": train,
    "gpt": gpt,
    "pretrain": pretrain,  # shown as show(pretrain): the function itself
    "chat": chat,
    "sft": sft,
    "gen_ner": generative_ner,  # imported as gen_ner by chapter 09
    "soft_prompt": soft_prompt,
    "adapters": adapters,
}


def shown_in_notebooks() -> list[object]:
    """Every object a chapter passes to show(), e.g. show(ner.fine_tune)."""
    found = []
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            for call in re.findall(r"^show\(([\w., ]+)\)", "".join(cell["source"]), flags=re.MULTILINE):
                for dotted in call.split(","):
                    module, *attrs = dotted.strip().split(".")
                    found.append(functools.reduce(getattr, attrs, MODULES[module]))
    return found


PAGE_COLUMNS = 88


def test_source_is_the_code_itself():
    text = show.source(losses.softmax, losses.log_softmax)
    assert text.startswith("def softmax(") and "\n\ndef log_softmax(" in text


def test_shown_code_is_highlighted_html(capsys, monkeypatch):
    shown = []
    monkeypatch.setattr(show, "display", shown.append)
    show.show(losses.softmax)
    (code,) = shown
    assert isinstance(code, Code) and "<span" in code._repr_html_()


def test_code_the_chapters_show_fits_the_page():
    shown = shown_in_notebooks()
    assert len(shown) >= 10, "the chapters show the package's central functions"
    for obj in shown:
        long = [line for line in show.source(obj).splitlines() if len(line) > PAGE_COLUMNS]
        assert not long, f"{obj.__qualname__}: {len(long)} lines over {PAGE_COLUMNS} columns: {long[0]}"


def test_tables_are_markdown_with_escaped_cells(monkeypatch):
    rows = [{"measure": "test F1", "this run": "0.742"}, {"measure": "a | b", "this run": 3}]
    assert show.markdown_table(rows).splitlines() == [
        "| measure | this run |",
        "|---|---|",
        "| test F1 | 0.742 |",
        "| a \\| b | 3 |",
    ]
    shown = []
    monkeypatch.setattr(show, "display", shown.append)
    show.table(rows)
    assert shown[0].data == show.markdown_table(rows)
    with pytest.raises(ValueError, match=r"rows \[1\]"):
        show.markdown_table([{"a": 1}, {"b": 2}])
