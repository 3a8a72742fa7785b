"""Inputs of any length cut into overlapping windows of events, for recognition over time.

Window k covers [t0 + k·stride, t0 + k·stride + window) µs, t0 being the input's first frame or
event; the last window ends at most one stride before the input's end. An input shorter than one
window is one window over all of it (a clip, as ``prepare`` makes them). Each window's events are in
the model's input coordinates, made as the training clips were:

- :class:`FrameWindows` (videos, image folders, cameras): a face track — the frame face detector
  once per stride, kept inside the frame, moved only when the face really moved (by more than
  ``move`` of the box size; a jitter of a few pixels would make the crop's edges fire everywhere) —
  then every frame cropped to the track's box, resized to ``frame_size`` and blurred (the training
  clips' preprocessing), then one emulator for the whole input: the frames are emulated once,
  continuously, not per window. When the box moves, the emulator starts afresh at that frame (the
  first frame only sets the pixels: no burst of events from the jump). A window in which the
  detector found no face is marked ``face=False``.
- :class:`EventWindows` (recordings, event cameras): each window's face box from the density of its
  events (as NEFER's and the recordings' clips), smoothed the same way, kept inside the sensor, and
  the window's events cropped to it; or one given box, or the whole sensor.

Both consume chunks — of frames or of events — so a file, a camera and a replayed recording feed
them alike, and both hold only the events of the windows still open: memory is bounded by a window.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from ..emulator import Emulator
from ..emulator.frames import iter_frames
from ..events import EVENT_DTYPE, Events
from .clips import Box, Clip
from .facebox import estimate_face_box
from .frame_clips import TIMECODE_REGION, FrameOptions, face_box, fit_box

#: the face box moves when the detected face's centre moved by more than this share of the box's
#: side, or its size changed by more than this share
MOVE = 0.2
#: a window with fewer events than this is "no-events" (nothing to classify)
MIN_EVENTS = 1
#: the face detector of a stream sees frames at most this wide (4x faster on 640x480; the box is
#: tracked with a tolerance of a fifth of its side anyway)
DETECT_WIDTH = 320


@dataclass
class Window:
    """One window of an input: [start_us, end_us) µs on the input's clock (``index`` from 0), its
    events in model-input coordinates, the face box used (pixels of the source frames or sensor;
    None: the whole input), whether a face was found (frame inputs), and the clip the model is
    given (the events with the window as its span)."""

    index: int
    start_us: int
    end_us: int
    events: Events
    box: Box | None = None
    face: bool = True
    notes: dict = field(default_factory=dict)

    @property
    def clip(self) -> Clip:
        return Clip(self.events, (self.start_us, max(self.start_us, self.end_us - 1)))

    @property
    def has_events(self) -> bool:
        return len(self.events) >= MIN_EVENTS


def window_starts(t0: int, t_last: int, window_us: int, stride_us: int) -> list[int]:
    """Starts of the windows of an input spanning [t0, t_last] µs: every ``stride_us`` while the
    window ends inside the input; one window (the whole input) when it is shorter than a window."""
    if t_last - t0 + 1 < window_us:
        return [t0]
    n = (t_last + 1 - window_us - t0) // stride_us + 1
    return [t0 + k * stride_us for k in range(n)]


class _Cutter:
    """Cuts a time-ordered stream of event arrays into windows; holds only the open windows' events."""

    def __init__(self, window_us: int, stride_us: int):
        if window_us <= 0 or stride_us <= 0:
            raise ValueError(f"window and stride must be positive (got {window_us}, {stride_us} µs)")
        self.window_us, self.stride_us = int(window_us), int(stride_us)
        self.t0: int | None = None
        self.next_index = 0
        self.parts: list[np.ndarray] = []
        self.width = self.height = 0
        self.t_last: int | None = None

    def start(self, t0: int) -> None:
        if self.t0 is None:
            self.t0 = int(t0)

    def add(self, array: np.ndarray, now_us: int) -> list[tuple[int, int, int, np.ndarray]]:
        """Add events (sorted, after all earlier ones); ``now_us``: the stream has reached this time
        (no later event will be earlier). Returns the (index, start, end, events) now complete."""
        if len(array):
            self.parts.append(array)
        self.t_last = now_us if self.t_last is None else max(self.t_last, now_us)
        out = []
        while self.t0 is not None:
            start = self.t0 + self.next_index * self.stride_us
            end = start + self.window_us
            if now_us < end:
                break
            out.append((self.next_index, start, end, self._take(start, end)))
            self.next_index += 1
            self._drop_before(self.t0 + self.next_index * self.stride_us)
        return out

    def finish(self) -> list[tuple[int, int, int, np.ndarray]]:
        """At the end of the stream: the whole input as one window when no window was complete."""
        if self.next_index > 0 or self.t0 is None or self.t_last is None:
            return []
        start, end = self.t0, self.t_last + 1
        self.next_index = 1
        return [(0, start, end, self._take(start, end))]

    def _take(self, start: int, end: int) -> np.ndarray:
        """The events with start <= t < end: binary searches in the sorted parts, one copy."""
        arrays = [a[bisect_left(a["t"], start): bisect_left(a["t"], end)] for a in self.parts]
        arrays = [a for a in arrays if len(a)]
        if not arrays:
            return np.zeros(0, dtype=_dtype())
        return arrays[0].copy() if len(arrays) == 1 else np.concatenate(arrays)

    def _drop_before(self, t: int) -> None:
        kept = []
        for a in self.parts:
            if len(a) and a["t"][-1] >= t:
                kept.append(a[bisect_left(a["t"], t):] if a["t"][0] < t else a)
        self.parts = kept


def _dtype():
    return EVENT_DTYPE


# ------------------------------------------------------------------------------------- the face box
class BoxTrack:
    """A face box that follows detections but moves only when the face really moved (see
    :data:`MOVE`), and stays inside a ``width`` x ``height`` frame (shifted in, its size kept, as the
    training clips' face boxes are)."""

    def __init__(self, width: int, height: int, move: float = MOVE):
        self.width, self.height, self.move = int(width), int(height), float(move)
        self.box: Box | None = None
        self.moves = 0

    def inside(self, box: tuple[int, int, int, int]) -> Box:
        """``box`` shifted into the frame (and cut to its size when larger)."""
        x, y, w, h = (int(v) for v in box)
        w, h = max(2, min(w, self.width)), max(2, min(h, self.height))
        return Box(min(max(x, 0), self.width - w), min(max(y, 0), self.height - h), w, h)

    def update(self, found: tuple[int, int, int, int] | None) -> tuple[Box | None, bool]:
        """Take a detection (x, y, w, h) or None (nothing found); returns (the box, whether it moved)."""
        if found is None:
            return self.box, False
        new = self.inside(found)
        x, y, w, h = new
        if self.box is None:
            self.box = new
            return new, True
        old = self.box
        shift = math.hypot((x + w / 2) - (old.x + old.w / 2), (y + h / 2) - (old.y + old.h / 2))
        resized = abs(w - old.w) / old.w
        if shift > self.move * old.w or resized > self.move:
            self.box = new
            self.moves += 1
            return new, True
        return old, False


# ------------------------------------------------------------------------------------- frames
class FrameWindows:
    """Windows of a frame stream (see the module doc).

    Args:
        options: the frame preprocessing of the model's training clips (face crop, margin, timecode
            mask, blur, frame size).
        emulator: the run's :class:`~evfer.emulator.EmulatorSettings`.
        window_us, stride_us: the windows.
        clip_id: seeds the emulator's per-clip draws (as a training clip's id does).
        detect: detect the face once per this many µs (default: the stride).
    """

    def __init__(self, options: FrameOptions, emulator, window_us: int, stride_us: int, *, clip_id: str = "",
                 detect_us: int | None = None, keep_frames: int = 0):
        self.options, self.settings = options, emulator
        self.cutter = _Cutter(window_us, stride_us)
        self.detect_us = int(detect_us or stride_us)
        self.clip_id = clip_id
        self.track: BoxTrack | None = None
        self.emulator = None
        self.first_frame: np.ndarray | None = None
        self.next_detect: int | None = None
        self.detections: list[tuple[int, bool]] = []  # (time µs, face found)
        self.boxes: list[tuple[int, Box]] = []  # (time µs from which the box holds, box)
        self.size = (int(options.frame_size[0]), int(options.frame_size[1]))
        self.keep_frames = int(keep_frames)  # > 0: each window keeps its last source frame, at most this wide
        self.last_frame: np.ndarray | None = None

    def feed(self, frames: np.ndarray, times_us: np.ndarray) -> list[Window]:
        """Grey frames (N, H, W) uint8 and their times (N,) µs, after the earlier ones; returns the
        windows now complete."""
        import cv2


        frames = np.asarray(frames)
        out: list[Window] = []
        if not len(frames):
            return out
        if self.track is None:
            self.track = BoxTrack(frames.shape[2], frames.shape[1])
            self.first_frame = frames[0].copy()
            self.cutter.start(int(times_us[0]))
            self.next_detect = int(times_us[0])
        if self.options.mask_timecode:  # CK+'s burnt-in timecode: frozen at the input's first frame
            h, w = frames.shape[1:]
            x0, y0 = int(TIMECODE_REGION[0] * w), int(TIMECODE_REGION[1] * h)
            x1, y1 = int(TIMECODE_REGION[2] * w), int(TIMECODE_REGION[3] * h)
            frames = frames.copy()
            frames[:, y0:y1, x0:x1] = self.first_frame[y0:y1, x0:x1]
        for frame, t in zip(frames, times_us):
            t = int(t)
            if t >= self.next_detect:
                found = self._detect(frame)
                self.detections.append((t, found is not None))
                box, moved = self.track.update(found)
                if box is None:  # no face yet: the frame's centre square until one is found
                    box, moved = self.track.update(tuple(face_box(frame, 0, "center").box))
                if moved:  # a new crop: a fresh emulator (its first frame only sets the pixels)
                    self.boxes.append((t, box))
                    self.emulator = Emulator(self.size[1], self.size[0], self.settings.params,
                                             preset=self.settings.preset, seed=self.settings.seed,
                                             clip_id=self.clip_id, device=self.settings.device)
                self.next_detect = t + self.detect_us
            box = self.track.box
            g = cv2.resize(frame[box.y: box.y + box.h, box.x: box.x + box.w], self.size, interpolation=cv2.INTER_AREA)
            if self.options.blur_sigma > 0:
                g = cv2.GaussianBlur(g, (0, 0), self.options.blur_sigma)
            if self.keep_frames:
                self.last_frame = frame
            parts = self.emulator.feed_arrays(g[None], np.array([t], np.int64))
            array = np.concatenate(parts) if parts else np.zeros(0, _dtype())
            out += self._windows(self.cutter.add(array, t))
        return out

    def _detect(self, frame: np.ndarray) -> tuple[int, int, int, int] | None:
        """The face box in ``frame`` (the training clips' detector and margin, on the frame scaled to
        at most :data:`DETECT_WIDTH` pixels wide), or None."""
        import cv2

        scale = min(1.0, DETECT_WIDTH / frame.shape[1])
        small = frame if scale == 1.0 else cv2.resize(frame, (round(frame.shape[1] * scale),
                                                              round(frame.shape[0] * scale)), interpolation=cv2.INTER_AREA)
        crop = face_box(small, self.options.face_margin, self.options.face_crop)
        if self.options.face_crop == "haar" and crop.method != "haar":
            return None
        return tuple(round(v / scale) for v in crop.box)

    def finish(self) -> list[Window]:
        """The windows left at the end of the input (the whole input when it is shorter than one)."""
        return self._windows(self.cutter.finish())

    def _windows(self, cut) -> list[Window]:
        out = []
        for index, start, end, array in cut:
            box = next((b for t, b in reversed(self.boxes) if t < end), self.track.box if self.track else None)
            found = [f for t, f in self.detections if start <= t < end]
            face = any(found) if found else (bool(self.detections) and self.detections[-1][1])
            events = Events(array, self.size[0], self.size[1], check=False)
            notes = {"frame": self._thumbnail(self.last_frame)} if self.keep_frames and self.last_frame is not None else {}
            out.append(Window(index, start, end, events, box, face, notes))
        return out

    def _thumbnail(self, frame: np.ndarray) -> tuple[np.ndarray, float]:
        """(the frame at most ``keep_frames`` pixels wide, its scale)."""
        import cv2

        scale = min(1.0, self.keep_frames / frame.shape[1])
        if scale == 1.0:
            return frame.copy(), 1.0
        size = (max(1, round(frame.shape[1] * scale)), max(1, round(frame.shape[0] * scale)))
        return cv2.resize(frame, size, interpolation=cv2.INTER_AREA), scale


def frame_chunks(path, fps: float | None = None, chunk: int = 64) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """A video's or an image folder's grey frames in chunks: (frames (N, H, W), times (N,) µs), at
    ``fps`` or the video's own rate (:func:`evfer.emulator.frames.iter_frames`)."""

    for frames, times in iter_frames(path, fps=fps, chunk=chunk):
        yield np.asarray(frames), times


def frame_windows(chunks: Iterable[tuple[np.ndarray, np.ndarray]], windower: FrameWindows) -> Iterator[Window]:
    """The windows of a stream of (frames, times) chunks."""
    for frames, times in chunks:
        yield from windower.feed(frames, times)
    yield from windower.finish()


# ------------------------------------------------------------------------------------- events
class EventWindows:
    """Windows of an event stream (see the module doc).

    Args:
        window_us, stride_us: the windows.
        box: "density" (per window, tracked), "none" (the whole sensor) or a :class:`Box` (fixed).
        box_size: [w, h] of the density box (default: 0.45 x the sensor height, square).
    """

    def __init__(self, window_us: int, stride_us: int, *, box: str | Box = "density",
                 box_size: list[int] | None = None):
        self.cutter = _Cutter(window_us, stride_us)
        self.box_rule, self.box_size = box, box_size
        self.track: BoxTrack | None = None
        self.width = self.height = 0

    def feed(self, events: Events) -> list[Window]:
        """The next events (time-sorted, after the earlier ones); returns the windows now complete."""
        if not len(events):
            return []
        if self.track is None:
            self.width, self.height = events.width, events.height
            self.track = BoxTrack(self.width, self.height)
            self.cutter.start(int(events.t_start))
        return self._windows(self.cutter.add(events.array, int(events.t_end)))

    def finish(self) -> list[Window]:
        return self._windows(self.cutter.finish())

    def _windows(self, cut) -> list[Window]:
        out = []
        for index, start, end, array in cut:
            events = Events(array, self.width, self.height, check=False)
            if self.box_rule == "none":
                box = None
            elif isinstance(self.box_rule, Box):
                box = Box(*fit_box(tuple(self.box_rule), self.width, self.height))  # a given box: its part inside
            else:
                found = estimate_face_box(events, self.width, self.height, self.box_size) if len(events) else None
                box, _ = self.track.update(None if found is None or found.method != "density" else
                                           (found.x, found.y, found.w, found.h))
                if box is None and found is not None:  # no density box yet: the centre box
                    box, _ = self.track.update((found.x, found.y, found.w, found.h))
            if box is not None:
                events = events.crop(box.x, box.y, box.w, box.h)
            out.append(Window(index, start, end, events, box))
        return out


def event_windows(chunks: Iterable[Events], windower: EventWindows) -> Iterator[Window]:
    """The windows of a stream of event chunks."""
    for chunk in chunks:
        yield from windower.feed(chunk)
    yield from windower.finish()
