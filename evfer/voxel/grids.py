"""Voxel grids and event histograms from :class:`~evfer.events.Events`.

Time window. ``t_start``/``t_end`` (µs) default to the first and last event; both ends are
inclusive, so with the defaults every event counts. Events outside the window are ignored. An
empty window gives zeros; a zero-length window (``t_start == t_end``) puts every event in bin 0.

Voxel grid (Zhu et al. 2019, E2VID): t* = (B-1)(t - t_start)/(t_end - t_start) and
V[b, y, x] += p * max(0, 1 - |b - t*|). t - t_start is taken in int64 first, so absolute
timestamps of any size (AEDAT4: ~1.6e15 µs) lose no precision; t* is float64, V is float32.

Clips (:func:`clip_voxels`) split [t_start, t_end] into T windows of equal duration; window k is
[s_k, s_{k+1}) with s_k = t_start + k (t_end - t_start) / T (the last window also holds t_end),
and gets its own grid over its own sub-span. Window membership is decided in exact integer
arithmetic, so the windows partition the events.

Crop and resize. ``crop=(x, y, w, h)`` in sensor pixels may extend past the sensor (zero
padding). ``size=(W', H')`` resizes the cropped region:

* ``resize="events"`` (default): event coordinates are scaled, x' = floor((x - x0) W' / w),
  y' likewise. For integer factors this is exactly sum pooling; no event is lost, the polarity sum
  is preserved, no full-resolution grid is ever built, and it costs nothing extra in the one pass.
  Non-integer factors assign each sensor pixel wholly to one output pixel (slight aliasing);
  upscaling leaves gaps, so use it for downscaling.
* ``resize="area"``: the grid is built at crop resolution and area-pooled with OpenCV's
  ``INTER_AREA``, rescaled to preserve sums (for integer factors identical to ``"events"``); it
  splits pixels fractionally at non-integer factors at the cost of a full-resolution grid.

Sum (not mean) pooling is the default because E2VID normalisation (``normalize=True``) removes any
constant factor anyway and sums keep raw grids comparable to event counts.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..events import Events
from . import _kernel
from .normalize import normalize_clip

RESIZE_MODES = ("events", "area")


def voxel_grid(
    events: Events,
    bins: int,
    *,
    t_start: int | None = None,
    t_end: int | None = None,
    normalize: bool = False,
) -> np.ndarray:
    """Voxel grid of ``events`` over [t_start, t_end] µs (both inclusive): float32 (bins, H, W).

    ``normalize`` applies E2VID normalisation (see :mod:`evfer.voxel.normalize`).
    """
    return clip_voxels(events, bins, 1, t_start=t_start, t_end=t_end, normalize=normalize)[0]


def clip_voxels(
    events: Events,
    bins: int,
    windows: int,
    *,
    crop: Sequence[int] | None = None,
    size: Sequence[int] | None = None,
    t_start: int | None = None,
    t_end: int | None = None,
    normalize: bool = False,
    resize: str = "events",
) -> np.ndarray:
    """One voxel grid per window: float32 (T=windows, bins, H', W').

    The clip [t_start, t_end] µs is split into ``windows`` equal-duration windows, each with its own
    grid over its own sub-span (module docstring). ``crop=(x, y, w, h)`` pixels, ``size=(W', H')``
    pixels (default: the crop's or sensor's size), ``resize`` in {"events", "area"}.
    ``normalize`` applies E2VID normalisation to each window's grid separately.
    """
    _check_positive("bins", bins)
    out = _stack(events, _kernel.VOXEL, bins, windows, crop, size, t_start, t_end, resize)
    return normalize_clip(out, "e2vid") if normalize else out


def event_histogram(
    events: Events,
    *,
    t_start: int | None = None,
    t_end: int | None = None,
) -> np.ndarray:
    """Event counts per pixel over [t_start, t_end] µs: float32 (2, H, W), channel 0 ON, 1 OFF."""
    return clip_histograms(events, 1, t_start=t_start, t_end=t_end)[0]


def clip_histograms(
    events: Events,
    windows: int,
    *,
    crop: Sequence[int] | None = None,
    size: Sequence[int] | None = None,
    t_start: int | None = None,
    t_end: int | None = None,
    resize: str = "events",
) -> np.ndarray:
    """ON/OFF event counts per window: float32 (T=windows, 2, H', W'); windows, crop and resize as in
    :func:`clip_voxels`."""
    return _stack(events, _kernel.HISTOGRAM, 2, windows, crop, size, t_start, t_end, resize)


# ---------------------------------------------------------------- internals
def resolve_window(events: Events, t_start: int | None, t_end: int | None) -> tuple[int, int] | None:
    """The window [t_start, t_end] µs with defaults filled in, or None when it holds no events.

    Raises ValueError when both ends are given and t_end < t_start.
    """
    if t_start is not None and t_end is not None and t_end < t_start:
        raise ValueError(f"window end {t_end} µs is before its start {t_start} µs")
    if len(events) == 0:
        return None
    t0 = events.t_start if t_start is None else int(t_start)
    t1 = events.t_end if t_end is None else int(t_end)
    if t1 < t0:  # one default end fell on the other side of the given one: nothing inside
        return None
    return t0, t1


def window_starts(events: Events, t0: int, t1: int, windows: int) -> np.ndarray:
    """(T+1,) int64 event indices: window k holds events starts[k]..starts[k+1]-1.

    Window k is [t0 + ceil(k span / T), t0 + ceil((k+1) span / T)) µs, the last one closed at t1,
    span = t1 - t0 (exactly the events with k span <= (t - t0) T < (k+1) span). For span 0 the
    first window takes all events at t0.
    """
    span = t1 - t0
    k = np.arange(windows + 1, dtype=np.int64)
    edges = t0 + (k * span + windows - 1) // windows  # exact ceil in int64; edges[0] = t0
    starts = _kernel.search_times(events.array, edges, False)
    starts[-1] = _kernel.search_times(events.array, np.array([t1], np.int64), True)[0]
    if span == 0:
        starts[1:] = starts[-1]
    return starts


def _coordinate_map(n: int, origin: int, extent: int, out: int) -> np.ndarray:
    """Sensor coordinate 0..n-1 -> output coordinate floor((c - origin) out / extent), -1 if cropped."""
    rel = np.arange(n, dtype=np.int64) - origin
    inside = (rel >= 0) & (rel < extent)
    return np.where(inside, rel * out // extent, -1).astype(np.int64)


def _stack(events, mode, channels, windows, crop, size, t_start, t_end, resize) -> np.ndarray:
    _check_positive("windows", windows)
    if resize not in RESIZE_MODES:
        raise ValueError(f"resize must be one of {RESIZE_MODES}, got {resize!r}")
    cx, cy, cw, ch = (0, 0, events.width, events.height) if crop is None else (int(v) for v in crop)
    if cw <= 0 or ch <= 0:
        raise ValueError(f"crop box must have positive size, got {cw}x{ch}")
    ow, oh = (cw, ch) if size is None else (int(v) for v in size)
    if ow <= 0 or oh <= 0:
        raise ValueError(f"size must be positive, got {ow}x{oh}")
    pool = resize == "area" and (ow, oh) != (cw, ch)
    gw, gh = (cw, ch) if pool else (ow, oh)
    out = np.zeros((windows * channels, gh, gw), np.float32)
    span_ends = resolve_window(events, t_start, t_end)
    if span_ends is not None:
        t0, t1 = span_ends
        span = t1 - t0
        starts = window_starts(events, t0, t1, windows)
        scale = (channels - 1) / span if span > 0 else 0.0
        mapped = (cx, cy, cw, ch, gw, gh) != (0, 0, events.width, events.height, events.width, events.height)
        _kernel.accumulate(
            mode, channels, events.array, starts, np.int64(t0),
            np.int64(windows), np.int64(span), scale,
            _coordinate_map(events.width, cx, cw, gw), _coordinate_map(events.height, cy, ch, gh),
            mapped, out, _kernel.default_chunks(int(starts[-1] - starts[0])),
        )
    if pool:
        out = _area_pool(out, ow, oh)
    return out.reshape(windows, channels, oh, ow)


def _area_pool(planes: np.ndarray, ow: int, oh: int) -> np.ndarray:
    """(G, h, w) -> (G, oh, ow) with OpenCV INTER_AREA, scaled so each plane keeps its sum."""
    import cv2

    g, h, w = planes.shape
    factor = np.float32(w * h / (ow * oh))
    out = np.empty((g, oh, ow), np.float32)
    for i in range(g):
        out[i] = cv2.resize(planes[i], (ow, oh), interpolation=cv2.INTER_AREA) * factor
    return out


def _check_positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
