"""Micro-batching: what waits is taken up to max_batch, late arrivals join within the window, a failure is survived."""

import asyncio

import pytest

from course_utils import micro_batching


def test_collect_batch_takes_what_waits_up_to_max_batch():
    async def scenario():
        queue = asyncio.Queue()
        for i in range(5):
            queue.put_nowait(i)
        first = await micro_batching.collect_batch(queue, max_batch=3, max_wait_s=1.0)
        second = await micro_batching.collect_batch(queue, max_batch=3, max_wait_s=0.01)  # 2 left: waits, then goes
        return first, second

    assert asyncio.run(scenario()) == ([0, 1, 2], [3, 4])


def test_collect_batch_waits_for_late_arrivals_within_the_window():
    async def scenario():
        queue = asyncio.Queue()
        queue.put_nowait("a")
        loop = asyncio.get_running_loop()
        loop.call_later(0.01, queue.put_nowait, "b")  # inside the window
        loop.call_later(0.5, queue.put_nowait, "c")  # after it
        return await micro_batching.collect_batch(queue, max_batch=8, max_wait_s=0.1)

    assert asyncio.run(scenario()) == ["a", "b"]


def test_batcher_runs_concurrent_requests_together_and_survives_a_failure():
    def run(texts):
        if "boom" in texts:
            raise RuntimeError("boom")
        return [t.upper() for t in texts]

    async def scenario():
        batcher = micro_batching.MicroBatcher(run, max_batch=8, max_wait_ms=20)
        await batcher.start()
        results = await asyncio.gather(*(batcher.submit(t) for t in "abcdef"))
        with pytest.raises(RuntimeError, match="boom"):
            await batcher.submit("boom")
        after = await batcher.submit("g")
        await batcher.stop()
        return results, after, batcher.sizes

    results, after, sizes = asyncio.run(scenario())
    assert results == list("ABCDEF") and after == "G"
    assert sizes[6] == 1, "the six concurrent requests ran as one batch"


def test_batcher_says_it_must_be_started_and_refuses_bad_limits():
    with pytest.raises(ValueError, match="max_batch must be >= 1"):
        micro_batching.MicroBatcher(list, max_batch=0, max_wait_ms=5)
    with pytest.raises(RuntimeError, match="await start"):
        asyncio.run(micro_batching.MicroBatcher(list, max_batch=2, max_wait_ms=5).submit("a"))


def test_items_already_waiting_join_the_batch_even_with_no_time_to_wait():
    async def scenario():
        queue = asyncio.Queue()
        for i in range(6):
            queue.put_nowait(i)
        return [await micro_batching.collect_batch(queue, 4, 0.0), await micro_batching.collect_batch(queue, 4, 0.0)]

    assert asyncio.run(scenario()) == [[0, 1, 2, 3], [4, 5]]
