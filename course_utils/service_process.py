"""The service as its own process (`python -m course_utils.service_process --model DIR`): started, ready, stopped."""

from __future__ import annotations

import argparse
import atexit
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from course_utils.backends import load_tagger
from course_utils.config import BACKENDS, ServeConfig
from course_utils.service_app import create_app


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServiceProcess:
    """`python -m course_utils.service_process ...` in the background; `url` once /health answers; `stop()` ends it."""

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
            "course_utils.service_process",
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
