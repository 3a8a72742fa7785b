"""CK+ (Lucey et al. 2010) as users download it, to clip specs and then to events.

Two layouts are recognised under ``root``:

- official: ``cohn-kanade-images/S###/###/S###_###_########.png`` and
  ``Emotion/S###/###/S###_###_########_emotion.txt`` (one float code 0-7; only 327 of 593 sequences
  are labelled — unlabelled ones are skipped and counted);
- per-emotion copies: ``<emotion>/S###_###/*.png`` or ``<emotion>/S###_###_*.png``.

The subject id is ``S###``. Each sequence (neutral onset -> apex) becomes one expression clip; with
``neutral_from_onset`` its first ``onset_frames`` frames also become a ``neutral`` clip (CK+ has no
neutral sequences). The same reader serves the synthetic faces, which are written in this layout.

Frames to events (:func:`ckplus_events`): grey frames -> timecode mask -> one fixed face box for the
whole sequence (Haar cascade on the first frame, with margin; centre crop when no face is found,
logged) -> resize to ``frame_size`` (INTER_AREA) -> Gaussian blur -> DVS emulator at ``fps``.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from ..config import EmulatorConfig, SourceConfig
from ..emulator.frames import IMAGE_SUFFIXES, list_images, natural_key
from ..errors import InputError
from ..events import Events
from .clips import ClipSpec, Skipped
from .labels import CKPLUS_CODES, normalize_original

log = logging.getLogger(__name__)

_SEQ_RE = re.compile(r"(S\d{3})_(\d{3})")
_EMOTIONS = set(CKPLUS_CODES.values())

#: CK+'s burnt-in running timecode sits in the lower-left corner: (x0, y0, x1, y1) as image fractions.
TIMECODE_REGION = (0.0, 0.86, 0.5, 1.0)


def _natural_key(path: Path) -> tuple:
    return natural_key(path.name)


def _images(folder: Path) -> list[Path]:
    """Image files in natural order (the emulator's frame listing); [] for a folder without images."""
    try:
        return list_images(folder)
    except InputError:
        return []


def _find_dir(root: Path, name: str) -> Path | None:
    for cand in (root / name, *root.glob(f"*/{name}"), *root.glob(f"*/*/{name}")):
        if cand.is_dir():
            return cand
    return None


def parse_emotion_file(path: Path) -> str:
    """Original label from a CK+ ``*_emotion.txt`` (one float code 0-7); InputError otherwise."""
    text = path.read_text(errors="replace").strip()
    try:
        value = float(text.split()[0]) if text else float("nan")
    except ValueError:
        raise InputError(path, f"malformed emotion file (expected one number, got {text[:30]!r})") from None
    if not np.isfinite(value) or value != int(value) or int(value) not in CKPLUS_CODES:
        raise InputError(path, f"emotion code {text[:20]} is outside 0-7")
    return CKPLUS_CODES[int(value)]


def scan_ckplus(cfg: SourceConfig, source: str = "ckplus") -> tuple[list[ClipSpec], list[Skipped]]:
    """List the clips of a CK+-layout folder; unusable sequences are returned as skipped items."""
    root = Path(cfg.root)
    if not root.is_dir():
        raise InputError(root, "CK+ folder not found")
    images = _find_dir(root, "cohn-kanade-images")
    if images is not None:
        sequences, skipped = _scan_official(images, _find_dir(root, "Emotion"))
    else:
        sequences, skipped = _scan_per_emotion(root)
        if not sequences and not skipped:
            raise InputError(
                root,
                "no CK+ layout found (expected cohn-kanade-images/ and Emotion/, "
                "or per-emotion folders such as happy/S005_001/)",
            )
    onset = cfg.neutral_from_onset if cfg.neutral_from_onset is not None else cfg.kind == "ckplus"
    specs: list[ClipSpec] = []
    for name, label, frames in sequences:
        subject = name.split("_")[0]
        base = f"{source}-{name}"
        n = len(frames)
        if n < 2:
            skipped.append(Skipped(str(frames[0].parent if frames else name), f"only {n} frame(s); need >= 2"))
            continue
        info = {"fps": cfg.fps, "frames": [0, n]}
        specs.append(ClipSpec(base, source, subject, label, [str(f) for f in frames], info))
        if onset and label != "neutral":
            k = min(cfg.onset_frames, n)
            if k >= 2:
                specs.append(ClipSpec(f"{base}-onset", source, subject, "neutral", [str(f) for f in frames[:k]],
                                      {"fps": cfg.fps, "frames": [0, k], "onset_of": base}))
    specs.sort(key=lambda s: s.id)
    if cfg.limit is not None:
        specs = specs[: cfg.limit]
    return specs, skipped


def _scan_official(images: Path, emotion: Path | None):
    sequences, skipped = [], []
    unlabelled = 0
    for subject_dir in sorted(p for p in images.iterdir() if p.is_dir()):
        for seq_dir in sorted(p for p in subject_dir.iterdir() if p.is_dir()):
            name = f"{subject_dir.name}_{seq_dir.name}"
            frames = _images(seq_dir)
            if not frames:
                skipped.append(Skipped(str(seq_dir), "empty sequence (no images)"))
                continue
            label_dir = None if emotion is None else emotion / subject_dir.name / seq_dir.name
            label_files = sorted(label_dir.glob("*_emotion.txt")) if label_dir and label_dir.is_dir() else []
            if not label_files:
                unlabelled += 1
                continue
            if len(label_files) > 1:
                skipped.append(Skipped(str(label_dir), f"{len(label_files)} emotion files; expected one"))
                continue
            try:
                label = parse_emotion_file(label_files[0])
            except InputError as exc:
                skipped.append(Skipped(str(label_files[0]), exc.problem))
                continue
            sequences.append((name, label, frames))
    if unlabelled:
        skipped.append(Skipped(str(images), f"{unlabelled} unlabelled sequence(s) (no emotion file)"))
    return sequences, skipped


def _scan_per_emotion(root: Path):
    sequences, skipped = [], []
    for emo_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        label = normalize_original(emo_dir.name)
        if label not in _EMOTIONS:
            continue
        groups: dict[str, list[Path]] = defaultdict(list)
        for child in sorted(emo_dir.iterdir()):
            m = _SEQ_RE.match(child.name)
            if child.is_dir() and m:
                groups[f"{m[1]}_{m[2]}"].extend(_images(child))
            elif child.name.startswith("."):
                continue
            elif child.suffix.lower() in IMAGE_SUFFIXES and m:
                groups[f"{m[1]}_{m[2]}"].append(child)
            elif not child.name.startswith("."):
                skipped.append(Skipped(str(child), "not a CK+ sequence name (S###_###)"))
        for name, frames in sorted(groups.items()):
            if not frames:
                skipped.append(Skipped(str(emo_dir / name), "empty sequence (no images)"))
                continue
            sequences.append((name, label, sorted(frames, key=_natural_key)))
    return sequences, skipped


# ------------------------------------------------------------------------------------- frames


def load_frames(paths: list[str]) -> np.ndarray:
    """Grey uint8 frames (N, H, W); InputError naming the file for unreadable or mixed-size images."""
    import cv2

    frames = []
    for p in paths:
        img = cv2.imread(p, cv2.IMREAD_GRAYSCALE)
        if img is None:
            raise InputError(p, "unreadable image")
        if frames and img.shape != frames[0].shape:
            raise InputError(p, f"image size {img.shape[1]}x{img.shape[0]} differs from the sequence's "
                                f"{frames[0].shape[1]}x{frames[0].shape[0]}")
        frames.append(img)
    return np.stack(frames)


def mask_timecode(frames: np.ndarray, region: tuple[float, float, float, float] = TIMECODE_REGION) -> np.ndarray:
    """Freeze the timecode corner: copy frame 0's pixels there into every frame (no change, no events)."""
    n, h, w = frames.shape
    x0, y0, x1, y1 = int(region[0] * w), int(region[1] * h), int(region[2] * w), int(region[3] * h)
    out = frames.copy()
    out[:, y0:y1, x0:x1] = frames[0, y0:y1, x0:x1]
    return out


def face_box(frame: np.ndarray, margin: float, mode: str = "haar") -> tuple[tuple[int, int, int, int], str]:
    """A square crop box (x, y, w, h) in pixels for the face in ``frame``, and how it was found.

    ``haar``: OpenCV's frontal-face Haar cascade, largest detection, grown by ``margin`` x size on
    every side; falls back to ``center`` (a centred square of 0.8 x the shorter side) when no face is
    found. ``none``: the whole frame. The box is shifted/clipped to lie inside the frame.
    """
    h, w = frame.shape
    if mode == "none":
        return (0, 0, w, h), "none"
    if mode == "haar":
        import cv2

        cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
        faces = cascade.detectMultiScale(frame, scaleFactor=1.1, minNeighbors=5, minSize=(max(24, h // 8),) * 2)
        if len(faces):
            fx, fy, fw, fh = max(faces, key=lambda f: f[2] * f[3])
            side = int(round(max(fw, fh) * (1 + 2 * margin)))
            cx, cy = fx + fw / 2, fy + fh / 2
            return _fit_square(cx, cy, side, w, h), "haar"
    side = int(0.8 * min(h, w))
    return _fit_square(w / 2, h / 2, side, w, h), "center"


def _fit_square(cx: float, cy: float, side: int, w: int, h: int) -> tuple[int, int, int, int]:
    side = max(2, min(side, w, h))
    x = int(round(min(max(cx - side / 2, 0), w - side)))
    y = int(round(min(max(cy - side / 2, 0), h - side)))
    return x, y, side, side


def preprocess_frames(frames: np.ndarray, cfg: SourceConfig) -> tuple[np.ndarray, dict]:
    """Timecode mask, face crop, resize to ``cfg.frame_size`` and blur; returns frames and what was done."""
    import cv2

    if cfg.mask_timecode:
        frames = mask_timecode(frames)
    (x, y, bw, bh), how = face_box(frames[0], cfg.face_margin, cfg.face_crop)
    if how == "center" and cfg.face_crop == "haar":
        log.info("no face found in the first frame; using a centre crop")
    size = (int(cfg.frame_size[0]), int(cfg.frame_size[1]))
    out = np.empty((len(frames), size[1], size[0]), np.uint8)
    for i, f in enumerate(frames):
        g = cv2.resize(f[y : y + bh, x : x + bw], size, interpolation=cv2.INTER_AREA)
        if cfg.blur_sigma > 0:
            g = cv2.GaussianBlur(g, (0, 0), cfg.blur_sigma)
        out[i] = g
    return out, {"face_box": [x, y, bw, bh], "face_method": how, "frame_size": list(size)}


def ckplus_events(spec: ClipSpec, cfg: SourceConfig, emulator: EmulatorConfig) -> Events:
    """Events of one CK+-layout clip (see the module docstring for the steps)."""
    from ..emulator import emulate

    frames = load_frames(spec.paths)
    frames, done = preprocess_frames(frames, cfg)
    fps = float(spec.info.get("fps", cfg.fps))
    times = np.round(np.arange(len(frames)) * 1e6 / fps).astype(np.int64)
    events = emulate(frames, times, preset=emulator.preset, seed=emulator.seed, clip_id=spec.id,
                     device=emulator.torch_device(), source=spec.paths[0], **emulator.params)
    return events.with_meta(**done, fps=fps, n_frames=len(frames), span_us=[int(times[0]), int(times[-1])])
