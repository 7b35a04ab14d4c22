"""The NER model behind HTTP: a FastAPI app with micro-batching, clear 4xx errors and a demo page.

Run it as its own process (what `ServiceProcess` does):
    python -m course_utils.serve --model artifacts/cpu/ner-model --port 8000
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from course_utils.config import ServeConfig

DEMO_PAGE = Path(__file__).with_name("demo.html")
BACKENDS = (
    "torch",
    "torch-int8",
    "onnx",
)  # PyTorch as trained, torchao int8, an ONNX Runtime file


# --- micro-batching ---------------------------------------------------------------------------------------


async def collect_batch(
    queue: asyncio.Queue, max_batch: int, max_wait_s: float
) -> list:
    """Wait for one item, then take more until there are max_batch or max_wait_s has passed since the first."""
    batch = [await queue.get()]
    deadline = asyncio.get_running_loop().time() + max_wait_s
    while len(batch) < max_batch:
        if not queue.empty():  # already waiting: take it without a timer
            batch.append(queue.get_nowait())
            continue
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            break
        try:
            batch.append(await asyncio.wait_for(queue.get(), left))
        except TimeoutError:
            break
    return batch


class MicroBatcher:
    """Runs `run_batch` on the texts that arrive together; one batch at a time, off the event loop."""

    def __init__(
        self, run_batch: Callable[[list[str]], list], max_batch: int, max_wait_ms: float
    ) -> None:
        if max_batch < 1 or max_wait_ms < 0:
            raise ValueError(
                f"max_batch must be >= 1 and max_wait_ms >= 0, got {max_batch} and {max_wait_ms}"
            )
        self.run_batch, self.max_batch, self.max_wait_s = (
            run_batch,
            max_batch,
            max_wait_ms / 1000,
        )
        self.sizes: Counter = (
            Counter()
        )  # batch size -> how many batches ran at that size
        self._executor = ThreadPoolExecutor(
            1, thread_name_prefix="model"
        )  # the model is not thread-safe
        self._queue: asyncio.Queue | None = None
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._serve())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def submit(self, text: str):
        """The result for one text, computed in whichever batch it joins."""
        if self._queue is None:
            raise RuntimeError(
                "the batcher is not running: await start() first "
                "(the app's lifespan does)"
            )
        future = asyncio.get_running_loop().create_future()
        await self._queue.put((text, future))
        return await future

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await collect_batch(self._queue, self.max_batch, self.max_wait_s)
            self.sizes[len(batch)] += 1
            try:
                results = await loop.run_in_executor(
                    self._executor, self.run_batch, [t for t, _ in batch]
                )
            except Exception as error:  # each request gets it; the loop goes on
                results = [error] * len(batch)
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():  # the client went away
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)


# --- the model behind the service -------------------------------------------------------------------------


@dataclass
class Tagger:
    """A model and its tokenizer; `run` tags a batch of texts."""

    model: object
    tokenizer: object
    backend: str
    metrics: dict

    @property
    def name(self) -> str:
        """The encoder's name ("all-MiniLM-L6-v2", "bert-base-cased") or, for an override, its location."""
        from course_utils.resources import resolve_model

        encoder = resolve_model(self.metrics.get("profile"))
        return encoder.name or str(self.metrics.get("encoder"))

    def run(self, texts: list[str]) -> list[list[dict]]:
        from course_utils import ner

        return ner.predict_batch(self.model, self.tokenizer, texts)


def load_tagger(
    model_dir: str | Path, backend: str = "torch", onnx_path: str | Path | None = None
) -> Tagger:
    """Chapter 04's saved model, run by PyTorch, by PyTorch with torchao int8, or from an ONNX file."""
    from course_utils import ner

    if backend not in BACKENDS:
        raise ValueError(f"backend {backend!r} is not one of {BACKENDS}")
    model, tokenizer, metrics = ner.load_finetuned(Path(model_dir))
    if backend == "torch":
        from course_utils.device import pick_device

        model = model.to(pick_device()).eval()
    elif backend == "torch-int8":
        from course_utils import quant

        model = quant.quantize_int8(model.eval())
    else:
        from course_utils.export import OrtModel

        if onnx_path is None:
            raise ValueError(
                "backend 'onnx' needs onnx_path: the file export.export_onnx wrote"
            )
        model = OrtModel(onnx_path, model.config)
    return Tagger(model, tokenizer, backend, metrics)


# --- the HTTP app -----------------------------------------------------------------------------------------

EXAMPLE = '{"text": "Ada Lovelace was born in London."}'


class NERRequest(BaseModel):
    """The body of POST /ner: one text, nothing else."""

    model_config = ConfigDict(
        extra="forbid", strict=True
    )  # no stray fields, no 5 for "5"
    text: str


def _kind(error: dict) -> str:
    """The Python type name of the value pydantic refused."""
    return type(error["input"]).__name__


def _error_message(error: dict) -> tuple[int, str]:
    """(status, message) for one of pydantic's validation errors of a /ner body."""
    kind, where = error["type"], error.get("loc", ())
    if kind == "json_invalid":
        return (
            400,
            f"the body is not valid JSON ({error['ctx']['error']}); send {EXAMPLE}",
        )
    if kind == "missing":
        return 422, f'the field "text" is missing; send {EXAMPLE}'
    if kind == "extra_forbidden":
        return (
            422,
            f'unknown field "{where[-1]}": the only field is "text"; send {EXAMPLE}',
        )
    if kind == "string_type":
        return (
            422,
            f'"text" must be a string, got {_kind(error)}; send {EXAMPLE}',
        )
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return (
            422,
            f"the body must be a JSON object, got {_kind(error)}; send {EXAMPLE}",
        )
    return 422, f"{'.'.join(map(str, where))}: {error['msg']}"


def create_app(tagger: Tagger, cfg: ServeConfig, max_batch: int, max_wait_ms: float):
    """The service: POST /ner, GET /health, GET /info, and the demo page at /."""
    from fastapi import FastAPI, HTTPException, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, JSONResponse

    from course_utils import __version__, ner

    batcher = MicroBatcher(tagger.run, max_batch, max_wait_ms)

    @asynccontextmanager
    async def lifespan(app):
        await batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(title="NER service", version=__version__, lifespan=lifespan)

    @app.exception_handler(RequestValidationError)
    async def invalid_body(request: Request, exc: RequestValidationError):
        errors = sorted(
            exc.errors(), key=lambda e: e["type"] != "extra_forbidden"
        )  # a misspelt field first
        status, message = _error_message(errors[0])
        return JSONResponse({"error": message}, status_code=status)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception):
        return JSONResponse(
            {"error": f"the model failed on this text: {type(exc).__name__}: {exc}"},
            500,
        )

    @app.post("/ner")
    async def tag(body: NERRequest) -> dict:
        if not body.text.strip():
            raise HTTPException(
                422, 'the text is empty; send at least one word in "text"'
            )
        if len(body.text) > cfg.max_chars:
            raise HTTPException(
                413,
                f"the text has {len(body.text):,} characters and the limit is {cfg.max_chars:,}; "
                "split it into paragraphs and send each",
            )
        try:  # more sub-tokens than the model has positions: say so, never cut it short
            ner.check_text(tagger.model, tagger.tokenizer, body.text)
        except ValueError as err:
            raise HTTPException(413, str(err)) from err
        return {"entities": await batcher.submit(body.text)}

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok"}

    @app.get("/info")
    async def info() -> dict:
        return {
            "model": tagger.name,
            "profile": tagger.metrics.get("profile"),
            "backend": tagger.backend,
            "version": __version__,
            "labels": list(tagger.model.config.id2label.values()),
            "test_f1": tagger.metrics.get("test_f1"),
            "max_chars": cfg.max_chars,
            "max_batch": max_batch,
            "max_wait_ms": max_wait_ms,
            "batch_sizes": {str(k): v for k, v in sorted(batcher.sizes.items())},
        }

    @app.get("/", response_class=HTMLResponse)
    async def demo() -> str:
        return DEMO_PAGE.read_text(encoding="utf-8").replace(
            "{{MAX_CHARS}}", str(cfg.max_chars)
        )

    return app


# --- the service as its own process -----------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServiceProcess:
    """`python -m course_utils.serve ...` in the background; `url` once /health answers; `stop()` ends it."""

    def __init__(
        self,
        model_dir: str | Path,
        cfg: ServeConfig,
        batching: bool,
        backend: str | None = None,
        onnx_path: str | Path | None = None,
        timeout_s: float = 120,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = Path(tempfile.mkstemp(prefix="ner-service-", suffix=".log")[1])
        command = [
            sys.executable,
            "-m",
            "course_utils.serve",
            "--model",
            str(model_dir),
            "--port",
            str(self.port),
            "--backend",
            backend or cfg.backend,
            "--max-chars",
            str(cfg.max_chars),
            "--max-batch",
            str(cfg.max_batch if batching else 1),
            "--max-wait-ms",
            str(cfg.max_wait_ms if batching else 0),
        ]
        if cfg.threads:
            command += ["--threads", str(cfg.threads)]
        if onnx_path is not None:
            command += ["--onnx", str(onnx_path)]
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy()
            )
        atexit.register(
            self.stop
        )  # and the service exits by itself when this process is gone
        self._wait_ready(timeout_s)

    def _wait_ready(self, timeout_s: float) -> None:
        import httpx

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the service exited with code {self.process.returncode}:\n{self.logs()}"
                )
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(
            f"the service did not answer /health within {timeout_s:.0f} s:\n{self.logs()}"
        )

    def logs(self) -> str:
        """What the service printed (the last 3,000 characters)."""
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> ServiceProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


# --- the demo page in a real browser -----------------------------------------------------------------------

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


def _exit_with_parent() -> None:
    """End this process when the one that started it ends (a notebook kernel killed mid-cell, say)."""
    import threading

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    """Load the model and serve it on 127.0.0.1 until stopped."""
    import dataclasses

    import torch
    import uvicorn

    from course_utils.config import SERVE

    parser = argparse.ArgumentParser(
        description="Serve the fine-tuned NER model over HTTP."
    )
    parser.add_argument(
        "--model",
        required=True,
        help="the folder chapter 04 saved (artifacts/<profile>/ner-model)",
    )
    parser.add_argument("--backend", choices=BACKENDS, default=SERVE.pick().backend)
    parser.add_argument("--onnx", help="the ONNX file, for --backend onnx")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--max-batch", type=int, default=SERVE.pick().max_batch, help="1: no batching"
    )
    parser.add_argument("--max-wait-ms", type=float, default=SERVE.pick().max_wait_ms)
    parser.add_argument("--max-chars", type=int, default=SERVE.pick().max_chars)
    parser.add_argument(
        "--threads", type=int, help="PyTorch's CPU threads (default: PyTorch's choice)"
    )
    args = parser.parse_args(argv)
    _exit_with_parent()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = dataclasses.replace(SERVE.pick(), max_chars=args.max_chars)
    tagger = load_tagger(args.model, args.backend, args.onnx)
    app = create_app(tagger, cfg, args.max_batch, args.max_wait_ms)
    uvicorn.run(
        app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False
    )


if __name__ == "__main__":
    main()
