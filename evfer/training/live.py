"""``evfer live``: recognition on a stream, as it arrives.

A source yields chunks at its own pace — a camera (OpenCV capture -> the run's emulator), an event
camera through its vendor's Python library (dv-processing for iniVation DV/DAVIS/DVXplorer,
Metavision for Prophesee; optional, installed by the user), or a file replayed at its real pace
(``--replay``: a video or a recording; what the tests use). A reader thread takes the chunks as
they come; the main thread cuts them into windows (:mod:`evfer.datasets.streams`, the same windows
as ``evfer predict``) and classifies each one (:class:`evfer.training.timeline.Predictor`).

Keeping up: the reader never waits for the classifier. The chunks waiting to be processed are
bounded (:data:`MAX_BACKLOG_S` of input); when the backlog is full the oldest chunks are dropped,
the windows restart after the gap, and the summary says how many windows were lost — the stream
falls behind by at most the backlog, never without bound. Each window's latency is the time from
its end arriving to its label; the summary gives the median and 95th percentile. Ctrl-C stops the
reader and the classifier cleanly (the summary is still printed).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config import Config
from ..datasets.inputs import input_source, input_type, kind_for_file
from ..datasets.kinds import clip_context
from ..datasets.source import EVENTS
from ..datasets.streams import EventWindows, FrameWindows, Window, frame_chunks
from ..errors import InputError
from ..events import EVENT_DTYPE, Events
from ..io import iter_events
from .timeline import Predictor, Row

log = logging.getLogger(__name__)

#: seconds of input the reader may hold while the classifier is busy; older chunks are dropped
MAX_BACKLOG_S = 2.0
#: chunk length of a replayed recording (µs of events per chunk)
EVENT_CHUNK_US = 10_000


@dataclass
class Chunk:
    """Frames (N, H, W) uint8 with times (N,) µs, or events; ``arrived``: when the reader had it
    (``time.monotonic()``); ``gap``: chunks were dropped just before this one."""

    frames: np.ndarray | None = None
    times: np.ndarray | None = None
    events: Events | None = None
    arrived: float = 0.0
    gap: bool = False

    @property
    def t_end(self) -> int:
        return int(self.times[-1]) if self.frames is not None else int(self.events.t_end)


@dataclass
class LiveSummary:
    """What a live session did: windows classified and dropped, latencies (s), rows."""

    rows: list[Row] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    dropped_chunks: int = 0
    seconds: float = 0.0
    stream_seconds: float = 0.0
    interrupted: bool = False

    def latency(self, q: float) -> float | None:
        return float(np.percentile(self.latencies, q)) if self.latencies else None

    def text(self) -> str:
        med, p95 = self.latency(50), self.latency(95)
        lat = f"latency median {med * 1000:.0f} ms, 95th percentile {p95 * 1000:.0f} ms" if med is not None else \
            "no window classified"
        behind = (f"; fell behind: {self.dropped_chunks} chunks of input dropped (the windows restarted after each gap)"
                  if self.dropped_chunks else "; kept up with the stream")
        return (f"{len(self.rows)} windows in {self.seconds:.1f} s of wall time for {self.stream_seconds:.1f} s of "
                f"input; {lat}{behind}")


# ------------------------------------------------------------------------------------- sources
def replay_chunks(cfg: Config, path: str | Path, *, speed: float = 1.0) -> tuple[str, Iterator[Chunk]]:
    """A file as a stream at its real pace (x ``speed``): (input type, chunks). A video or image
    folder yields its frames (the input's own frame rate); a recording yields 10 ms of events at a time."""

    path = Path(path)
    kind_of_input = input_type(path)
    _, spec = kind_for_file(cfg, path)
    if kind_of_input == EVENTS:
        source = (Chunk(events=e) for e in _slices(iter_events(path, require_geometry=True)))
        return EVENTS, _paced(source, speed)
    source = (Chunk(frames=f[None], times=np.array([t], np.int64))
              for frames, times in frame_chunks(path, fps=spec.fps, chunk=16) for f, t in zip(frames, times))
    return "frames", _paced(source, speed)


def _slices(chunks: Iterator[Events]) -> Iterator[Events]:
    """Events in slices of :data:`EVENT_CHUNK_US` (a sensor delivers them continuously)."""
    for chunk in chunks:
        if not len(chunk):
            continue
        t = chunk.t
        edges = np.searchsorted(t, np.arange(t[0] - t[0] % EVENT_CHUNK_US + EVENT_CHUNK_US, t[-1] + 1, EVENT_CHUNK_US))
        for a, b in zip(np.r_[0, edges], np.r_[edges, len(t)]):
            if b > a:
                yield chunk[int(a):int(b)]


def _paced(chunks: Iterator[Chunk], speed: float) -> Iterator[Chunk]:
    """Release each chunk when its stream time is due (the first one at once)."""
    start_wall, start_t = None, None
    for c in chunks:
        if start_wall is None:
            start_wall, start_t = time.monotonic(), c.t_end
        due = start_wall + (c.t_end - start_t) / 1e6 / speed
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        yield c


def camera_chunks(index: int) -> tuple[str, Iterator[Chunk]]:
    """An OpenCV camera (``index``) as frames timed by the clock when they arrive."""
    import cv2

    cap = cv2.VideoCapture(int(index))
    if not cap.isOpened():
        raise InputError(f"camera {index}", "cannot open this camera (none connected, or in use)")

    def frames() -> Iterator[Chunk]:
        t0 = time.monotonic()
        try:
            while True:
                ok, img = cap.read()
                if not ok:
                    return
                grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
                yield Chunk(frames=grey[None], times=np.array([int((time.monotonic() - t0) * 1e6)], np.int64))
        finally:
            cap.release()

    return "frames", frames()


def event_camera_chunks(kind: str) -> tuple[str, Iterator[Chunk]]:
    """An event camera through its vendor's library: ``dv`` (dv-processing: iniVation DV, DAVIS,
    DVXplorer) or ``metavision`` (Prophesee's Metavision SDK). InputError naming the package to
    install when it is missing."""
    if kind == "dv":
        try:
            import dv_processing as dv
        except ImportError:
            raise InputError("event camera dv", "needs the dv-processing package: pip install dv-processing") from None
        camera = dv.io.CameraCapture()
        width, height = camera.getEventResolution()

        def batches() -> Iterator[Chunk]:
            while camera.isRunning():
                store = camera.getNextEventBatch()
                if store is None or store.size() == 0:
                    time.sleep(0.001)
                    continue
                a = store.numpy()
                yield Chunk(events=_events(a["timestamp"], a["x"], a["y"], a["polarity"], width, height))

        return EVENTS, batches()
    if kind == "metavision":
        try:
            from metavision_core.event_io import EventsIterator
        except ImportError:
            raise InputError("event camera metavision", "needs Prophesee's Metavision SDK (metavision_core) for "
                                                        "Python, installed from Prophesee") from None
        iterator = EventsIterator(input_path="", delta_t=EVENT_CHUNK_US)
        height, width = iterator.get_size()
        return EVENTS, (Chunk(events=_events(e["t"], e["x"], e["y"], e["p"], width, height)) for e in iterator if len(e))
    raise InputError(None, f"unknown event camera {kind!r} (dv or metavision)")


def _events(t, x, y, p, width: int, height: int) -> Events:
    a = np.empty(len(t), EVENT_DTYPE)
    a["t"], a["x"], a["y"] = t, x, y
    a["p"] = np.where(np.asarray(p) > 0, 1, -1)
    return Events(a, int(width), int(height))


# ------------------------------------------------------------------------------------- the loop
def run_live(predictor: Predictor, cfg: Config, kind_of_input: str, chunks: Iterator[Chunk], *, window_us: int,
             stride_us: int, name: str = "live", box=None, clip_id: str = "live",
             on_row: Callable[[Row, Window, float], None] | None = None,
             max_backlog_s: float = MAX_BACKLOG_S) -> LiveSummary:
    """Classify the windows of ``chunks`` as they arrive (see the module doc); ``on_row(row, window,
    latency_s)`` is called for each window. Returns the session's summary — also after Ctrl-C
    (``interrupted``), once the reader has stopped."""
    backlog: queue.Queue = queue.Queue()
    stop = threading.Event()
    summary = LiveSummary()
    src = input_source(cfg, "recordings" if kind_of_input == EVENTS else "videos", kind_of_input)
    options, emulator = src.options, clip_context(cfg).emulator

    def reader() -> None:
        try:
            for c in chunks:
                if stop.is_set():
                    return
                c.arrived = time.monotonic()
                backlog.put(c)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            backlog.put(exc)
        finally:
            backlog.put(None)

    def windower():
        if kind_of_input == EVENTS:
            return EventWindows(window_us, stride_us, box=box or "density", box_size=options.box_size)
        return FrameWindows(options, emulator, window_us, stride_us, clip_id=clip_id)

    thread = threading.Thread(target=reader, name="evfer-live-reader", daemon=True)
    started = time.monotonic()
    thread.start()
    current = windower()
    t_first = t_last = None
    arrived_at: dict[int, float] = {}
    try:
        while (item := backlog.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            dropped = 0
            while _newest(backlog) - item.t_end > max_backlog_s * 1e6:  # too far behind: drop the oldest input
                nxt = backlog.get()
                if not isinstance(nxt, Chunk):
                    backlog.put(nxt)
                    break
                item, dropped = nxt, dropped + 1
            if dropped:
                summary.dropped_chunks += dropped
                current = windower()  # the windows restart after the gap
            t_first = item.t_end if t_first is None else t_first
            t_last = item.t_end
            arrived_at[item.t_end] = item.arrived
            windows = current.feed(item.frames, item.times) if item.frames is not None else current.feed(item.events)
            for row, w in zip(predictor.rows(name, windows, t0_us=t_first), windows):
                latency = time.monotonic() - _arrival(arrived_at, w.end_us)
                summary.rows.append(row)
                summary.latencies.append(latency)
                if on_row:
                    on_row(row, w, latency)
            _forget_before(arrived_at, t_last - 10 * window_us)
        last = current.finish()
        for row, w in zip(predictor.rows(name, last, t0_us=t_first), last):
            summary.rows.append(row)
            if on_row:
                on_row(row, w, 0.0)
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        stop.set()
        thread.join(timeout=2.0)
        summary.seconds = time.monotonic() - started
        summary.stream_seconds = 0.0 if t_first is None else (t_last - t_first) / 1e6
    return summary


def _newest(q: queue.Queue) -> int:
    """The stream time (µs) of the newest chunk waiting; -inf when none."""
    with q.mutex:
        for item in reversed(q.queue):
            if isinstance(item, Chunk):
                return item.t_end
    return -(2**62)


def _arrival(arrived_at: dict[int, float], t_us: int) -> float:
    """When the chunk that completed a window (the first at or after ``t_us``) arrived."""
    later = [t for t in arrived_at if t >= t_us]
    return arrived_at[min(later)] if later else time.monotonic()


def _forget_before(arrived_at: dict[int, float], t_us: int) -> None:
    for t in [t for t in arrived_at if t < t_us]:
        del arrived_at[t]
