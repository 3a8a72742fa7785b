"""``evfer predict CHECKPOINT FILE...``: label, class probabilities and a per-window timeline.

FILE is an event recording (any format :mod:`evfer.io` reads) or a video / image folder, which is
converted on the fly exactly as the training clips were: the checkpoint stores the run's config, so
the same face crop, blur, frame size and emulator settings are applied. Each file is one clip: its
span is cut into the model's T windows; the timeline gives the prediction after each window (the
LSTM has then seen windows 0..t), the final label is the last one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..config import Config, SourceConfig
from ..errors import InputError
from ..events import Events

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")


def _frame_source(cfg: Config) -> SourceConfig:
    for src in cfg.data.sources:
        if src.kind in ("ckplus", "synthetic"):
            return src
    return SourceConfig(kind="ckplus", root="")


def _nefer_source(cfg: Config) -> SourceConfig | None:
    return next((s for s in cfg.data.sources if s.kind == "nefer"), None)


def file_events(path: str | Path, cfg: Config, box: str | None = None, clip_id: str | None = None) -> Events:
    """Events of one input, made as the model's training clips were (see the module docstring).

    ``box`` (event recordings): "auto" (face box from event density), "x,y,w,h", "none", or None —
    the trained NEFER source's own setting (its ``face_box`` or density), else the whole sensor.
    ``clip_id`` seeds the emulator's per-pixel thresholds (default: the file name).
    """
    from ..io import SUPPORTED_SUFFIXES

    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file or folder")
    suffix = path.suffix.lower()
    if path.is_dir() or suffix in VIDEO_SUFFIXES:
        return _video_events(path, cfg, clip_id or path.name)
    if suffix in SUPPORTED_SUFFIXES:
        return _recording_events(path, cfg, box)
    raise InputError(path, f"neither an event recording ({', '.join(SUPPORTED_SUFFIXES)}) "
                           f"nor a video ({', '.join(VIDEO_SUFFIXES)}) or image folder")


def _video_events(path: Path, cfg: Config, clip_id: str) -> Events:
    """Frames -> events exactly as the CK+/synthetic reader does (same loading, fps, preprocessing)."""
    from ..datasets.ckplus import _images, preprocess_frames
    from ..datasets.clips import ClipSpec
    from ..datasets.prepare import make_events
    from ..emulator import read_frames

    src = _frame_source(cfg)
    if path.is_dir():  # an image sequence: the training readers' path, bit for bit
        frames = [str(p) for p in _images(path)]
        if len(frames) < 2:
            raise InputError(path, f"need at least 2 images, found {len(frames)}")
        return make_events(ClipSpec(clip_id, src.kind, "", "", frames, {"fps": src.fps}), src, cfg)
    from ..emulator import emulate

    frames, times = read_frames(path)
    frames, done = preprocess_frames(frames, src)
    events = emulate(frames, times, preset=cfg.emulator.preset, seed=cfg.emulator.seed, clip_id=clip_id,
                     device=cfg.emulator.torch_device(), source=str(path), **cfg.emulator.params)
    if cfg.data.denoise.window_us > 0:
        from ..filters import background_activity_filter

        events = background_activity_filter(events, cfg.data.denoise.window_us, cfg.data.denoise.radius)
    return events.with_meta(**done, span_us=[int(times[0]), int(times[-1])])


def _recording_events(path: Path, cfg: Config, box: str | None) -> Events:
    import dataclasses

    from ..datasets.nefer import crop_recording
    from ..io import read_events

    nefer = _nefer_source(cfg) or SourceConfig(kind="nefer", root="")
    if box is None and _nefer_source(cfg) is None:
        box = "none"
    if box == "none":
        return read_events(path)
    if box is None:
        return crop_recording(str(path), nefer)  # the trained source's own box rule
    if box == "auto":
        return crop_recording(str(path), dataclasses.replace(nefer, face_box=None))
    try:
        x, y, w, h = (int(v) for v in box.split(","))
    except ValueError:
        raise InputError(path, f"--box must be auto, none or x,y,w,h (got {box!r})") from None
    return crop_recording(str(path), dataclasses.replace(nefer, face_box=[x, y, w, h]))


@torch.no_grad()
def predict_file(model, classes: list[str], cfg: Config, path: str | Path, box: str | None = None,
                 device: torch.device | None = None) -> dict:
    """Prediction for one file: label, probabilities, per-window timeline (µs on the file's clock)."""
    from ..datasets.voxel_cache import clip_grids
    from .inference import predict_proba

    device = device or next(model.parameters()).device
    events = file_events(path, cfg, box)
    if len(events) == 0:
        raise InputError(path, "no events (a static video or an empty recording): nothing to classify")
    grids = clip_grids(events, cfg.voxel)
    x = torch.from_numpy(np.ascontiguousarray(grids, dtype=np.float32))[None].to(device)
    timeline = predict_proba(model, x, cfg, timeline=True)[0].numpy()
    span = events.meta.get("span_us") or [events.t_start, events.t_end]
    edges = np.linspace(span[0], span[1], cfg.voxel.windows + 1)
    final = timeline[-1]
    return {
        "file": str(path),
        "label": classes[int(final.argmax())],
        "probabilities": {c: round(float(p), 4) for c, p in zip(classes, final)},
        "events": len(events),
        "timeline": [
            {"window": k, "t_start_us": int(edges[k]), "t_end_us": int(edges[k + 1]),
             "label": classes[int(p.argmax())], "probabilities": {c: round(float(v), 4) for c, v in zip(classes, p)}}
            for k, p in enumerate(timeline)
        ],
    }
