"""The sensor size (width x height, pixels) of a recording, and how far it can be trusted.

Sources, in order:

1. ``"header"``: the size stored in the file (a Prophesee ``% geometry`` / ``% format`` line, the
   AEDAT track description, the HDF5 or npz attributes). A caller's ``sensor_size`` that differs
   is an error.
2. ``"argument"``: the caller's ``sensor_size``. It beats the plugin table below (with a warning
   when they differ): the caller may know a cropped or binned sensor mode the table does not.
3. ``"plugin_name"``: the size of the camera named by a Prophesee ``% plugin_name`` line
   (:data:`evfer.io.header.PLUGIN_GEOMETRY`).
4. ``"inferred"``: the largest coordinates in the file plus one, found by decoding it, with a
   warning. This is a guess, and it is judged (:func:`doubt`): it is *doubtful* when it fits no
   known sensor (:data:`KNOWN_SENSORS`; a recording may use only part of its sensor, so a size
   smaller than a known one is fine — an N-CARS crop infers as 78x42) or when a handful of events
   stretch the x or y range far beyond where all the others lie (one flipped byte in a ``.dat``
   record makes x = 14,404 on a 78-pixel-wide recording). The verdict is
   :attr:`Geometry.warning` (None when the guess is sound); readers put it into
   ``events.meta["geometry_warning"]`` and ``Probe.geometry_warning``, and
   ``read_events(..., require_geometry=True)`` refuses a doubtful guess.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .reader import EventReader, FileInfo

log = logging.getLogger(__name__)

SensorSize = tuple[int, int]

#: Event sensors, (width, height) in pixels → name. A recording whose inferred size fits inside
#: none of them (width and height both at most the sensor's) is doubtful.
KNOWN_SENSORS: dict[SensorSize, str] = {
    (128, 128): "iniVation DVS128",
    (240, 180): "iniVation DAVIS240",
    (304, 240): "Prophesee ATIS (N-CARS, N-Caltech101)",
    (320, 240): "iniVation DVXplorer Lite",
    (320, 320): "Prophesee GenX320",
    (346, 260): "iniVation DAVIS346",
    (640, 480): "Prophesee Gen3 VGA, iniVation DVXplorer, Samsung DVS Gen3",
    (1280, 720): "Prophesee Gen4 / Sony IMX636",
    (1280, 800): "CelePixel CeleX-V",
}

#: The outlier test sets aside the largest coordinates of this fraction of the events (at least
#: OUTLIER_MIN_EVENTS of them): "a handful" of events, relative to the recording.
OUTLIER_FRACTION = 1e-3
OUTLIER_MIN_EVENTS = 3
#: The handful dominates an axis when it reaches more than this many pixels beyond all the other
#: events, and more than OUTLIER_STRETCH times their extent (the range is stretched by > 50 %).
OUTLIER_MIN_GAP = 16
OUTLIER_STRETCH = 0.5

#: Largest width or height evfer can address: event coordinates are uint16.
MAX_SIDE = 1 << 16
_UINT16 = "x/y are uint16"
#: Largest width or height the coordinates of a format can address (format id → (pixels, why)).
#: A file that states a larger sensor is corrupt; other formats are bound by :data:`MAX_SIDE`.
FORMAT_MAX_SIDE: dict[str, tuple[int, str]] = {
    "evt2": (2048, "EVT 2.0 addresses are 11 bits"),
    "evt2.1": (2048, "EVT 2.1 addresses are 11 bits"),
    "evt3": (2048, "EVT 3.0 addresses are 11 bits"),
    "dat": (1 << 14, "DAT addresses are 14 bits"),
    "aedat4": (1 << 15, "AEDAT 4.0 x/y are int16"),
}


def parse_size(text: str) -> SensorSize:
    """``"640x480"`` → (640, 480); ValueError otherwise (also above :data:`MAX_SIDE`)."""
    w, sep, h = text.lower().partition("x")
    if not sep:
        raise ValueError(f"sensor size must look like WIDTHxHEIGHT, got {text!r}")
    size = int(w), int(h)
    if size[0] <= 0 or size[1] <= 0:
        raise ValueError(f"sensor size must be positive, got {text!r}")
    _check_side(size)
    return size


def _check_side(size: SensorSize) -> None:
    if max(size) > MAX_SIDE:
        raise ValueError(
            f"sensor size {size[0]}x{size[1]} is too large (max {MAX_SIDE} x {MAX_SIDE}: {_UINT16})"
        )


def check_plausible(info: FileInfo, path: str | os.PathLike) -> None:
    """InputError if the sensor size a file states (``info.geometry``) cannot be true: larger than
    the format's coordinates can address (:data:`FORMAT_MAX_SIDE`) or than evfer's uint16
    coordinates (:data:`MAX_SIDE`). Such a size is corrupt, and would make every consumer allocate
    width x height planes (10^9 x 10^9 ran out of memory)."""
    if not info.geometry:
        return
    w, h = (int(v) for v in info.geometry)
    limit, why = FORMAT_MAX_SIDE.get(info.format, (MAX_SIDE, _UINT16))
    limit = min(limit, MAX_SIDE)
    if w <= 0 or h <= 0 or w > limit or h > limit:
        where = f" ({info.geometry_detail})" if info.geometry_detail else ""
        bound = "it must be positive" if min(w, h) <= 0 else f"max {limit} x {limit}: {why}"
        problem = f"sensor size {w}x{h} stated in the file{where} is not plausible ({bound}): corrupt file?"
        raise InputError(path, problem)


def as_size(sensor_size: Any) -> SensorSize | None:
    """A caller's ``sensor_size`` (None, "WxH" or a (width, height) pair) as a checked pair or None."""
    if sensor_size is None:
        return None
    if isinstance(sensor_size, str):
        return parse_size(sensor_size)
    w, h = (int(v) for v in sensor_size)
    if w <= 0 or h <= 0:
        raise ValueError(f"sensor_size must be positive, got {w}x{h}")
    _check_side((w, h))
    return w, h


@dataclass(frozen=True)
class Geometry:
    """A sensor size in pixels, where it came from (``source``: "header", "argument",
    "plugin_name" or "inferred"; ``detail``: which header line, plugin, ...), and for an inferred
    size the reason to doubt it (``warning``, None when sound)."""

    width: int
    height: int
    source: str
    detail: str = ""
    warning: str | None = None

    def describe(self) -> str:
        return f"{self.source}: {self.detail}" if self.detail else self.source


def stated_geometry(info: FileInfo, path: Path, sensor_size: SensorSize | None) -> Geometry | None:
    """The sensor size from the file or the caller (sources 1–3), or None when it must be inferred."""
    if info.geometry:
        if sensor_size and sensor_size != info.geometry:
            raise InputError(
                path,
                f"sensor_size {sensor_size[0]}x{sensor_size[1]} contradicts the "
                f"{info.geometry[0]}x{info.geometry[1]} stored in the file ({info.geometry_detail})",
            )
        return Geometry(*info.geometry, "header", info.geometry_detail)
    if sensor_size:
        if info.plugin_geometry and info.plugin_geometry != sensor_size:
            log.warning(
                "%s: using sensor_size %dx%d although plugin_name %s means %dx%d",
                path, *sensor_size, info.geometry_detail, *info.plugin_geometry,
            )  # fmt: skip
        return Geometry(*sensor_size, "argument")
    if info.plugin_geometry:
        log.debug("%s: sensor size %dx%d from %s", path, *info.plugin_geometry, info.geometry_detail)
        return Geometry(*info.plugin_geometry, "plugin_name", info.geometry_detail)
    return None


class Extent:
    """How many events lie at each x and at each y (histograms), gathered packet by packet: enough
    to infer a sensor size and to judge it."""

    def __init__(self) -> None:
        self.n = 0
        self.x = np.zeros(1 << 16, np.int64)
        self.y = np.zeros(1 << 16, np.int64)

    def add(self, a: np.ndarray) -> None:
        """Count the events of ``a`` (an EVENT_DTYPE array)."""
        self.n += len(a)
        for hist, values in ((self.x, a["x"]), (self.y, a["y"])):
            if len(values):
                counts = np.bincount(values)
                hist[: len(counts)] += counts

    @property
    def size(self) -> SensorSize:
        """Largest x and y plus one (pixels)."""
        return _largest(self.x) + 1, _largest(self.y) + 1


def _largest(hist: np.ndarray) -> int:
    nonzero = np.flatnonzero(hist)
    return int(nonzero[-1]) if len(nonzero) else 0


def _outliers(hist: np.ndarray, n: int) -> tuple[int, int, int] | None:
    """(largest value, largest value of all but a handful of events, how many lie beyond it) when a
    handful of events dominate the range of this axis; None otherwise (or when too few events)."""
    handful = max(OUTLIER_MIN_EVENTS, math.ceil(n * OUTLIER_FRACTION))
    if n <= handful:
        return None
    above = np.cumsum(hist[::-1])[::-1]  # above[v]: events with value >= v
    bulk = int(np.flatnonzero(above > handful)[-1])  # the (handful + 1)-th largest value
    top = _largest(hist)
    if top - bulk > max(OUTLIER_MIN_GAP, OUTLIER_STRETCH * (bulk + 1)):
        return top, bulk, int(above[bulk + 1])
    return None


def doubt(extent: Extent) -> str | None:
    """Why a sensor size inferred from ``extent`` is doubtful, or None when it is sound."""
    width, height = extent.size
    reasons = []
    for axis, hist in (("x", extent.x), ("y", extent.y)):
        found = _outliers(hist, extent.n)
        if found:
            top, bulk, few = found
            reasons.append(f"{few:,} event(s) reach {axis}={top:,} while all {extent.n - few:,} others "
                           f"have {axis} <= {bulk:,}")  # fmt: skip
    if not any(width <= w and height <= h for w, h in KNOWN_SENSORS):
        reasons.append(f"no known sensor is as large as {width}x{height}")
    if not reasons:
        return None
    return f"inferred sensor size {width}x{height} is doubtful: {'; '.join(reasons)} (corrupt data?)"


def inferred_geometry(path: Path, extent: Extent) -> Geometry:
    """The sensor size guessed from the largest coordinates, judged by :func:`doubt` (a warning is
    logged either way); InputError when there are no events to guess from."""
    if extent.n == 0:
        raise InputError(
            path, "the file states no sensor size and has no events to infer it from; pass sensor_size"
        )
    geo = Geometry(*extent.size, "inferred", "largest coordinates + 1", doubt(extent))
    log.warning(
        "%s: no sensor size in the file; inferred %dx%d from the largest coordinates%s "
        "(pass sensor_size to set it)",
        path, geo.width, geo.height, f"; {geo.warning}" if geo.warning else "",
    )  # fmt: skip
    return geo


def resolve_geometry(reader: EventReader, path: Path, sensor_size: SensorSize | None) -> Geometry:
    """The sensor size of ``reader``'s file; decodes the whole file when it has to be inferred."""
    geo = stated_geometry(reader.info, path, sensor_size)
    if geo is not None:
        return geo
    extent = Extent()
    for a in reader.packets():  # a full pass, only when nothing states the size
        extent.add(a)
    return inferred_geometry(path, extent)


def require_sound(geo: Geometry, path: str | os.PathLike) -> None:
    """InputError (one line) if ``geo`` is an inferred size with a warning."""
    if geo.warning:
        raise InputError(path, f"{geo.warning}; pass the sensor size (sensor_size=, --sensor-size WxH)")
