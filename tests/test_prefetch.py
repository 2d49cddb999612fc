"""``prefetch.Prefetch``: an iterator run ahead in a worker thread, in order, bounded, closed where it ran."""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from posevid.prefetch import Prefetch


def test_items_come_in_order_and_the_source_is_closed_in_the_worker() -> None:
    seen: dict[str, object] = {}

    def numbers():
        seen["made_in"] = threading.current_thread()
        try:
            yield from range(50)
        finally:
            seen["closed_in"] = threading.current_thread()

    items = Prefetch(numbers, 3, "test-prefetch")
    assert list(items) == list(range(50))
    items.close()
    assert seen["made_in"] is seen["closed_in"] is not threading.current_thread()
    assert seen["made_in"].name == "test-prefetch"
    assert next(items, "done") == "done"


def test_an_error_in_the_worker_is_raised_at_its_item() -> None:
    def failing():
        yield 1
        yield 2
        raise ValueError("frame 2 is broken")

    items = Prefetch(failing, 2, "test-prefetch")
    assert next(items) == 1 and next(items) == 2
    with pytest.raises(ValueError, match="frame 2 is broken"):
        next(items)
    items.close()


def test_closing_early_stops_an_endless_source_and_stays_ahead_by_at_most_the_bound() -> None:
    made = itertools.count()
    closed = threading.Event()

    def endless():
        try:
            while True:
                yield next(made)
        finally:
            closed.set()

    items = Prefetch(endless, 4, "test-prefetch")
    assert next(items) == 0
    time.sleep(0.3)
    ahead = next(made)  # what the worker has made by now (this call takes one more number)
    assert ahead <= 1 + 4 + 2  # the item taken, the queue, the one waiting to go in
    items.close()
    assert closed.is_set() and not items._thread.is_alive()
