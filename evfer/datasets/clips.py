"""What the dataset stage passes around: clip specs, skipped items, and clips of events.

Readers only *list* clips (:class:`ClipSpec`: cheap, picklable); turning a spec into a
:class:`Clip` (emulating frames, decoding a recording) is the kind's ``make_events``, run by
``prepare``'s workers and by ``predict`` alike, so listing a large dataset is fast and the expensive
part is parallel and resumable. A clip is stored as one events file whose metadata holds its span
and crop (:func:`clip_meta`, :func:`read_clip`).
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass, field
from typing import Any

from ..events import Events


@dataclass
class ClipSpec:
    """One clip to prepare.

    Attributes:
        id: unique, filesystem-safe id, e.g. ``ckplus-S005_001`` (used for the events file name).
        source: the source kind's name ("ckplus", "nefer", "synthetic", ...).
        subject: subject id (``S005``, ``user_03``): the unit of subject-disjoint splitting.
        original_label: the dataset's own label, normalised noun (``happiness``).
        paths: frame image paths, a video, or the single recording path (what the events are made from).
        info: reader-specific details (frame range, fps, crop box, ...), JSON-serialisable.
    """

    id: str
    source: str
    subject: str
    original_label: str
    paths: list[str]
    info: dict[str, Any] = field(default_factory=dict)


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
    from ..io import read_events

    events = read_events(path)
    return Clip(events, span_from(events), crop_from_meta(events.meta), dict(events.meta.get("notes") or {}))


def clip_seed(seed: int, clip_id: str) -> int:
    """A per-clip seed that depends only on the run seed and the clip id (not on order or workers)."""
    return (seed * 1_000_003 + zlib.crc32(clip_id.encode())) % (2**31 - 1)
