"""The picture of a live window (``evfer live --render``): the window's events (ON red, OFF blue), the
label with its probability and a bar per class — drawn with OpenCV, fast enough to keep up with a
stream — and the video writer that collects them (written under a temporary name, renamed when done)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..errors import OutputError
from .drawing import drawn_size, event_frame

SIZE = 256  # side of the events panel (pixels)
BAR_W = 220


def window_picture(label: str, probabilities: dict[str, float] | None, events, classes: list[str],
                   when: str = "") -> np.ndarray:
    """uint8 BGR (H, W, 3): the events panel beside the label and the class bars."""
    import cv2

    height = SIZE + 40
    out = np.full((height, SIZE + BAR_W + 30, 3), 255, np.uint8)
    image = event_frame(events, size=drawn_size(events.width, events.height)) if len(events) else \
        np.full((SIZE, SIZE, 3), 255, np.uint8)
    image = cv2.resize(image, (SIZE, SIZE), interpolation=cv2.INTER_NEAREST)
    out[30:30 + SIZE, 10:10 + SIZE] = image[..., ::-1]
    cv2.putText(out, when, (10, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (80, 80, 80), 1, cv2.LINE_AA)
    x0 = SIZE + 20
    cv2.putText(out, label, (x0, 30 + 28), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (0, 0, 0), 2, cv2.LINE_AA)
    for i, c in enumerate(classes):
        y = 30 + 50 + i * 28
        p = (probabilities or {}).get(c, 0.0)
        cv2.putText(out, c, (x0, y + 12), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.rectangle(out, (x0 + 80, y), (x0 + 80 + int(120 * p), y + 16), (180, 119, 31), -1)
        cv2.putText(out, f"{p:.2f}" if probabilities else "", (x0 + 80 + int(120 * p) + 4, y + 12),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return out


class LiveWriter:
    """An MP4 of :func:`window_picture` frames, one per window."""

    def __init__(self, out: str | os.PathLike, classes: list[str], fps: float):
        import cv2

        self.out = Path(out)
        if self.out.suffix.lower() != ".mp4":
            raise OutputError(self.out, "the live video is written as .mp4")
        self.classes = classes
        self._tmp_ctx = atomic_path(self.out, make_folder=False)
        self.tmp = self._tmp_ctx.__enter__()
        size = (SIZE + BAR_W + 30, SIZE + 40)
        self.writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), size)
        if not self.writer.isOpened():
            self._tmp_ctx.__exit__(OutputError, None, None)
            raise OutputError(self.out, "OpenCV cannot write MP4 video here")
        self.frames = 0

    def add(self, row, events) -> None:
        when = f"{row.start_s:.2f}-{row.end_s:.2f} s"
        self.writer.write(window_picture(row.label, row.probabilities, events, self.classes, when))
        self.frames += 1

    def close(self) -> None:
        self.writer.release()
        self._tmp_ctx.__exit__(None, None, None)
