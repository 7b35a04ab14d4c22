"""Show things to the learner: the package's code highlighted, results as tables (never as printed text)."""

from __future__ import annotations

import inspect

from IPython.display import Code, Markdown, display


def source(*objects: object) -> str:
    """The source of functions, classes or methods, one after another."""
    return "\n\n".join(inspect.getsource(obj).rstrip() for obj in objects)  # type: ignore[arg-type]


def show(*objects: object) -> None:
    """Display their source, syntax-highlighted in Jupyter and in the book."""
    display(Code(source(*objects), language="python"))


def markdown_table(rows: list[dict[str, object]]) -> str:
    """A Markdown table: one row per dict, the first dict's keys as the header."""
    if not rows:
        raise ValueError("markdown_table needs at least one row")
    header = list(rows[0])
    missing = [i for i, row in enumerate(rows) if list(row) != header]
    if missing:
        raise ValueError(f"rows {missing} do not have the columns {header}")

    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(map(cell, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(row[key]) for key in header) + " |" for row in rows]
    return "\n".join(lines)


def table(rows: list[dict[str, object]]) -> None:
    """Display rows as a rendered table in Jupyter and in the book."""
    display(Markdown(markdown_table(rows)))


def summary(rows: list[tuple[str, str]], value: str = "this run") -> None:
    """Display (what was measured, its value) pairs as a two-column table."""
    table([{"measured": what, value: result} for what, result in rows])
