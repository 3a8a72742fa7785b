"""HDF5 files: the project's own event store, and v2e's output.

The store (the format every evfer stage writes), format version 1::

    /                 attrs: evfer_format="evfer.events", evfer_format_version=1, width, height,
                             n_events, n_on, t_first, t_last (µs), index_stride, meta_json_keys
    /events/t         int64 µs, sorted     \
    /events/x         uint16 pixels         |  one dataset per field, chunks of index_stride
    /events/y         uint16 pixels         |  events, gzip level 1 + shuffle
    /events/p         int8, +1 / -1        /
    /events/index_t   int64: t of events 0, S, 2S, ... (S = index_stride) — the time index
    /meta             attrs: free metadata. Strings, numbers, bools and numeric arrays are plain
                      attributes; None, dicts, lists and tuples are JSON text, their keys listed in
                      the root attribute meta_json_keys (tuples come back as lists)

A window read looks the window up in ``index_t`` and reads only the chunks it covers.

v2e's output: dataset ``events`` (older v2e: ``event``) of shape (N, 4), uint32 columns
``[t_us, x, y, p]`` with p in {0, 1}, time-sorted (v2e writes frame interval after frame
interval). It usually has no sensor size. evfer writes this layout for ``*.v2e.h5`` names or
``format="v2e"``, adding root attributes ``width``, ``height`` and ``evfer_meta`` (JSON) which v2e
tools ignore. The two are told apart by content (the ``evfer_format`` attribute), not by name.

Damage: every error h5py raises while a file is opened or read (OSError for a chunk that fails
to decompress, KeyError for a missing object, TypeError/ValueError for an odd attribute, ...)
becomes a one-line InputError. The store's time index is checked against the data wherever both
are read, and ``probe`` decodes all the data, so damage is reported, not hidden behind intact
attributes.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import json_default
from ..errors import EvferError, InputError
from ..events import EVENT_DTYPE, Events, normalize_polarity
from .h5write import hdf5_for_writing
from .metadata import META_KEY, meta_from_json, meta_to_json
from .reader import EventReader, EventStats, FileInfo, event_array

FORMAT_TAG = "evfer.events"
FORMAT_VERSION = 1
#: Events per HDF5 chunk, and the stride of the time index.
CHUNK = 1 << 16
#: Rows read per block when streaming (≈ 50 MB of events).
BLOCK = 1 << 22
FIELDS = {"t": np.int64, "x": np.uint16, "y": np.uint16, "p": np.int8}
_COMPRESSION = {"compression": "gzip", "compression_opts": 1, "shuffle": True}
_INDEX_MISMATCH = "evfer store time index disagrees with the timestamps (corrupt file?)"


#: What h5py raises on damaged files (besides our own InputErrors, which pass through).
H5_ERRORS = (
    KeyError, OSError, ValueError, TypeError, RuntimeError, IndexError, AttributeError, OverflowError,
)


@contextlib.contextmanager
def h5_errors(path: Path, doing: str) -> Iterator[None]:
    """Turn h5py's errors while ``doing`` something with ``path`` into a one-line InputError."""
    try:
        yield
    except EvferError:
        raise
    except H5_ERRORS as exc:
        reason = " ".join(str(exc).split()).strip("'\"") or type(exc).__name__
        raise InputError(path, f"corrupt HDF5 file: cannot {doing} ({reason})") from None


def open_hdf5(path: Path):
    import h5py

    try:
        return h5py.File(path, "r")
    except H5_ERRORS as exc:
        reason = " ".join(str(exc).split())
        raise InputError(path, f"not a readable HDF5 file (truncated or corrupt?): {reason}") from None


def reader_for(path: Path):
    """StoreReader or V2eReader, chosen by the file's content."""
    with h5_errors(path, "read its top-level contents"), open_hdf5(path) as f:
        if f.attrs.get("evfer_format") is not None:
            return StoreReader(path)
        for name in ("events", "event"):
            ds = f.get(name)
            if ds is not None and getattr(ds, "ndim", 0) == 2 and ds.shape[1] == 4:
                return V2eReader(path, name)
        contents = ", ".join(sorted(f.keys())) or "nothing"
    raise InputError(
        path,
        "HDF5 file is neither an evfer event store (root attribute evfer_format) nor v2e output "
        f"(dataset 'events' of shape (N, 4)); it holds: {contents}",
    )


def _scalar(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.generic):
        return value.item()
    return value


#: Largest expansion of deflate (zlib) data: one 258-byte match in 2 bits. A dataset filtered only
#: by deflate, shuffle and fletcher32 cannot hold more than this many bytes per stored byte.
MAX_DEFLATE_RATIO = 1032
_RATIO_FILTERS = {1: MAX_DEFLATE_RATIO, 2: 1, 3: 1}  # H5Z_FILTER_DEFLATE, SHUFFLE, FLETCHER32


def check_storage(path: Path, f, names: Iterable[str]) -> None:
    """InputError if a dataset of ``names`` declares more data than the file can hold.

    What a dataset's shape says is compared with what is stored (before anything is allocated
    by it): a contiguous dataset must store all its bytes; a chunked one must have all its chunks
    (an unwritten chunk would read as fill values), no more stored bytes than the file has, and,
    when its filters are deflate/shuffle/fletcher32 (or none), at most :data:`MAX_DEFLATE_RATIO`
    data bytes per stored byte (1 without deflate); other filters (lzf, szip, plugins) are not
    bounded. Compact datasets live in the object header; virtual and external ones (never written
    by evfer or v2e) are not checked.
    """
    import h5py

    file_size = path.stat().st_size
    for name in names:
        ds = f[name]
        declared = int(np.prod(ds.shape, dtype=object)) * ds.dtype.itemsize
        if declared == 0:
            continue
        dcpl = ds.id.get_create_plist()
        layout = dcpl.get_layout()
        if layout not in (h5py.h5d.CONTIGUOUS, h5py.h5d.CHUNKED) or dcpl.get_external_count():
            continue
        stored = int(ds.id.get_storage_size())
        what = f"dataset '{name}' declares shape {ds.shape} of {ds.dtype} ({declared:,} bytes)"
        if stored > file_size:
            raise InputError(path, f"{what} and {stored:,} stored bytes, but the file has {file_size:,}: "
                             "truncated or corrupt")  # fmt: skip
        ratio = 1
        if layout == h5py.h5d.CHUNKED:
            chunks = int(np.prod([-(-n // c) for n, c in zip(ds.shape, ds.chunks)], dtype=object))
            present = int(ds.id.get_num_chunks())
            if present < chunks:
                raise InputError(path, f"{what} in {chunks:,} chunks, but only {present:,} are stored "
                                 f"(the file holds {file_size:,} bytes): truncated or corrupt")  # fmt: skip
            for i in range(dcpl.get_nfilters()):
                code = dcpl.get_filter(i)[0]
                ratio = ratio * _RATIO_FILTERS[code] if code in _RATIO_FILTERS else None
                if ratio is None:
                    break
        if ratio is not None and declared > ratio * stored:
            raise InputError(path, f"{what}, but the file stores only {stored:,} bytes of it "
                             f"(the file holds {file_size:,} bytes): truncated or corrupt")  # fmt: skip


def _size_attrs(f, path: Path) -> tuple[int, int]:
    """Root attributes width, height as a positive size in pixels."""
    w, h = int(_scalar(f.attrs["width"])), int(_scalar(f.attrs["height"]))
    if w <= 0 or h <= 0:
        raise InputError(path, f"invalid sensor size {w}x{h} in the file attributes")
    return w, h


# ---------------------------------------------------------------- the store
class StoreReader(EventReader):
    def __init__(self, path: Path):
        self.path = path
        with h5_errors(path, "read the evfer store's layout and attributes"), open_hdf5(path) as f:
            tag = _scalar(f.attrs["evfer_format"])
            if tag != FORMAT_TAG:
                raise InputError(path, f"unknown evfer_format {tag!r} (expected {FORMAT_TAG!r})")
            version = int(_scalar(f.attrs.get("evfer_format_version", 0)))
            if version > FORMAT_VERSION:
                raise InputError(
                    path, f"store format version {version} is newer than this evfer reads ({FORMAT_VERSION})"
                )
            g = f.get("events")
            missing = [k for k in FIELDS if g is None or k not in g]
            if missing:
                names = ", ".join("events/" + k for k in missing)
                raise InputError(path, f"evfer store lacks dataset(s) {names}")
            shapes = {k: g[k].shape for k in FIELDS}
            if any(len(shape) != 1 for shape in shapes.values()):
                raise InputError(path, f"evfer store datasets are not one-dimensional: {shapes}")
            lengths = {k: shape[0] for k, shape in shapes.items()}
            if len(set(lengths.values())) != 1:
                raise InputError(path, f"evfer store datasets differ in length: {lengths}")
            odd = {k: str(g[k].dtype) for k in FIELDS if g[k].dtype.kind not in "iu"}
            if odd:
                raise InputError(path, f"evfer store datasets are not integers: {odd}")
            self.n = lengths["t"]
            check_storage(path, f, ["events/" + k for k in FIELDS])
            self.deflated = all(g[k].compression == "gzip" for k in FIELDS)
            missing = [k for k in ("width", "height") if k not in f.attrs]
            if missing:
                raise InputError(path, f"evfer store lacks the {' and '.join(missing)} attribute")
            w, h = _size_attrs(f, path)
            if "n_events" in f.attrs and int(_scalar(f.attrs["n_events"])) != self.n:
                stated = int(_scalar(f.attrs["n_events"]))
                raise InputError(path, f"evfer store says {stated} events but holds {self.n}")
            self.stats = {k: int(_scalar(f.attrs[k])) for k in ("n_on", "t_first", "t_last") if k in f.attrs}
            self.stride = int(_scalar(f.attrs.get("index_stride", CHUNK)))
            self.has_index = "index_t" in g
            if self.has_index:
                if self.stride <= 0:
                    raise InputError(path, f"evfer store has index_stride {self.stride} (must be positive)")
                expected = -(-self.n // self.stride)
                shape = g["index_t"].shape
                if shape != (expected,):
                    raise InputError(
                        path, f"evfer store time index has shape {shape}, expected ({expected},) for "
                        f"{self.n} events every {self.stride}"
                    )  # fmt: skip
                check_storage(path, f, ["events/index_t"])
            meta = _read_meta(f, path)
        self.info = FileInfo(
            format="evfer-h5",
            description=f"evfer event store v{version} (.h5)",
            geometry=(w, h),
            geometry_detail="store attributes",
            meta=meta,
            header={"n_events": self.n, "index_stride": self.stride},
        )

    def checks(self) -> list[str]:
        stated = ", ".join(k for k in ("n_on", "t_first", "t_last") if k in self.stats)
        out = ["layout", "sizes fit the file", "event count = attribute"]
        if stated:
            out.append(f"{stated} = attributes")
        if self.has_index:
            out.append("time index = timestamps")
        out.append("polarity ±1")
        if self.deflated:
            out.append("compressed chunks intact (zlib checksum)")
        return out

    def undetectable(self) -> str:
        return (
            "damage that leaves valid HDF5 structures and values consistent with the attributes "
            "cannot be detected"
        )

    def check_stats(self, stats: EventStats) -> None:
        """InputError if the ON count or time range decoded from the data contradict the store's
        attributes (the event count was checked on opening)."""
        found = {k: getattr(stats, k) for k in self.stats}
        wrong = [
            f"{k}={stated} (data: {found[k]})"
            for k, stated in self.stats.items()
            if found[k] is not None and found[k] != stated
        ]
        if wrong:
            raise InputError(self.path, f"evfer store attributes contradict its data: {', '.join(wrong)}")

    def _index(self, f) -> np.ndarray:
        index = f["events/index_t"][:]
        if len(index) > 1 and not bool(np.all(index[1:] >= index[:-1])):
            raise InputError(self.path, "evfer store time index is not sorted (corrupt file?)")
        return index

    def rows(self, f, t_start: int | None, t_end: int | None) -> tuple[int, int]:
        """Row range [lo, hi) that holds every event with t_start <= t < t_end (maybe a little more)."""
        n = self.n
        t = f["events/t"]
        if self.has_index and (t_start is not None or t_end is not None):
            index = self._index(f)
            if t_start is None:
                lo = 0
            else:
                lo = max(int(np.searchsorted(index, t_start, "left")) - 1, 0) * self.stride
            hi = n if t_end is None else min(int(np.searchsorted(index, t_end, "left")) * self.stride, n)
            # A wrong index would silently drop events at the window's edges. Row lo is an index
            # row inside the rows read, which packets() checks against the index; row hi is not,
            # so its timestamp is read here (one element: one more chunk of t decompressed).
            if hi < n and t[hi] < t_end:
                raise InputError(self.path, _INDEX_MISMATCH)
        else:
            lo = 0 if t_start is None else _bisect(t, t_start, n)
            hi = n if t_end is None else _bisect(t, t_end, n)
        return lo, max(lo, hi)

    def packets(
        self, t_start: int | None = None, t_end: int | None = None, whole: bool = False
    ) -> Iterator[np.ndarray]:
        """The window's rows in blocks of :data:`BLOCK` events, or as one array when ``whole``.

        Where the rows read include indexed rows (every ``stride``-th), the time index is checked
        against them."""

        with h5_errors(self.path, "read the evfer store's events"), open_hdf5(self.path) as f:
            g = f["events"]
            lo, hi = self.rows(f, t_start, t_end)
            index = self._index(f) if self.has_index and hi > lo else None
            step = max(hi - lo, 1) if whole else BLOCK
            for a in range(lo, hi, step):
                out = np.empty(min(a + step, hi) - a, EVENT_DTYPE)
                for c in range(0, len(out), BLOCK):  # fill in blocks: one small temporary per field
                    rows = slice(a + c, a + min(c + BLOCK, len(out)))
                    for k in FIELDS:
                        block = g[k][rows]
                        if k == "p" and not ((block == 1) | (block == -1)).all():
                            raise InputError(self.path, "evfer store holds polarity values other than -1/+1")
                        out[k][c : c + BLOCK] = block
                if index is not None:
                    self._check_index(index, out["t"], a)
                yield out

    def _check_index(self, index: np.ndarray, t: np.ndarray, first_row: int) -> None:
        """InputError unless ``index`` matches the timestamps ``t`` of rows first_row, first_row+1, ..."""
        k0 = -(-first_row // self.stride)
        k1 = -(-(first_row + len(t)) // self.stride)
        if k1 > k0:
            stored = index[k0:k1]
            actual = t[np.arange(k0, k1) * self.stride - first_row]
            if not np.array_equal(stored, actual):
                raise InputError(self.path, _INDEX_MISMATCH)


def _bisect(ds, value: int, n: int, column: int | None = None) -> int:
    """First row whose t (``ds[i]`` or ``ds[i, column]``) is >= value; one element read per step."""
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) // 2
        t = ds[mid] if column is None else ds[mid, column]
        if t < value:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _read_meta(f, path: Path) -> dict[str, Any]:
    g = f.get("meta")
    if g is None:
        return {}
    try:
        json_keys = set(json.loads(_scalar(f.attrs.get("meta_json_keys", "[]"))))
    except (ValueError, TypeError):
        raise InputError(path, "root attribute meta_json_keys is not a JSON list of names") from None
    meta: dict[str, Any] = {}
    for key, value in g.attrs.items():
        value = _scalar(value)
        if key in json_keys:
            try:
                value = json.loads(value)
            except (TypeError, json.JSONDecodeError):
                raise InputError(path, f"metadata {key!r} is not valid JSON") from None
        meta[key] = value
    return meta


def _write_meta(f, meta: dict[str, Any]) -> None:
    g = f.create_group("meta", track_order=True)
    json_keys = []
    for key, value in meta.items():
        if not isinstance(key, str):
            raise TypeError(f"metadata keys must be strings, got {key!r}")
        if isinstance(value, (str, bool, int, float, np.generic)) or (
            isinstance(value, np.ndarray) and value.dtype.kind in "biuf" and value.size
        ):
            g.attrs[key] = value
        else:
            g.attrs[key] = json.dumps(value, default=json_default)
            json_keys.append(key)
    f.attrs["meta_json_keys"] = json.dumps(json_keys)


def write_store(tmp: Path, chunks: Iterable[Events], width: int, height: int, meta: dict[str, Any]) -> None:
    with hdf5_for_writing(tmp) as f:
        f.attrs["evfer_format"] = FORMAT_TAG
        f.attrs["evfer_format_version"] = FORMAT_VERSION
        f.attrs["width"] = int(width)
        f.attrs["height"] = int(height)
        f.attrs["index_stride"] = CHUNK
        g = f.create_group("events")
        ds = {
            k: g.create_dataset(k, shape=(0,), maxshape=(None,), dtype=dt, chunks=(CHUNK,), **_COMPRESSION)
            for k, dt in FIELDS.items()
        }
        n = n_on = 0
        t_first = t_last = None
        index = []
        for ev in chunks:
            m = len(ev)
            if m == 0:
                continue
            for k in FIELDS:
                ds[k].resize((n + m,))
                ds[k][n:] = ev.array[k]
            first_row = -(-n // CHUNK) * CHUNK  # first multiple of CHUNK at or after n
            index.append(ev.t[np.arange(first_row, n + m, CHUNK) - n])
            n_on += int(np.count_nonzero(ev.p > 0))
            t_first = int(ev.t[0]) if t_first is None else t_first
            t_last = int(ev.t[-1])
            n += m
        g.create_dataset("index_t", data=np.concatenate(index) if index else np.zeros(0, np.int64))
        f.attrs["n_events"] = n
        f.attrs["n_on"] = n_on
        if n:
            f.attrs["t_first"] = t_first
            f.attrs["t_last"] = t_last
        _write_meta(f, meta)


# ---------------------------------------------------------------- v2e
class V2eReader(EventReader):
    def __init__(self, path: Path, dataset: str):
        self.path = path
        self.dataset = dataset
        with h5_errors(path, "read the v2e file's layout and attributes"), open_hdf5(path) as f:
            ds = f[dataset]
            if ds.dtype.kind not in "iu":
                raise InputError(path, f"v2e dataset '{dataset}' has dtype {ds.dtype}, expected integers")
            self.n = ds.shape[0]
            check_storage(path, f, [dataset])
            size = None
            if "width" in f.attrs and "height" in f.attrs:
                size = _size_attrs(f, path)
            meta = meta_from_json(_scalar(f.attrs[META_KEY]), path) if META_KEY in f.attrs else {}
            extra = sorted(k for k in f.keys() if k != dataset)
        self.info = FileInfo(
            format="v2e-h5",
            description="v2e HDF5 output (.h5)",
            geometry=size,
            geometry_detail="file attributes" if size else "",
            meta=meta,
            header={"dataset": dataset, "other_datasets": extra},
        )

    def checks(self) -> list[str]:
        return ["layout", "sizes fit the file", "polarity 0/1"]

    def undetectable(self) -> str:
        return "damage that leaves valid HDF5 structures and values cannot be detected (no stated count)"

    def packets(
        self, t_start: int | None = None, t_end: int | None = None, whole: bool = False
    ) -> Iterator[np.ndarray]:
        with h5_errors(self.path, "read the v2e events"), open_hdf5(self.path) as f:
            ds = f[self.dataset]
            lo = 0 if t_start is None else _bisect(ds, t_start, self.n, column=0)
            hi = self.n if t_end is None else _bisect(ds, t_end, self.n, column=0)
            step = max(hi - lo, 1) if whole else BLOCK
            for a in range(lo, hi, step):
                rows = ds[a : min(a + step, hi)]
                p = normalize_polarity(rows[:, 3], self.path)
                yield event_array(rows[:, 0], rows[:, 1], rows[:, 2], p > 0)


def write_v2e(tmp: Path, chunks: Iterable[Events], width: int, height: int, meta: dict[str, Any]) -> None:
    with hdf5_for_writing(tmp) as f:
        ds = f.create_dataset(
            "events", shape=(0, 4), maxshape=(None, 4), dtype=np.uint32, chunks=(CHUNK, 4), compression="gzip"
        )
        f.attrs["width"] = int(width)
        f.attrs["height"] = int(height)
        if meta:
            f.attrs[META_KEY] = meta_to_json(meta)
        n = 0
        for ev in chunks:
            if len(ev) == 0:
                continue
            if ev.t[0] < 0 or ev.t[-1] >= 1 << 32:
                raise ValueError("v2e files hold timestamps 0 <= t < 2**32 µs (uint32)")
            rows = np.stack([ev.t, ev.x, ev.y, ev.p > 0], axis=1).astype(np.uint32)
            ds.resize((n + len(rows), 4))
            ds[n:] = rows
            n += len(rows)
