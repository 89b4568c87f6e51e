"""Standard output and error that always write everything they are given.

A write to a pipe may legitimately return after only part of the data: on a pipe whose write
end is non-blocking (shared with a parent that set ``O_NONBLOCK``, or left so by an event
loop), and on Linux when a blocking write is interrupted after the pipe filled (uvloop's libuv
uses io_uring, whose completion work can interrupt a write still in progress after the loop
closed). Python's buffered streams retry a short write but raise ``BlockingIOError`` on a
non-blocking pipe; with ``PYTHONUNBUFFERED=1`` (as ``docker/Dockerfile`` sets) the text layer
writes straight to the file and silently drops whatever the first write did not take: a large
``--json`` document piped to another program was cut at 64 KiB with exit 0.

``complete_writes()`` puts every byte of stdout and stderr through ``WholeWrites``, which keeps
writing until all of the data is out, waiting (``select``) while a non-blocking pipe is full.
It keeps each stream's encoding, error handler and buffering (unbuffered stays unbuffered).
It only replaces the process's own streams (``sys.__stdout__``/``sys.__stderr__``), never a
stream a test harness or an embedding program put in their place.
"""

from __future__ import annotations

import io
import os
import select
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

__all__ = ["WholeWrites", "complete_writes"]


class WholeWrites(io.RawIOBase):
    """A write-only raw stream on a file descriptor whose ``write`` returns only when all of the
    data is written. The descriptor is not closed with the stream (it belongs to the process)."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return os.isatty(self._fd)

    def write(self, data: ReadableBuffer) -> int:
        view = memoryview(data).cast("B")
        written = 0
        while written < len(view):
            try:
                written += os.write(self._fd, view[written:])
            except BlockingIOError:  # a non-blocking pipe is full: wait until it drains
                select.select([], [self._fd], [])
        return len(view)


def _rewrap(stream: io.TextIOWrapper) -> io.TextIOWrapper:
    """``stream`` over ``WholeWrites``, with the same encoding, errors and buffering."""
    stream.flush()
    raw = WholeWrites(stream.fileno())
    unbuffered = isinstance(stream.buffer, io.RawIOBase)
    # Unbuffered: the raw stream itself, as Python's own -u stdout is (a FileIO).
    binary: Any = raw if unbuffered else io.BufferedWriter(raw)
    return io.TextIOWrapper(
        binary,
        encoding=stream.encoding,
        errors=stream.errors,
        line_buffering=bool(stream.line_buffering),
        write_through=unbuffered or stream.write_through,
    )


def complete_writes() -> None:
    """Make ``sys.stdout`` and ``sys.stderr`` write completely (see the module docstring)."""
    out, err = sys.stdout, sys.stderr
    if out is sys.__stdout__ and isinstance(out, io.TextIOWrapper) and _has_fd(out):
        sys.stdout = _rewrap(out)
    if err is sys.__stderr__ and isinstance(err, io.TextIOWrapper) and _has_fd(err):
        sys.stderr = _rewrap(err)


def _has_fd(stream: io.TextIOWrapper) -> bool:
    try:
        stream.fileno()
    except (OSError, ValueError):  # io.UnsupportedOperation is both
        return False
    return True
