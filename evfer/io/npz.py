"""NumPy ``.npz`` archives with arrays ``t`` (µs), ``x``, ``y``, ``p`` (bool, 0/1 or -1/+1).

Optional: ``width`` and ``height`` (scalars) and ``meta_json`` (a JSON string). The whole archive is
loaded at once (use the HDF5 store for large recordings). Unsorted events are sorted on reading.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..events import Events
from .metadata import meta_from_json, meta_to_json
from .reader import EventReader, FileInfo

FIELDS = ("t", "x", "y", "p")


#: What numpy / zipfile raise on damaged or odd archives.
_LOAD_ERRORS = (
    zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError, TypeError, struct.error,
)
_NUMBER_KINDS = {"t": "iuf", "x": "iuf", "y": "iuf", "p": "biuf"}
_DAMAGED = "truncated or corrupt?"
#: Largest |t| in µs accepted from unsigned or float arrays (int64 holds them exactly).
MAX_ABS_T = 1 << 62


#: What an .npz archive (a zip file) or a single .npy array starts with.
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_NPY_MAGIC = b"\x93NUMPY"
#: Said instead of numpy's own message about pickled data, which advises loading it unsafely.
_NO_PICKLE = "it holds Python objects (pickled data), which evfer never loads"


def _load(path: Path) -> dict[str, np.ndarray]:
    """The arrays of the archive. np.load only ever sees zip or .npy content: on anything else it
    would try to unpickle the file (refused by allow_pickle=False, with advice to load it unsafely)."""
    with open(path, "rb") as f:
        head = f.read(6)
    if not head.startswith((*_ZIP_MAGIC, _NPY_MAGIC)):
        raise InputError(
            path, "not an .npz archive: it does not start like a zip file (truncated or corrupt?)"
        )
    try:
        z = np.load(path, allow_pickle=False)
    except _LOAD_ERRORS as exc:
        raise InputError(path, f"not a readable .npz archive ({_DAMAGED}): {_reason(exc)}") from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise InputError(path, "holds a single array (.npy data), not an .npz archive of t, x, y, p")
    with z:
        try:
            arrays = {k: z[k] for k in z.files}
        except ValueError as exc:  # object arrays need pickle, which we refuse
            raise InputError(path, f"cannot load an array of the .npz archive: {_reason(exc)}") from None
        except _LOAD_ERRORS as exc:
            raise InputError(path, f"cannot read the .npz archive ({_DAMAGED}): {_reason(exc)}") from None
    odd = sorted(k for k, v in arrays.items() if not isinstance(v, np.ndarray))
    if odd:
        raise InputError(path, f"member(s) {', '.join(odd)} of the archive are not NumPy arrays")
    return arrays


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return _NO_PICKLE if "pickle" in text.lower() else text


def _scalar_int(a: np.ndarray, name: str, path: Path) -> int:
    if a.size != 1 or a.dtype.kind not in "iu":
        raise InputError(path, f"array '{name}' must be one integer, got dtype {a.dtype} shape {a.shape}")
    value = int(a.reshape(-1)[0])
    if value <= 0:
        raise InputError(path, f"array '{name}' is {value}; the sensor size must be positive")
    return value


class NpzReader(EventReader):
    def __init__(self, path: Path):
        self.path = path
        self.arrays = a = _load(path)
        missing = [k for k in FIELDS if k not in a]
        if missing:
            have = ", ".join(sorted(a)) or "nothing"
            raise InputError(path, f"missing array(s) {', '.join(missing)} (it has: {have})")
        for k in FIELDS:
            if a[k].ndim != 1:
                raise InputError(path, f"array '{k}' has shape {a[k].shape}, expected one dimension")
            if a[k].dtype.kind not in _NUMBER_KINDS[k]:
                raise InputError(path, f"array '{k}' has dtype {a[k].dtype}, expected numbers")
        lengths = {k: len(a[k]) for k in FIELDS}
        if len(set(lengths.values())) != 1:
            raise InputError(path, f"arrays t, x, y, p differ in length: {lengths}")
        t = a["t"]
        if len(t) and t.dtype.kind == "f" and not np.isfinite(t).all():
            raise InputError(path, "timestamps contain NaN or inf")
        if len(t) and t.dtype.kind in "uf" and np.abs(t).max() > MAX_ABS_T:
            raise InputError(path, f"timestamps up to {np.abs(t).max()} µs are out of range (|t| <= 2**62)")
        size = None
        if "width" in a and "height" in a:
            size = _scalar_int(a["width"], "width", path), _scalar_int(a["height"], "height", path)
        meta = {}
        if "meta_json" in a:
            text = a["meta_json"]
            if text.size != 1 or text.dtype.kind not in "US":
                raise InputError(path, f"array 'meta_json' must be one string, got dtype {text.dtype}")
            text = text.reshape(-1)[0]
            text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
            meta = meta_from_json(text, path)
        self.info = FileInfo(
            format="npz",
            description="NumPy archive (.npz)",
            geometry=size,
            geometry_detail="width/height arrays" if size else "",
            meta=meta,
        )

    def packets(
        self, t_start: int | None = None, t_end: int | None = None, whole: bool = False
    ) -> Iterator[np.ndarray]:
        a = self.arrays
        # validation (whole µs, coordinates in 0..65535, polarity convention) and sorting
        try:
            ev = Events.from_arrays(
                a["t"], a["x"], a["y"], a["p"], 1 << 16, 1 << 16, source=self.path, sort=True
            )
        except (ValueError, TypeError, OverflowError) as exc:
            raise InputError(self.path, f"cannot use the arrays t, x, y, p: {_reason(exc)}") from None
        yield ev.array


def write_npz(tmp: Path, chunks: Iterable[Events], width: int, height: int, meta: dict[str, Any]) -> None:
    parts = [ev.array for ev in chunks]
    from ..events import EVENT_DTYPE

    a = np.concatenate(parts) if parts else np.empty(0, EVENT_DTYPE)
    extra = {"meta_json": np.array(meta_to_json(meta))} if meta else {}
    with open(tmp, "wb") as f:
        np.savez_compressed(
            f, t=a["t"], x=a["x"], y=a["y"], p=a["p"], width=np.int64(width), height=np.int64(height), **extra
        )
