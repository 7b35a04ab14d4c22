"""Each chapter's wall time and peak memory on the record: `make book` and `make test` print them.

`env.start_chapter`, in the first cell of every chapter, calls `start`; when COURSE_USAGE_LOG names a folder, the
kernel keeps one JSON file in it up to date after every cell (and as it exits): the chapter, seconds since it started,
peak resident memory and, with a GPU, peak GPU memory. After every cell, because a test runner may kill the
kernel rather than let it exit. `table` turns the folder into the summary the build prints.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import resource
import sys
import time
from pathlib import Path

import torch

LOG_VARIABLE = "COURSE_USAGE_LOG"


def peak_rss_mib() -> float:
    """This process's peak resident memory, MiB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def record(title: str, start: float, path: Path) -> None:
    """Write one chapter's figures so far to `path`."""
    gpu = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
    line = {"chapter": title, "seconds": round(time.perf_counter() - start, 1), "peak_rss_mib": round(peak_rss_mib())}
    line["peak_gpu_mib"] = None if gpu is None else round(gpu)
    path.write_text(json.dumps(line) + "\n", encoding="utf-8")


def start(title: str) -> None:
    """Keep this chapter's time and memory in COURSE_USAGE_LOG/<pid>.json, if the variable is set."""
    folder = os.environ.get(LOG_VARIABLE, "").strip()
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    begin, path = time.perf_counter(), Path(folder) / f"{os.getpid()}.json"

    def update(*_) -> None:
        record(title, begin, path)

    update()
    atexit.register(update)
    try:
        ipython = get_ipython()  # defined inside a notebook's kernel
    except NameError:
        return
    ipython.events.register("post_run_cell", update)


def budget_of(title: str, profile: str | None) -> int | None:
    """The registry's time budget of the chapter named in `title` ("Chapter 04 · ..."), in `profile`."""
    from course_utils.chapters import by_number

    match = re.search(r"\b(\d\d)\b", title)
    if profile is None or match is None:
        return None
    try:
        return by_number(match.group(1)).budget_s(profile)
    except KeyError:
        return None


def table(log: Path, profile: str | None = None) -> str:
    """The log folder as a plain-text table, one chapter per row, and the totals; with `profile`, each chapter's
    budget from course_utils.chapters and a flag on those over it (a benchmark to read, not a failing test)."""
    log = Path(log)
    files = sorted(log.glob("*.json")) if log.is_dir() else []
    rows = sorted((json.loads(f.read_text(encoding="utf-8")) for f in files), key=lambda r: r["chapter"])
    if not rows:
        return f"no chapter was executed (all cached, or {LOG_VARIABLE} unset): {log}"
    width = max(len(r["chapter"]) for r in rows)
    lines = [f"{'chapter':<{width}}  {'seconds':>7}  {'budget':>6}  {'peak RSS MiB':>12}  {'peak GPU MiB':>12}"]
    over = []
    for r in rows:
        gpu = "-" if r["peak_gpu_mib"] is None else f"{r['peak_gpu_mib']:,}"
        budget = budget_of(r["chapter"], profile)
        flag = "  OVER BUDGET" if budget is not None and r["seconds"] > budget else ""
        over += [r["chapter"]] if flag else []
        shown = "-" if budget is None else str(budget)
        lines.append(
            f"{r['chapter']:<{width}}  {r['seconds']:>7.0f}  {shown:>6}  {r['peak_rss_mib']:>12,}  {gpu:>12}{flag}"
        )
    total = sum(r["seconds"] for r in rows)
    lines.append(f"{'all':<{width}}  {total:>7.0f}  ({total / 60:.1f} minutes of chapter time)")
    if over:
        lines.append(f"over their {profile} budget (course_utils/chapters.py): {', '.join(over)}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None))
