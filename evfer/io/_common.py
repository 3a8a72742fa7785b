"""Pieces shared by the format modules: file facts, event arrays, metadata encoding, error wrapping."""

from __future__ import annotations

from ..atomic import json_default  # noqa: F401  (used by the io writers)

import contextlib
import json
import os
import re
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EvferError, InputError
from ..events import EVENT_DTYPE

#: Keys that readers put into ``Events.meta``; they describe the file, so writers leave them out.
READER_META_KEYS = ("file", "file_format", "geometry_source", "geometry_detail")

#: Metadata of Prophesee/AEDAT files is stored as one JSON text under this name.
META_KEY = "evfer_meta"


@dataclass
class FileInfo:
    """What a reader knows about a file before decoding its events.

    Attributes:
        format: short format id ("evt3", "evt2", "evt2.1", "dat", "aedat4", "evfer-h5", "v2e-h5", "npz").
        description: human-readable format name.
        geometry: (width, height) in pixels stored in the file, or None.
        plugin_geometry: (width, height) from the camera plugin name (Prophesee only), or None.
        geometry_detail: where ``geometry``/``plugin_geometry`` came from, for messages.
        meta: free metadata stored in the file.
        header: other format facts (Prophesee header fields, AEDAT tracks, ...).
    """

    format: str
    description: str
    geometry: tuple[int, int] | None = None
    plugin_geometry: tuple[int, int] | None = None
    geometry_detail: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    header: dict[str, Any] = field(default_factory=dict)


def event_array(t: Any, x: Any, y: Any, on: Any) -> np.ndarray:
    """A structured :data:`EVENT_DTYPE` array from columns; ``on`` is bool or 0/1 (1 = ON)."""
    a = np.empty(len(t), EVENT_DTYPE)
    a["t"] = t
    a["x"] = x
    a["y"] = y
    a["p"] = np.where(np.asarray(on) != 0, 1, -1)
    return a


def check_file(path: str | os.PathLike) -> Path:
    """The path if it names a readable, non-empty regular file; otherwise a one-line InputError."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file")
    if path.is_dir():
        raise InputError(path, "is a directory, not an event file")
    if not os.access(path, os.R_OK):
        raise InputError(path, "permission denied")
    if path.stat().st_size == 0:
        raise InputError(path, "empty file (0 bytes)")
    return path


# ---------------------------------------------------------------- native decoders
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


# ---------------------------------------------------------------- metadata
def clean_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """Metadata to store: everything except the keys a reader sets (:data:`READER_META_KEYS`)."""
    return {k: v for k, v in meta.items() if k not in READER_META_KEYS}


def meta_to_json(meta: dict[str, Any]) -> str:
    """One-line JSON text of ``meta`` (numpy values become plain numbers / lists)."""
    for key in meta:
        if not isinstance(key, str):
            raise TypeError(f"metadata keys must be strings, got {key!r}")
    return json.dumps(meta, default=json_default, ensure_ascii=True, separators=(",", ":"))


def meta_from_json(text: str, source: str | os.PathLike) -> dict[str, Any]:
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(source, f"stored metadata is not valid JSON ({exc.msg})") from None
    if not isinstance(meta, dict):
        raise InputError(source, "stored metadata is not a JSON object")
    return meta


def parse_size(text: str) -> tuple[int, int]:
    """``"640x480"`` → (640, 480); ValueError otherwise."""
    w, sep, h = text.lower().partition("x")
    if not sep:
        raise ValueError(f"sensor size must look like WIDTHxHEIGHT, got {text!r}")
    size = int(w), int(h)
    if size[0] <= 0 or size[1] <= 0:
        raise ValueError(f"sensor size must be positive, got {text!r}")
    return size
