"""A pytest plugin for nbval: keep each notebook's outputs as it runs and write the executed notebooks.

`make notebooks` loads it (`-p nbsave`) with COURSE_EXECUTED_NOTEBOOKS set to a folder; the smoke book is then
built from those notebooks instead of running every chapter a second time. Without the variable it does nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

_NOTEBOOKS: dict[Path, nbformat.NotebookNode] = {}  # notebook path -> the notebook nbval runs, outputs filled in


def _target() -> Path | None:
    folder = os.environ.get("COURSE_EXECUTED_NOTEBOOKS")
    return Path(folder) if folder else None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """After a cell runs, store what it printed and displayed in the notebook's copy of the cell."""
    yield
    outputs = getattr(item, "test_outputs", None)
    if _target() is None or call.when != "call" or outputs is None or not hasattr(item, "cell"):
        return
    item.cell.outputs = [nbformat.from_dict(dict(o)) for o in outputs]
    item.cell.execution_count = item.cell_num + 1
    for output in item.cell.outputs:
        if output.output_type == "execute_result":
            output.execution_count = item.cell.execution_count
    _NOTEBOOKS[Path(str(item.parent.fspath))] = item.parent.nb


def pytest_sessionfinish(session, exitstatus):
    """Write every notebook this process ran (each xdist worker writes its own)."""
    target = _target()
    if target is None:
        return
    target.mkdir(parents=True, exist_ok=True)
    for path, notebook in _NOTEBOOKS.items():
        nbformat.write(notebook, target / path.name)
