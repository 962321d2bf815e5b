"""Dynamic batching: requests from the event loop are queued, and one worker thread per model runs
them in batches of up to ``max_batch`` texts, waiting at most ``max_wait`` seconds after the first
queued request for others to join. Each caller gets its own results back, in its own order.

Why a thread and not the event loop: a batch is tokenised and run by onnxruntime, which releases
the GIL while it computes; on the loop it would stall every other connection for the whole batch.
By default one thread per model keeps one batch in flight per session, so the session's intra-op
threads are the only compute threads and batches never contend with each other. ``workers`` > 1
(``--batch-workers``) runs that many batches at once on the same session, which pays with one
intra-op thread each on short texts: on 2 cores, two one-thread workers answered 1.25x the
requests of one two-thread worker at 32 clients (benchmarks/RESULTS.md).

Hand-offs are per batch, not per request: a request queued on the event loop does not wake the
worker at once; one callback, run after the requests that arrived in the same turn of the loop,
wakes it for all of them (so they share a batch rather than the first one running alone), and the
answers of a batch come back to each event loop in one ``call_soon_threadsafe``. Each hand-off
costs a thread wake-up and a fight for the GIL, which at batch sizes of 1 to 32 texts of ~10
tokens is a visible share of the CPU per answer.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Sequence

log = logging.getLogger("edgeft_runtime.serve")

# run(key, texts) -> one answer per text, in order. ``key`` says what is asked (e.g. probabilities,
# or fill-mask with top_k 5): only requests with the same key share a batch.
RunBatch = Callable[[Hashable, list[str]], Sequence[Any]]


class Overloaded(Exception):
    """The queue is full; ``retry_after`` is a guess, in whole seconds, of when it will have room."""

    def __init__(self, retry_after: int, queued: int):
        super().__init__(f"the model is overloaded ({queued} texts queued); retry after {retry_after} s")
        self.retry_after = retry_after


class Closed(Exception):
    """The service is shutting down and takes no new work."""


@dataclass
class _Item:
    key: Hashable
    texts: list[str]
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop
    arrived: float = field(default_factory=time.monotonic)


Delivery = tuple[asyncio.Future, Any, "BaseException | None"]


def _deliver(deliveries: list[Delivery]) -> None:
    """On the event loop: resolve every future of one batch (one callback for the whole batch)."""
    for future, value, error in deliveries:
        if future.done():  # the caller went away (client disconnected)
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)


class Batcher:
    """One model's queue and its worker threads (one unless ``workers`` says more).

    ``run`` is called only from the worker threads; with ``workers`` > 1 it runs on several
    batches at once, so it must be thread-safe (onnxruntime's ``InferenceSession.run`` is). When
    a batch raises, its requests are re-run one by one, so one bad request fails alone rather than
    with its batch.
    """

    def __init__(
        self,
        name: str,
        run: RunBatch,
        *,
        max_batch: int,
        max_wait: float,
        max_queue: int,
        on_batch: Callable[[int, float], None] | None = None,
        workers: int = 1,
    ):
        self.name, self.run = name, run
        self.max_batch, self.max_wait, self.max_queue = max_batch, max_wait, max_queue
        self.on_batch = on_batch
        self._pending: deque[_Item] = deque()
        self._queued = 0  # texts in _pending
        self._running = 0  # texts in the batches being run
        self._cond = threading.Condition()
        self._closed = False
        self._seconds_per_text = 0.01  # running estimate, for Retry-After
        self._wake_scheduled: set[asyncio.AbstractEventLoop] = set()  # loops with a wake-up due
        self._threads = [threading.Thread(target=self._work, name=f"edgeft-batch-{name}-{n}", daemon=True) for n in range(workers)]
        for thread in self._threads:
            thread.start()

    @property
    def queued(self) -> int:
        """Texts waiting for a batch (not counting the batch being run)."""
        return self._queued

    def retry_after(self) -> int:
        """Seconds until the queue has likely drained, from the measured time per text (1 to 60)."""
        drain = (self._queued + self._running) * self._seconds_per_text / len(self._threads)  # workers drain in parallel
        return int(min(60, max(1, math.ceil(drain))))

    async def submit(self, key: Hashable, texts: list[str]) -> list[Any]:
        """Queue ``texts``; return their answers once a batch has run them. Raises Overloaded
        when the queue would exceed ``max_queue`` texts, Closed after ``close``."""
        loop = asyncio.get_running_loop()
        item = _Item(key, list(texts), loop.create_future(), loop)
        with self._cond:
            if self._closed:
                raise Closed("the service is shutting down")
            if self._queued + len(item.texts) > self.max_queue:
                raise Overloaded(self.retry_after(), self._queued)
            self._pending.append(item)
            self._queued += len(item.texts)
            if loop not in self._wake_scheduled:
                # Wake the worker once, after the other requests of this turn of the loop are queued.
                self._wake_scheduled.add(loop)
                loop.call_soon(self._wake, loop)
        return await item.future

    def _wake(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._cond:
            self._wake_scheduled.discard(loop)
            self._cond.notify()

    def close(self, timeout: float | None = None) -> None:
        """Take no new work, run what is queued, stop the thread (waiting up to ``timeout`` s)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    # -- the worker thread ----------------------------------------------------------------------

    def _take(self) -> list[_Item] | None:
        """Block until a batch is due; remove and return it (None: closed and drained)."""
        with self._cond:
            while True:
                while not self._pending:
                    if self._closed:
                        return None
                    self._cond.wait()
                first = self._pending[0]
                deadline = first.arrived + self.max_wait
                while not self._closed and self._pending and self._pending[0] is first:
                    same = sum(len(i.texts) for i in self._pending if i.key == first.key)
                    left = deadline - time.monotonic()
                    if same >= self.max_batch or left <= 0:
                        break
                    self._cond.wait(left)
                if self._pending and self._pending[0] is first:
                    break
                # another worker took ``first`` while this one waited: start over with the queue's new head
            batch: list[_Item] = []
            keep: deque[_Item] = deque()
            count = 0
            for item in self._pending:
                if item.key == first.key and (not batch or count + len(item.texts) <= self.max_batch):
                    batch.append(item)
                    count += len(item.texts)
                else:
                    keep.append(item)
            self._pending = keep
            self._queued -= count
            self._running += count
            if self._pending:  # work left over: wake another worker (if any is idle) for it
                self._cond.notify()
            return batch

    def _work(self) -> None:
        while True:
            batch = self._take()
            if batch is None:
                return
            live = [i for i in batch if not i.future.cancelled()]
            if live:
                self._run_batch(live)
            with self._cond:
                self._running -= sum(len(i.texts) for i in batch)

    def _run_batch(self, batch: list[_Item]) -> None:
        texts = [t for item in batch for t in item.texts]
        start = time.perf_counter()
        try:
            answers = list(self.run(batch[0].key, texts))
            if len(answers) != len(texts):
                raise RuntimeError(f"the model gave {len(answers)} answers for {len(texts)} texts")
        except Exception as error:  # noqa: BLE001 - re-run alone so only the culprit sees its error
            if len(batch) == 1:
                log.debug("%s: batch failed: %s", self.name, error)
                self._post([(batch[0], None, error)])
            else:
                for item in batch:
                    self._run_batch([item])
            return
        elapsed = time.perf_counter() - start
        # Smoothed seconds per text: Retry-After should follow the load, not one odd batch.
        self._seconds_per_text = 0.8 * self._seconds_per_text + 0.2 * elapsed / max(1, len(texts))
        if self.on_batch is not None:
            self.on_batch(len(texts), elapsed)
        results: list[tuple[_Item, Any, BaseException | None]] = []
        at = 0
        for item in batch:
            results.append((item, answers[at : at + len(item.texts)], None))
            at += len(item.texts)
        self._post(results)

    def _post(self, results: list[tuple[_Item, Any, BaseException | None]]) -> None:
        """Hand the answers back: one ``call_soon_threadsafe`` per event loop (each one writes to
        the loop's wake-up pipe), not one per request."""
        by_loop: dict[asyncio.AbstractEventLoop, list[Delivery]] = {}
        for item, value, error in results:
            by_loop.setdefault(item.loop, []).append((item.future, value, error))
        for loop, deliveries in by_loop.items():
            try:
                loop.call_soon_threadsafe(_deliver, deliveries)
            except RuntimeError:  # the loop has closed: nobody is waiting any more
                pass
