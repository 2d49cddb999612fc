"""Run an iterator ahead of its consumer in a worker thread (decoding, pose estimation), memory bounded.

``Prefetch(make, ahead, name)`` calls ``make()`` in a new thread at once and iterates what it returns
there, keeping at most ``ahead`` items waiting; the consumer iterates the ``Prefetch``. An exception in
the worker is raised in the consumer at the item where it happened. ``close()`` stops the worker and waits
for it; the iterator ``make()`` returned is closed in the worker's own thread, whatever ends it (MediaPipe
graphs and PyAV containers are released in the thread that made them). Libraries that release the GIL
(MediaPipe, OpenCV, PyAV, x264) then run on another core beside the consumer.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")
_END = object()


def _close(items: Iterator) -> None:
    """Close ``items`` if it can be closed (a generator, a reader); plain iterators have nothing to close."""
    close = getattr(items, "close", None)
    if close is not None:
        close()


class _Failure:
    def __init__(self, error: BaseException):
        self.error = error


class Prefetch(Generic[T]):
    """The items of ``make()``, made in a worker thread named ``name`` at most ``ahead`` items ahead."""

    def __init__(self, make: Callable[[], Iterator[T]], ahead: int, name: str):
        self._items: queue.Queue = queue.Queue(maxsize=max(1, ahead))
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=self._work, args=(make,), name=name, daemon=True)
        self._thread.start()

    def _put(self, item: object) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(queue.Full):
                self._items.put(item, timeout=0.1)
                return

    def _work(self, make: Callable[[], Iterator[T]]) -> None:
        try:
            items = make()
            try:
                for item in items:
                    self._put(item)
                    if self._stop.is_set():
                        return
            finally:
                _close(items)
            self._put(_END)
        except BaseException as err:  # handed to the consumer, raised there
            self._put(_Failure(err))

    def __iter__(self) -> Prefetch[T]:
        return self

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        item = self._items.get()
        if item is _END or isinstance(item, _Failure):
            self._done = True
            self._stop.set()
            if item is _END:
                raise StopIteration
            raise item.error
        return item

    def close(self) -> None:
        """Stop the worker and wait for it (it finishes the item it is making first)."""
        self._done = True
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()


class Inline(Generic[T]):
    """``Prefetch``'s interface with no thread: ``make()``'s items made in the caller as it asks for them
    (to time the stages in CPU seconds of the process, or to compare with the threaded frames)."""

    def __init__(self, make: Callable[[], Iterator[T]], ahead: int = 1, name: str = ""):
        self._items = make()

    def __iter__(self) -> Inline[T]:
        return self

    def __next__(self) -> T:
        return next(self._items)

    def close(self) -> None:
        """Close ``make()``'s iterator."""
        _close(self._items)
