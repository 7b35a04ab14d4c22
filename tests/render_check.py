"""Open the built book in headless Chromium with the network off: the math renders, and no
chapter's code scrolls sideways on a laptop screen.

Usage: python tests/render_check.py _build/smoke/_build/html
Writes render-check.png beside the html folder. Exits non-zero with a reason when the check fails.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from course_utils.browser_check import CHROMIUM_FLAGS

PAGE = "notebooks/01_environment_check.html"
CHAPTERS = "notebooks/*.html"  # the numbered chapters and the solutions page
WINDOW_WIDTH = 1440  # a laptop screen: the theme's article column is at its widest (88 columns of code)


def chromium_command(url: str, *extra: str) -> list[str]:
    """Headless Chromium with every network path closed; under `unshare -n` where permitted."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise FileNotFoundError("chromium is not installed: apt-get install chromium (Debian) to run this check")
    flags = [
        "--headless",
        *CHROMIUM_FLAGS,
        "--proxy-server=127.0.0.1:9",  # any http(s) request would fail: only file:// can load
        f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-')}",
        "--virtual-time-budget=15000",
        f"--window-size={WINDOW_WIDTH},1600",
        *extra,
        url,
    ]
    can_unshare = subprocess.run(["unshare", "-n", "true"], check=False, capture_output=True).returncode == 0
    no_network = ["unshare", "-n"] if can_unshare else []
    return [*no_network, browser, *flags]


# Measures, after layout, every code block of a chapter's cells: input code must not scroll sideways.
OVERFLOW_SCRIPT = """
<script>
window.addEventListener("load", () => {
  const wide = [];
  document.querySelectorAll("div.cell_input pre").forEach((pre, i) => {
    if (pre.scrollWidth > pre.clientWidth + 1) {
      const line = pre.textContent.split("\\n").reduce((a, b) => (b.length > a.length ? b : a), "");
      wide.push(`block ${i}: ${pre.scrollWidth}px in ${pre.clientWidth}px: ${line.trim().slice(0, 60)}`);
    }
  });
  document.body.setAttribute("data-overflow", JSON.stringify(wide));
});
</script>
"""


def wide_code_blocks(page: Path) -> list[str]:
    """Input code blocks of `page` that scroll sideways in a WINDOW_WIDTH-pixel window."""
    probe = page.with_name(f"_overflow_probe_{page.name}")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", OVERFLOW_SCRIPT + "</body>"),
                     encoding="utf-8")
    try:
        dom = subprocess.run(chromium_command(probe.resolve().as_uri(), "--dump-dom"), check=False,
                             capture_output=True, text=True, timeout=180).stdout
    finally:
        probe.unlink()
    found = re.search(r'data-overflow="([^"]*)"', dom)
    if found is None:
        raise RuntimeError(f"{page}: the overflow probe did not run (no data-overflow in the DOM)")
    return json.loads(html.unescape(found.group(1)))


TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)+\|?\s*$", re.MULTILINE)  # |---|---|
PIPE_PARAGRAPH = re.compile(r"<p>\s*\|[^<]*\|[^<]*\|")  # a table that stayed text: "| a | b | |---|---| ..."


def markdown_tables(notebook: Path) -> int:
    """GFM tables in a notebook: in its Markdown cells and in the Markdown its code cells displayed."""
    count = 0
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        texts = ["".join(cell["source"])] if cell["cell_type"] == "markdown" else [
            "".join(out.get("data", {}).get("text/markdown", "")) for out in cell.get("outputs", [])
        ]
        count += sum(len(TABLE_RULE.findall(text)) for text in texts)
    return count


def unrendered_tables(page: Path, notebook: Path | None) -> list[str]:
    """What is wrong with `page`'s tables: paragraphs of pipes, or fewer <table>s than its notebook has tables."""
    source = page.read_text(encoding="utf-8")
    problems = [f"a paragraph of pipes: {m.group()[:70]}..." for m in PIPE_PARAGRAPH.finditer(source)]
    if notebook is not None and notebook.is_file():
        expected, found = markdown_tables(notebook), source.count("<table")
        if found < expected:
            problems.append(f"{expected} Markdown tables in {notebook.name}, {found} <table> elements in the page")
    return problems


def main(html_dir: str) -> None:
    """Render PAGE, then assert MathJax (the local copy) typeset every math element."""
    page = Path(html_dir) / PAGE
    if not page.is_file():
        sys.exit(f"{page} does not exist: build the book first (make book-smoke)")
    source = page.read_text(encoding="utf-8")
    scripts = re.findall(r'<script[^>]+src="([^"]*mathjax[^"]*)"', source, flags=re.IGNORECASE)
    assert scripts and all(not s.startswith("http") for s in scripts), f"MathJax must be local, found {scripts}"
    local_js = (page.parent / scripts[0].split("?")[0]).resolve()
    assert local_js.is_file(), f"{local_js} is missing from the build"
    math_in_source = len(re.findall(r'class="math notranslate nohighlight"', source))
    assert math_in_source > 0, f"{page} has no math to check"

    url = page.resolve().as_uri()
    dom = subprocess.run(
        chromium_command(url, "--dump-dom"), check=False, capture_output=True, text=True, timeout=180
    ).stdout
    rendered = len(re.findall(r"<mjx-container", dom))
    shot = Path(html_dir).parent / "render-check.png"
    subprocess.run(
        chromium_command(url, f"--screenshot={shot}"), check=False, capture_output=True, timeout=180, cwd=os.getcwd()
    )
    print(
        f"{PAGE}: {math_in_source} math elements in the HTML, {rendered} typeset by MathJax ({scripts[0]}); "
        f"screenshot {shot}"
    )
    assert rendered >= math_in_source, "MathJax did not typeset the page's math with the network off"
    assert shot.is_file() and shot.stat().st_size > 10_000, "no screenshot was written"

    chapters = sorted(Path(html_dir).glob(CHAPTERS))
    assert chapters, f"no chapter pages under {html_dir}"
    executed = Path(html_dir).parents[1] / "src" / "notebooks"  # the smoke book's executed notebooks
    tables = {p.name: found for p in chapters if (found := unrendered_tables(p, executed / f"{p.stem}.ipynb"))}
    print(f"{len(chapters)} chapters: {sum(p.read_text(encoding='utf-8').count('<table') for p in chapters)} tables "
          f"rendered, {sum(map(len, tables.values()))} problems")
    assert not tables, "Markdown tables that did not become HTML tables:\n" + "\n".join(
        f"  {name}: {problem}" for name, problems in tables.items() for problem in problems)
    wide = {page.name: blocks for page in chapters if (blocks := wide_code_blocks(page))}
    print(f"{len(chapters)} chapters at {WINDOW_WIDTH} px: "
          f"{sum(map(len, wide.values()))} code blocks scroll sideways")
    assert not wide, "code wider than the page (keep notebook lines within 88 columns):\n" + "\n".join(
        f"  {name}: {block}" for name, blocks in wide.items() for block in blocks)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "_build/html")
