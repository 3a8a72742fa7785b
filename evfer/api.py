"""The Python API: a trained model in a few lines.

::

    import evfer

    model = evfer.Recognizer.load("runs/ckplus/checkpoints/best.ckpt")   # or the run directory
    model.predict(events)                       # an evfer.Events clip -> {"label", "probabilities"}
    model.predict(frames, fps=30)               # grey or colour frames (N, H, W[, 3]) -> the same
    model.predict("face.mp4")                   # a file, as `evfer predict` does
    for row in model.timeline("talk.mp4", window="1s", stride="500ms"):
        print(row.start_s, row.label, row.confidence)

Everything goes through the same code as the command line: inputs are made into events as the
model's training clips were (face crop, blur, frame size, emulator and representation stored in the
checkpoint), windows as in ``evfer predict --window``. ``evfer.Recognizer`` is this class; the
network itself is :class:`evfer.models.Recognizer`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .config import Config
from .datasets.clips import Clip, span_from
from .datasets.inputs import input_source
from .datasets.kinds import clip_context
from .datasets.source import FRAMES
from .datasets.streams import FrameWindows
from .emulator.frames import to_luma
from .errors import InputError
from .events import Events
from .training.checkpoints import find_checkpoint, load_checkpoint, read_hparams
from .training.predict import predict_clip, predict_input
from .training.timeline import Row, default_window, model_warnings, timeline, training_clips
from .typed import parse_time


def _us(value: int | float | str | None) -> int | None:
    """µs from a number of µs or a text such as ``"1s"``, ``"500ms"``."""
    if value is None or isinstance(value, (int, np.integer)):
        return None if value is None else int(value)
    if isinstance(value, float):
        return int(round(value))
    return parse_time(value)


class Recognizer:
    """A trained evfer model (see the module doc). ``classes``: the class names in probability order;
    ``config``: the run's config; ``window_us``/``stride_us``: the default windows (the training
    clips' duration and half of it; None when the checkpoint does not know them); ``warnings``:
    what every prediction of this model should say (e.g. trained on synthetic faces only)."""

    def __init__(self, model, classes: list[str], config: Config, stats: dict | None = None):
        self.model, self.classes, self.config, self.stats = model.eval(), list(classes), config, stats
        found = default_window(stats)
        self.window_us, self.stride_us = found if found else (None, None)
        self.warnings = model_warnings(config)

    @classmethod
    def load(cls, checkpoint: str | os.PathLike, device: str | None = None) -> Recognizer:
        """The model of a checkpoint file or of a run directory (its ``checkpoints/best.ckpt``)."""
        path = Path(checkpoint)
        if path.is_dir():
            path = find_checkpoint(path)
        model, classes, cfg = load_checkpoint(path)
        if device is not None:
            model = model.to(device)
        return cls(model, classes, cfg, training_clips(read_hparams(path)))

    def predict(self, data, *, fps: float | None = None, timestamps_us=None) -> dict:
        """Label and class probabilities of one clip: :class:`~evfer.Events` (its span: the one an evfer
        clip file states, else its first to last event), frames (N, H, W) grey or (N, H, W, 3) RGB uint8 at ``fps`` (or with
        ``timestamps_us``) made into events as the training clips were, or a file path (one clip,
        as ``evfer predict`` with no window). Returns ``{"label", "probabilities", "events"}``."""
        if isinstance(data, (str, os.PathLike)):
            r = predict_input(self.model, self.classes, self.config, data, window_us=None, stats=None)
            return {"label": r["label"], "probabilities": r["probabilities"], "events": r["events"]}
        if isinstance(data, Events):
            clip = Clip(data, span_from(data))
        else:
            clip = self._frames_clip(np.asarray(data), fps, timestamps_us)
        r = predict_clip(self.model, self.classes, self.config, clip, "<frames>" if not isinstance(data, Events)
                         else "<events>")
        return {"label": r["label"], "probabilities": r["probabilities"], "events": r["events"]}

    def _frames_clip(self, frames: np.ndarray, fps: float | None, timestamps_us) -> Clip:
        if timestamps_us is None:
            if not fps or fps <= 0:
                raise InputError(None, "frames need fps= or timestamps_us=")
            timestamps_us = np.round(np.arange(len(frames)) * 1e6 / fps).astype(np.int64)
        luma = np.asarray(to_luma(frames), np.uint8) if frames.ndim == 4 else frames.astype(np.uint8, copy=False)
        times = np.asarray(timestamps_us, np.int64)
        src = input_source(self.config, "videos", FRAMES)
        span = int(times[-1]) - int(times[0]) + 1
        windows = FrameWindows(src.options, clip_context(self.config).emulator, span + 1, span + 1, clip_id="frames")
        found = windows.feed(luma, times) + windows.finish()
        w = found[0]
        return Clip(w.events, (int(times[0]), int(times[-1])))

    def timeline(self, path: str | os.PathLike, *, window: int | str | None = None, stride: int | str | None = None,
                 box: str | None = None, smooth: int = 1) -> list[Row]:
        """A :class:`~evfer.training.timeline.Row` per window of a video, image folder or recording
        (times in s from its start), as ``evfer predict --window --stride``; ``window``/``stride`` in
        µs or as text (``"1s"``, ``"500ms"``; default: :attr:`window_us`, half of it)."""
        window_us = _us(window) or self.window_us
        if window_us is None:
            raise InputError(path, "give window= (this checkpoint does not know its training clips' duration)")
        stride_us = _us(stride) or (self.stride_us if window is None else window_us // 2)
        return timeline(self.model, self.classes, self.config, path, window_us=window_us, stride_us=stride_us,
                        box=box, smooth=smooth, stats=self.stats)
