"""The chapter registry agrees with the notebooks, the table of contents, the README and the intro."""

import json
from pathlib import Path

import pytest
import yaml

from course_utils import chapters
from course_utils.chapters import CHAPTERS, by_notebook, by_number, intro_table, readme_table, stages

ROOT = Path(__file__).resolve().parent.parent


def test_every_notebook_is_registered_and_every_entry_has_its_notebook():
    on_disk = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert on_disk == [c.notebook for c in CHAPTERS], "notebooks/ and course_utils/chapters.py disagree"
    assert [c.number for c in CHAPTERS] == [f"{i:02d}" for i in range(1, len(CHAPTERS) + 1)]
    assert all(c.notebook.startswith(c.number + "_") for c in CHAPTERS)


def test_the_toc_lists_the_registered_chapters_in_order():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [entry["file"] for entry in toc["chapters"]]
    assert files[: len(CHAPTERS)] == [c.path.removesuffix(".ipynb") for c in CHAPTERS]


def test_each_notebook_opens_with_its_number():
    for c in CHAPTERS:
        first = json.loads((ROOT / c.path).read_text())["cells"][0]
        assert "".join(first["source"]).startswith(f"# {c.number} · "), c.notebook


def test_readme_and_intro_tables_are_the_registry_s():
    assert readme_table() in (ROOT / "README.md").read_text(), "paste `python -m course_utils.chapters tables`"
    assert intro_table() in (ROOT / "book" / "intro.md").read_text(), "paste `python -m course_utils.chapters tables`"


def test_colab_keeps_on_drive_exactly_what_a_chapter_keeps_or_needs():
    for c in CHAPTERS:
        assert c.keep_on_drive == bool(c.keeps or c.needs)
    assert by_number("04").keep_on_drive and by_number(5).keep_on_drive and not by_number("01").keep_on_drive


def test_stages_run_a_chapter_after_what_it_needs_and_a_load_test_alone():
    order = stages()
    position = {path: i for i, group in enumerate(order) for path in group}
    for c in CHAPTERS:
        for need in c.needs:
            assert position[by_number(need).path] < position[c.path]
        if c.runs_alone:
            assert order[position[c.path]] == [c.path]
    assert sum(len(g) for g in order) == len(CHAPTERS) + 1, "every chapter and the solutions, once"
    assert stages(only=(by_number("06"), by_number("04"))) == [[by_number("04").path], [by_number("06").path]]


def test_bad_input_a_missing_or_misordered_chapter_is_named(monkeypatch):
    with pytest.raises(KeyError, match="no chapter '99'"):
        by_number("99")
    assert by_notebook("notebooks/05_peft_and_quantization.ipynb").number == "05"
    broken = (CHAPTERS[4], *CHAPTERS[:4])  # 05 before the 04 it needs
    monkeypatch.setattr(chapters, "CHAPTERS", broken)
    with pytest.raises(ValueError, match="chapter 05 needs 04, which is not an earlier chapter"):
        stages()


def test_budgets_are_within_the_course_s_limits():
    for c in CHAPTERS:
        assert 0 < c.smoke_budget_s <= chapters.SMOKE_BUDGET_S and 0 < c.cpu_budget_s <= chapters.CPU_BUDGET_S


def test_a_chapter_s_budget_by_profile():
    chapter = by_number("05")
    assert (chapter.budget_s("smoke"), chapter.budget_s("cpu"), chapter.budget_s("full")) == (
        chapter.smoke_budget_s, chapter.cpu_budget_s, None
    )
