"""The NER service's FastAPI app: POST /ner with a clear 4xx for each bad input, /health, /info, the demo page."""

from __future__ import annotations

import copy
from contextlib import asynccontextmanager
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from course_utils.backends import Tagger
from course_utils.config import ServeConfig
from course_utils.micro_batching import MicroBatcher

DEMO_PAGE = Path(__file__).with_name("demo.html")
EXAMPLE = '{"text": "Ada Lovelace was born in London."}'
BYTES_PER_CHAR = 12  # the most one character of "text" takes in JSON: an emoji escaped as a \uXXXX\uXXXX pair


def body_limit(max_chars: int) -> int:
    """The largest /ner body read at all: a text of max_chars characters, each escaped, and the JSON around it."""
    return BYTES_PER_CHAR * max_chars + 1024


class BodyLimit:
    """ASGI middleware: a request body over `limit` bytes gets a 413 before it is read, let alone parsed."""

    def __init__(self, app, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await self._too_large(send, int(declared))
        seen, refused, started = 0, False, False

        async def counted():  # a body without Content-Length (chunked) is counted as it arrives
            nonlocal seen, refused
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit and not refused:
                refused = True
                if not started:  # no answer begun yet: this one is the 413
                    await self._too_large(send, seen)
                return {"type": "http.disconnect"}  # the app stops reading: the client got its answer
            return message

        async def unless_refused(message) -> None:
            nonlocal started
            if not refused:  # after the 413, what the app would answer goes nowhere
                started = started or message["type"] == "http.response.start"
                await send(message)

        await self.app(scope, counted, unless_refused)

    async def _too_large(self, send, size: int) -> None:
        import json

        body = json.dumps({"error": f"the body has {size:,} bytes or more and the limit is {self.limit:,}: "
                                    "send one paragraph per request"}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   (b"connection", b"close")]  # the rest of the body is not worth reading
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


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
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from course_utils import __version__, ner

    batcher = MicroBatcher(tagger.run, max_batch, max_wait_ms)
    # A fast tokenizer keeps its padding setting in state it changes on every call, so one used at once by
    # the model's thread (padded batches) and the event loop (the length check, unpadded) can pad a batch
    # to mixed lengths and fail. The length check gets its own copy, used by the event loop alone.
    checker = copy.deepcopy(tagger.tokenizer)

    @asynccontextmanager
    async def lifespan(app):
        await batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(title="NER service", version=__version__, lifespan=lifespan)
    app.add_middleware(BodyLimit, limit=body_limit(cfg.max_chars))

    @app.exception_handler(RequestValidationError)
    async def invalid_body(request: Request, exc: RequestValidationError):
        errors = sorted(
            exc.errors(), key=lambda e: e["type"] != "extra_forbidden"
        )  # a misspelt field first
        status, message = _error_message(errors[0])
        return JSONResponse({"error": message}, status_code=status)

    @app.exception_handler(StarletteHTTPException)  # FastAPI's own too, e.g. a body it cannot parse
    async def http_error(request: Request, exc: StarletteHTTPException):
        detail = exc.detail
        if detail == "There was an error parsing the body":  # FastAPI's words for any failed parse
            cause = exc.__cause__
            if isinstance(cause, UnicodeDecodeError):
                byte = f"0x{cause.object[cause.start]:02x} at {cause.start}"
                detail = f"the body is not UTF-8 (byte {byte}); send {EXAMPLE}"
            elif isinstance(cause, RecursionError):
                detail = f"the body's JSON is nested too deeply to parse; send {EXAMPLE}"
            else:
                detail = f"the body could not be parsed ({type(cause).__name__}); send {EXAMPLE}"
        return JSONResponse({"error": detail}, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception):
        return JSONResponse(
            {"error": f"the model failed on this text: {type(exc).__name__}: {exc}"},
            500,
        )

    @app.post("/ner")
    async def tag(body: NERRequest) -> dict:
        try:  # JSON can carry half of a UTF-16 pair ("\ud800"): no character, and no tokenizer takes it
            body.text.encode("utf-8")
        except UnicodeEncodeError as err:
            raise HTTPException(
                422, f"the text holds a lone surrogate ({body.text[err.start]!r} at character {err.start}), "
                "which is not Unicode text: send the text as UTF-8, or escape both halves of the pair"
            ) from err
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
            ner.check_text(tagger.model, checker, body.text)
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
            "profile": tagger.summary.profile,
            "backend": tagger.backend,
            "version": __version__,
            "labels": list(tagger.model.config.id2label.values()),
            "test_f1": tagger.summary.test_f1,
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
