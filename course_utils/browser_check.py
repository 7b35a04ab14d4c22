"""The demo page checked in a real browser: headless Chromium types a text, submits it and reads the marks."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

CHROMIUM_FLAGS = [  # headless, and nothing but 127.0.0.1: no update checks, no sync, no QUIC
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    """The Chromium the browser check drives (Debian's `chromium` package), or None."""
    import shutil

    return shutil.which("chromium") or shutil.which("chromium-browser")


def check_demo_page(
    url: str, text: str, screenshot: str | Path | None = None
) -> list[dict]:
    """Type `text` into the demo page in headless Chromium, submit, and return the marks shown: [{'text', 'type'}]."""
    # Playwright's sync API refuses a thread with a running event loop (Jupyter's): use a thread of its own
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(_check_demo_page, url, text, screenshot).result()


def _check_demo_page(url: str, text: str, screenshot: str | Path | None) -> list[dict]:
    """check_demo_page, in a thread without an event loop."""
    from playwright.sync_api import sync_playwright

    browser_path = chromium_path()
    if browser_path is None:
        raise FileNotFoundError(
            "chromium is not installed: apt-get install chromium (Debian) to run this check"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=browser_path, args=CHROMIUM_FLAGS
        )
        try:
            page = browser.new_page(viewport={"width": 900, "height": 420})
            page.goto(url)
            page.fill("#text", text)
            page.click("#submit")
            page.wait_for_function(
                "document.querySelector('#result').childNodes.length > 0 || "
                "document.querySelector('#error').textContent.length > 0",
                timeout=30_000,
            )
            if error := page.text_content("#error"):
                raise RuntimeError(f"the demo page shows an error: {error}")
            marks = page.eval_on_selector_all(
                "#result mark",
                "ms => ms.map(m => ({text: m.firstChild.textContent, type: m.className}))",
            )
            if screenshot is not None:
                page.screenshot(path=str(screenshot), full_page=True)
            return marks
        finally:
            browser.close()
