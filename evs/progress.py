"""A progress bar that also reads well in a log: redrawn in place on a terminal, a line per
change when the output is a pipe (click's own bar shows nothing there)."""

from __future__ import annotations

import sys
from typing import TextIO


class Progress:
    def __init__(self, label: str, stream: TextIO | None = None, width: int = 30) -> None:
        self._label = label
        self._stream = stream or sys.stderr
        self._width = width
        self._last = ""
        self._tty = self._stream.isatty()

    def show(self, done: int, total: int, note: str = "") -> None:
        total = max(total, done, 1)
        filled = self._width * done // total
        line = (
            f"{self._label} [{'#' * filled}{'-' * (self._width - filled)}] "
            f"{done}/{total} {100 * done // total:3d}% {note}"
        ).rstrip()
        if line == self._last:
            return
        self._last = line
        self._stream.write(f"\r{line}" if self._tty else f"{line}\n")
        self._stream.flush()

    def close(self) -> None:
        if self._tty and self._last:
            self._stream.write("\n")
