"""Execute the chapters as `make notebooks` does: every cell, in order, stage by stage.

Usage: python tests/run_notebooks.py OUT_DIR [NOTEBOOK ...]   (the Makefile sets the profile and the network guard)
It runs the notebooks named (without any: every chapter and the solutions page) in the stages of course_utils.chapters
(a chapter after those it needs; the notebooks of a stage side by side, two at a time, each on one thread;
a chapter that runs alone, alone). Each executed notebook, outputs kept, is written to OUT_DIR: the smoke
book is built from them. A cell that raises fails its notebook; the last line is "N passed, N failed".
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from course_utils.chapters import SOLUTIONS, by_notebook, stages  # noqa: E402

CELL_TIMEOUT_S = 600  # one cell; a chapter's budget is checked in the usage table
PARALLEL = 2  # notebooks of one stage at a time: one per core


def execute(path: Path, out_dir: Path) -> tuple[Path, float, str | None]:
    """Run one notebook in a fresh kernel from its own folder; (path, seconds, error or None)."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    start, error = time.perf_counter(), None
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as err:
        error = str(err)
    except Exception as err:  # the kernel did not start, a notebook that is not JSON ...: this notebook fails
        error = f"{type(err).__name__}: {err}"
    nbformat.write(notebook, out_dir / path.name)  # failed or not: the outputs show where it stopped
    return path, time.perf_counter() - start, error


def budget_note(path: Path, seconds: float) -> str:
    """' (over its smoke budget of N s)' when a chapter took longer than the registry allows in this profile."""
    profile = os.environ.get("COURSE_PROFILE", "smoke")
    budget = None if path.name == SOLUTIONS else by_notebook(path.name).budget_s(profile)
    return f"  (over its {profile} budget of {budget} s)" if budget is not None and seconds > budget else ""


def main(argv: list[str]) -> int:
    """Run the stages (or the notebooks named), print one line a notebook and the total."""
    out_dir = Path(argv[0])
    out_dir.mkdir(parents=True, exist_ok=True)
    names = [Path(p).name for p in argv[1:]]
    if len(names) != len(set(names)):
        raise SystemExit(f"name each notebook once: {argv[1:]}")
    chapters = tuple(by_notebook(n) for n in names if n != SOLUTIONS) or None  # the registry's order
    groups = [[ROOT / p for p in group] for group in stages(chapters)]
    if names and SOLUTIONS in names:
        groups = [*groups, [ROOT / "notebooks" / SOLUTIONS]] if chapters else [[ROOT / "notebooks" / SOLUTIONS]]
    passed, failed = 0, []
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # two notebooks on two cores: one thread each
    for group in groups:
        with ThreadPoolExecutor(max_workers=min(PARALLEL, len(group))) as pool:
            for path, seconds, error in pool.map(lambda p: execute(p, out_dir), group):
                status = "FAILED" if error else "passed"
                print(f"{path.name:42s} {status}  {seconds:6.0f} s{budget_note(path, seconds)}", flush=True)
                if error:
                    failed.append(path.name)
                    print(error[-4000:], file=sys.stderr)
                else:
                    passed += 1
        if failed:  # later stages read what these chapters save
            break
    print(f"{passed} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
