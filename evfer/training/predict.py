"""``evfer predict CHECKPOINT FILE...``: label, class probabilities and a per-window timeline.

FILE is an event recording (any format :mod:`evfer.io` reads) or a video / image folder, which is
converted on the fly exactly as the training clips were: the checkpoint stores the run's config, and
the clip is made by the same source kind and code path as ``prepare``'s (face crop, blur, frame
size, emulator, event filter). Each file is one clip: its
span is cut into the model's T windows; the timeline gives the prediction after each window (the
LSTM has then seen windows 0..t), the final label is the last one.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from ..config import Config
from ..datasets.clips import Clip
from ..datasets.frame_clips import FrameSource
from ..datasets.inputs import clip_for_file, kind_for_file
from ..datasets.voxel_cache import as_cached, clip_planes
from ..errors import InputError
from ..presentation.prediction_video import (
    FPS,
    FRAMES_PER_WINDOW,
    check_video_path,
    prediction_view,
    write_video,
)
from .inference import predict_proba


def file_clip(path: str | Path, cfg: Config, box: str | None = None, clip_id: str | None = None) -> Clip:
    """The clip of one input, made as the model's training clips were
    (:func:`evfer.datasets.inputs.clip_for_file`: the same kind object and code path as ``prepare``)."""

    return clip_for_file(cfg, path, box=box, clip_id=clip_id)


def predict_file(model, classes: list[str], cfg: Config, path: str | Path, box: str | None = None,
                 device: torch.device | None = None) -> dict:
    """Prediction for one file: label, probabilities, per-window timeline (µs on the file's clock)."""
    return predict_clip(model, classes, cfg, file_clip(path, cfg, box), path, device)


@torch.no_grad()
def predict_clip(model, classes: list[str], cfg: Config, clip: Clip, path: str | Path,
                 device: torch.device | None = None) -> dict:
    """Prediction for the clip made of file ``path`` (see :func:`predict_file`)."""

    device = device or next(model.parameters()).device
    events = clip.events
    if len(events) == 0:
        raise InputError(path, "no events (a static video or an empty recording): nothing to classify")
    planes = as_cached(clip_planes(clip, cfg.voxel))  # the numbers evaluation feeds from the cache
    x = torch.from_numpy(np.ascontiguousarray(planes, dtype=np.float32))[None].to(device)
    timeline = predict_proba(model, x, cfg, timeline=True)[0].numpy()
    span = clip.span_us
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


def render_file(model, classes: list[str], cfg: Config, path: str | os.PathLike, out: str | os.PathLike, *,
                box: str | None = None, frames_per_window: int | None = None, fps: float | None = None,
                progress: bool = True) -> dict:
    """Predict ``path`` (as :func:`predict_file`) and write its video (:mod:`evfer.presentation.prediction_video`) to
    ``out``; returns the prediction with ``"render"`` (the video's path) and ``"render_frames"``."""

    out = check_video_path(out)
    kind, spec = kind_for_file(cfg, path, box=box)
    clip, source = kind.clip_with_frames(spec) if isinstance(kind, FrameSource) else (kind.clip(spec), None)
    prediction = predict_clip(model, classes, cfg, clip, path)
    view = prediction_view(path, clip, prediction, source)
    n = write_video(view, out, frames_per_window=frames_per_window or FRAMES_PER_WINDOW, fps=fps or FPS,
                    progress=progress)
    return {**prediction, "render": str(out), "render_frames": n}
