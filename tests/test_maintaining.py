"""MAINTAINING.md stays true: every repository path it names exists, and every make target it names is one."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEXT = (ROOT / "MAINTAINING.md").read_text(encoding="utf-8")


def test_every_path_it_names_exists():
    named = set(re.findall(r"`([\w./-]+\.(?:py|ipynb|md|yml|toml|txt|sh))`", TEXT))
    named |= set(re.findall(r"`((?:course_utils|tests|notebooks|book|data)/[\w./-]+)`", TEXT))
    templates = {p for p in named if "NN" in p or "<" in p}
    assert len(named - templates) >= 10
    missing = [p for p in sorted(named - templates) if not (ROOT / p).exists()]
    assert not missing, f"MAINTAINING.md names paths that do not exist: {missing}"


def test_every_make_target_it_names_exists():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([\w-]+):", makefile, flags=re.MULTILINE))
    named = set(re.findall(r"`make ([\w-]+)`", TEXT)) | set(re.findall(r"`([\w-]+)` \(", TEXT)) & targets
    assert {"book", "test", "tools", "unit", "notebooks"} <= named
    assert named <= targets, f"not make targets: {sorted(named - targets)}"
