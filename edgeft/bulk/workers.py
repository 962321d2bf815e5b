"""Where chunks of texts are predicted: in this process, or in a pool of worker processes.

Both answer ``map(items)``: for each ``(tag, texts)`` in order, ``(tag, results)`` in the same
order. The pool keeps at most two chunks per worker in flight, so memory stays bounded however
long the input, and hands results back in input order even when workers finish out of order.

Workers die with their parent, however it ends: on Linux the kernel sends them SIGKILL when it
dies (``PR_SET_PDEATHSIG``), and everywhere a thread in each worker polls the parent's pid, so a
parent killed with SIGKILL leaves no worker (nor, once they are gone, multiprocessing's resource
tracker) behind. A parent that stops early (an error, Ctrl-C, SIGTERM) ends its workers at once
instead of waiting for their chunks.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

_model: Any = None  # the worker process's loaded bundle
_error: BaseException | None = None  # why it could not be loaded: raised by the worker's first task


def _load(bundle: str, variant: str, threads: int | None) -> Any:
    import edgeft_runtime

    return edgeft_runtime.load(bundle, variant=variant, threads=threads)


def _describe(model: Any) -> dict[str, Any]:
    return {"manifest": model.manifest, "required_tokens": tuple(model.required_tokens), "variant": model.variant}


PARENT_POLL_SECONDS = 0.5
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent: int) -> None:
    """Make this process end when process ``parent`` does (see the module doc)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass  # no usable libc: the polling thread below still ends us
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), name="edgeft-parent-watch", daemon=True).start()


def _watch_parent(parent: int) -> None:
    # Orphans are re-parented (to init or a subreaper), so a changed parent pid means ours is gone.
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)
    os._exit(1)


def _init_worker(bundle: str, variant: str, threads: int | None, parent: int | None = None) -> None:
    global _model, _error
    if parent is not None:
        die_with_parent(parent)
    # Ctrl-C reaches the whole process group: the parent stops the pool and keeps the completed
    # chunks for --resume; a worker's own traceback would only bury that message.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if threads == 1:
        # One core per worker: the tokenizer's own thread pool would otherwise take every core.
        os.environ["TOKENIZERS_PARALLELISM"] = "false"
    try:
        _model = _load(bundle, variant, threads)
    except Exception as e:  # noqa: BLE001 - an initializer that raises only breaks the pool, without the reason
        _error = e


def _worker_describe() -> dict[str, Any]:
    if _error is not None:
        raise _error
    return _describe(_model)


def _worker_predict(texts: Sequence[str], batch_size: int | None) -> list[Any]:
    if _error is not None:
        raise _error
    return _model.run_task(list(texts), batch_size=batch_size)


class InProcess:
    """Predict in this process with one loaded model."""

    def __init__(self, bundle: Path, variant: str, threads: int | None, batch_size: int | None = None):
        self.model = _load(str(bundle), variant, threads)
        self.batch_size = batch_size

    def describe(self) -> dict[str, Any]:
        return _describe(self.model)

    def map(self, items: Iterable[tuple[Any, Sequence[str]]]) -> Iterator[tuple[Any, list[Any]]]:
        for tag, texts in items:
            yield tag, (self.model.run_task(list(texts), batch_size=self.batch_size) if texts else [])

    def close(self, abort: bool = False) -> None:
        pass


class WorkerPool:
    """``workers`` processes, each loading the bundle once with ``threads`` onnxruntime threads.

    Processes are started with ``spawn``: a fork of a process that already runs onnxruntime or
    tokenizer threads can inherit their locks in a held state.
    """

    def __init__(self, bundle: Path, variant: str, threads: int | None, workers: int, batch_size: int | None = None):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.workers = workers
        self.batch_size = batch_size
        self.pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(str(bundle), variant, threads, os.getpid()),
        )

    def describe(self) -> dict[str, Any]:
        return self._wait(self.pool.submit(_worker_describe))

    def map(self, items: Iterable[tuple[Any, Sequence[str]]]) -> Iterator[tuple[Any, list[Any]]]:
        pending: deque = deque()
        for tag, texts in items:
            pending.append((tag, self.pool.submit(_worker_predict, list(texts), self.batch_size) if texts else None))
            if len(pending) >= 2 * self.workers:
                yield self._result(pending.popleft())
        while pending:
            yield self._result(pending.popleft())

    def _result(self, entry: tuple[Any, Any]) -> tuple[Any, list[Any]]:
        tag, future = entry
        return tag, (self._wait(future) if future is not None else [])

    def _wait(self, future: Any) -> Any:
        from concurrent.futures.process import BrokenProcessPool

        try:
            return future.result()
        except BrokenProcessPool:
            from .resume import StoppedRun

            raise StoppedRun(
                f"a worker process died (killed by the system, e.g. out of memory with {self.workers} workers?); "
                "rerun with --resume and fewer --workers"
            ) from None

    def close(self, abort: bool = False) -> None:
        """Stop the pool: wait for running chunks, or (``abort``) end the workers at once."""
        if abort:
            processes = list((getattr(self.pool, "_processes", None) or {}).values())
            for process in processes:
                process.terminate()
            self.pool.shutdown(wait=True, cancel_futures=True)
            for process in processes:
                process.join(5)
            return
        self.pool.shutdown(wait=True, cancel_futures=True)


def start_runner(bundle: Path, variant: str, threads: int | None, workers: int, batch_size: int | None = None) -> InProcess | WorkerPool:
    """One worker: this process (``threads`` as given). More: a pool, each worker ``threads`` or 1."""
    if workers <= 1:
        return InProcess(bundle, variant, threads, batch_size)
    return WorkerPool(bundle, variant, threads or 1, workers, batch_size)
