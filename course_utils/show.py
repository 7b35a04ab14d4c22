"""Show the package's code in a notebook as highlighted source, not as printed text."""

from __future__ import annotations

import inspect

from IPython.display import Code, display


def source(*objects: object) -> str:
    """The source of functions, classes or methods, one after another."""
    return "\n\n".join(inspect.getsource(obj).rstrip() for obj in objects)  # type: ignore[arg-type]


def show(*objects: object) -> None:
    """Display their source, syntax-highlighted in Jupyter and in the book."""
    display(Code(source(*objects), language="python"))
