"""Event filters.

:func:`background_activity_filter` is the classic correlation filter (Delbruck 2008, as in jAER and
v2e): real edges fire in spatio-temporal clusters, isolated noise does not. An event is kept when
some *other* pixel within ``radius`` (Chebyshev distance, pixels) fired within the last ``window_us``
µs (``t - t_neighbour <= window_us``); every event, kept or not, updates its own pixel's
last-event time.
"""

from __future__ import annotations

import numpy as np

from .events import Events
from .jit import njit


@njit()
def _ba_keep(t, x, y, width, height, window, radius):
    last = np.full((height, width), np.iinfo(np.int64).min // 2, np.int64)
    keep = np.zeros(len(t), np.bool_)
    for i in range(len(t)):
        ti, xi, yi = t[i], np.int64(x[i]), np.int64(y[i])
        found = False
        for yy in range(max(0, yi - radius), min(height, yi + radius + 1)):
            for xx in range(max(0, xi - radius), min(width, xi + radius + 1)):
                if (xx != xi or yy != yi) and ti - last[yy, xx] <= window:
                    found = True
                    break
            if found:
                break
        keep[i] = found
        last[yi, xi] = ti
    return keep


def background_activity_filter(events: Events, window_us: int, radius: int = 1) -> Events:
    """Events that have a recent neighbour (see the module docstring). ``window_us <= 0``: no filtering."""
    if window_us <= 0 or len(events) == 0:
        return events
    keep = _ba_keep(events.t, events.x, events.y, events.width, events.height, np.int64(window_us), int(radius))
    return events[keep]
