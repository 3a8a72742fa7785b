"""``evfer predict ... --render OUT``: a clip of what the model saw and said, window by window.

Every video frame shows, side by side (pixel boxes in :func:`layout`):

- ``frames``: the source frame at that time with the face box drawn (videos and image folders only;
  a recording has no frames and the panel is left out);
- ``events``: the events of the current window so far, ON red / OFF blue (:mod:`evfer.presentation.drawing`) —
  the emulated events of the face crop for frame inputs; the whole sensor with the face box drawn
  for recordings;
- ``label`` and ``bars``: the predicted label and the class probabilities after the current window
  (the LSTM has then seen windows 0..k);
- ``timeline``: every window's predicted label and the probability of each class over the clip,
  with a cursor at the current time.

Each of the model's T windows lasts ``frames_per_window`` frames (default 12, at 12 fps: one second
of video per window, whatever the clip's duration), so a clip has T x frames_per_window frames of
:func:`video_size` pixels. Drawn with matplotlib (Agg), written with OpenCV (``.mp4``, MPEG-4 Part 2)
or matplotlib's Pillow writer (``.gif``), atomically.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import atomic_path, no_space, space_left
from ..datasets.clips import Clip
from ..datasets.frame_clips import FrameSet
from ..errors import OutputError
from ..io import read_events
from ..jobs import progress_bar
from .drawing import drawn_size, event_frame, format_time

#: Video formats ``--render`` writes, by suffix.
#: the video formats a rendered prediction is written in (the inputs: evfer.datasets.frame_clips.VIDEO_SUFFIXES)
RENDER_SUFFIXES = (".mp4", ".gif")
FRAMES_PER_WINDOW = 12
FPS = 12.0

_PAD = 12  # pixels between boxes
_HEADER = 48  # two lines of text above the panels
PANEL = _PANEL = 256  # square box of the frames and events panels (source frames are kept at most this wide)
_TITLE = 20  # panel titles
_LABELS = 84  # class names left of the bars
_BARS = 236  # probability bars
_LABEL = 40  # the predicted label, above the bars
_TIMELINE = 150  # timeline plot, with its axis labels


@dataclass
class WindowView:
    """What one window of a long input shows: its events as a picture (RGB, ON red / OFF blue), the
    source frame at its end (grey, scaled by ``scale``; frame inputs) and the face box on it."""

    events_image: np.ndarray
    frame: np.ndarray | None = None
    scale: float = 1.0
    box: tuple[int, int, int, int] | None = None


def window_view(window) -> WindowView:
    """The :class:`WindowView` of an :class:`evfer.datasets.streams.Window` (kept small: a long input
    keeps one per window)."""

    events = window.events
    image = event_frame(events, size=drawn_size(events.width, events.height))
    frame, scale = window.notes.get("frame", (None, 1.0))
    box = tuple(int(v) for v in window.box) if window.box is not None else None
    return WindowView(image, frame, scale, box)


@dataclass
class PredictionView:
    """What one input shows: the prediction (:func:`evfer.training.predict.predict_input`), and
    either (one clip) the events of the events panel and the face box on them ((x, y, w, h) pixels;
    None: the events are the crop) and the source frames and the face box on them (frame inputs),
    or (a long input) a :class:`WindowView` per window."""

    name: str
    prediction: dict
    events: object = None
    events_box: tuple[int, int, int, int] | None = None
    source: FrameSet | None = None
    source_box: tuple[int, int, int, int] | None = None
    windows: list[WindowView] | None = None

    @property
    def has_frames(self) -> bool:
        return self.source is not None or bool(self.windows and self.windows[0].frame is not None)


def video_size(has_frames: bool) -> tuple[int, int]:
    """(W, H) pixels of every frame of a clip, with or without the source-frames panel."""
    panels = 2 if has_frames else 1
    width = _PAD + panels * (_PANEL + _PAD) + _LABELS + _BARS + _PAD
    height = _HEADER + _TITLE + _PANEL + _PAD + _TIMELINE + _PAD
    return width, height


def layout(has_frames: bool) -> dict[str, tuple[int, int, int, int]]:
    """Pixel boxes (x, y, w, h), from the top-left corner, of the parts of a frame (see the module
    docstring); panel boxes include their titles."""
    width, _ = video_size(has_frames)
    top = _HEADER
    boxes = {"header": (0, 0, width, _HEADER)}
    x = _PAD
    for name in (("frames", "events") if has_frames else ("events",)):
        boxes[name] = (x, top, _PANEL, _TITLE + _PANEL)
        x += _PANEL + _PAD
    boxes["label"] = (x, top, _LABELS + _BARS, _LABEL)
    boxes["bars"] = (x, top + _LABEL, _LABELS + _BARS, _TITLE + _PANEL - _LABEL)
    boxes["timeline"] = (_PAD, top + _TITLE + _PANEL + _PAD, width - 2 * _PAD, _TIMELINE)
    return boxes


def check_video_path(path: str | os.PathLike) -> Path:
    """``path`` as a video output: an OutputError naming it unless it ends in .mp4 or .gif and its
    folder exists."""
    path = Path(path)
    if path.suffix.lower() not in RENDER_SUFFIXES:
        raise OutputError(path, f"a rendered prediction is a video: use {' or '.join(RENDER_SUFFIXES)}")
    if not path.parent.is_dir():
        raise OutputError(path, f"the folder {path.parent} does not exist")
    if path.is_dir():
        raise OutputError(path, "is a folder; give a file name")
    return path


def video_paths(out: str | os.PathLike, inputs: Sequence[str | os.PathLike]) -> list[Path]:
    """The video of each input: ``out`` itself for one input; for several, ``<out stem>-<input
    stem><suffix>`` beside ``out`` (``-2``, ``-3``, ... added to repeated names)."""
    out = check_video_path(out)
    if len(inputs) == 1:
        return [out]
    paths, seen = [], set()
    for item in inputs:
        stem = f"{out.stem}-{Path(item).stem or 'input'}"
        name, n = stem, 1
        while name in seen:
            n += 1
            name = f"{stem}-{n}"
        seen.add(name)
        paths.append(out.with_name(name + out.suffix))
    return paths


def prediction_view(path: str | os.PathLike, clip: Clip, prediction: dict,
                    source: FrameSet | None) -> PredictionView:
    """The view of an input's clip: frame inputs show their ``source`` frames with the face box and
    the events of the crop; recordings cut to a face box show the whole sensor's events with the box."""
    box = tuple(int(v) for v in clip.crop.box) if clip.crop is not None else None
    path = Path(path)
    name = f"{path.parent.name}/{path.name}" if path.is_dir() and path.parent.name else path.name
    if source is not None:
        return PredictionView(name, prediction, clip.events, None, source, box)
    events = clip.events
    sensor = events.meta.get("sensor_size")
    if clip.crop is None or clip.crop.method == "none" or not sensor:
        return PredictionView(name, prediction, events)

    whole = read_events(path, t_start=clip.span_us[0], t_end=clip.span_us[1] + 1, sensor_size=tuple(sensor))
    return PredictionView(name, prediction, whole, box)


def write_video(view: PredictionView, out: str | os.PathLike, *, frames_per_window: int = FRAMES_PER_WINDOW,
                fps: float = FPS, progress: bool = True) -> int:
    """Write the video of ``view`` (.mp4 or .gif by suffix), atomically; returns its frame count."""

    out = check_video_path(out)
    drawing = PredictionDrawing(view)
    times = frame_times(view.prediction, frames_per_window)
    bar = progress_bar(len(times), f"render {view.name}", "frame", progress)
    with atomic_path(out, make_folder=False) as tmp:
        sink = (_GifSink if out.suffix.lower() == ".gif" else _Mp4Sink)(drawing, tmp, fps, out)
        for frame in times:
            drawing.draw(frame)
            sink.add()
            bar.update(1)
        sink.finish()
    bar.close()
    return len(times)


def frame_times(prediction: dict, frames_per_window: int = FRAMES_PER_WINDOW) -> list[tuple[int, float]]:
    """(window k, time µs) of every video frame: ``frames_per_window`` evenly spaced times per window,
    the last at the window's end (the frame that shows all of its events)."""
    out = []
    for k, w in enumerate(prediction["timeline"]):
        t0, t1 = w["t_start_us"], w["t_end_us"]
        out += [(k, t0 + (j + 1) / frames_per_window * (t1 - t0)) for j in range(frames_per_window)]
    return out


def iter_frames(view: PredictionView, frames_per_window: int = FRAMES_PER_WINDOW) -> Iterator[np.ndarray]:
    """The video's frames as uint8 RGB arrays (H, W, 3) of :func:`video_size` (what the writers get)."""
    drawing = PredictionDrawing(view)
    for frame in frame_times(view.prediction, frames_per_window):
        drawing.draw(frame)
        yield drawing.pixels()


class PredictionDrawing:
    """One matplotlib figure of :func:`layout`, redrawn for each (window, time) by :meth:`draw`."""

    def __init__(self, view: PredictionView, dpi: int = 100):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.view = view
        self.timeline = view.prediction["timeline"]
        self.classes = list(view.prediction["classes"] if "classes" in view.prediction else
                            view.prediction["probabilities"])
        self.size = video_size(view.has_frames)
        self.boxes = layout(view.has_frames)
        w, h = self.size
        self.figure = Figure(figsize=(w / dpi, h / dpi), dpi=dpi, facecolor="white")
        FigureCanvasAgg(self.figure)
        self.t0 = self.timeline[0]["t_start_us"]
        self._header()
        self._events_panel()
        if view.has_frames:
            self._frames_panel()
        self._bars()
        self._timeline()

    # ------------------------------------------------------------------ layout helpers
    def _axes(self, box: tuple[int, int, int, int], *, top: int = 0, left: int = 0, bottom: int = 0):
        """Axes filling pixel ``box`` less ``top``/``left``/``bottom`` pixels (for titles and labels)."""
        W, H = self.size
        x, y, w, h = box
        return self.figure.add_axes(((x + left) / W, 1 - (y + h - bottom) / H, (w - left) / W, (h - top - bottom) / H))

    def colour(self, label: str):
        from matplotlib import colormaps

        return colormaps["tab10"](self.classes.index(label) % 10)

    def _header(self) -> None:
        p = self.view.prediction
        W, H = self.size
        name = self.view.name if len(self.view.name) <= 36 else "..." + self.view.name[-33:]
        self.figure.text(_PAD / W, 1 - 15 / H, name, fontsize=11, weight="bold", va="center")
        confidence = (p.get("probabilities") or {}).get(p["label"])
        said = f"{p['label']} ({confidence:.2f})" if confidence is not None else p["label"]
        what = (f"over {len(self.timeline)} windows of {p['window_s']:g} s" if p.get("mode") == "windows"
                else f"after {len(self.timeline)} windows")
        self.figure.text(_PAD / W, 1 - 36 / H, f"predicted {said} {what}, {p['events']:,} events"
                         + ("; " + p["warnings"][0] if p.get("warnings") else ""), fontsize=9, va="center")
        self.clock = self.figure.text(1 - _PAD / W, 1 - 15 / H, "", fontsize=9, va="center", ha="right",
                                      color="0.3")

    def _image_panel(self, box, title: str, image: np.ndarray, cmap=None):
        ax = self._axes(box, top=_TITLE)
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_color("0.8")
        h, w = image.shape[:2]
        zoom = min(_PANEL / w, _PANEL / h)
        shown = ax.imshow(image, cmap=cmap, vmin=0, vmax=255, aspect="equal",
                          interpolation="nearest" if zoom >= 1 else "antialiased")
        ax.set_title(title, fontsize=9)
        return ax, shown

    def _box(self, ax, box) -> None:
        from matplotlib.patches import Rectangle

        x, y, w, h = box
        return ax.add_patch(Rectangle((x - 0.5, y - 0.5), w, h, fill=False, edgecolor="#2ca02c", linewidth=1.5))

    def _events_panel(self) -> None:
        if self.view.windows:
            ax, self.events_image = self._image_panel(self.boxes["events"], "events of the face crop in the window "
                                                      "(ON red, OFF blue)", self.view.windows[0].events_image)
            return
        events = self.view.events
        self.event_size = drawn_size(events.width, events.height)
        what = "events of the face crop" if self.view.source is not None else "events"
        ax, self.events_image = self._image_panel(self.boxes["events"], f"{what} (ON red, OFF blue)",
                                                  self._event_frame(self.t0, self.t0))
        if self.view.events_box is not None:
            scale = 1.0 if self.event_size is None else self.event_size[0] / events.width
            self._box(ax, tuple(v * scale for v in self.view.events_box))

    def _event_frame(self, t_start: float, t_end: float) -> np.ndarray:
        return event_frame(self.view.events, t_start=int(t_start), t_end=int(t_end), size=self.event_size)

    def _frames_panel(self) -> None:
        if self.view.windows:
            first = self.view.windows[0]
            ax, self.frame_image = self._image_panel(self.boxes["frames"], "source frames, tracked face box",
                                                     first.frame, cmap="gray")
            self.frame_box = self._box(ax, (0, 0, 1, 1))
            return
        source = self.view.source
        ax, self.frame_image = self._image_panel(self.boxes["frames"], "source frames, face box",
                                                 source.frames[0], cmap="gray")
        if self.view.source_box is not None:
            self._box(ax, self.view.source_box)

    def _bars(self) -> None:
        W, H = self.size
        x, y, w, h = self.boxes["label"]
        self.label = self.figure.text((x + _LABELS) / W, 1 - (y + h / 2) / H, "", fontsize=20, weight="bold",
                                      va="center")
        ax = self._axes(self.boxes["bars"], left=_LABELS, top=_TITLE, bottom=8)
        k = len(self.classes)
        self.bars = ax.barh(range(k), [0.0] * k, color=[self.colour(c) for c in self.classes], height=0.7)
        ax.set_yticks(range(k), self.classes, fontsize=9)
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(axis="x", alpha=0.3)
        self.bars_title = ax.set_title("", fontsize=9)
        self.values = [ax.text(0.02, i, "", va="center", fontsize=8) for i in range(k)]

    def colour_of(self, label: str):
        """A class's colour; grey for a window that was not classified (no-face, no-events)."""
        return self.colour(label) if label in self.classes else (0.6, 0.6, 0.6, 1.0)

    def _timeline(self) -> None:
        from matplotlib.patches import Patch, Rectangle

        ax = self._axes(self.boxes["timeline"], left=70, top=8, bottom=34)
        windows = self.view.windows is not None
        starts = [(w["t_start_us"] - self.t0) / 1e6 for w in self.timeline]
        end = (self.timeline[-1]["t_end_us"] - self.t0) / 1e6
        if windows:  # window k is known at its end and colours the stride before it
            ends = [(w["t_end_us"] - self.t0) / 1e6 for w in self.timeline]
            stride = (ends[1] - ends[0]) if len(ends) > 1 else ends[0] - starts[0]
            spans = [(e - stride, e) for e in ends]
        else:  # one clip: the model's T steps, one after another
            edges = [*starts, end]
            spans = list(zip(starts, edges[1:]))
        for w, (a, b) in zip(self.timeline, spans):
            ax.axvspan(a, b, color=self.colour_of(w["label"]), alpha=0.25, linewidth=0)
            if not windows:
                ax.axvline(a, color="white", linewidth=2)
                ax.text((a + b) / 2, 1.02, w["label"], ha="center", va="top", fontsize=8, weight="bold")
        xs = [b for _, b in spans] if windows else edges
        for c in self.classes:
            values = [np.nan if not w["probabilities"] else w["probabilities"][c] for w in self.timeline]
            if windows:
                ax.plot(xs, values, color=self.colour(c), linewidth=1.2, label=c)
            else:
                ax.step(xs, [*values, values[-1]], where="post", color=self.colour(c), linewidth=1.2, label=c)
        lo = min(a for a, _ in spans) if windows else edges[0]
        ax.set_xlim(lo, max(xs))
        ax.set_ylim(0, 1.05)
        ax.set_xlabel("time from the input's start (s)" if windows else "time from the clip start (s)", fontsize=8)
        ax.set_ylabel("probability", fontsize=8)
        ax.tick_params(labelsize=8)
        handles = [Patch(color=self.colour(c), label=c) for c in self.classes]
        if windows and any(w["label"] not in self.classes for w in self.timeline):
            handles.append(Patch(color=(0.6, 0.6, 0.6), label="no face / no events"))
        ax.legend(handles=handles, fontsize=7, ncol=len(handles), loc="lower left", bbox_to_anchor=(0, 1.0),
                  frameon=False, handlelength=1.0)
        self.cursor = ax.axvline(lo, color="black", linewidth=1.5)
        # what has not been seen yet is hidden: window k's curve appears when window k ends
        self.unseen = ax.add_patch(Rectangle((lo, 0), max(xs) - lo, 1.05, facecolor="white", edgecolor="none",
                                             zorder=5)) if windows else None
        self.timeline_end = max(xs)

    # ------------------------------------------------------------------ per frame
    def draw(self, frame: tuple[int, float]) -> None:
        """Show window ``k`` at time ``t`` µs (a :func:`frame_times` entry)."""

        k, t = frame
        w = self.timeline[k]
        if self.view.windows:
            view = self.view.windows[k]
            self.events_image.set_data(view.events_image)
            if view.frame is not None:
                self.frame_image.set_data(view.frame)
                if view.box is not None:
                    x, y, bw, bh = (v * view.scale for v in view.box)
                    self.frame_box.set_bounds(x - 0.5, y - 0.5, bw, bh)
            seen = (t - self.t0) / 1e6
            self.unseen.set_x(seen)
            self.unseen.set_width(max(self.timeline_end - seen, 0))
        else:
            self.events_image.set_data(self._event_frame(w["t_start_us"], t))
        if self.view.source is not None:
            times = self.view.source.times
            i = max(0, int(np.searchsorted(times, t, side="right")) - 1)
            self.frame_image.set_data(self.view.source.frames[i])
        probs = w["probabilities"] or {}
        self.label.set_text(w["label"])
        self.label.set_color(self.colour_of(w["label"]))
        for i, (bar, c) in enumerate(zip(self.bars, self.classes)):
            bar.set_width(probs.get(c, 0.0))
            bar.set_alpha(1.0 if c == w["label"] else 0.4)
            self.values[i].set_text(f"{probs[c]:.2f}" if c in probs else "")
        self.bars_title.set_text(f"class probabilities after window {k + 1} of {len(self.timeline)}")
        self.cursor.set_xdata([(t - self.t0) / 1e6] * 2)
        self.clock.set_text(f"window {k + 1}/{len(self.timeline)}, t = +{format_time(t - self.t0)} "
                            f"of {format_time(self.timeline[-1]['t_end_us'] - self.t0)}")

    def pixels(self) -> np.ndarray:
        """The figure as drawn now: uint8 RGB (H, W, 3)."""
        self.figure.canvas.draw()
        return np.asarray(self.figure.canvas.buffer_rgba())[..., :3].copy()


class _Mp4Sink:
    """OpenCV's MPEG-4 writer fed with the figure's pixels."""

    def __init__(self, drawing: PredictionDrawing, path: Path, fps: float, target: Path):
        import cv2

        self.drawing = drawing
        self.writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), drawing.size)
        self.path, self.target, self.frames = path, target, 0
        if not self.writer.isOpened():
            raise OutputError(target, f"cannot write an MP4 video here ({_why_not_written(path)}); or use .gif")

    def add(self) -> None:
        import cv2

        self.writer.write(cv2.cvtColor(self.drawing.pixels(), cv2.COLOR_RGB2BGR))
        self.frames += 1

    def finish(self) -> None:
        import cv2

        self.writer.release()
        cap = cv2.VideoCapture(str(self.path))  # OpenCV's writer does not report failed writes: check
        written = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else 0
        cap.release()
        if written < self.frames:
            raise OutputError(self.target, f"only {written} of {self.frames} frames were written "
                                           f"({_why_not_written(self.path)})")


def _why_not_written(path: Path) -> str:
    """A full disk when little space is left, else what is most likely."""
    free = space_left(path)
    if free is None:
        return "the folder is not usable"
    if free < 16 * 2**20:
        return no_space(free)
    return "no MPEG-4 encoder in this OpenCV, or the folder is not writable"


class _GifSink:
    """matplotlib's Pillow writer (an animated GIF, looping)."""

    def __init__(self, drawing: PredictionDrawing, path: Path, fps: float, target: Path):
        from matplotlib.animation import PillowWriter

        self.writer = PillowWriter(fps=fps)
        self.writer.setup(drawing.figure, str(path), dpi=drawing.figure.dpi)

    def add(self) -> None:
        self.writer.grab_frame()

    def finish(self) -> None:
        self.writer.finish()
