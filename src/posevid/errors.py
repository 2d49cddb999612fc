"""The one error type users see: a single line naming the file (or input) and the problem."""

from __future__ import annotations

from pathlib import Path


class PosevidError(Exception):
    """A user-facing failure. ``str(err)`` is one line: ``<where>: <problem>``.

    The CLI catches it and prints only that line (exit code 2); anything else is a bug.
    """

    def __init__(self, where: str | Path | None, problem: str):
        self.where = str(where) if where is not None else None
        self.problem = " ".join(str(problem).split())
        super().__init__(f"{self.where}: {self.problem}" if self.where else self.problem)


class Terminated(SystemExit):
    """Raised in the main thread when the process gets SIGTERM (``cli.main`` installs the handler): it unwinds
    like any exception, so temporary files are removed; the exit code is 143 (128 + SIGTERM)."""

    def __init__(self) -> None:
        super().__init__(143)
