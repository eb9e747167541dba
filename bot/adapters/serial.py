"""Ordered work per key on a shared thread pool, for the chat adapters."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class SerialByKey:
    """Runs tasks on a thread pool, one at a time per key, in the order they were given: two
    quick answers from one member in one chat must reach the conversation in order, while
    different members never wait for each other."""

    def __init__(self, pool: ThreadPoolExecutor) -> None:
        self._pool = pool
        self._lock = threading.Lock()
        self._queues: dict[Any, deque[tuple[Future, Callable[..., Any], tuple]]] = {}

    def submit(self, key: Any, fn: Callable[..., Any], *args: Any) -> Future:
        future: Future = Future()
        with self._lock:
            queue = self._queues.get(key)
            if queue is not None:  # a task for this key is running; it will drain this one
                queue.append((future, fn, args))
                return future
            self._queues[key] = deque([(future, fn, args)])
        self._pool.submit(self._drain, key)
        return future

    def _drain(self, key: Any) -> None:
        while True:
            with self._lock:
                queue = self._queues[key]
                if not queue:
                    del self._queues[key]
                    return
                future, fn, args = queue.popleft()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # noqa: BLE001  (handed to whoever waits)
                future.set_exception(exc)
