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
