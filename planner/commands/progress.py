"""Progress of long commands on stderr.

The library reports progress through a plain ``progress(message)`` callback; a :class:`Reporter` is
that callback for the command line:

- stderr is a terminal: one live status line, redrawn in place with the time spent on the current
  step and in total (so a long solve shows its elapsed time); ``--verbose`` keeps every step on its
  own line with its time stamp instead;
- stderr is not a terminal (a pipe, a log file, CI): each step as a plain line, no colours, no
  carriage returns;
- ``--quiet``: nothing.
"""

from __future__ import annotations

import sys
import threading
import time
from types import TracebackType
from typing import TextIO

SPINNER = "|/-\\"


class Reporter:
    """A progress callback for stderr (module docstring)."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        quiet: bool = False,
        verbose: bool = False,
        live: bool | None = None,
        tick_s: float = 0.25,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.verbose = verbose
        is_tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.live = (is_tty if live is None else live) and not quiet and not verbose
        self.decorated = is_tty if live is None else live
        self.t0 = time.monotonic()
        self._step_t0 = self.t0
        self._message = ""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tick_s = tick_s
        self._frame = 0
        self.messages: list[str] = []

    @classmethod
    def for_stderr(cls, *, quiet: bool = False, verbose: bool = False) -> Reporter:
        return cls(quiet=quiet, verbose=verbose)

    # ---- the callback -------------------------------------------------------------------------
    def __call__(self, message: str) -> None:
        self.messages.append(message)
        if self.quiet:
            return
        now = time.monotonic()
        with self._lock:
            self._message = message
            self._step_t0 = now
            if self.live:
                self._draw(now)
                self._start_ticker()
            elif self.verbose and self.decorated:
                self.stream.write(f"[{now - self.t0:7.1f} s] {message}\n")
            else:
                self.stream.write(f"{message}\n")
            self.stream.flush()

    def note(self, message: str) -> None:
        """A line that stays (a warning or a file written), above the live status line; shown
        even with --quiet."""
        with self._lock:
            if self.live:
                self.stream.write("\r\x1b[K")
            self.stream.write(f"{message}\n")
            if self.live and self._message:
                self._draw(time.monotonic())
            self.stream.flush()

    # ---- the live line ------------------------------------------------------------------------
    def _draw(self, now: float) -> None:
        self._frame = (self._frame + 1) % len(SPINNER)
        step = now - self._step_t0
        total = now - self.t0
        text = f"{SPINNER[self._frame]} {self._message}  ({step:.1f} s; total {total:.0f} s)"
        self.stream.write("\r\x1b[K" + text[:200])

    def _start_ticker(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._tick, name="progress", daemon=True)
        self._thread.start()

    def _tick(self) -> None:
        while not self._stop.wait(self._tick_s):
            with self._lock:
                self._draw(time.monotonic())
                self.stream.flush()

    def close(self) -> None:
        """Stop the live line and clear it (the command's output follows on a clean line)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
            self._thread = None
        if self.live and self._message:
            with self._lock:
                total = time.monotonic() - self.t0
                self.stream.write(f"\r\x1b[K· done in {total:.1f} s\n")
                self.stream.flush()

    def __enter__(self) -> Reporter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
