"""write_events: events to any writable format (:data:`evfer.io.formats.FORMATS`), atomically."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..atomic import atomic_path
from ..events import Events
from .formats import write_format
from .metadata import clean_meta, meta_to_json


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
    says (``x.raw`` EVT 3.0, ``x.v2e.h5`` v2e, ``x.h5`` the evfer store, ...; see
    :data:`evfer.io.formats.FORMATS`) or ``format`` (one of :data:`evfer.io.WRITE_FORMATS`).

    ``events`` is one :class:`Events` or an iterable of time-consecutive chunks (written in
    bounded memory, except for .npz). Metadata = ``events.meta`` (of the first chunk) updated with
    ``meta``, minus the keys a reader sets; it is stored in every format except v2e's plain layout
    (there as a JSON attribute): HDF5 attributes, a ``% evfer_meta`` header line, an AEDAT
    description attribute, an npz array. ``version`` ("evt3" default, or "evt2") is for .raw.
    Returns the path written.
    """
    path = Path(path)
    fmt = write_format(path, format, version)
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
        fmt.write(tmp, chunks, w, h, full_meta)
    return path
