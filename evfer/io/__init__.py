"""Reading and writing event files: one API for every format, chosen by the file name.

* ``.raw``: Prophesee EVT 3.0 (decoded by the ``evt3`` package), EVT 2.0 / 2.1 (faery); version and
  geometry from the ``%`` header. Written through faery (EVT 3.0 by default, or EVT 2.0).
* ``.dat``: Prophesee DAT with CD events or the older, identical Event2d type (faery).
* ``.aedat4``: AEDAT 4.0, first event track (faery).
* ``.h5`` / ``.hdf5``: the evfer event store (see :mod:`evfer.io.hdf5`) or v2e's output, told apart
  by content (h5py).
* ``.npz``: arrays t, x, y, p (+ width, height, meta_json) (numpy).

Writing picks the format the same way; ``*.v2e.h5`` (or ``format="v2e"``) writes v2e's layout and
``.raw`` is EVT 3.0 unless ``version="evt2"``.

Time windows are ``[t_start, t_end)`` in µs on the file's own clock. Reading is streamed: decoders
deliver packets, which are put in time order (a small reorder buffer absorbs the few-µs steps back
some cameras produce), cut to the window and checked against the sensor size; reading stops after
``t_end``. The HDF5 store and v2e files jump straight to the window (time index / bisection);
``.raw``, ``.dat`` and ``.aedat4`` have no index and are decoded from the start, in bounded memory.

Sensor size, in order: the size stored in the file (``geometry_source="header"``); the caller's
``sensor_size`` (an error if it contradicts the file); the size of the camera named by a Prophesee
``plugin_name`` (``"plugin_name"``; a differing ``sensor_size`` wins over this table, with a
warning); and as a last resort the largest coordinates in the file plus one (``"inferred"``, with a
warning). The source is recorded in ``events.meta["geometry_source"]``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_path
from ..errors import InputError
from ..events import EVENT_DTYPE, Events
from ._common import FileInfo, check_file, clean_meta, meta_to_json, parse_size
from ._stream import check_coordinates, coalesce, ordered, rebatch, windowed

__all__ = [
    "SUPPORTED_SUFFIXES",
    "WRITE_FORMATS",
    "Probe",
    "iter_events",
    "parse_size",
    "probe",
    "read_events",
    "write_events",
]

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".raw", ".dat", ".aedat4", ".h5", ".hdf5", ".npz")
#: Values of ``write_events(..., format=...)``.
WRITE_FORMATS = ("evt3", "evt2", "dat", "aedat4", "evfer", "v2e", "npz")
DEFAULT_CHUNK_EVENTS = 1_000_000
#: Decoder packets are merged up to this many events when the caller keeps everything (see
#: prophesee.EVT3_WHOLE_BATCH_BYTES); streaming merges up to _stream.MIN_PACKET_EVENTS.
WHOLE_PACKET_EVENTS = 1 << 22

SensorSize = tuple[int, int]


# ---------------------------------------------------------------- opening
def _reader(path: str | os.PathLike):
    """The format reader for ``path`` (after checking the file exists and is not empty)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES and not path.is_dir():
        raise _unknown_type(path)
    path = check_file(path)
    if suffix == ".raw":
        from .prophesee import RawReader

        return RawReader(path)
    if suffix == ".dat":
        from .prophesee import DatReader

        return DatReader(path)
    if suffix == ".aedat4":
        from .aedat import AedatReader

        return AedatReader(path)
    if suffix in (".h5", ".hdf5"):
        from .hdf5 import reader_for

        return reader_for(path)
    if suffix == ".npz":
        from .npz import NpzReader

        return NpzReader(path)
    raise AssertionError(suffix)  # pragma: no cover


def _unknown_type(path: Path) -> InputError:
    kind = path.suffix.lower() or path.name
    return InputError(path, f"unknown file type '{kind}'; supported: {', '.join(SUPPORTED_SUFFIXES)}")


@dataclass
class _Geometry:
    width: int
    height: int
    source: str  # "header" | "argument" | "plugin_name" | "inferred"
    detail: str

    def describe(self) -> str:
        return f"{self.source}: {self.detail}" if self.detail else self.source


def _as_size(sensor_size: Any) -> SensorSize | None:
    if sensor_size is None:
        return None
    if isinstance(sensor_size, str):
        return parse_size(sensor_size)
    w, h = (int(v) for v in sensor_size)
    if w <= 0 or h <= 0:
        raise ValueError(f"sensor_size must be positive, got {w}x{h}")
    return w, h


def _known_geometry(reader, path: Path, sensor_size: SensorSize | None) -> _Geometry | None:
    """The sensor size without looking at events, or None when it has to be inferred."""
    info: FileInfo = reader.info
    if info.geometry:
        if sensor_size and sensor_size != info.geometry:
            raise InputError(
                path,
                f"sensor_size {sensor_size[0]}x{sensor_size[1]} contradicts the "
                f"{info.geometry[0]}x{info.geometry[1]} stored in the file ({info.geometry_detail})",
            )
        return _Geometry(*info.geometry, "header", info.geometry_detail)
    if sensor_size:
        if info.plugin_geometry and info.plugin_geometry != sensor_size:
            log.warning(
                "%s: using sensor_size %dx%d although plugin_name %s means %dx%d",
                path, *sensor_size, info.geometry_detail, *info.plugin_geometry,
            )  # fmt: skip
        return _Geometry(*sensor_size, "argument", "")
    if info.plugin_geometry:
        log.debug("%s: sensor size %dx%d from %s", path, *info.plugin_geometry, info.geometry_detail)
        return _Geometry(*info.plugin_geometry, "plugin_name", info.geometry_detail)
    return None


def _inferred(path: Path, xmax: int, ymax: int, n: int) -> _Geometry:
    if n == 0:
        raise InputError(
            path, "the file states no sensor size and has no events to infer it from; pass sensor_size"
        )
    geo = _Geometry(xmax + 1, ymax + 1, "inferred", "largest coordinates + 1")
    log.warning(
        "%s: no sensor size in the file; inferred %dx%d from the largest coordinates "
        "(pass sensor_size to set it)",
        path, geo.width, geo.height,
    )  # fmt: skip
    return geo


def _geometry(reader, path: Path, sensor_size: SensorSize | None) -> _Geometry:
    geo = _known_geometry(reader, path, sensor_size)
    if geo is not None:
        return geo
    n = xmax = ymax = 0
    for a in reader.packets():  # a full pass, only when nothing states the size
        if len(a):
            n += len(a)
            xmax, ymax = max(xmax, int(a["x"].max())), max(ymax, int(a["y"].max()))
    return _inferred(path, xmax, ymax, n)


def _meta(reader, path: Path, geo: _Geometry) -> dict[str, Any]:
    return {
        **reader.info.meta,
        "file": str(path),
        "file_format": reader.info.format,
        "geometry_source": geo.source,
        "geometry_detail": geo.detail,
    }


def _ordered_window(reader, path: Path, geo: _Geometry, t_start: int | None, t_end: int | None, whole=False):
    origin = f"size from {geo.describe()}"

    def checked(packets):
        for a in packets:
            check_coordinates(a, geo.width, geo.height, path, origin)
            yield a

    packets = coalesce(reader.packets(t_start, t_end, whole=whole), WHOLE_PACKET_EVENTS if whole else None)
    return windowed(ordered(checked(packets), path), t_start, t_end)


def _window_args(t_start: int | None, t_end: int | None) -> tuple[int | None, int | None]:
    t_start = None if t_start is None else int(t_start)
    t_end = None if t_end is None else int(t_end)
    if t_start is not None and t_end is not None and t_end < t_start:
        raise ValueError(f"t_end ({t_end}) is before t_start ({t_start})")
    return t_start, t_end


def _join(parts: list[np.ndarray]) -> np.ndarray:
    """Concatenate ``parts``. Slices that lie back to back in one buffer (an HDF5 window read in
    one block) are joined without copying; otherwise each part is released as soon as it is
    copied, and the output's pages are only touched while copying, so peak memory stays near one
    copy of the events, not two."""
    if not parts:
        return np.empty(0, EVENT_DTYPE)
    base = parts[0].base
    same = base is not None and base.ndim == 1 and base.dtype == EVENT_DTYPE
    if same and all(p.base is base for p in parts):
        size = EVENT_DTYPE.itemsize
        starts = [(p.ctypes.data - base.ctypes.data) // size for p in parts]
        if all(p.flags.c_contiguous for p in parts) and all(
            starts[i] + len(parts[i]) == starts[i + 1] for i in range(len(parts) - 1)
        ):
            return base[starts[0] : starts[-1] + len(parts[-1])]
    out = np.empty(sum(len(p) for p in parts), EVENT_DTYPE)
    parts.reverse()
    i = 0
    while parts:
        part = parts.pop()
        out[i : i + len(part)] = part
        i += len(part)
        del part
    return out


# ---------------------------------------------------------------- reading
def read_events(
    path: str | os.PathLike,
    *,
    t_start: int | None = None,
    t_end: int | None = None,
    sensor_size: SensorSize | str | None = None,
) -> Events:
    """Events of ``path`` with ``t_start <= t < t_end`` (µs, the file's clock; None = open end).

    Only the needed part is decoded (see the module docs). ``sensor_size`` (width, height) is used
    when the file does not state its size. Bad files raise a one-line :class:`InputError`.
    """
    t_start, t_end = _window_args(t_start, t_end)
    path = Path(path)
    reader = _reader(path)
    geo = _geometry(reader, path, _as_size(sensor_size))
    parts = list(_ordered_window(reader, path, geo, t_start, t_end, whole=True))
    array = parts[0] if len(parts) == 1 else _join(parts)
    if array.base is not None and array.base.nbytes > 2 * array.nbytes:
        array = array.copy()  # a small window of a big decoded packet: do not keep the packet alive
    return Events(array, geo.width, geo.height, _meta(reader, path, geo), check=False)


def iter_events(
    path: str | os.PathLike,
    *,
    t_start: int | None = None,
    t_end: int | None = None,
    chunk_events: int = DEFAULT_CHUNK_EVENTS,
    sensor_size: SensorSize | str | None = None,
) -> Iterator[Events]:
    """Stream ``path`` as time-ordered Events chunks of ``chunk_events`` events (the last may be
    shorter), in bounded memory. Same window, sensor size and errors as :func:`read_events`;
    file-level problems are raised here, data problems when the chunk holding them is reached.
    """
    t_start, t_end = _window_args(t_start, t_end)
    if chunk_events <= 0:
        raise ValueError(f"chunk_events must be positive, got {chunk_events}")
    path = Path(path)
    reader = _reader(path)
    geo = _geometry(reader, path, _as_size(sensor_size))
    meta = _meta(reader, path, geo)

    def generate() -> Iterator[Events]:
        for a in rebatch(_ordered_window(reader, path, geo, t_start, t_end), chunk_events):
            yield Events(a, geo.width, geo.height, meta, check=False)

    return generate()


@dataclass
class Probe:
    """What ``evfer info`` shows about an event file. Times in µs, sizes in pixels."""

    path: str
    format: str
    description: str
    width: int
    height: int
    geometry_source: str
    geometry_detail: str
    n_events: int
    n_on: int
    t_first: int | None
    t_last: int | None
    file_bytes: int
    meta: dict[str, Any] = field(default_factory=dict)
    header: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_us(self) -> int:
        return 0 if self.t_first is None else self.t_last - self.t_first

    @property
    def event_rate(self) -> float | None:
        """Events per second over the recording's span (None for a zero-length span)."""
        return self.n_events / (self.duration_us * 1e-6) if self.duration_us > 0 else None

    @property
    def on_fraction(self) -> float | None:
        return self.n_on / self.n_events if self.n_events else None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(duration_us=self.duration_us, event_rate=self.event_rate, on_fraction=self.on_fraction)
        return d

    # read-only mapping access, e.g. probe(path)["duration_us"]; "count" is n_events
    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[_PROBE_ALIASES.get(key, key)]

    def get(self, key: str, default: Any = None) -> Any:
        return self.to_dict().get(_PROBE_ALIASES.get(key, key), default)

    def keys(self):
        return self.to_dict().keys()


_PROBE_ALIASES = {"count": "n_events"}


def probe(path: str | os.PathLike, *, sensor_size: SensorSize | str | None = None) -> Probe:
    """Format, sensor size (and its source), event count, time range and polarity balance of ``path``.

    Decodes the whole file once in bounded memory, checking the events as :func:`read_events`
    would (damaged data raises InputError here too); for the HDF5 store the decoded count, ON
    count and time range must also match its attributes.
    """
    path = Path(path)
    reader = _reader(path)
    size = _as_size(sensor_size)
    geo = _known_geometry(reader, path, size)
    n = n_on = xmax = ymax = 0
    t_first = t_last = None
    check = _Geometry(1 << 16, 1 << 16, "", "") if geo is None else geo
    for a in _ordered_window(reader, path, check, None, None):
        n += len(a)
        n_on += int(np.count_nonzero(a["p"] > 0))
        xmax, ymax = max(xmax, int(a["x"].max())), max(ymax, int(a["y"].max()))
        t_first = int(a["t"][0]) if t_first is None else t_first
        t_last = int(a["t"][-1])
    if geo is None:
        geo = _inferred(path, xmax, ymax, n)
    stats = {"n_events": n, "n_on": n_on, "t_first": t_first, "t_last": t_last}
    if hasattr(reader, "check_stats"):
        reader.check_stats(stats)
    assert geo is not None
    return Probe(
        path=str(path),
        format=reader.info.format,
        description=reader.info.description,
        width=geo.width,
        height=geo.height,
        geometry_source=geo.source,
        geometry_detail=geo.detail,
        file_bytes=path.stat().st_size,
        meta=dict(reader.info.meta),
        header=dict(reader.info.header),
        **stats,
    )


# ---------------------------------------------------------------- writing
_FORMAT_SUFFIXES = {
    "evt3": (".raw",), "evt2": (".raw",), "dat": (".dat",), "aedat4": (".aedat4",),
    "evfer": (".h5", ".hdf5"), "v2e": (".h5", ".hdf5"), "npz": (".npz",),
}  # fmt: skip


_SUFFIX_FORMATS = {
    ".raw": "evt3", ".dat": "dat", ".aedat4": "aedat4", ".h5": "evfer", ".hdf5": "evfer", ".npz": "npz",
}  # fmt: skip


def _write_format(path: Path, format: str | None, version: str | None) -> str:
    name, suffix = path.name.lower(), path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise _unknown_type(path)
    if version is not None:
        if suffix != ".raw" or format is not None:
            raise ValueError("version= is for .raw files only (and not together with format=)")
        if version not in ("evt3", "evt2"):
            raise ValueError(f"unknown EVT version {version!r}; choose evt3 or evt2 (faery cannot write 2.1)")
        return version
    if format is not None:
        if format not in WRITE_FORMATS:
            raise ValueError(f"unknown format {format!r}; choose one of {', '.join(WRITE_FORMATS)}")
        if suffix not in _FORMAT_SUFFIXES[format]:
            endings = " or ".join(_FORMAT_SUFFIXES[format])
            raise ValueError(f"format={format!r} needs a file name ending in {endings}")
        return format
    if name.endswith((".v2e.h5", ".v2e.hdf5")):
        return "v2e"
    return _SUFFIX_FORMATS[suffix]


def _chunks(first: Events, rest: Iterator[Events]) -> Iterator[Events]:
    """``first`` then ``rest``, checking they share a sensor size and follow each other in time."""
    last = first.t_end
    yield first
    for ev in rest:
        if not isinstance(ev, Events):
            raise TypeError(f"expected Events chunks, got {type(ev).__name__}")
        if ev.sensor_size != first.sensor_size:
            raise ValueError(
                f"chunk sensor size {ev.width}x{ev.height} differs from {first.width}x{first.height}"
            )
        if len(ev):
            if last is not None and ev.t_start < last:
                raise ValueError(
                    f"chunks overlap in time: a chunk starts at {ev.t_start} µs after one ended at {last}"
                )
            last = ev.t_end
        yield ev


def write_events(
    path: str | os.PathLike,
    events: Events | Iterable[Events],
    /,
    *,
    format: str | None = None,
    version: str | None = None,
    **meta: Any,
) -> Path:
    """Write ``events`` to ``path`` atomically (temporary file + rename), in the format its name
    says (see the module docs) or ``format`` (one of :data:`WRITE_FORMATS`).

    ``events`` is one :class:`Events` or an iterable of time-consecutive chunks (written in
    bounded memory, except for .npz). Metadata = ``events.meta`` (of the first chunk) updated with
    ``meta``, minus the keys a reader sets; it is stored in every format except v2e's plain layout
    (there as a JSON attribute): HDF5 attributes, a ``% evfer_meta`` header line, an AEDAT
    description attribute, an npz array. ``version`` ("evt3" default, or "evt2") is for .raw.
    Returns the path written.
    """
    path = Path(path)
    fmt = _write_format(path, format, version)
    it = iter([events] if isinstance(events, Events) else events)
    first = next(it, None)
    if first is None:
        raise ValueError("nothing to write: the iterable of events is empty")
    if not isinstance(first, Events):
        raise TypeError(f"expected Events, got {type(first).__name__}")
    full_meta = clean_meta({**first.meta, **meta})
    meta_to_json(full_meta)  # fail on unstorable metadata before writing any data
    chunks = _chunks(first, it)
    w, h = first.width, first.height
    with atomic_path(path) as tmp:
        if fmt in ("evt3", "evt2"):
            from .prophesee import write_raw

            write_raw(tmp, chunks, w, h, full_meta, fmt)
        elif fmt == "dat":
            from .prophesee import write_dat

            write_dat(tmp, chunks, w, h, full_meta)
        elif fmt == "aedat4":
            from .aedat import write_aedat

            write_aedat(tmp, chunks, w, h, full_meta)
        elif fmt == "evfer":
            from .hdf5 import write_store

            write_store(tmp, chunks, w, h, full_meta)
        elif fmt == "v2e":
            from .hdf5 import write_v2e

            write_v2e(tmp, chunks, w, h, full_meta)
        else:
            from .npz import write_npz

            write_npz(tmp, chunks, w, h, full_meta)
    return path
