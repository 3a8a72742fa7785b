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
from ..events import EVENT_DTYPE, Events
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
    if head.startswith(_NPY_MAGIC):
        raise InputError(path, "holds a single array (.npy data), not an .npz archive of t, x, y, p")
    if not head.startswith(_ZIP_MAGIC):
        raise InputError(
            path, "not an .npz archive: it does not start like a zip file (truncated or corrupt?)"
        )
    try:
        check_sizes(path)
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


#: Largest expansion of deflate data (one 258-byte match in 2 bits); stored members expand by 1.
MAX_DEFLATE_RATIO = 1032
_ZIP_RATIO = {zipfile.ZIP_STORED: 1, zipfile.ZIP_DEFLATED: MAX_DEFLATE_RATIO}


def check_sizes(path: Path) -> None:
    """InputError if a member of the archive declares more data than the file can hold.

    numpy allocates an array of the shape its ``.npy`` header states before reading a byte of it
    (a header stating 10^12 values asked for 7.3 TiB). So, before loading, each member is checked
    against the zip entry that holds it: the entry's compressed bytes must lie in the file, its
    uncompressed size can be at most :data:`MAX_DEFLATE_RATIO` times that (deflate; stored: equal;
    bzip2 and lzma members, which numpy never writes, are not bounded), and the array the header
    declares (shape x item size) must fit in the uncompressed entry after the header (members that
    are not ``.npy`` data are left to the loader). zipfile checks each member's CRC-32 and length
    when numpy reads it.
    """
    fmt = np.lib.format
    file_size = path.stat().st_size
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            entry = f"zip entry {info.filename!r} claims"
            if info.compress_size > file_size:
                raise InputError(path, f"{entry} {info.compress_size:,} compressed bytes but the file holds "
                                 f"only {file_size:,}: truncated or corrupt")  # fmt: skip
            ratio = _ZIP_RATIO.get(info.compress_type)
            if ratio is not None and info.file_size > ratio * info.compress_size:
                raise InputError(path, f"{entry} {info.file_size:,} bytes, more than its "
                                 f"{info.compress_size:,} compressed bytes can hold: corrupt")  # fmt: skip
            if not info.filename.endswith(".npy"):
                continue
            with z.open(info) as f:
                if f.read(len(_NPY_MAGIC)) != _NPY_MAGIC:
                    continue  # numpy gives such a member as bytes: refused as not an array
                f.seek(0)
                version = fmt.read_magic(f)
                read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
                shape, _, dtype = read(f)
                header = f.tell()
            if dtype.hasobject:
                continue  # refused when loaded (pickled data)
            count = int(np.prod(shape, dtype=object))
            declared = count * dtype.itemsize
            holds = info.file_size - header
            if declared > holds:
                name = info.filename[: -len(".npy")]
                values = "events" if name in FIELDS and len(shape) == 1 else "values"
                raise InputError(
                    path,
                    f"the npz header of array '{name}' declares {count:,} {values} of {dtype} "
                    f"({declared:,} bytes) but the file holds only {holds:,} bytes of it "
                    f"({file_size:,} in all): truncated or corrupt",
                )


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

    def checks(self) -> list[str]:
        return ["zip structure", "CRC-32 of every array", "array sizes fit the file",
                "t, x, y, p of one length"]  # fmt: skip

    def undetectable(self) -> str:
        return "an archive written again with other valid values cannot be detected"

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

    a = np.concatenate(parts) if parts else np.empty(0, EVENT_DTYPE)
    extra = {"meta_json": np.array(meta_to_json(meta))} if meta else {}
    with open(tmp, "wb") as f:
        np.savez_compressed(
            f, t=a["t"], x=a["x"], y=a["y"], p=a["p"], width=np.int64(width), height=np.int64(height), **extra
        )
