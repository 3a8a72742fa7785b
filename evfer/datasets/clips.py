"""What the dataset stage passes around: clip specs, skipped items, and clips of events.

Kinds only *list* clips in ``scan`` (:class:`ClipSpec`: cheap, picklable); turning a spec into a
:class:`Clip` (emulating frames, decoding a recording) is the kind's ``clip`` (its ``make_clip`` and
the run's event filter), run by
``prepare``'s workers and by ``predict`` alike, so listing a large dataset is fast and the expensive
part is parallel and resumable. A clip is stored as one events file whose metadata holds its span
and crop (:func:`clip_meta`, :func:`read_clip`).
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass, field
from typing import Any, Literal

from ..events import Events
from ..io import read_events


@dataclass(frozen=True)
class Box:
    """A face box in pixels: top-left corner (x, y), width w and height h — of the source frames
    for frame clips, of the sensor for recordings. Unpacks as ``x, y, w, h``."""

    x: int
    y: int
    w: int
    h: int

    def __post_init__(self):
        if self.w <= 0 or self.h <= 0:
            raise ValueError(f"box {self.as_list()} needs w, h > 0")

    def __iter__(self):
        return iter((self.x, self.y, self.w, self.h))

    def as_list(self) -> list[int]:
        return [self.x, self.y, self.w, self.h]


def parse_box(value: Any) -> Box:
    """The one box parser: ``"x,y,w,h"``, ``"x y w h"``, ``"[x, y, w, h]"`` (commas, spaces or
    semicolons) or a sequence of four numbers -> :class:`Box`; ValueError otherwise."""
    if isinstance(value, str):
        parts = value.strip().strip("[]()").replace(",", " ").replace(";", " ").split()
    else:
        parts = list(value) if isinstance(value, (list, tuple)) else []
    try:
        numbers = [float(p) for p in parts]
    except (TypeError, ValueError):
        numbers = []
    if len(numbers) != 4 or any(n != int(n) for n in numbers):
        raise ValueError(f"box {value!r} is not x, y, w, h (four whole pixel numbers)")
    return Box(*(int(n) for n in numbers))


@dataclass
class ClipSpec:
    """One clip to make: where its events come from and how.

    Attributes:
        id: unique, filesystem-safe id, e.g. ``ckplus-S005_001`` (used for the events file name; with
            the emulator's seed it also seeds the clip's random draws).
        source: the source's name (its ``name``, else its kind: "ckplus", "nefer", ...).
        subject: subject id (``S005``, ``user_03``): the unit of subject-disjoint splitting.
        original_label: the dataset's own label, normalised noun (``happiness``).
        paths: frame image paths, a video, or the single recording path (what the events are made from).
        label: the class of the run's label table (set by ``prepare``; None before, and for predict inputs).
        fps: frames per second of an image sequence, or a rate a video is resampled to; None: the
            kind's ``fps`` option (a video: its own rate).
        start_us, end_us: the part of the input the clip covers, µs on the input's clock (None: open);
            frames with start <= t <= end, events with start <= t < end.
        box: a given face box (:class:`Box`; frame pixels or sensor pixels); None: the kind's rule.
        box_rule: recordings without a given box: "density" (estimated from event density) or "none"
            (the whole sensor); None: the kind's rule (its ``face_box`` option, else density).
        sequence: the dataset's own id of the recorded sequence (NEFER), kept with the events.
    """

    id: str
    source: str
    subject: str
    original_label: str
    paths: list[str]
    label: str | None = None
    fps: float | None = None
    start_us: int | None = None
    end_us: int | None = None
    box: Box | None = None
    box_rule: Literal["density", "none"] | None = None
    sequence: str | None = None


@dataclass
class Skipped:
    """An item a reader could not use, and why (reported in the prepare summary, per source)."""

    item: str
    reason: str
    source: str = ""


@dataclass(frozen=True)
class Crop:
    """Where a clip was cut from its source: ``box`` = (x, y, w, h) in pixels of the source frames
    (frame sources) or of the sensor (recordings); ``method`` says how it was found: haar, center
    (no face found), none (whole frame), given (by the user), density (event density)."""

    box: tuple[int, int, int, int]
    method: str

    def to_meta(self) -> dict[str, Any]:
        return {"box": [int(v) for v in self.box], "method": self.method}


@dataclass
class Clip:
    """A clip's events, its time span [t0, t1] µs (first to last frame; for recordings first to last
    event), its crop and notes on how it was made. The span, not the events, defines the clip's
    windows."""

    events: Events
    span_us: tuple[int, int]
    crop: Crop | None = None
    notes: dict[str, float] = field(default_factory=dict)  # how it was made (e.g. alignment quality)

    @property
    def duration_us(self) -> int:
        return int(self.span_us[1] - self.span_us[0])


@dataclass(frozen=True)
class ClipResult:
    """What a worker reports after writing a clip's events file."""

    clip_id: str
    n_events: int
    duration_us: int
    crop_method: str | None
    notes: dict[str, float] = field(default_factory=dict)


def clip_meta(clip: Clip) -> dict[str, Any]:
    """The events-file metadata that :func:`read_clip` reads back: span, crop and notes."""
    meta: dict[str, Any] = {"span_us": [int(clip.span_us[0]), int(clip.span_us[1])]}
    if clip.crop is not None:
        meta["crop"] = clip.crop.to_meta()
    if clip.notes:
        meta["notes"] = dict(clip.notes)
    return meta


def crop_from_meta(meta: dict[str, Any]) -> Crop | None:
    """The crop recorded in an events file's metadata (also the keys of files written before the
    crop record existed: ``face_box``/``face_method`` of frame clips, ``box``/``box_method`` of
    recordings)."""
    if isinstance(meta.get("crop"), dict):
        return Crop(tuple(meta["crop"]["box"]), meta["crop"]["method"])
    for box, method in (("face_box", "face_method"), ("box", "box_method")):
        if meta.get(method):
            return Crop(tuple(meta.get(box) or (0, 0, 0, 0)), meta[method])
    return None


def span_from(events: Events) -> tuple[int, int]:
    """The clip span stored with ``events`` (``span_us``), else its first and last event (µs)."""
    span = events.meta.get("span_us")
    if span:
        return int(span[0]), int(span[1])
    return (events.t_start or 0), (events.t_end or 0)


def read_clip(path: str | os.PathLike) -> Clip:
    """A prepared clip from its events file (any format evfer reads)."""

    events = read_events(path)
    return Clip(events, span_from(events), crop_from_meta(events.meta), dict(events.meta.get("notes") or {}))


def clip_seed(seed: int, clip_id: str) -> int:
    """A per-clip seed that depends only on the run seed and the clip id (not on order or workers)."""
    return (seed * 1_000_003 + zlib.crc32(clip_id.encode())) % (2**31 - 1)
