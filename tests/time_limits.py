"""A time bound for test cases that must not hang (the fuzzing and bad-input tables)."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator


class CaseTimeout(BaseException):
    """Raised by the alarm when a case runs past its limit (BaseException: nothing swallows it)."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise ``CaseTimeout`` in the main thread if the block runs longer than ``seconds`` (SIGALRM)."""
    def fire(signum, frame):
        raise CaseTimeout(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
