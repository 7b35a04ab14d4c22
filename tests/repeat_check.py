"""Seeded runs repeat: compare the numbers two executions of the same notebooks printed.

Usage: python tests/repeat_check.py FIRST_DIR SECOND_DIR NOTEBOOK_NAME...
Both folders hold executed notebooks (written by the nbsave plugin). Every number a code cell printed,
displayed or returned must be the same in both runs, except on lines about time or speed (they measure the
machine, not the seed) and progress bars. Exits non-zero and names each cell and line that differ.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?")
# a line that measures the machine: times, rates, speed-ups, memory, free ports, and tqdm's progress bars
MACHINE = re.compile(
    r"\d\s*(?:ms|µs|us|s|sec|seconds?|min|minutes?|h)\b|/s\b|\bper second\b|it/s|s/it|\d(?:\.\d+)?x\b|×|"
    r"faster|slower|speed|latency|throughput|MiB|MB\b|GB\b|GiB|memory|RSS|TFLOP|GFLOP|\|[█▏▎▍▌▋▊▉ ]*\||"
    r"\b(?:ms|minutes?|seconds|time)\b|\bs/\w+|,\s*s\s*\||127\.0\.0\.1:\d+|localhost:\d+|\bport\b",
    re.IGNORECASE,
)


def printed_lines(path: Path) -> list[tuple[int, str]]:
    """(code cell number, line) of everything the notebook's code cells showed as text."""
    found = []
    cells = [c for c in json.loads(path.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
    for number, cell in enumerate(cells):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            text = output.get("text") or data.get("text/markdown") or data.get("text/plain") or ""
            text = "".join(text) if isinstance(text, list) else text
            if "text/html" in data and "text/markdown" not in data:
                continue  # highlighted code (show) and rich tables also come as markdown or plain text
            found += [(number, line) for line in text.replace("\r", "\n").splitlines()]
    return found


def numbers(line: str) -> list[str]:
    """The numbers in a line, as written."""
    return NUMBER.findall(line)


def comparable(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """The lines that do not measure the machine: a table whose header does is skipped whole."""
    kept, skipping = [], False
    for i, (n, line) in enumerate(lines):
        is_row = line.lstrip().startswith("|")
        header = is_row and i + 1 < len(lines) and set(lines[i + 1][1].strip()) <= set("|-: ")
        if header:
            skipping = bool(MACHINE.search(line))
        elif not is_row:
            skipping = False
        if not skipping and not MACHINE.search(line):
            kept.append((n, line))
    return kept


def differences(first: Path, second: Path) -> list[str]:
    """Where the two executions of one notebook printed other numbers (lines about the machine skipped)."""
    a, b = comparable(printed_lines(first)), comparable(printed_lines(second))
    if [n for n, _ in a] != [n for n, _ in b]:
        return [f"{first.name}: the runs printed different lines (first {len(a)}, second {len(b)})"]
    return [
        f"{first.name}, code cell {n}:\n  first:  {x}\n  second: {y}"
        for (n, x), (_, y) in zip(a, b, strict=True)
        if numbers(x) != numbers(y)
    ]


def main(first_dir: str, second_dir: str, *names: str) -> int:
    problems, compared = [], 0
    for name in names:
        first, second = Path(first_dir) / name, Path(second_dir) / name
        for path in (first, second):
            if not path.is_file():
                problems.append(f"{path} is missing: run the notebooks first")
        if first.is_file() and second.is_file():
            problems += differences(first, second)
            compared += sum(1 for _, line in comparable(printed_lines(first)) if numbers(line))
    for problem in problems:
        print(problem)
    print(f"repeat check: {len(names)} notebooks run twice; {compared} lines of numbers, {len(problems)} differ")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
