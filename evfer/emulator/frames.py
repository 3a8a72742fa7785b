"""Frames in: video files and image folders to luma frames on the 0-255 scale, with checks.

Intensity scale (what the pixel model's lin-log mapping expects, as v2e): luma in 0-255 DN.

- uint8: used as is.
- uint16: scaled by 255/65535 (float32).
- float: values in [0, 1] (maximum <= 1) are scaled by 255 — v2e's gotcha is feeding [0, 1] floats,
  which would put every pixel in the linear part of the lin-log curve; a larger maximum means the
  frames already are on 0-255. Values above 255 or below 0 are errors. Pass ``intensity_max`` to
  state the scale explicitly (frames are then multiplied by 255 / intensity_max).
- colour (N, H, W, 3): converted to luma with OpenCV's BT.601 weights. Arrays are assumed **RGB**
  (numpy/PIL/imageio/torchvision convention); pass ``colour_order="bgr"`` for arrays read with
  OpenCV. :func:`read_frames` handles OpenCV's BGR itself.

Video/folder reading: a video file is decoded with OpenCV at its container frame rate (``fps``
overrides it); a folder holds one image per frame, read in natural sort order (``img2.png`` before
``img10.png``); folders have no frame rate of their own and default to :data:`DEFAULT_FOLDER_FPS`
(CK+ was recorded at 30 fps). Frame ``i`` gets the timestamp ``round(i * 1e6 / fps)`` µs. Optional
``crop=(x, y, w, h)`` is applied first, then ``size=(W, H)`` resizes with ``cv2.INTER_AREA``, then
colour is converted to grey — v2e's order.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..io.native import first_line, quiet_call

log = logging.getLogger(__name__)

DEFAULT_FOLDER_FPS = 30.0
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".pgm", ".ppm", ".pnm", ".webp")


# ------------------------------------------------------------------------------------ arrays
def to_luma(frames: Any, *, colour_order: str = "rgb", intensity_max: float | None = None,
            source: str | os.PathLike | None = None) -> np.ndarray:
    """Frames (N, H, W) or (N, H, W, 3|1) of any numeric type -> luma (N, H, W), uint8 or float32 0-255."""
    name = source if source is not None else "frames"
    if isinstance(frames, (list, tuple)):  # a list of frames: check their sizes agree first
        shapes = [np.shape(f) for f in frames]
        for i, shape in enumerate(shapes):
            if shape != shapes[0]:
                raise InputError(name, f"frame {i} has shape {shape}, frame 0 has {shapes[0]}: "
                                 "all frames must have the same size")
    a = frames.detach().cpu().numpy() if hasattr(frames, "detach") else np.asarray(frames)
    if a.ndim == 4 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim == 4:
        if a.shape[-1] != 3:
            raise InputError(name, f"colour frames must have 3 channels (N, H, W, 3), got shape {a.shape}")
        a = _colour_to_luma(a, colour_order, name)
    if a.ndim != 3:
        raise InputError(name, f"frames must be (N, H, W) grey or (N, H, W, 3) colour, got shape {a.shape}")
    if a.shape[1] < 1 or a.shape[2] < 1:
        raise InputError(name, f"frames are empty (shape {a.shape})")
    if a.dtype == np.bool_ or not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise InputError(name, f"frames have unsupported dtype {a.dtype}")
    if intensity_max is not None:
        if not (intensity_max > 0 and np.isfinite(intensity_max)):
            raise InputError(name, f"intensity_max must be a positive number, got {intensity_max}")
        a = _check_float(a.astype(np.float64), name) * (255.0 / intensity_max)
        return _range_checked(a.astype(np.float32), name)
    if a.dtype == np.uint8:
        return np.ascontiguousarray(a)
    if a.dtype == np.uint16:
        return (a.astype(np.float32) * np.float32(255.0 / 65535.0)).clip(0, 255)
    if np.issubdtype(a.dtype, np.integer):
        if a.size and (a.min() < 0 or a.max() > 255):
            raise InputError(name, f"integer frames of dtype {a.dtype} must lie in 0..255 "
                             f"(got {a.min()}..{a.max()}); use uint16 or pass intensity_max")
        return a.astype(np.uint8)
    a = _check_float(a, name)
    if a.size and a.max() <= 1.0:
        a = a.astype(np.float32) * np.float32(255.0)
    return _range_checked(a.astype(np.float32), name)


def check_timestamps(timestamps_us: Any, n_frames: int,
                     source: str | os.PathLike | None = None) -> np.ndarray:
    """Frame times as int64 µs, one per frame, strictly increasing (whole-µs floats accepted)."""
    name = source if source is not None else "timestamps"
    t = np.asarray(timestamps_us)
    if t.ndim != 1 or len(t) != n_frames:
        raise InputError(name, f"need one timestamp per frame: {n_frames} frames, "
                         f"timestamps of shape {t.shape}")
    if np.issubdtype(t.dtype, np.floating):
        if not np.isfinite(t).all():
            raise InputError(name, "timestamps contain NaN or inf")
        if not np.array_equal(t, np.round(t)):
            raise InputError(name, "timestamps must be whole microseconds (int64 µs), got fractions")
    elif not np.issubdtype(t.dtype, np.integer):
        raise InputError(name, f"timestamps have unsupported dtype {t.dtype}")
    t = t.astype(np.int64)
    bad = np.flatnonzero(np.diff(t) <= 0)
    if len(bad):
        i = int(bad[0])
        raise InputError(name, f"timestamps must increase strictly: frame {i + 1} at {t[i + 1]} µs "
                         f"follows frame {i} at {t[i]} µs")
    return t


def check_clip(frames: np.ndarray, source: str | os.PathLike | None = None) -> None:
    """At least two frames (frame 0 only initialises the pixels)."""
    if len(frames) < 2:
        raise InputError(source if source is not None else "frames",
                         f"need at least 2 frames to make events, got {len(frames)}")


def _colour_to_luma(a: np.ndarray, order: str, name: Any) -> np.ndarray:
    import cv2

    if order not in ("rgb", "bgr"):
        raise InputError(name, f"colour_order must be 'rgb' or 'bgr', got {order!r}")
    if a.dtype not in (np.uint8, np.uint16, np.float32):
        a = _check_float(a.astype(np.float64), name).astype(np.float32) if a.dtype.kind == "f" else a
        if a.dtype not in (np.uint8, np.uint16, np.float32):
            raise InputError(name, f"colour frames of dtype {a.dtype} are not supported "
                             "(use uint8/uint16/float)")
    code = cv2.COLOR_RGB2GRAY if order == "rgb" else cv2.COLOR_BGR2GRAY
    return np.stack([cv2.cvtColor(np.ascontiguousarray(f), code) for f in a]) if len(a) else a[..., 0]


def _check_float(a: np.ndarray, name: Any) -> np.ndarray:
    if a.dtype.kind == "f" and a.size and not np.isfinite(a).all():
        bad = np.argwhere(~np.isfinite(a))[0]
        raise InputError(name, f"frames contain NaN or inf (first at frame {bad[0]})")
    return a


def _range_checked(a: np.ndarray, name: Any) -> np.ndarray:
    if a.size and (a.min() < 0 or a.max() > 255.0 * (1 + 1e-6)):
        raise InputError(name, f"frame intensities must lie in 0..255 (or 0..1), "
                         f"got {a.min():g}..{a.max():g}")
    return np.clip(a, 0, 255, out=a)


# ------------------------------------------------------------------------------------ files
def natural_key(name: str) -> tuple:
    """Sort key putting ``img2`` before ``img10`` (digit runs compare as numbers)."""
    return tuple((0, int(s), s) if s.isdigit() else (1, 0, s.lower()) for s in re.split(r"(\d+)", name) if s)


def list_images(folder: str | os.PathLike) -> list[Path]:
    """The image files of a folder in natural sort order; InputError if there are none, or if an
    entry named like a frame is not a readable file (a folder ``frame3.png`` would otherwise be
    skipped silently and every later frame would move one frame interval earlier)."""
    folder = Path(folder)
    files = []
    for f in folder.iterdir():
        if f.suffix.lower() not in IMAGE_SUFFIXES or f.name.startswith("."):
            continue
        if not f.is_file():
            raise InputError(f, "named like a frame but is a folder or not a regular file")
        files.append(f)
    if not files:
        subdirs = sum(1 for f in folder.iterdir() if f.is_dir())
        hint = f" (it has {subdirs} sub-folders: pass them, e.g. {folder}/*)" if subdirs else ""
        raise InputError(folder, f"folder contains no images ({', '.join(IMAGE_SUFFIXES[:4])}, ...){hint}")
    return sorted(files, key=lambda f: natural_key(f.name))


def source_fps(path: str | os.PathLike, fps: float | None = None) -> float:
    """Frame rate of a source: ``fps`` if given, else the video's own, else 30 for folders."""
    path = Path(path)
    if fps is not None:
        if not (fps > 0 and np.isfinite(fps)):
            raise InputError(path, f"--fps must be a positive number, got {fps}")
        return float(fps)
    if path.is_dir():
        return DEFAULT_FOLDER_FPS
    cap = _open_video(path)
    try:
        rate = float(cap.get(_cv2().CAP_PROP_FPS))
    finally:
        cap.release()
    if not (rate > 0 and np.isfinite(rate)):
        raise InputError(path, "the video does not state its frame rate; pass --fps")
    return rate


def iter_frames(path: str | os.PathLike, *, fps: float | None = None,
                crop: tuple[int, int, int, int] | None = None, size: tuple[int, int] | None = None,
                chunk: int = 64) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Luma frames of a video file or image folder in chunks: (frames (T, H, W) uint8 [float32 for
    16-bit images], timestamps int64 µs (T,)). Memory is bounded by ``chunk`` frames.

    Raises InputError for an unreadable source, frames of different sizes or a crop outside the frame.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file or folder")
    rate = source_fps(path, fps)
    raw = _folder_frames(path) if path.is_dir() else _video_frames(path)
    buf: list[np.ndarray] = []
    shape = None
    i0 = i = 0
    for i, (label, img) in enumerate(raw):
        g = _prepare(img, crop, size, label)
        if shape is None:
            shape = g.shape
        elif g.shape != shape:
            raise InputError(label, f"frame size {g.shape[1]}x{g.shape[0]} differs from the first frame's "
                             f"{shape[1]}x{shape[0]}")
        buf.append(g)
        if len(buf) == chunk:
            yield _pack(buf, i0, rate, path)
            i0, buf = i + 1, []
    if buf:
        yield _pack(buf, i0, rate, path)


def read_frames(path: str | os.PathLike, *, fps: float | None = None,
                crop: tuple[int, int, int, int] | None = None,
                size: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """All luma frames of a video file or image folder: (frames (N, H, W) uint8, timestamps int64 µs (N,)).

    At least two frames are required. See the module docstring for fps, crop and size.
    """
    parts = list(iter_frames(path, fps=fps, crop=crop, size=size, chunk=256))
    if not parts:
        raise InputError(path, "no frames could be read")
    frames = np.concatenate([p[0] for p in parts])
    times = np.concatenate([p[1] for p in parts])
    check_clip(frames, path)
    return frames, times


def _pack(buf: list[np.ndarray], i0: int, rate: float, path: Path) -> tuple[np.ndarray, np.ndarray]:
    frames = np.stack(buf)
    if frames.dtype == np.uint16:
        frames = to_luma(frames, source=path)
    idx = np.arange(i0, i0 + len(buf), dtype=np.float64)
    return frames, np.round(idx * (1e6 / rate)).astype(np.int64)


def _cv2():
    """cv2. Its calls that may print (opening and reading videos and images) run under
    :func:`~evfer.io.native.quiet_call`, which keeps OpenCV's, libpng's and FFmpeg's lines off the
    terminal and folds them into evfer's one-line errors and warnings; no global logging setting
    of OpenCV or FFmpeg is changed."""
    import cv2

    return cv2


def _open_video(path: Path):
    cv2 = _cv2()
    if not path.is_file():
        raise InputError(path, "not a file")
    if not os.access(path, os.R_OK):
        raise InputError(path, "permission denied")
    cap, said = quiet_call(cv2.VideoCapture, str(path))
    if not cap.isOpened():
        cap.release()
        detail = first_line(said)
        raise InputError(path, "cannot open as a video (unsupported or corrupt file)"
                         + (f" (library said: {detail})" if detail else ""))
    return cap


def _video_frames(path: Path) -> Iterator[tuple[str, np.ndarray]]:
    """The decoded frames of a video; InputError when fewer frames decode than its container states
    (a damaged video: OpenCV stops early, silently). Decoder complaints on frames that still decode
    (concealed damage) are logged as one warning; a container that states no frame count cannot be
    checked, which is logged as a warning too. FFmpeg's own lines never reach the terminal."""
    cap = _open_video(path)
    try:
        stated = int(cap.get(_cv2().CAP_PROP_FRAME_COUNT) or 0)
        n = 0
        complaint = None
        while True:
            (ok, img), said = quiet_call(cap.read)
            complaint = complaint or first_line(said)
            if not ok:
                break
            yield f"{path} (frame {n})", img
            n += 1
        if n == 0:
            raise InputError(path, "no frames could be decoded (unsupported or corrupt video)"
                             + (f" (library said: {complaint})" if complaint else ""))
        if stated > 0 and n < stated:
            raise InputError(path, f"only {n} of the {stated} frames its container states could be decoded "
                                   "(damaged video?)")
        if complaint:
            log.warning("%s: the decoder reported damage (%s); some of the %d frames may be corrupted",
                        path, complaint, n)
        if stated <= 0:
            log.warning("%s: the container states no frame count; %d frames decoded, damage would go unnoticed",
                        path, n)
    finally:
        cap.release()


def read_image(path: str | os.PathLike, flags: int | None = None) -> np.ndarray:
    """An image file as OpenCV reads it (``flags``: default unchanged depth and channels); one-line
    InputError naming the file when it cannot be read — libpng's and OpenCV's own lines are kept
    off the terminal and folded into the message."""
    cv2 = _cv2()
    img, said = quiet_call(cv2.imread, str(path), cv2.IMREAD_UNCHANGED if flags is None else flags)
    if img is None:
        if not os.access(path, os.R_OK):
            raise InputError(path, "permission denied")
        detail = first_line(said)
        raise InputError(path, "cannot read image (unsupported or corrupt file)"
                         + (f" (library said: {detail})" if detail else ""))
    return img


def _folder_frames(path: Path) -> Iterator[tuple[str, np.ndarray]]:
    for f in list_images(path):
        yield str(f), read_image(f)


def _prepare(img: np.ndarray, crop, size, label: str) -> np.ndarray:
    """Crop, resize (INTER_AREA), BGR(A) -> grey, as v2e does; uint8/uint16 kept."""
    cv2 = _cv2()
    if img.dtype not in (np.uint8, np.uint16):
        raise InputError(label, f"unsupported image depth {img.dtype} (need 8 or 16 bit)")
    if crop is not None:
        x, y, w, h = crop
        H, W = img.shape[:2]
        if x < 0 or y < 0 or w <= 0 or h <= 0 or x + w > W or y + h > H:
            raise InputError(label, f"crop {x},{y},{w},{h} does not fit in the {W}x{H} frame")
        img = img[y : y + h, x : x + w]
    if size is not None:
        img = cv2.resize(img, tuple(int(s) for s in size), interpolation=cv2.INTER_AREA)
    if img.ndim == 3:
        code = {3: cv2.COLOR_BGR2GRAY, 4: cv2.COLOR_BGRA2GRAY}.get(img.shape[2])
        if code is None:
            img = img[..., 0] if img.shape[2] == 1 else None
            if img is None:
                raise InputError(label, "unsupported number of colour channels")
        else:
            img = cv2.cvtColor(img, code)
    return np.ascontiguousarray(img)
