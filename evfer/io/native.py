"""Calls into the native (Rust) decoding libraries, faery and evt3: their stderr captured and their
errors and panics turned into one-line InputErrors naming the file."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from ..errors import EvferError, InputError
from ..events import Events

# faery and evt3 are Rust extensions. A Rust panic is turned into a Python exception (pyo3
# PanicException, a BaseException), but Rust's panic hook first prints "thread '...' panicked at
# <source>:\n<message>" (and a backtrace when RUST_BACKTRACE is set) straight to file descriptor 2,
# around Python's sys.stderr. So every call into those libraries runs with fd 2 pointed at a
# temporary file: after the call the text is written back to the real stderr if the call worked
# (genuine warnings are kept), or folded into the one-line InputError if it failed.
#
# fd 2 belongs to the whole process: while a native call runs, whatever any thread writes to fd 2
# lands in the capture file (it is written back after the call, or dropped when the call failed).
# A lock serialises the redirected calls (nested calls in one thread are allowed), so threads of one
# process decode one native step at a time; worker processes are unaffected. A forked child gets a
# fresh lock and capture file. Only one native step is ever inside the redirect (a decoder's
# construction, one next(), its close): a redirect is never held across a generator's yield, where
# the caller's own stderr output would be swallowed.


class _CaptureState:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.file: Any = None  # unlinked temporary file, created on first use in this process


_capture = _CaptureState()
if hasattr(os, "register_at_fork"):  # pragma: no branch
    os.register_at_fork(after_in_child=lambda: globals().update(_capture=_CaptureState()))

#: Exceptions that pass through library_errors unchanged (ours, and interpreter-level ones).
_PASS_THROUGH = (EvferError, KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError)
_PANIC_LINE = re.compile(r"thread '.*?'(?: \(\d+\))? panicked at (.*)")
_OLD_PANIC = re.compile(r"'(.*)', \S+:\d+:\d+")  # Rust < 1.73: panicked at 'message', src/x.rs:1:2
#: Lines of a panic report after its message: backtrace frames and Rust's notes.
_REPORT_LINE = re.compile(r"\s+(\d+:|at )|stack backtrace:|note: |thread caused")
#: Longest library text kept in an error message (characters).
_MAX_DETAIL = 300


def _flush_python_stderr() -> None:
    """Write out text Python holds for stderr, so that it goes where it was meant to go."""
    with contextlib.suppress(Exception):
        sys.stderr.flush()


def _redirect_fd2() -> int | None:
    """Point fd 2 at the capture file; returns a duplicate of the old fd 2 (None if there is no fd 2)."""
    if _capture.file is None:
        try:
            _capture.file = tempfile.TemporaryFile(buffering=0)
        except OSError:  # no writable temporary directory: run uncaptured rather than not at all
            _capture.file = False
    if _capture.file is False:
        return None
    _flush_python_stderr()
    try:
        saved = os.dup(2)
    except OSError:
        return None
    os.dup2(_capture.file.fileno(), 2)
    return saved


def _restore_fd2(saved: int | None) -> bytes:
    """Point fd 2 back at ``saved`` and return (and clear) what was written to it meanwhile."""
    if saved is None:
        return b""
    os.dup2(saved, 2)
    os.close(saved)
    fd = _capture.file.fileno()
    size = os.fstat(fd).st_size
    if size == 0:
        return b""
    os.lseek(fd, 0, os.SEEK_SET)
    parts = []
    while chunk := os.read(fd, 1 << 16):
        parts.append(chunk)
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    return b"".join(parts)


def quiet_call(fn: Callable[..., Any], *args: Any) -> tuple[Any, str]:
    """``fn(*args)`` with file descriptor 2 captured: returns its result and what the library printed
    (decoded text), which therefore never reaches the terminal. For C libraries that print their own
    lines before or instead of failing (OpenCV, libpng, FFmpeg); exceptions pass through."""
    with _capture.lock:
        saved = _redirect_fd2()
        try:
            result = fn(*args)
        finally:
            text = _restore_fd2(saved).decode("utf-8", "replace")
    return result, text


def first_line(text: str) -> str | None:
    """The first non-blank line of a library's text, shortened (for one-line messages)."""
    for line in text.splitlines():
        if line.strip():
            line = " ".join(line.split())
            return line if len(line) <= 160 else line[:157] + "..."
    return None


def _write_fd2(data: bytes) -> None:
    with contextlib.suppress(OSError):
        view = memoryview(data)
        while view:
            view = view[os.write(2, view) :]


def panic_message(text: str) -> str | None:
    """The message of the first Rust panic report in ``text`` (as printed by Rust's panic hook)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = _PANIC_LINE.match(line.strip())
        if not m:
            continue
        old = _OLD_PANIC.fullmatch(m.group(1).strip())
        if old:
            return old.group(1)
        message = []
        for follow in lines[i + 1 :]:
            if _REPORT_LINE.match(follow) or _PANIC_LINE.match(follow.strip()):
                break
            message.append(follow.strip())
        return " ".join(part for part in message if part) or None
    return None


def _first_line(text: str) -> str | None:
    """The first line of ``text`` that is neither blank nor part of a panic report."""
    for line in text.splitlines():
        if line.strip() and not _PANIC_LINE.match(line.strip()) and not _REPORT_LINE.match(line):
            return line.strip()
    return None


def _failure_detail(exc: BaseException, captured: bytes) -> str:
    message = " ".join(str(exc).split())
    text = captured.decode("utf-8", "replace")
    panic = panic_message(text)
    if panic is not None or type(exc).__name__ == "PanicException":
        if panic and panic not in message:
            message = f"{message}; {panic}" if message else panic
        message = f"decoder panic: {message or type(exc).__name__}"
    else:
        message = message or type(exc).__name__
        line = _first_line(text)
        if line and line not in message:
            message = f"{message} (library said: {line})"
    if len(message) > _MAX_DETAIL:
        message = message[: _MAX_DETAIL - 3] + "..."
    return message


class library_errors:  # noqa: N801 - used like a function: ``with library_errors(path, what):``
    """Run one call into a native decoding library (faery, evt3) with its stderr captured, and turn
    its errors and panics into a one-line InputError naming ``path``.

    faery raises RuntimeError for bad data and may panic (pyo3 PanicException, a BaseException);
    evt3 raises OSError. Our own EvferErrors and interpreter exits pass through unchanged. Keep the
    body to native calls: no ``yield`` inside (see the notes above :class:`_CaptureState`).
    A class rather than a generator-based context manager: it runs once per decoded packet.
    """

    __slots__ = ("path", "what", "lock", "saved")

    def __init__(self, path: str | os.PathLike, what: str):
        self.path = path
        self.what = what

    def __enter__(self) -> None:
        self.lock = _capture.lock
        self.lock.acquire()
        try:
            self.saved = _redirect_fd2()
        except BaseException:
            self.lock.release()
            raise

    def __exit__(self, kind, exc, tb) -> bool:
        try:
            captured = _restore_fd2(self.saved)
        finally:
            self.lock.release()
        if exc is None or isinstance(exc, _PASS_THROUGH):
            _write_fd2(captured)
            return False
        detail = _failure_detail(exc, captured)
        raise InputError(self.path, f"cannot decode {self.what} (corrupt or truncated?): {detail}") from None


def native(path: str | os.PathLike, what: str, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``, a call into a native library, under :func:`library_errors`."""
    with library_errors(path, what):
        return fn(*args)


_END = object()


def native_steps(iterable: Any, path: str | os.PathLike, what: str) -> Iterator[Any]:
    """The items of a native iterator, each ``next()`` under :func:`library_errors`, the caller's
    code between items outside it."""
    iterator = native(path, what, iter, iterable)
    while True:
        with library_errors(path, what):
            item = next(iterator, _END)
        if item is _END:
            return
        yield item


@contextlib.contextmanager
def native_decoder(path: str | os.PathLike, what: str, make: Callable[[], Any]) -> Iterator[Any]:
    """``with native_decoder(path, what, lambda: Decoder(...)) as dec``: the decoder is built, entered
    and closed under :func:`library_errors`; the body is not (use :func:`native` /
    :func:`native_steps` for the calls in it)."""
    with library_errors(path, what):
        obj = make()
        dec = obj.__enter__()
    try:
        yield dec
    except BaseException:
        with contextlib.suppress(EvferError):  # the first error is the one to report
            native(path, what, obj.__exit__, None, None, None)
        raise
    native(path, what, obj.__exit__, None, None, None)


def faery_packets(
    chunks: Iterable[Events], polarity: tuple[str, str], what: str
) -> Iterator[tuple[np.ndarray, int]]:
    """Events chunks as the arrays faery's encoders take (t u8, x u2, y u2, and the ``polarity``
    field (name, dtype) true for ON), each with its first timestamp; ``what`` names the format
    in the error for negative timestamps, which faery cannot write."""
    name, kind = polarity
    dtype = np.dtype([("t", "<u8"), ("x", "<u2"), ("y", "<u2"), (name, kind)])
    for ev in chunks:
        if len(ev) == 0:
            continue
        if ev.t[0] < 0:
            raise ValueError(f"negative timestamps ({ev.t[0]} µs) cannot be written to {what}")
        a = np.empty(len(ev), dtype)
        a["t"], a["x"], a["y"], a[name] = ev.t, ev.x, ev.y, ev.p > 0
        yield a, int(ev.t[0])
