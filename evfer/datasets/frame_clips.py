"""Frame clips to events: the one path of every source kind whose clips are frames (CK+, synthetic
faces, labelled videos, morphed stills) and of ``evfer predict`` on a video or an image folder.

A clip's frames are an image sequence (``spec.paths``: one image per frame, read as grey), a video
(``spec.paths == [video]``, decoded with OpenCV, colour to luma, at ``spec.fps`` or the video's own
rate, optionally the segment ``spec.start_us``..``spec.end_us``), or frames a kind makes itself
(:meth:`FrameSource.frames`, e.g. morphed stills). Then: CK+'s burnt-in timecode is
frozen (optional) -> one fixed face box for the whole clip (``spec.box`` when given, else
the Haar cascade on the first frame, with margin; centre crop when no face is found) -> resize to
``frame_size`` (INTER_AREA) -> Gaussian blur -> the DVS emulator. Frame ``i`` is at
``round(i * 1e6 / fps)`` µs on the source's clock; the clip spans first to last frame.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..emulator import emulate
from ..emulator.frames import iter_frames, list_images, read_image, source_fps
from ..errors import ConfigError, InputError
from .clips import Clip, ClipSpec, Crop
from .source import FRAMES, SourceKind

log = logging.getLogger(__name__)

#: CK+'s burnt-in running timecode sits in the lower-left corner: (x0, y0, x1, y1) as image fractions.
TIMECODE_REGION = (0.0, 0.86, 0.5, 1.0)
#: frame rate of an image folder given to ``predict`` by a kind without one (CK+'s convention)
IMAGE_FOLDER_FPS = 30.0
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")


@dataclass
class FrameOptions:
    """Options of every frame source: how a clip's frames become the emulator's input."""

    fps: float | None = 30.0  # frame rate of image sequences (videos: their own unless the spec says)
    face_crop: Literal["haar", "center", "none"] = "haar"  # haar: OpenCV's face detector (centre if none found)
    face_margin: float = 0.25  # fraction of the detected face box added on every side
    mask_timecode: bool = True  # freeze CK+'s burnt-in timecode (lower-left) before emulation
    blur_sigma: float = 1.0  # Gaussian blur (pixels) before emulation; 0 disables
    frame_size: list[int] = field(default_factory=lambda: [128, 128])  # [W, H] after crop, before emulation

    def validate(self, path: str) -> None:
        def need(key: str, ok: bool, what: str) -> None:
            if not ok:
                raise ConfigError(f"{path}{key}: must be {what}")

        need("fps", self.fps is None or self.fps > 0, "a positive frame rate")
        need("face_margin", self.face_margin >= 0, "a fraction >= 0")
        need("blur_sigma", self.blur_sigma >= 0, "a sigma >= 0 (0 disables)")
        need("frame_size", len(self.frame_size) == 2 and min(self.frame_size) >= 8, "[W, H], each >= 8")


@dataclass
class FrameSet:
    """A clip's grey frames (N, H, W) uint8, their times (N,) int64 µs, the frame rate, and notes on
    how they were made (e.g. the alignment of morphed stills)."""

    frames: np.ndarray
    times: np.ndarray
    fps: float
    notes: dict[str, float] = field(default_factory=dict)


class FrameSource(SourceKind):
    """Base of the kinds whose clips are frames: :meth:`frames`, then :func:`emulate_frames`."""

    input = FRAMES

    def frames(self, spec: ClipSpec) -> FrameSet:
        """The clip's frames (images or a video; kinds that make their own frames override this)."""
        return FrameSet(*clip_frames(spec, self.options.fps))

    def make_clip(self, spec: ClipSpec) -> Clip:
        return emulate_frames(spec, self.frames(spec), self.options, self.context.emulator)

    def clip_with_frames(self, spec: ClipSpec) -> tuple[Clip, FrameSet]:
        """:meth:`clip` and the frames it was made from, made once (a video decoded, stills morphed)."""
        frame_set = self.frames(spec)
        return self.filtered(emulate_frames(spec, frame_set, self.options, self.context.emulator)), frame_set

    def spec_for_file(self, path, clip_id: str) -> ClipSpec:
        """A video, or an image folder (its images in natural order, at least 2), as one clip."""
        path = Path(path)
        if path.is_dir():
            images = [str(p) for p in list_images(path)]
            if len(images) < 2:
                raise InputError(path, f"need at least 2 images, found {len(images)}")
            return ClipSpec(clip_id, self.source_name, "", "", images, fps=self.options.fps or IMAGE_FOLDER_FPS)
        if path.suffix.lower() not in VIDEO_SUFFIXES:
            raise InputError(path, f"not a video ({', '.join(VIDEO_SUFFIXES)}) or an image folder")
        return super().spec_for_file(path, clip_id)


# ------------------------------------------------------------------------------------- frames
def is_video(paths: list[str]) -> bool:
    return len(paths) == 1 and Path(paths[0]).suffix.lower() in VIDEO_SUFFIXES


def load_frames(paths: list[str]) -> np.ndarray:
    """Grey uint8 frames (N, H, W) of an image sequence; InputError naming the file for unreadable or
    mixed-size images."""
    import cv2


    frames = []
    for p in paths:
        img = read_image(p, cv2.IMREAD_GRAYSCALE)
        if frames and img.shape != frames[0].shape:
            raise InputError(p, f"image size {img.shape[1]}x{img.shape[0]} differs from the sequence's "
                                f"{frames[0].shape[1]}x{frames[0].shape[0]}")
        frames.append(img)
    return np.stack(frames)


def clip_frames(spec: ClipSpec, fps: float | None) -> tuple[np.ndarray, np.ndarray, float]:
    """The clip's grey frames (N, H, W) uint8, their times (N,) int64 µs and the frame rate used:
    images at ``spec.fps`` (else ``fps``); a video at that rate (else its own), cut to
    ``spec.start_us``..``spec.end_us`` (both inclusive) when given."""
    if is_video(spec.paths):
        return video_frames(Path(spec.paths[0]), spec.fps or fps, spec.start_us, spec.end_us)
    frames = load_frames(spec.paths)
    rate = float(spec.fps or fps or IMAGE_FOLDER_FPS)
    return frames, np.round(np.arange(len(frames)) * 1e6 / rate).astype(np.int64), rate


def video_frames(path: Path, fps: float | None = None, t0: int | None = None,
                 t1: int | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """Grey frames, times (µs) and rate of a video (its own rate unless ``fps``), optionally only the
    frames at ``t0`` <= t <= ``t1`` µs; InputError for fewer than 2 frames."""

    rate = source_fps(path, fps)
    frames, times = [], []
    for chunk, t in iter_frames(path, fps=rate):
        keep = np.ones(len(t), bool)
        if t0 is not None:
            keep &= t >= t0
        if t1 is not None:
            keep &= t <= t1
        frames.append(chunk[keep])
        times.append(t[keep])
        if t1 is not None and t[-1] > t1:
            break
    n = sum(len(t) for t in times)
    if n < 2:
        where = (f" in the segment {_seconds(t0)}..{_seconds(t1)} s" if t0 is not None or t1 is not None else "")
        raise InputError(path, f"need at least 2 frames to make events, got {n}{where}")
    return np.concatenate(frames), np.concatenate(times), rate


def _seconds(t_us: int | None) -> str:
    return "" if t_us is None else f"{t_us / 1e6:g}"


def mask_timecode(frames: np.ndarray, region: tuple[float, float, float, float] = TIMECODE_REGION) -> np.ndarray:
    """Freeze the timecode corner: copy frame 0's pixels there into every frame (no change, no events)."""
    n, h, w = frames.shape
    x0, y0, x1, y1 = int(region[0] * w), int(region[1] * h), int(region[2] * w), int(region[3] * h)
    out = frames.copy()
    out[:, y0:y1, x0:x1] = frames[0, y0:y1, x0:x1]
    return out


def face_box(frame: np.ndarray, margin: float, mode: str = "haar") -> Crop:
    """A square crop box (x, y, w, h) in pixels for the face in ``frame``, and how it was found.

    ``haar``: OpenCV's frontal-face Haar cascade, largest detection, grown by ``margin`` x size on
    every side; falls back to ``center`` (a centred square of 0.8 x the shorter side) when no face is
    found. ``none``: the whole frame. The box is shifted/clipped to lie inside the frame.
    """
    h, w = frame.shape
    if mode == "none":
        return Crop((0, 0, w, h), "none")
    if mode == "haar":
        faces = haar_cascade().detectMultiScale(frame, scaleFactor=1.1, minNeighbors=5, minSize=(max(24, h // 8),) * 2)
        if len(faces):
            fx, fy, fw, fh = max(faces, key=lambda f: f[2] * f[3])
            side = int(round(max(fw, fh) * (1 + 2 * margin)))
            cx, cy = fx + fw / 2, fy + fh / 2
            return Crop(_fit_square(cx, cy, side, w, h), "haar")
    side = int(0.8 * min(h, w))
    return Crop(_fit_square(w / 2, h / 2, side, w, h), "center")


@functools.lru_cache(maxsize=1)
def haar_cascade():
    """OpenCV's frontal-face Haar cascade (loaded once per process)."""
    import cv2

    return cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")


def _fit_square(cx: float, cy: float, side: int, w: int, h: int) -> tuple[int, int, int, int]:
    side = max(2, min(side, w, h))
    x = int(round(min(max(cx - side / 2, 0), w - side)))
    y = int(round(min(max(cy - side / 2, 0), h - side)))
    return x, y, side, side


def preprocess_frames(frames: np.ndarray, options: FrameOptions,
                      box: tuple[int, int, int, int] | None = None) -> tuple[np.ndarray, Crop]:
    """Timecode mask, face crop (``box`` (x, y, w, h) when given, else :func:`face_box`), resize to
    ``options.frame_size`` and blur; returns frames and the crop."""
    import cv2

    if options.mask_timecode:
        frames = mask_timecode(frames)
    crop = Crop(fit_box(box, frames.shape[2], frames.shape[1]), "given") if box is not None else \
        face_box(frames[0], options.face_margin, options.face_crop)
    if crop.method == "center" and options.face_crop == "haar":
        log.info("no face found in the first frame; using a centre crop")
    x, y, bw, bh = crop.box
    size = (int(options.frame_size[0]), int(options.frame_size[1]))
    out = np.empty((len(frames), size[1], size[0]), np.uint8)
    for i, f in enumerate(frames):
        g = cv2.resize(f[y : y + bh, x : x + bw], size, interpolation=cv2.INTER_AREA)
        if options.blur_sigma > 0:
            g = cv2.GaussianBlur(g, (0, 0), options.blur_sigma)
        out[i] = g
    return out, crop


def emulate_frames(spec: ClipSpec, frame_set: FrameSet, options: FrameOptions, emulator: Any) -> Clip:
    """The clip of a spec's frames (see the module docstring for the steps); ``emulator`` is the
    run's :class:`~evfer.emulator.EmulatorSettings`."""

    frames, crop = preprocess_frames(frame_set.frames, options, tuple(spec.box) if spec.box is not None else None)
    times = frame_set.times
    events = emulate(frames, times, emulator, clip_id=spec.id, source=spec.paths[0])
    events = events.with_meta(frame_size=[int(v) for v in options.frame_size], fps=frame_set.fps,
                              n_frames=len(frames))
    return Clip(events, (int(times[0]), int(times[-1])), crop, dict(frame_set.notes))


def fit_box(box: tuple[int, int, int, int], width: int, height: int) -> tuple[int, int, int, int]:
    """A given crop box clipped to the frame; InputError when nothing of it is inside."""
    x, y, w, h = (int(v) for v in box)
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
    if x1 - x0 < 2 or y1 - y0 < 2:
        raise InputError(None, f"box {list(box)} lies outside the {width}x{height} frame")
    return x0, y0, x1 - x0, y1 - y0


def images_in(folder: Path) -> list[Path]:
    """Image files of ``folder`` in natural order; [] for a folder without images (other problems,
    such as a folder named like a frame, raise InputError)."""
    try:
        return list_images(folder)
    except InputError as exc:
        if exc.source == str(folder):
            return []
        raise

