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
    PANEL,
    PredictionView,
    WindowView,
    check_video_path,
    prediction_view,
    window_view,
    write_video,
)
from .inference import predict_proba
from .timeline import NO_EVENTS, NO_FACE, default_window, model_warnings, summary_label, timeline


def file_clip(path: str | Path, cfg: Config, box: str | None = None, clip_id: str | None = None) -> Clip:
    """The clip of one input, made as the model's training clips were
    (:func:`evfer.datasets.inputs.clip_for_file`: the same kind object and code path as ``prepare``)."""

    return clip_for_file(cfg, path, box=box, clip_id=clip_id)


def predict_file(model, classes: list[str], cfg: Config, path: str | Path, box: str | None = None,
                 device: torch.device | None = None, tta_flip: bool | None = None) -> dict:
    """Prediction for one file as one clip: label, probabilities, the timeline of the model's T
    steps (µs on the file's clock)."""
    return predict_clip(model, classes, cfg, file_clip(path, cfg, box), path, device, tta_flip=tta_flip)


def predict_input(model, classes: list[str], cfg: Config, path: str | Path, *, window_us: int | None = None,
                  stride_us: int | None = None, box: str | None = None, smooth: int = 1, tta_flip: bool | None = None,
                  stats: dict | None = None, on_window=None, keep_frames: int = 0) -> dict:
    """Prediction for one input of any length (``evfer predict``).

    With a window (``window_us``, ``stride_us``; the caller's, or the training clips' duration from
    ``stats``), the input is cut into windows (:func:`~.timeline.timeline`): ``windows`` holds a row per
    window, ``timeline`` the same as times on the file's clock, ``label`` the label of the windows'
    mean probabilities. An input no longer than one window — or any input when there is no window —
    is one clip, made exactly as ``prepare`` makes a training clip (:func:`predict_file`): its
    ``timeline`` is the model's T steps. ``warnings`` says what the user must know about the model
    or the input.
    """
    warnings = model_warnings(cfg)
    if window_us is None:
        found = default_window(stats)
        window_us, stride_us = found if found else (None, None)
    if window_us is not None:
        rows = timeline(model, classes, cfg, path, window_us=window_us, stride_us=stride_us or window_us // 2,
                        box=box, smooth=smooth, tta_flip=tta_flip, stats=stats, on_window=on_window,
                        keep_frames=keep_frames)
        if len(rows) > 1:
            label, probs = summary_label(rows, classes)
            flagged = sum(1 for r in rows if r.label in (NO_FACE, NO_EVENTS))
            if flagged:
                warnings.append(f"{flagged} of {len(rows)} windows have no face or no events (labelled so)")
            rated = sum(1 for r in rows if "event-rate" in r.flags)
            if rated:
                warnings.append(f"{rated} of {len(rows)} windows have an event rate far outside the training clips'")
            t0 = rows[0].start_s
            return {"file": str(path), "mode": "windows", "label": label, "probabilities": probs,
                    "events": sum(r.events for r in rows), "window_s": window_us / 1e6, "stride_s": stride_us / 1e6,
                    "warnings": warnings, "windows": [r.as_dict() for r in rows],
                    "timeline": [{"window": r.index, "t_start_us": int(round((r.start_s - t0) * 1e6)),
                                  "t_end_us": int(round((r.end_s - t0) * 1e6)), "label": r.label,
                                  "probabilities": r.as_dict()["probabilities"]} for r in rows]}
    result = predict_file(model, classes, cfg, path, box=box, tta_flip=tta_flip)
    return {**result, "mode": "clip", "warnings": warnings,
            "windows": [{"window": 0, "start_s": 0.0,
                         "end_s": (result["timeline"][-1]["t_end_us"] - result["timeline"][0]["t_start_us"]) / 1e6,
                         "box": result.get("box"), "label": result["label"],
                         "confidence": max(result["probabilities"].values()),
                         "probabilities": result["probabilities"], "events": result["events"], "flags": []}]}


@torch.no_grad()
def predict_clip(model, classes: list[str], cfg: Config, clip: Clip, path: str | Path,
                 device: torch.device | None = None, tta_flip: bool | None = None) -> dict:
    """Prediction for the clip made of file ``path`` (see :func:`predict_file`)."""

    device = device or next(model.parameters()).device
    events = clip.events
    if len(events) == 0:
        raise InputError(path, "no events (a static video or an empty recording): nothing to classify")
    planes = as_cached(clip_planes(clip, cfg.voxel))  # the numbers evaluation feeds from the cache
    x = torch.from_numpy(np.ascontiguousarray(planes, dtype=np.float32))[None].to(device)
    steps = predict_proba(model, x, cfg, timeline=True, tta_flip=tta_flip)[0].numpy()
    span = clip.span_us
    edges = np.linspace(span[0], span[1], cfg.voxel.windows + 1)
    final = steps[-1]
    return {
        "file": str(path),
        "label": classes[int(final.argmax())],
        "probabilities": {c: round(float(p), 4) for c, p in zip(classes, final)},
        "events": len(events),
        "box": list(clip.crop.box) if clip.crop is not None else None,
        "timeline": [
            {"window": k, "t_start_us": int(edges[k]), "t_end_us": int(edges[k + 1]),
             "label": classes[int(p.argmax())], "probabilities": {c: round(float(v), 4) for c, v in zip(classes, p)}}
            for k, p in enumerate(steps)
        ],
    }


def render_file(model, classes: list[str], cfg: Config, path: str | os.PathLike, out: str | os.PathLike, *,
                window_us: int | None = None, stride_us: int | None = None, box: str | None = None,
                smooth: int = 1, tta_flip: bool | None = None, stats: dict | None = None,
                progress: bool = True) -> dict:
    """:func:`predict_input` and a video of it (:mod:`evfer.presentation.prediction_video`) in ``out``;
    returns the prediction with ``"render"`` (the video's path) and ``"render_frames"``. A long input
    shows one video frame per window, at the input's pace (1 / stride frames per second), with the
    whole input's timeline revealed window by window; one clip shows the model's T steps."""
    out = check_video_path(out)
    views: list[WindowView] = []
    prediction = predict_input(model, classes, cfg, path, window_us=window_us, stride_us=stride_us, box=box,
                               smooth=smooth, tta_flip=tta_flip, stats=stats,
                               on_window=lambda w: views.append(window_view(w)), keep_frames=PANEL)
    name = Path(path).name
    if prediction["mode"] == "windows":
        view = PredictionView(name, {**prediction, "classes": classes}, windows=views)
        n = write_video(view, out, frames_per_window=1, fps=1 / prediction["stride_s"], progress=progress)
        return {**prediction, "render": str(out), "render_frames": n}
    kind, spec = kind_for_file(cfg, path, box=box)
    clip, source = kind.clip_with_frames(spec) if isinstance(kind, FrameSource) else (kind.clip(spec), None)
    view = prediction_view(path, clip, predict_clip(model, classes, cfg, clip, path, tta_flip=tta_flip), source)
    n = write_video(view, out, frames_per_window=FRAMES_PER_WINDOW, fps=FPS, progress=progress)
    return {**prediction, "render": str(out), "render_frames": n}
