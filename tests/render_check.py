"""Open a built book page in headless Chromium with the network off and check the math rendered.

Usage: python tests/render_check.py _build/smoke/_build/html
Writes render-check.png beside the html folder. Exits non-zero with a reason when the check fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PAGE = "notebooks/01_environment_check.html"


def chromium_command(url: str, *extra: str) -> list[str]:
    """Headless Chromium with every network path closed; under `unshare -n` where permitted."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise FileNotFoundError("chromium is not installed: apt-get install chromium (Debian) to run this check")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--proxy-server=127.0.0.1:9",  # any http(s) request would fail: only file:// can load
        f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-')}",
        "--virtual-time-budget=15000",
        "--window-size=1200,1600",
        *extra,
        url,
    ]
    can_unshare = subprocess.run(["unshare", "-n", "true"], check=False, capture_output=True).returncode == 0
    no_network = ["unshare", "-n"] if can_unshare else []
    return [*no_network, browser, *flags]


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


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "_build/html")
