"""Micro-batching: the requests that arrive within a few milliseconds of each other run as one batch."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor


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
