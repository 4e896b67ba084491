"""A program's stdout and stderr, kept on disk within bounds however much it writes.

The program writes into pipes; a thread of leaklab's reads them as fast as they fill and keeps, per
stream, the first :data:`HEAD_BYTES` (written as they come, so the file can be followed while the
program runs) and the last :data:`TAIL_BYTES` (held in memory, written when the program has ended).
What lies between is dropped, and a line at the cut says how much::

    [leaklab: 812,345,678 bytes of stdout dropped here; the first 4 MiB and the last 4 MiB are kept]

A program writing 100 MB/s thus leaves at most about 8 MiB per stream. The first error writing a
file (a full disk) stops that file's writing but not the reading, so the program never blocks on a
full pipe; :attr:`Output.error` holds it for the caller to report.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import os
import selectors
import threading
from pathlib import Path
from types import TracebackType

__all__ = ["HEAD_BYTES", "TAIL_BYTES", "Output"]

_MiB = 1024 * 1024

#: What is kept of the start and of the end of each stream.
HEAD_BYTES = 4 * _MiB
TAIL_BYTES = 4 * _MiB

#: How long the output may go on draining once the program and its descendants have ended.
DRAIN_S = 2.0


def _size(n: int) -> str:
    return f"{n // _MiB} MiB" if n % _MiB == 0 else f"{n:,} bytes"


class _Stream:
    """One stream: its file, what of its head was written, its tail so far, what was dropped."""

    def __init__(self, name: str, path: Path, head: int, tail: int) -> None:
        self.name, self.path, self.head, self.tail_limit = name, path, head, tail
        self.file = open(path, "wb", buffering=0)  # noqa: SIM115 (closed by Output)
        self.written = 0
        self.tail: collections.deque[bytes] = collections.deque()
        self.tail_bytes = 0
        self.dropped = 0
        self.error: OSError | None = None

    def add(self, chunk: bytes) -> None:
        if self.written < self.head:
            part, chunk = chunk[:self.head - self.written], chunk[self.head - self.written:]
            self.written += len(part)
            self._write(part)
        if chunk:
            self.tail.append(chunk)
            self.tail_bytes += len(chunk)
            while self.tail_bytes - len(self.tail[0]) >= self.tail_limit:
                first = self.tail.popleft()
                self.tail_bytes -= len(first)
                self.dropped += len(first)

    def _write(self, data: bytes) -> None:
        if self.error is None:
            try:
                self.file.write(data)
            except OSError as exc:  # named after its file: a write error names none
                self.error = OSError(exc.errno, exc.strerror, str(self.path))

    def close(self) -> None:
        """Write the note of what was dropped and the tail; close the file."""
        cut = self.tail_bytes - self.tail_limit
        if cut > 0:
            self.tail[0] = self.tail[0][cut:]
            self.dropped += cut
        if self.dropped:
            self._write(f"\n[leaklab: {self.dropped:,} bytes of {self.name} dropped here; the first "
                        f"{_size(self.head)} and the last {_size(self.tail_limit)} are kept]\n".encode())
        self._write(b"".join(self.tail))
        try:
            self.file.close()
        except OSError as exc:
            self.error = self.error or exc


class Output:
    """Pipes for a program's stdout and stderr, read into bounded files while the ``with`` block lasts.

    ``fds`` are the write ends to give the program; call :meth:`started` once it has them. The block's
    end waits for both pipes to close (everything that held them has ended) for up to ``DRAIN_S``, then
    writes the tails and closes the files. ``dropped`` then says how many bytes of each stream were
    dropped, and ``error`` is the first error writing a file (None when all went to disk).
    """

    def __init__(self, stdout: Path, stderr: Path, *, head: int = HEAD_BYTES, tail: int = TAIL_BYTES) -> None:
        self.streams: list[_Stream] = []
        self._pipes: list[tuple[int, int]] = []
        self._stop = threading.Event()
        try:
            for name, path in (("stdout", stdout), ("stderr", stderr)):
                self.streams.append(_Stream(name, path, head, tail))
                r, w = os.pipe()
                self._pipes.append((r, w))
                with contextlib.suppress(OSError):  # a bigger pipe: fewer wake-ups for a chatty program
                    fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, _MiB)
        except BaseException:
            self._close()
            raise
        self.fds = tuple(w for _, w in self._pipes)
        self._thread = threading.Thread(target=self._read, name="leaklab-output", daemon=True)

    def __enter__(self) -> Output:
        self._thread.start()
        return self

    def started(self) -> None:
        """The program holds the write ends now: close ours, so the pipes end when its processes do."""
        for i, (r, w) in enumerate(self._pipes):
            if w >= 0:
                os.close(w)
                self._pipes[i] = (r, -1)

    def _read(self) -> None:
        with selectors.DefaultSelector() as sel:
            for (r, _), stream in zip(self._pipes, self.streams, strict=True):
                sel.register(r, selectors.EVENT_READ, stream)
            while sel.get_map() and not self._stop.is_set():
                for key, _ in sel.select(timeout=0.1):
                    chunk = os.read(key.fd, _MiB)
                    if chunk:
                        key.data.add(chunk)
                    else:
                        sel.unregister(key.fd)

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        try:
            self.started()
            self._thread.join(DRAIN_S)
        finally:
            self._stop.set()  # a process out of reach still holds a pipe: stop reading it
            self._thread.join()
            self._close()

    def _close(self) -> None:
        for stream in self.streams:
            stream.close()
        for r, w in self._pipes:
            for fd in (r, w):
                if fd >= 0:
                    os.close(fd)
        self._pipes = []

    @property
    def dropped(self) -> dict[str, int]:
        """Bytes dropped from the middle of each stream, by name (``stdout``, ``stderr``)."""
        return {s.name: s.dropped for s in self.streams}

    @property
    def error(self) -> OSError | None:
        """The first error writing a file, if any."""
        return next((s.error for s in self.streams if s.error is not None), None)
