"""Pieces shared by the format modules: file facts, event arrays, metadata encoding, error wrapping."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
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


@contextlib.contextmanager
def library_errors(path: str | os.PathLike, what: str) -> Iterator[None]:
    """Turn errors and panics of a decoding library into a one-line InputError naming ``path``.

    faery raises RuntimeError for bad data and may panic (pyo3 PanicException, a BaseException);
    evt3 raises OSError. Our own EvferErrors and interpreter exits pass through unchanged.
    """
    try:
        yield
    except (EvferError, KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError):
        raise
    except BaseException as exc:  # noqa: BLE001 - pyo3 panics derive from BaseException
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise InputError(path, f"cannot decode {what} (corrupt or truncated?): {message}") from None


# ---------------------------------------------------------------- metadata
def clean_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """Metadata to store: everything except the keys a reader sets (:data:`READER_META_KEYS`)."""
    return {k: v for k, v in meta.items() if k not in READER_META_KEYS}


def json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"metadata value of type {type(obj).__name__} cannot be stored as JSON")


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
