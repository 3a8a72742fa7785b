import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from evfer import Events, InputError, normalize_polarity
from evfer.testing import random_events


@pytest.mark.parametrize(
    "p, expected",
    [
        (np.array([True, False, True]), [1, -1, 1]),
        (np.array([1, 0, 1], np.uint8), [1, -1, 1]),
        (np.array([1, -1, -1], np.int64), [1, -1, -1]),
        (np.array([0.0, 1.0]), [-1, 1]),
        (np.array([0, 0]), [-1, -1]),
    ],
)
def test_polarity_conventions_are_normalised(p, expected):
    out = normalize_polarity(p)
    assert out.dtype == np.int8
    assert out.tolist() == expected


@pytest.mark.parametrize("bad", [[-1, 0, 1], [2, 1], [0.5, 1.0]])
def test_ambiguous_or_wrong_polarity_is_rejected(bad):
    with pytest.raises(InputError, match="polarity"):
        normalize_polarity(np.array(bad))


def test_from_arrays_sorts_stably_or_rejects():
    t = [30, 10, 20, 10]
    x = [3, 1, 2, 4]
    ev = Events.from_arrays(t, x, [0, 0, 0, 0], [1, 0, 1, 1], 8, 8)
    assert ev.t.tolist() == [10, 10, 20, 30]
    assert ev.x.tolist() == [1, 4, 2, 3]  # stable: equal times keep input order
    assert ev.p.tolist() == [-1, 1, 1, 1]
    with pytest.raises(InputError, match="not sorted"):
        Events.from_arrays(t, x, [0] * 4, [1] * 4, 8, 8, sort=False)


def test_coordinates_outside_sensor_are_an_error():
    with pytest.raises(InputError, match="outside the 8x8 sensor"):
        Events.from_arrays([0, 1], [7, 8], [0, 0], [1, 1], 8, 8)
    with pytest.raises(InputError, match="outside"):
        Events.from_arrays([0], [-1], [0], [1], 8, 8)


def test_fractional_or_nan_timestamps_are_rejected():
    with pytest.raises(InputError, match="whole microseconds"):
        Events.from_arrays([0.5], [0], [0], [1], 4, 4)
    with pytest.raises(InputError, match="NaN"):
        Events.from_arrays([np.nan], [0], [0], [1], 4, 4)


def test_field_types():
    ev = random_events(100)
    assert ev.t.dtype == np.int64 and ev.x.dtype == np.uint16 and ev.y.dtype == np.uint16
    assert ev.p.dtype == np.int8


@given(
    st.lists(st.integers(0, 1000), min_size=0, max_size=50),
    st.integers(-10, 1010),
    st.integers(-10, 1010),
)
def test_window_matches_a_plain_filter(ts, t0, t1):
    ts = sorted(ts)
    n = len(ts)
    ev = Events.from_arrays(ts, [0] * n, [0] * n, [1] * n, 1, 1)
    got = ev.window(t0, t1).t.tolist()
    assert got == [t for t in ts if t0 <= t < t1]
    assert ev.window(None, t1).t.tolist() == [t for t in ts if t < t1]
    assert ev.window(t0, None).t.tolist() == [t for t in ts if t >= t0]


def test_window_is_a_view():
    ev = random_events(1000)
    w = ev.window(10_000, 20_000)
    assert np.shares_memory(w.array, ev.array)


def test_crop_shifts_and_filters():
    ev = Events.from_arrays([0, 1, 2, 3], [0, 5, 9, 6], [0, 5, 5, 9], [1, 1, -1, 1], 10, 10)
    c = ev.crop(4, 4, 4, 4)  # x in [4, 8), y in [4, 8)
    assert (c.width, c.height) == (4, 4)
    assert c.t.tolist() == [1]
    assert (c.x.tolist(), c.y.tolist()) == ([1], [1])


@given(x0=st.integers(-700, 700), y0=st.integers(-500, 500), w=st.integers(1, 70_000), h=st.integers(1, 900))
def test_crop_matches_a_plain_loop_for_any_box(x0, y0, w, h):
    """Boxes partly or wholly outside the sensor, and wider than the uint16 coordinate range."""
    ev = random_events(300, 640, 480, seed=5)
    c = ev.crop(x0, y0, w, h)
    expected = [(t, x - x0, y - y0, p) for t, x, y, p in zip(ev.t.tolist(), ev.x.tolist(), ev.y.tolist(),
                                                            ev.p.tolist()) if x0 <= x < x0 + w and y0 <= y < y0 + h]
    assert list(zip(c.t.tolist(), c.x.tolist(), c.y.tolist(), c.p.tolist())) == expected
    assert (c.width, c.height) == (w, h)


def test_to_torch_and_tensor():
    ev = random_events(10, seed=3)
    d = ev.to_torch()
    assert d["t"].dtype == torch.int64 and d["p"].dtype == torch.int8
    assert d["x"].tolist() == ev.x.tolist()
    t = ev.to_tensor()
    assert t.shape == (10, 4) and t[:, 0].tolist() == ev.t.tolist() and t[:, 3].tolist() == ev.p.tolist()
    assert Events.empty(4, 4).to_tensor().shape == (0, 4)


def test_concatenate_and_equality():
    a = random_events(10, seed=1)
    b = a.shift_time(10**6)
    c = Events.concatenate([a, b])
    assert len(c) == 20 and c.window(None, 10**6) == a
    with pytest.raises(InputError, match="not sorted"):
        Events.concatenate([b, a])
