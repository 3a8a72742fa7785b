"""probe: what ``evfer info`` shows about an event file, from one checked pass over its events."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .formats import open_reader
from .geometry import Extent, Geometry, SensorSize, as_size, inferred_geometry, stated_geometry
from .reader import Tally
from .reading import ordered_window
from .stream import REORDER_SLACK_US


@dataclass
class Probe:
    """What ``evfer info`` shows about an event file. Times in µs, sizes in pixels.

    ``geometry_warning`` is None unless the size was inferred and looks wrong (see
    :mod:`evfer.io.geometry`). ``warnings``: problems found in data that can still be used.
    ``checks``: what reading the file checked (the format reader's checks, then time order and
    addresses); ``undetectable``: the damage those checks cannot see. A file that passes was
    checked, not proven intact.
    """

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
    geometry_warning: str | None = None
    warnings: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    undetectable: str = ""
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
        """Every attribute and property, for JSON output."""
        d = asdict(self)
        d.update(duration_us=self.duration_us, event_rate=self.event_rate, on_fraction=self.on_fraction)
        return d


def probe(path: str | os.PathLike, *, sensor_size: SensorSize | str | None = None) -> Probe:
    """Format, sensor size (and its source), event count, time range and polarity balance of ``path``.

    Decodes the whole file once in bounded memory, checking the events as ``read_events`` would
    (damaged data raises InputError here too); what the file states about its events (the HDF5
    store's count, ON count and time range) must match what was decoded.
    """
    path = Path(path)
    reader = open_reader(path)
    geo = stated_geometry(reader.info, path, as_size(sensor_size))
    extent = Extent()  # only needed when the size is inferred
    tally = Tally()
    check = Geometry(1 << 16, 1 << 16, "") if geo is None else geo
    for a in ordered_window(reader, path, check, None, None):
        if geo is None:
            extent.add(a)
        tally.add(a)
    stats = tally.stats
    reader.check_stats(stats)
    if geo is None:
        geo = inferred_geometry(path, extent)
        addresses = f"addresses not checked (sensor size inferred from them: {geo.width}x{geo.height})"
    else:
        addresses = f"addresses inside {geo.width}x{geo.height}"
    order = f"timestamps in order (steps back of up to {REORDER_SLACK_US} µs re-ordered)"
    return Probe(
        path=str(path),
        format=reader.info.format,
        description=reader.info.description,
        width=geo.width,
        height=geo.height,
        geometry_source=geo.source,
        geometry_detail=geo.detail,
        geometry_warning=geo.warning,
        warnings=reader.data_warnings(),
        checks=[*reader.checks(), order, addresses],
        undetectable=reader.undetectable(),
        file_bytes=path.stat().st_size,
        meta=dict(reader.info.meta),
        header=dict(reader.info.header),
        **asdict(stats),
    )
