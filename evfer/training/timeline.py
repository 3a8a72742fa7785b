"""Recognition over time: a trained model applied to every window of an input of any length.

:func:`timeline` takes a file (video, image folder or recording), cuts it into windows
(:mod:`evfer.datasets.streams`: frames emulated once, continuously, with the face tracked; recordings
read in bounded memory, a face box per window), makes each window's planes exactly as the training
clips' (:func:`evfer.datasets.voxel_cache.clip_planes`, the cache's float16 values) and classifies
them in batches. :class:`Predictor` is the part that turns windows into rows; ``evfer live`` feeds
it one window at a time.

A row per window: its times (s from the input's start), the face box, the label and its probability,
every class's probability and flags. A window without events is labelled ``no-events``, one in which
the frame detector found no face ``no-face``: neither is guessed. ``smooth`` N replaces each
window's probabilities by the mean of the last N classified windows' (causal: the same live and
offline). A window whose event rate is far outside the training clips' (below half their 5th
percentile or above twice their 95th) is classified and flagged ``event-rate``.
"""

from __future__ import annotations

import csv
import os
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path

import numpy as np
import torch

from ..atomic import write_text_atomic
from ..config import Config
from ..datasets.clips import Box
from ..datasets.inputs import input_type, kind_for_file
from ..datasets.source import EVENTS
from ..datasets.streams import EventWindows, FrameWindows, Window, event_windows, frame_chunks, frame_windows
from ..datasets.voxel_cache import as_cached, clip_planes
from ..errors import InputError
from ..io import iter_events
from .inference import predict_proba

NO_FACE, NO_EVENTS = "no-face", "no-events"
#: a window's event rate is flagged outside [RATE_LOW x the training clips' 5th percentile, RATE_HIGH x their 95th]
RATE_LOW, RATE_HIGH = 0.5, 2.0


@dataclass
class Row:
    """One window's prediction."""

    file: str
    index: int
    start_s: float
    end_s: float
    box: Box | None
    label: str
    confidence: float | None
    probabilities: dict[str, float] | None
    events: int
    flags: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"window": self.index, "start_s": round(self.start_s, 6), "end_s": round(self.end_s, 6),
                "box": self.box.as_list() if self.box else None, "label": self.label,
                "confidence": None if self.confidence is None else round(self.confidence, 4),
                "probabilities": None if self.probabilities is None else
                {c: round(p, 4) for c, p in self.probabilities.items()},
                "events": self.events, "flags": list(self.flags)}


def training_clips(hparams: dict) -> dict | None:
    """The training clips' statistics a checkpoint stores (duration, event rate), or None."""
    stats = hparams.get("clips") if isinstance(hparams, dict) else None
    return stats if isinstance(stats, dict) and stats.get("duration_us") else None


def default_window(stats: dict | None) -> tuple[int, int] | None:
    """(window, stride) µs by default: the training clips' median duration, half of it as stride;
    None when the checkpoint does not know its clips (an input is then one clip)."""
    if not stats:
        return None
    window = int(stats["duration_us"]["median"])
    return window, max(1, window // 2)


def model_warnings(cfg: Config) -> list[str]:
    """What every prediction of this model should say about it."""
    kinds = {s.kind for s in cfg.data.sources}
    if kinds == {"synthetic"}:
        return ["this model was trained on synthetic faces only: expect it to be wrong on real faces"]
    return []


class Predictor:
    """Windows -> rows: planes made as the training clips', classified in batches.

    Args:
        model, classes, cfg: a restored checkpoint (:func:`evfer.training.checkpoints.load_checkpoint`).
        stats: the training clips' statistics (:func:`training_clips`), for the event-rate flag.
        smooth: mean of the probabilities over the last N classified windows (1: none).
        tta_flip: flip test-time averaging (default: the run's ``train.tta_flip``).
    """

    def __init__(self, model, classes: list[str], cfg: Config, *, stats: dict | None = None, smooth: int = 1,
                 tta_flip: bool | None = None, device: torch.device | None = None, batch_size: int = 16):
        if smooth < 1:
            raise ValueError(f"smooth must be at least 1 window (got {smooth})")
        self.model, self.classes, self.cfg = model.eval(), list(classes), cfg
        self.device = device or next(model.parameters()).device
        if cfg.train.channels_last:  # as trained (and evaluated): the fast convolution layout
            self.model = self.model.to(memory_format=torch.channels_last)
        self.tta_flip, self.batch_size = tta_flip, batch_size
        self.recent: deque[np.ndarray] = deque(maxlen=smooth)
        rate = (stats or {}).get("event_rate")
        self.rate_range = (rate["p5"] * RATE_LOW, rate["p95"] * RATE_HIGH) if rate else None

    def rows(self, file: str, windows: Iterable[Window], t0_us: int | None = None) -> Iterator[Row]:
        """Rows of ``windows`` (in order), times from ``t0_us`` (default: the first window's start)."""
        batch: list[Window] = []
        for w in windows:
            if t0_us is None:
                t0_us = w.start_us
            batch.append(w)
            if len(batch) >= self.batch_size:
                yield from self._batch(file, batch, t0_us)
                batch = []
        if batch:
            yield from self._batch(file, batch, t0_us)

    def probabilities(self, windows: list[Window]) -> np.ndarray:
        """(N, K) class probabilities of windows (each one clip of the model)."""
        planes = np.stack([as_cached(clip_planes(w.clip, self.cfg.voxel)) for w in windows]).astype(np.float32)
        x = torch.from_numpy(planes).to(self.device)
        return predict_proba(self.model, x, self.cfg, tta_flip=self.tta_flip).numpy()

    def _batch(self, file: str, batch: list[Window], t0_us: int) -> Iterator[Row]:
        usable = [w for w in batch if w.has_events and w.face]
        probs = dict(zip((w.index for w in usable), self.probabilities(usable))) if usable else {}
        for w in batch:
            flags = []
            rate = len(w.events) / max(w.end_us - w.start_us, 1) * 1e6
            if w.has_events and self.rate_range and not self.rate_range[0] <= rate <= self.rate_range[1]:
                flags.append("event-rate")
            common = dict(file=file, index=w.index, start_s=(w.start_us - t0_us) / 1e6, end_s=(w.end_us - t0_us) / 1e6,
                          box=w.box, events=len(w.events))
            if w.index not in probs:
                label = NO_EVENTS if not w.has_events else NO_FACE
                yield Row(**common, label=label, confidence=None, probabilities=None, flags=[label, *flags])
                continue
            self.recent.append(probs[w.index])
            p = np.mean(self.recent, axis=0)
            k = int(p.argmax())
            yield Row(**common, label=self.classes[k], confidence=float(p[k]),
                      probabilities={c: float(v) for c, v in zip(self.classes, p)}, flags=flags)


def windows_of_file(cfg: Config, path: str | os.PathLike, window_us: int, stride_us: int, *,
                    box: str | None = None, chunk: int = 64, keep_frames: int = 0) -> Iterator[Window]:
    """The windows of a file for the model trained with ``cfg``: a video or image folder through its
    kind's frame preprocessing and the run's emulator, a recording read in bounded memory."""

    path = Path(path)
    kind, spec = kind_for_file(cfg, path, box=box)
    if input_type(path) == EVENTS:
        rule = spec.box or spec.box_rule or kind.options.face_box or "density"
        rule = Box(*rule) if isinstance(rule, list) else rule
        if rule == "auto":
            rule = "density"
        sensor = kind.sensor_size() if hasattr(kind, "sensor_size") else None
        chunks = iter_events(path, sensor_size=sensor, require_geometry=True)
        yield from event_windows(chunks, EventWindows(window_us, stride_us, box=rule, box_size=kind.options.box_size))
        return
    chunks = frame_chunks(path, fps=spec.fps, chunk=chunk)  # an image folder's spec has its rate
    windower = FrameWindows(kind.options, kind.context.emulator, window_us, stride_us, clip_id=spec.id,
                            keep_frames=keep_frames)
    yield from frame_windows(chunks, windower)


def timeline(model, classes: list[str], cfg: Config, path: str | os.PathLike, *, window_us: int, stride_us: int,
             box: str | None = None, smooth: int = 1, tta_flip: bool | None = None, stats: dict | None = None,
             on_window=None, keep_frames: int = 0) -> list[Row]:
    """The rows of every window of ``path`` (see the module doc); ``on_window(window)`` sees each
    window first (e.g. to draw it), ``keep_frames`` keeps a source-frame thumbnail per window."""
    if window_us <= 0 or stride_us <= 0:
        raise InputError(path, f"--window and --stride must be positive (got {window_us}, {stride_us} µs)")
    predictor = Predictor(model, classes, cfg, stats=stats, smooth=smooth, tta_flip=tta_flip)
    windows = windows_of_file(cfg, path, window_us, stride_us, box=box, keep_frames=keep_frames)
    if on_window is not None:
        windows = _tapped(windows, on_window)
    rows = list(predictor.rows(str(path), windows))
    if not rows:
        raise InputError(path, "no frames or events to classify")
    return rows


def _tapped(windows: Iterable[Window], on_window) -> Iterator[Window]:
    for w in windows:
        on_window(w)
        yield w


def summary_label(rows: list[Row], classes: list[str]) -> tuple[str, dict[str, float] | None]:
    """The input's label: that of the mean probabilities over its classified windows."""
    probs = [[r.probabilities[c] for c in classes] for r in rows if r.probabilities]
    if not probs:
        return rows[0].label, None
    mean = np.mean(probs, axis=0)
    return classes[int(mean.argmax())], {c: round(float(v), 4) for c, v in zip(classes, mean)}


CSV_COLUMNS = ["file", "start_s", "end_s", "box", "label", "confidence"]


def write_timeline_csv(rows: list[Row], classes: list[str], out: str | os.PathLike) -> None:
    """One row per window: file, start_s, end_s, box (x y w h), label, confidence, p_<class>...,
    flags (``;``-separated); written atomically."""
    buf = StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*CSV_COLUMNS, *[f"p_{c}" for c in classes], "flags"])
    for r in rows:
        probs = [f"{r.probabilities[c]:.4f}" if r.probabilities else "" for c in classes]
        w.writerow([r.file, f"{r.start_s:.3f}", f"{r.end_s:.3f}", " ".join(map(str, r.box)) if r.box else "",
                    r.label, "" if r.confidence is None else f"{r.confidence:.4f}", *probs, ";".join(r.flags)])
    write_text_atomic(out, buf.getvalue())
