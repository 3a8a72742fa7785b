"""Face box from event density, for recordings whose face boxes were never published (NEFER).

A seated subject in front of a static event camera is the main source of events: the face moves
(expression, blinks, small head motion) while the background is still. Per time slice (200 ms) we
find the box of a fixed size that holds the most events (2-D histogram of small pixel cells +
integral image, exhaustive over all positions), then take the weighted median of the box centres
over slices, so a hand or a passer-by crossing the view in a minority of slices does not move the
box. A slice weighs the events in its box, capped at the median over slices: quiet slices (mostly
noise, a random box) count little, and a burst of motion counts no more than a typical slice.
Cell counts are capped per slice (hot pixels fire thousands of times and would otherwise pull the
box). Streaming: the recording is consumed chunk by chunk; memory is one histogram of the sensor.

Known limit: a large flickering light source in view out-fires a face; give ``face_box`` then.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..events import Events

#: Default box side as a fraction of the sensor height (square box): 0.45 x 720 = 324 px on NEFER's
#: 1280x720 sensor, a head at the distance of NEFER's setup with some margin.
DEFAULT_BOX_FRACTION = 0.45
#: Time slice for the per-slice boxes (µs).
DEFAULT_SLICE_US = 200_000
#: Slices with fewer events than this are ignored (too little signal for a box).
MIN_SLICE_EVENTS = 50
#: Per slice, pixel counts above this quantile of the non-zero counts are capped to it.
HOT_PIXEL_QUANTILE = 0.999


@dataclass(frozen=True)
class FaceBox:
    """A crop box in sensor pixels: [x, x + w) x [y, y + h).

    ``method`` is "given", "density" or "center" (fallback when there were no usable events);
    ``slices`` is the number of time slices the density estimate rests on.
    """

    x: int
    y: int
    w: int
    h: int
    method: str
    slices: int = 0

    def as_list(self) -> list[int]:
        return [self.x, self.y, self.w, self.h]


def default_box_size(
    width: int, height: int, box_size: list[int] | tuple[int, int] | None = None
) -> tuple[int, int]:
    """(w, h) of the density box in pixels: ``box_size`` if given, else a square of 0.45 x height;
    never larger than the sensor."""
    if box_size is None:
        side = max(1, round(DEFAULT_BOX_FRACTION * height))
        w, h = side, side
    else:
        w, h = int(box_size[0]), int(box_size[1])
    if w <= 0 or h <= 0:
        raise ValueError(f"box size must be positive, got {w}x{h}")
    return min(w, width), min(h, height)


def best_box(hist: np.ndarray, w: int, h: int) -> tuple[int, int, int]:
    """Top-left corner (x, y) of the ``w`` x ``h`` box with the largest sum in ``hist`` (H, W), and that sum.

    Exhaustive over every position inside the array (integral image); ties go to the first
    position in row-major order.
    """
    H, W = hist.shape
    w, h = min(w, W), min(h, H)
    s = np.zeros((H + 1, W + 1), np.int64)
    np.cumsum(np.cumsum(hist, 0, dtype=np.int64), 1, out=s[1:, 1:])
    sums = s[h:, w:] - s[:-h, w:] - s[h:, :-w] + s[:-h, :-w]  # (H-h+1, W-w+1): box at (y, x)
    k = int(np.argmax(sums))
    y, x = divmod(k, sums.shape[1])
    return x, y, int(sums[y, x])


def cap_hot_pixels(hist: np.ndarray, quantile: float = HOT_PIXEL_QUANTILE) -> np.ndarray:
    """``hist`` with counts above the ``quantile`` of its non-zero counts clipped to that value."""
    nz = hist[hist > 0]
    if nz.size < 100:
        return hist
    k = min(nz.size - 1, int(quantile * nz.size))
    cap = np.partition(nz, k)[k]
    return np.minimum(hist, cap)


def weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    """The smallest value at which the cumulative weight reaches half the total weight."""
    order = np.argsort(values, kind="stable")
    v, c = values[order], np.cumsum(weights[order], dtype=np.float64)
    return float(v[int(np.searchsorted(c, 0.5 * c[-1]))])


def cell_size(w: int, h: int) -> int:
    """Histogram cell (pixels) for a ``w`` x ``h`` box: about 1/64 of the box side, 1 to 4 pixels."""
    return int(np.clip(min(w, h) // 64, 1, 4))


class _SliceBoxes:
    """Accumulates a histogram of ``cell`` x ``cell`` pixel cells per time slice and records each
    slice's best box centre (pixels) and its event count."""

    def __init__(self, width: int, height: int, w: int, h: int, slice_us: int, min_events: int, cell: int):
        self.c = cell
        self.Wc, self.Hc = -(-width // cell), -(-height // cell)
        self.bw, self.bh = min(max(1, round(w / cell)), self.Wc), min(max(1, round(h / cell)), self.Hc)
        self.slice_us, self.min_events = slice_us, min_events
        self.hist = np.zeros(self.Wc * self.Hc, np.int64)
        self.n = 0
        self.t0: int | None = None
        self.k = 0
        self.centres: list[tuple[float, float]] = []
        self.weights: list[int] = []

    def add(self, ev: Events) -> None:
        if not len(ev):
            return
        if self.t0 is None:
            self.t0 = int(ev.t[0])
        ks = (ev.t - self.t0) // self.slice_us  # slice index per event, non-decreasing
        cuts = np.flatnonzero(ks[1:] != ks[:-1]) + 1
        cells = (ev.y // self.c).astype(np.int64) * self.Wc + ev.x // self.c
        for start, stop in zip(np.r_[0, cuts], np.r_[cuts, len(ks)]):
            k = int(ks[start])
            if k != self.k:
                self.finish()
                self.k = k
            self.hist += np.bincount(cells[start:stop], minlength=len(self.hist))
            self.n += int(stop - start)

    def finish(self) -> None:
        if self.n >= self.min_events:
            hist = cap_hot_pixels(self.hist.reshape(self.Hc, self.Wc))
            x, y, count = best_box(hist, self.bw, self.bh)
            self.centres.append(((x + self.bw / 2) * self.c, (y + self.bh / 2) * self.c))
            self.weights.append(count)
        if self.n:
            self.hist[:] = 0
            self.n = 0


def estimate_face_box(
    chunks: Iterable[Events] | Events,
    width: int,
    height: int,
    box_size: list[int] | tuple[int, int] | None = None,
    *,
    slice_us: int = DEFAULT_SLICE_US,
    min_events: int = MIN_SLICE_EVENTS,
    cell: int | None = None,
) -> FaceBox:
    """Face box of a recording from its event density (see the module doc).

    Args:
        chunks: the recording's events, whole or as time-ordered chunks (pixels of a
            ``width`` x ``height`` sensor, t in µs).
        box_size: [w, h] of the box in pixels; default a square of 0.45 x ``height``.
        slice_us: time-slice length (µs); one best box per slice.
        min_events: slices with fewer events are ignored.
        cell: histogram cell side in pixels (box positions are searched on this grid); default
            :func:`cell_size` (4 px for NEFER's 324 px box: 16x less work, centre within 2 px).

    Returns the box clamped inside the sensor; method "center" (sensor centre) when no slice had
    ``min_events`` events.
    """
    w, h = default_box_size(width, height, box_size)
    cell = cell_size(w, h) if cell is None else max(1, int(cell))
    acc = _SliceBoxes(width, height, w, h, int(slice_us), int(min_events), cell)
    for ev in [chunks] if isinstance(chunks, Events) else chunks:
        acc.add(ev)
    acc.finish()
    if not acc.centres:
        return FaceBox((width - w) // 2, (height - h) // 2, w, h, "center", 0)
    centres = np.asarray(acc.centres)
    weights = np.asarray(acc.weights, np.float64)
    weights = np.minimum(weights, np.median(weights))  # a burst counts no more than a typical slice
    cx = weighted_median(centres[:, 0], weights)
    cy = weighted_median(centres[:, 1], weights)
    x = int(np.clip(round(cx - w / 2), 0, width - w))
    y = int(np.clip(round(cy - h / 2), 0, height - h))
    return FaceBox(x, y, w, h, "density", len(acc.centres))
