"""Where sweep points run: this process, a pool of local processes, or a Dask cluster.

All three offer the same two calls: ``submit(fn, *args)`` queues a task, and ``completed()`` yields
the return values of the queued tasks as they finish, including tasks submitted while iterating
(the sweep submits re-costing work as simulations finish). Tasks are pure functions of their
arguments, so every executor stores the same results.
"""
from __future__ import annotations

import multiprocessing
import os
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

from archsim.errors import UserError


#: Most local worker processes (assumption: far above any machine's cores; each is a Python process
#: with the simulator loaded, and the pool's semaphore takes a C int).
MAX_LOCAL_WORKERS = 1024


class InProcessExecutor:
    """Runs each task in this process, in submission order (``--workers 1``)."""

    def __init__(self):
        self._queue = deque()

    def submit(self, fn, *args) -> None:
        self._queue.append((fn, args))

    def completed(self):
        while self._queue:
            fn, args = self._queue.popleft()
            yield fn(*args)

    def close(self) -> None:
        self._queue.clear()


class ProcessExecutor:
    """A pool of local worker processes (started with ``spawn``: no state inherited by accident)."""

    def __init__(self, workers: int):
        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        self._pending = set()

    def submit(self, fn, *args) -> None:
        self._pending.add(self._pool.submit(fn, *args))

    def completed(self):
        while self._pending:
            done, self._pending = wait(self._pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()

    def close(self) -> None:
        for future in self._pending:
            future.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor:
    """Tasks on an existing Dask cluster (``--scheduler tcp://host:8786``; needs ``archsim[dask]``)."""

    def __init__(self, address: str):
        try:
            from distributed import Client, as_completed
        except ImportError:
            raise UserError('--scheduler: Dask is not installed (pip install "archsim[dask]")') from None
        try:
            self._client = Client(address, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise UserError(f"--scheduler: cannot connect to the Dask scheduler at {address}: {exc}") from None
        self._futures = as_completed()

    def submit(self, fn, *args) -> None:
        self._futures.add(self._client.submit(fn, *args, pure=False))

    def completed(self):
        for future in self._futures:
            yield future.result()

    def close(self) -> None:
        self._futures.clear()
        self._client.close()


def make_executor(workers: int | None = None, scheduler: str | None = None):
    """The executor the CLI options ask for: Dask when a scheduler is named, else local processes
    (one per core by default), or this process when ``workers == 1``."""
    if scheduler:
        return DaskExecutor(scheduler)
    if workers is None:
        workers = os.cpu_count() or 1
    if not 1 <= workers <= MAX_LOCAL_WORKERS:
        raise UserError(f"--workers: {str(workers)[:24]} is not allowed (allowed: 1 to {MAX_LOCAL_WORKERS} local "
                        "processes; more machines: --scheduler)")
    return InProcessExecutor() if workers == 1 else ProcessExecutor(workers)
