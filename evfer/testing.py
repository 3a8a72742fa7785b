"""Synthetic events for tests and benchmarks (one factory, shared by all of them).

As in pytorchvideo's test utilities, the helpers whose events have a known answer return it with
them: :func:`events_with_counts` -> (events, the ON/OFF count of every pixel), :func:`blob_events`
-> (events, the face box and how many events lie in it).
"""

from __future__ import annotations

import numpy as np

from .events import EVENT_DTYPE, Events


def random_events(
    n: int,
    width: int = 64,
    height: int = 48,
    *,
    t_start: int = 0,
    duration: int = 100_000,
    seed: int = 0,
    on_fraction: float = 0.5,
) -> Events:
    """``n`` uniformly random, time-sorted events on a ``width`` x ``height`` sensor.

    Timestamps are integers in [t_start, t_start + duration] µs (ties allowed).
    """
    rng = np.random.default_rng(seed)
    a = np.empty(n, EVENT_DTYPE)
    a["t"] = np.sort(rng.integers(t_start, t_start + duration + 1, n))
    a["x"] = rng.integers(0, width, n)
    a["y"] = rng.integers(0, height, n)
    a["p"] = np.where(rng.random(n) < on_fraction, 1, -1)
    return Events(a, width, height, {"source": "random_events", "seed": seed})


def events_with_counts(width: int = 16, height: int = 12, *, max_count: int = 3, t_start: int = 0,
                       duration: int = 10_000, seed: int = 0) -> tuple[Events, np.ndarray]:
    """Events whose per-pixel counts are known: (events, counts) with counts int64 (2, H, W) — ON
    events at [0], OFF at [1] — drawn uniformly in 0..``max_count`` per pixel and polarity; times
    uniform in [t_start, t_start + duration) µs."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, max_count + 1, (2, height, width))
    ys, xs = np.mgrid[0:height, 0:width]
    x = np.concatenate([np.repeat(xs.ravel(), counts[k].ravel()) for k in (0, 1)])
    y = np.concatenate([np.repeat(ys.ravel(), counts[k].ravel()) for k in (0, 1)])
    p = np.repeat([1, -1], [counts[0].sum(), counts[1].sum()])
    a = np.empty(len(x), EVENT_DTYPE)
    a["t"], a["x"], a["y"], a["p"] = rng.integers(t_start, t_start + duration, len(x)), x, y, p
    a = a[np.argsort(a["t"], kind="stable")]
    return Events(a, width, height, {"source": "events_with_counts", "seed": seed}), counts


def blob_events(
    box: tuple[int, int, int, int],
    n_blob: int,
    n_noise: int,
    width: int = 1280,
    height: int = 720,
    *,
    t_start: int = 0,
    duration: int = 1_000_000,
    seed: int = 0,
) -> Events:
    """A stand-in for a face recording: ``n_blob`` events uniform in ``box`` = (x, y, w, h) plus
    ``n_noise`` uniform background events, all uniform in time over ``duration`` µs (the box is in
    the events' metadata; :func:`face_recording` returns it with the expected answer)."""
    x0, y0, w, h = box
    rng = np.random.default_rng(seed)
    n = n_blob + n_noise
    a = np.empty(n, EVENT_DTYPE)
    a["t"] = rng.integers(t_start, t_start + duration, n)
    a["x"] = np.r_[rng.integers(x0, x0 + w, n_blob), rng.integers(0, width, n_noise)]
    a["y"] = np.r_[rng.integers(y0, y0 + h, n_blob), rng.integers(0, height, n_noise)]
    a["p"] = np.where(rng.random(n) < 0.5, 1, -1)
    a = a[np.argsort(a["t"], kind="stable")]
    return Events(a, width, height, {"source": "blob_events", "seed": seed, "box": list(box)})


def moving_frames(n: int, height: int = 490, width: int = 640, *, seed: int = 0) -> np.ndarray:
    """``n`` uint8 grey frames (N, H, W) of a textured scene with a bright disc moving across it and
    a slow global brightness drift: real-looking motion for emulator tests and benchmarks."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    texture = 70 + 50 * np.sin(xx / 13.0) * np.cos(yy / 17.0) + rng.normal(0, 8, (height, width))
    r = 0.12 * min(width, height)
    out = np.empty((n, height, width), np.uint8)
    for k in range(n):
        cx = width * (0.2 + 0.6 * k / max(n - 1, 1))
        cy = height * (0.5 + 0.2 * np.sin(k / 5.0))
        disc = ((xx - cx) ** 2 + (yy - cy) ** 2) < r * r
        img = np.where(disc, 200.0, texture) * (1.0 + 0.1 * np.sin(k / 7.0))
        out[k] = np.clip(img, 0, 255).astype(np.uint8)
    return out


def face_recording(box: tuple[int, int, int, int] = (500, 200, 240, 280), n_blob: int = 40_000,
                   n_noise: int = 10_000, *, seed: int = 0, **kw) -> tuple[Events, tuple[int, int, int, int], int]:
    """A face-like recording and its answer: (events, the face box, the number of events inside it)
    — the box holds the blob and the background events that fell in it."""
    events = blob_events(box, n_blob, n_noise, seed=seed, **kw)
    x0, y0, w, h = box
    inside = int(((events.x >= x0) & (events.x < x0 + w) & (events.y >= y0) & (events.y < y0 + h)).sum())
    return events, box, inside
