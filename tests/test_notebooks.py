"""The notebooks as files: stored stripped, listed in the book, set up for Colab, making asserts."""

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
SOLUTIONS = ROOT / "notebooks" / "solutions.ipynb"
BOOK_PAGES = ("design_notes", "glossary", "references")


def code_cells(path: Path) -> list[str]:
    return ["".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no numbered chapters"


def test_notebooks_are_stored_without_outputs():
    for path in [*NOTEBOOKS, SOLUTIONS]:
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                assert not cell["outputs"] and cell["execution_count"] is None, f"{path.name}: strip outputs"


def test_toc_lists_intro_then_every_chapter_in_order():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    assert toc["root"] == "book/intro"
    files = [c["file"] for c in toc["chapters"]]
    assert files[: len(NOTEBOOKS)] == [f"notebooks/{p.stem}" for p in NOTEBOOKS]
    assert files[len(NOTEBOOKS)] == "notebooks/solutions", "the solutions follow the chapters"
    assert files[len(NOTEBOOKS) + 1 :] == [f"book/{name}" for name in BOOK_PAGES], "reference pages follow"


def test_first_cell_sets_up_colab_from_the_configured_repository_and_prints_the_banner():
    url = CONFIG["repository"]["url"]
    for path in NOTEBOOKS:
        first = code_cells(path)[0]
        assert '"google.colab" in sys.modules' in first, path.name
        urls = re.findall(r"https://github\.com/[^\s\"]+", first)
        assert urls == [url], f"{path.name}: use repository.url of _config.yml"
        assert "print(banner(" in first, f"{path.name}: the first cell prints profile, device and versions"


def test_every_notebook_checks_its_claims():
    for path in NOTEBOOKS:
        asserts = sum(len(re.findall(r"^\s*assert ", cell, flags=re.MULTILINE)) for cell in code_cells(path))
        assert asserts >= 3, f"{path.name}: the executor fails only on errors, so claims must be asserts"


def test_book_builds_offline_math_and_executes_with_cache_by_default():
    assert CONFIG["execute"]["execute_notebooks"] == "cache"
    assert "sphinx-mathjax-offline" in CONFIG["sphinx"]["extra_extensions"]
    assert not CONFIG["sphinx"]["config"]["mathjax_path"].startswith("http")


def test_code_is_shown_highlighted_never_printed_as_text():
    for path in NOTEBOOKS:
        for cell in code_cells(path):
            assert "getsource" not in cell, f"{path.name}: show(obj) displays highlighted code"


def test_exercises_leave_the_answer_to_the_learner_and_link_their_solution():
    solutions = "\n".join(code_cells(SOLUTIONS))
    checked = 0
    for path in NOTEBOOKS:
        cells = json.loads(path.read_text())["cells"]
        for before, answer, check in zip(cells, cells[1:], cells[2:], strict=False):  # overlapping triples
            called = re.findall(r"exercises\.(check_\w+)\(", "".join(check["source"]))
            if not called:
                continue
            checked += 1
            assert "".join(answer["source"]).rstrip().endswith("...  # your code here"), (
                f"{path.name}: the answer cell before {called[0]} is the learner's to write"
            )
            assert "(solutions.ipynb)" in "".join(before["source"]), f"{path.name}: link {called[0]}'s solution"
            assert f"exercises.{called[0]}(" in solutions, f"the solutions page runs {called[0]} too"
    assert checked >= 9
