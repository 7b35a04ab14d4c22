"""Every paper a chapter cites ("Author et al., 2019", "Author and Other (2019)") has an entry in book/references.md."""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CITE = re.compile(r"\b([A-Z][a-zA-Z\-]+)(?:\s+et\s+al\.?|\s+(?:and|&)\s+[A-Z][a-zA-Z\-]+)?,?\s+\(?((?:19|20)\d\d)\)?")
NOT_AUTHORS = {"Chapter", "Python", "CoNLL", "In", "Since"}  # capitalised words a year can follow


def citations() -> dict[tuple[str, str], str]:
    """(surname, year) -> the first notebook citing it."""
    found = {}
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            for match in CITE.finditer("".join(cell["source"])):
                if match.group(1) not in NOT_AUTHORS:
                    found.setdefault((match.group(1), match.group(2)), path.name)
    return found


def entries() -> list[str]:
    """The references page's entries, one string each."""
    text = (ROOT / "book" / "references.md").read_text(encoding="utf-8")
    return [e.replace("\n", " ") for e in re.split(r"\n(?=- )", text) if e.startswith("- ")]


def test_every_citation_has_an_entry_of_the_same_year():
    listed = entries()
    found = citations()
    assert len(found) >= 20
    missing = [
        f"{name} {year} ({where})"
        for (name, year), where in sorted(found.items())
        if not any(re.search(rf"\b{name},", e) and f"({year})" in e for e in listed)
    ]
    assert not missing, f"cited in the chapters, missing from book/references.md: {missing}"


def test_each_entry_is_listed_once():
    heads = [e.split(")")[0] for e in entries()]
    assert len(heads) == len(set(heads)), "a paper is listed twice"
