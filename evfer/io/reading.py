"""read_events and iter_events: a format reader's packets, in time order, cut to a window, checked."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..events import EVENT_DTYPE, Events
from .formats import open_reader
from .geometry import Geometry, SensorSize, as_size, require_sound, resolve_geometry
from .reader import EventReader, Tally
from .stream import check_coordinates, coalesce, ordered, rebatch, windowed

DEFAULT_CHUNK_EVENTS = 1_000_000
#: Decoder packets are merged up to this many events when the caller keeps everything (see
#: prophesee.EVT3_WHOLE_BATCH_BYTES); streaming merges up to stream.MIN_PACKET_EVENTS.
WHOLE_PACKET_EVENTS = 1 << 22


def reader_meta(reader: EventReader, path: Path, geo: Geometry) -> dict[str, Any]:
    """``Events.meta`` of a read: the file's metadata plus what the reader says about the file
    (:data:`evfer.io.metadata.READER_META_KEYS`; ``geometry_warning`` only when there is one)."""
    meta = {
        **reader.info.meta,
        "file": str(path),
        "file_format": reader.info.format,
        "geometry_source": geo.source,
        "geometry_detail": geo.detail,
    }
    if geo.warning:
        meta["geometry_warning"] = geo.warning
    return meta


def ordered_window(
    reader: EventReader,
    path: Path,
    geo: Geometry,
    t_start: int | None,
    t_end: int | None,
    whole: bool = False,
) -> Iterator[np.ndarray]:
    """The reader's events with ``t_start <= t < t_end`` in time order, checked against ``geo``."""
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


def _open(
    path: str | os.PathLike, sensor_size: SensorSize | str | None, require_geometry: bool
) -> tuple[Path, EventReader, Geometry]:
    path = Path(path)
    reader = open_reader(path)
    geo = resolve_geometry(reader, path, as_size(sensor_size))
    if require_geometry:
        require_sound(geo, path)
    return path, reader, geo


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


def read_events(
    path: str | os.PathLike,
    *,
    t_start: int | None = None,
    t_end: int | None = None,
    sensor_size: SensorSize | str | None = None,
    require_geometry: bool = False,
) -> Events:
    """Events of ``path`` with ``t_start <= t < t_end`` (µs, the file's clock; None = open end).

    Only the needed part is decoded (see the package docs). ``sensor_size`` (width, height) is
    used when the file does not state its size; otherwise the size is inferred from the events
    and judged (:mod:`evfer.io.geometry`): a doubtful guess is named in
    ``events.meta["geometry_warning"]``, or, with ``require_geometry``, refused with an InputError.
    Bad files raise a one-line :class:`InputError`.
    """
    t_start, t_end = _window_args(t_start, t_end)
    path, reader, geo = _open(path, sensor_size, require_geometry)
    parts = list(ordered_window(reader, path, geo, t_start, t_end, whole=True))
    array = parts[0] if len(parts) == 1 else _join(parts)
    if t_start is None and t_end is None:  # the whole file: check what it states about its events
        tally = Tally()
        tally.add(array)
        reader.check_stats(tally.stats)
    if array.base is not None and array.base.nbytes > 2 * array.nbytes:
        array = array.copy()  # a small window of a big decoded packet: do not keep the packet alive
    return Events(array, geo.width, geo.height, reader_meta(reader, path, geo), check=False)


def iter_events(
    path: str | os.PathLike,
    *,
    t_start: int | None = None,
    t_end: int | None = None,
    chunk_events: int = DEFAULT_CHUNK_EVENTS,
    sensor_size: SensorSize | str | None = None,
    require_geometry: bool = False,
) -> Iterator[Events]:
    """Stream ``path`` as time-ordered Events chunks of ``chunk_events`` events (the last may be
    shorter), in bounded memory. Same window, sensor size and errors as :func:`read_events`;
    file-level problems are raised here, data problems when the chunk holding them is reached.
    """
    t_start, t_end = _window_args(t_start, t_end)
    if chunk_events <= 0:
        raise ValueError(f"chunk_events must be positive, got {chunk_events}")
    path, reader, geo = _open(path, sensor_size, require_geometry)
    meta = reader_meta(reader, path, geo)

    def generate() -> Iterator[Events]:
        tally = Tally()
        for a in rebatch(ordered_window(reader, path, geo, t_start, t_end), chunk_events):
            tally.add(a)
            yield Events(a, geo.width, geo.height, meta, check=False)
        if t_start is None and t_end is None:  # the whole file: check what it states about its events
            reader.check_stats(tally.stats)

    return generate()
