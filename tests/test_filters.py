import numpy as np

from evfer.events import Events
from evfer.filters import background_activity_filter
from evfer.testing import random_events


def reference(events, window, radius):
    """Plain loop over events and pixels, straight from the definition."""
    last = {}
    keep = []
    for t, x, y in zip(events.t.tolist(), events.x.tolist(), events.y.tolist()):
        ok = any(
            (xx, yy) != (x, y) and (xx, yy) in last and t - last[(xx, yy)] <= window
            for xx in range(x - radius, x + radius + 1)
            for yy in range(y - radius, y + radius + 1)
        )
        keep.append(ok)
        last[(x, y)] = t
    return np.array(keep, bool)


def test_matches_reference_on_random_events():
    for seed, radius in [(0, 1), (1, 2), (2, 1)]:
        ev = random_events(3000, 16, 12, duration=200_000, seed=seed)
        got = background_activity_filter(ev, 5_000, radius)
        assert got == ev[reference(ev, 5_000, radius)]


def test_hand_made_cases():
    # (t, x, y): isolated first event dropped; neighbour 1 px away within window kept;
    # same-pixel repeat does not count as support; too-late neighbour dropped.
    ev = Events.from_arrays([0, 10, 20, 2000], [5, 6, 6, 5], [5, 5, 5, 5], [1, 1, 1, 1], 10, 10)
    keep = background_activity_filter(ev, 100, 1)
    assert keep.t.tolist() == [10, 20]
    assert background_activity_filter(ev, 0, 1) is ev
