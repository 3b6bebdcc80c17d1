"""One daemon thread running an asyncio event loop: the bridge from sync code to nats-py.

eventsourcing calls recorders synchronously, from any thread; nats-py is asyncio. Every
call crosses with ``LoopThread.run(coro, timeout)``, which always has a deadline.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopClosedError(RuntimeError):
    """The loop thread has been closed; nothing more can run on it."""


class LoopThread:
    """An asyncio event loop in a daemon thread of its own."""

    def __init__(self, name: str = "hiveledger-loop") -> None:
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._closed = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()
        if not self._started.wait(10.0):  # pragma: no cover - a thread that never starts
            raise RuntimeError("event loop thread did not start")

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.call_soon(self._started.set)
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    @property
    def closed(self) -> bool:
        return self._closed

    def in_loop_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run ``coro`` on the loop and wait at most ``timeout`` seconds for its result.

        On timeout the coroutine is cancelled and ``TimeoutError`` is raised. Calling this
        from the loop thread itself would deadlock, so that raises ``RuntimeError``.
        """
        if self.in_loop_thread():
            coro.close()
            raise RuntimeError("LoopThread.run() called from its own loop thread")
        with self._lock:
            if self._closed:
                coro.close()
                raise LoopClosedError("the event loop thread is closed")
            future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"no result within {timeout}s") from None
        except concurrent.futures.CancelledError:
            raise TimeoutError("the call was cancelled (loop closing?)") from None

    def close(self, timeout: float = 5.0) -> None:
        """Cancel what is still running, stop the loop and join the thread. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._loop.is_closed():  # pragma: no cover
            return
        with contextlib.suppress(concurrent.futures.TimeoutError, RuntimeError):
            asyncio.run_coroutine_threadsafe(self._cancel_tasks(), self._loop).result(timeout)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)

    @staticmethod
    async def _cancel_tasks() -> None:
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)

    def __enter__(self) -> LoopThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
