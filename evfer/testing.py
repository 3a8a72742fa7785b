"""Synthetic events for tests and benchmarks (one factory, shared by all of them)."""

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
    ``n_noise`` uniform background events, all uniform in time over ``duration`` µs."""
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
