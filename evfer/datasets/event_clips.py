"""Recorded event clips: the one path of every source kind whose clips are event files (NEFER,
labelled recordings) and of ``evfer predict`` on a recording.

A clip is one recording (``spec.paths == [file]``, any format :mod:`evfer.io` reads), optionally a
time segment of it (``spec.start_us``..``spec.end_us``), cropped to a face box: the spec's ``box``,
else the source's ``face_box``, else a box estimated from event density
(:mod:`evfer.datasets.facebox`, ``box_size``), or the whole sensor (``spec.box_rule = "none"``; also
the rule for an evfer clip file, which is cropped already).
The crop's corner becomes (0, 0) and the sensor size the box size; timestamps stay on the file's
clock. The clip spans its first to last event (or the segment, when given); an evfer clip file
(one ``prepare`` wrote) spans what its metadata states, so a prepared clip given to ``predict`` is
the clip evaluation saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError, EvferError, InputError
from ..events import Events
from ..io import iter_events
from .clips import Box, Clip, ClipSpec, Crop
from .facebox import FaceBox, estimate_face_box
from .source import EVENTS, SourceKind

#: Density pass: recordings with at most this many events are kept in memory and decoded once;
#: longer ones are decoded twice (density, then crop) so memory stays bounded.
KEEP_EVENTS = 8_000_000


@dataclass
class BoxOptions:
    """Options of every event source: the face box."""

    face_box: list[int] | None = None  # [x, y, w, h] (sensor pixels); None = from event density
    box_size: list[int] | None = None  # [w, h] of the density box; None = 0.45 x sensor height, square

    def validate(self, path: str) -> None:
        check_box_options(self.face_box, self.box_size, path)


def check_box_options(face_box: Any, box_size: Any, path: str = "") -> None:
    if face_box is not None and (len(face_box) != 4 or face_box[2] <= 0 or face_box[3] <= 0):
        raise ConfigError(f"{path}face_box: need [x, y, w, h] with w, h > 0 (got {face_box})")
    if box_size is not None and (len(box_size) != 2 or min(box_size) <= 0):
        raise ConfigError(f"{path}box_size: need [w, h] > 0 (got {box_size})")


class RecordingSource(SourceKind):
    """Base of the kinds whose clips are event recordings; :meth:`make_clip` is :func:`recording_clip`."""

    input = EVENTS

    def sensor_size(self) -> tuple[int, int] | None:
        """The sensor size to use for files that state none (None: they must be inferable)."""
        return None

    def make_clip(self, spec: ClipSpec) -> Clip:
        box = spec.box or spec.box_rule or self.options.face_box or "auto"
        return recording_clip(spec.paths[0], box, self.options.box_size, t_start=spec.start_us, t_end=spec.end_us,
                              sensor_size=self.sensor_size())


def recording_clip(path: str, box: str | Box | list[int] = "density", box_size: list[int] | None = None, *,
                   t_start: int | None = None, t_end: int | None = None,
                   sensor_size: tuple[int, int] | None = None) -> Clip:
    """A recording's events ``[t_start, t_end)`` (µs, file clock; None = open) cropped to ``box``:
    a :class:`Box` or [x, y, w, h] (sensor pixels), "density" (estimated, ``box_size`` [w, h]),
    "none" (whole sensor) or "auto" (density, but the whole sensor for an evfer clip file, which
    states the crop it was cut with).

    A file that states no sensor size uses ``sensor_size``; without it, a size inferred from the
    events that looks doubtful (not a known sensor, or stretched by a few outliers: a corrupt file)
    is refused. Metadata: path and the sensor size [W, H]. A corrupt or empty recording, or a box
    holding no events, raises InputError naming the file.
    """
    if isinstance(box, Box):
        box = box.as_list()
    if box not in ("density", "none", "auto"):
        check_box_options(box, box_size)
    try:
        crop, events, stored_span = _crop(path, box, box_size, t_start, t_end, sensor_size)
    except (EvferError, KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError):
        raise
    except BaseException as exc:  # noqa: BLE001 - decoder panics (pyo3) are BaseExceptions
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise InputError(path, f"cannot read the recording: {message}") from None
    if not len(events):
        raise InputError(path, f"no events inside the face box {list(crop.box)} ({crop.method})")
    if t_start is None and t_end is None and stored_span:
        span = stored_span
    else:
        span = (t_start if t_start is not None else events.t_start, t_end - 1 if t_end is not None else events.t_end)
    return Clip(events.with_meta(path=str(path)), (int(span[0]), int(span[1])), crop)


def _crop(path: str, box, box_size, t_start, t_end, sensor_size) -> tuple[Crop, Events, tuple[int, int] | None]:
    """(crop, cropped events, the span stored in an evfer clip file's metadata or None)."""

    def chunks():
        return iter_events(path, t_start=t_start, t_end=t_end, sensor_size=sensor_size, require_geometry=True)

    stream = chunks()
    first = next(stream, None)
    if first is None:
        raise InputError(path, "recording holds no events" + (" in the segment" if t_start or t_end else ""))
    width, height = first.width, first.height
    if box == "auto":
        box = "none" if first.meta.get("crop") or first.meta.get("span_us") else "density"
    total = 0
    kept: list[Events] | None = []  # chunks held for the crop, None once over KEEP_EVENTS

    def counted():
        nonlocal total, kept
        for c in _chain(first, stream):
            total += len(c)
            if kept is not None:
                kept.append(c)
                if total > KEEP_EVENTS:
                    kept = None
            yield c

    if box == "none":
        crop = Crop((0, 0, width, height), "none")
        parts = list(counted())
    elif box == "density":
        found: FaceBox = estimate_face_box(counted(), width, height, box_size)
        crop = Crop((found.x, found.y, found.w, found.h), found.method)
        source = kept if kept is not None else chunks()  # long recording: decode a second time
        parts = [c.crop(*crop.box) for c in source]
    else:
        x, y, w, h = (int(v) for v in box)
        if x >= width or y >= height or x + w <= 0 or y + h <= 0:
            raise InputError(path, f"face_box {list(box)} lies outside the {width}x{height} sensor")
        crop = Crop((x, y, w, h), "given")
        kept = None
        parts = [c.crop(x, y, w, h) for c in counted()]
    if total == 0:
        raise InputError(path, "recording holds no events")
    events = Events.concatenate(parts) if parts else Events.empty(crop.box[2], crop.box[3])
    stored = first.meta.get("span_us")
    span = (int(stored[0]), int(stored[1])) if isinstance(stored, (list, tuple)) and len(stored) == 2 else None
    return crop, events.with_meta(sensor_size=[width, height]), span


def _chain(first: Events, rest):
    yield first
    yield from rest
