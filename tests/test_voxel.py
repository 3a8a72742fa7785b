"""Voxel grids and histograms against plainly written references (python loops, exact fractions)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evfer.errors import ConfigError
from evfer.events import Events
from evfer.testing import random_events
from evfer.voxel import (
    EventHistogram,
    VoxelGrid,
    clip_histograms,
    clip_voxels,
    event_histogram,
    grids,
    make_representation,
    normalize_voxels,
    voxel_grid,
)


# ---------------------------------------------------------------- references (slow, float64/exact)
def ref_clip(events, bins, windows, t0=None, t1=None, crop=None, size=None, histogram=False):
    """(T, C, H', W') float64 by a python loop; window k = [s_k, s_k+1) (last closed), exact fractions."""
    if crop is None:
        crop = (0, 0, events.width, events.height)
    cx, cy, cw, ch = crop
    ow, oh = size or (cw, ch)
    channels = 2 if histogram else bins
    out = np.zeros((windows, channels, oh, ow))
    if len(events) == 0:
        return out
    t0 = events.t_start if t0 is None else t0
    t1 = events.t_end if t1 is None else t1
    span = Fraction(t1 - t0)
    for t, x, y, p in zip(events.t.tolist(), events.x.tolist(), events.y.tolist(), events.p.tolist()):
        if not t0 <= t <= t1:
            continue
        if not (cx <= x < cx + cw and cy <= y < cy + ch):
            continue
        xo, yo = (x - cx) * ow // cw, (y - cy) * oh // ch
        if span == 0:
            k, tstar = 0, 0.0
        else:
            k = min(int((t - t0) * windows / span), windows - 1)
            s_k = t0 + k * span / windows
            tstar = float((bins - 1) * (t - s_k) / (span / windows))
        if histogram:
            out[k, 0 if p > 0 else 1, yo, xo] += 1
            continue
        for b in range(bins):
            out[k, b, yo, xo] += p * max(0.0, 1 - abs(b - tstar))
    return out


def ref_voxel(events, bins, t0=None, t1=None):
    return ref_clip(events, bins, 1, t0, t1)[0]


def make(t, x, y, p, width=4, height=3):
    return Events.from_arrays(np.array(t), np.array(x), np.array(y), np.array(p), width, height)


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- hand-computed values
def test_hand_computed_bilinear_weights():
    # window 0..4 µs, 3 bins: t* = (t - 0) * 2 / 4 = t / 2
    ev = make([0, 1, 4, 4], [0, 1, 2, 3], [0, 0, 1, 2], [1, -1, 1, 1])
    v = voxel_grid(ev, 3)
    assert v.shape == (3, 3, 4) and v.dtype == np.float32
    expected = np.zeros((3, 3, 4), np.float32)
    expected[0, 0, 0] = 1  # t* = 0
    expected[0, 0, 1], expected[1, 0, 1] = -0.5, -0.5  # t* = 0.5, OFF
    expected[2, 1, 2] = 1  # t* = 2: the last event counts (t_end inclusive)
    expected[2, 2, 3] = 1
    np.testing.assert_array_equal(v, expected)


def test_explicit_window_ignores_outside_events_and_includes_both_ends():
    ev = make([0, 10, 20, 30, 40], [0, 1, 2, 3, 0], [0, 0, 0, 0, 1], [1, 1, 1, 1, 1])
    v = voxel_grid(ev, 2, t_start=10, t_end=30)  # t* = (t - 10) / 20
    assert v[:, 0, 0].sum() == 0 and v[:, 1, 0].sum() == 0  # t=0 and t=40 are outside
    np.testing.assert_array_equal(v[:, 0, 1], [1, 0])
    np.testing.assert_array_equal(v[:, 0, 2], [0.5, 0.5])
    np.testing.assert_array_equal(v[:, 0, 3], [0, 1])


def test_empty_events_and_empty_window_give_zeros():
    empty = Events.empty(5, 4)
    assert voxel_grid(empty, 3).shape == (3, 4, 5) and not voxel_grid(empty, 3).any()
    assert not voxel_grid(empty, 3, t_start=0, t_end=100, normalize=True).any()
    ev = make([10, 20], [0, 1], [0, 0], [1, 1])
    assert not voxel_grid(ev, 3, t_start=30, t_end=50).any()
    assert not voxel_grid(ev, 3, t_start=30).any()  # default end (20) before the given start
    assert not voxel_grid(ev, 3, t_end=5).any()
    assert not clip_voxels(ev, 3, 4, t_start=21, t_end=29).any()


def test_zero_length_window_puts_everything_in_bin_0():
    ev = make([7, 7, 7], [0, 1, 1], [0, 0, 2], [1, -1, 1])
    v = voxel_grid(ev, 4)  # default span [7, 7]
    assert v[1:].sum() == 0
    np.testing.assert_array_equal(v[0, 0, :2], [1, -1])
    assert v[0, 2, 1] == 1
    close(clip_voxels(ev, 4, 3), ref_clip(ev, 4, 3))
    v = voxel_grid(make([5, 7, 9], [0, 1, 2], [0, 0, 0], [1, 1, 1], 3, 1), 3, t_start=7, t_end=7)
    np.testing.assert_array_equal(v[:, 0], [[0, 1, 0], [0, 0, 0], [0, 0, 0]])  # only t = 7 counts


def test_one_bin_sums_polarity():
    ev = random_events(500, 6, 5, seed=3)
    v = voxel_grid(ev, 1)
    expected = np.zeros((5, 6))
    np.add.at(expected, (ev.y, ev.x), ev.p)
    np.testing.assert_array_equal(v[0], expected)


def test_events_on_bin_boundaries_land_in_one_bin():
    # 5 bins over 0..400 µs: t = 100 k gives t* = k exactly
    ev = make([0, 100, 200, 300, 400], [0, 1, 2, 3, 3], [0, 0, 0, 0, 1], [1, 1, 1, 1, -1], 4, 2)
    v = voxel_grid(ev, 5)
    for k, (x, y, p) in enumerate([(0, 0, 1), (1, 0, 1), (2, 0, 1), (3, 0, 1), (3, 1, -1)]):
        assert v[k, y, x] == p and v[:, y, x].sum() == p


def test_large_absolute_timestamps_lose_no_precision():
    base = random_events(3000, 8, 6, duration=50_000, seed=5)
    shifted = base.shift_time(1_600_000_000_000_000)  # AEDAT4-like µs since the epoch
    close(voxel_grid(shifted, 7), ref_voxel(base, 7))
    np.testing.assert_array_equal(voxel_grid(shifted, 7), voxel_grid(base, 7))
    np.testing.assert_array_equal(clip_voxels(shifted, 4, 5), clip_voxels(base, 4, 5))


def test_random_against_reference():
    ev = random_events(4000, 9, 7, duration=12_345, seed=11)
    close(voxel_grid(ev, 10), ref_voxel(ev, 10))
    close(voxel_grid(ev, 3, t_start=1000, t_end=9000), ref_voxel(ev, 3, 1000, 9000))


# ---------------------------------------------------------------- normalisation
def test_normalize_matches_e2vid_statistics():
    ev = random_events(300, 10, 8, seed=2)
    raw = voxel_grid(ev, 5)
    norm = voxel_grid(ev, 5, normalize=True)
    nz = raw != 0
    vals = raw[nz].astype(np.float64)
    np.testing.assert_array_equal(norm[~nz], 0)  # zeros stay zero
    np.testing.assert_allclose(norm[nz], (vals - vals.mean()) / vals.std(), rtol=1e-5, atol=1e-6)
    assert abs(norm[nz].mean()) < 1e-5 and abs(norm[nz].std() - 1) < 1e-5


def test_normalize_constant_values_gives_zeros_not_nan():
    g = np.zeros((2, 3, 3), np.float32)
    g[0, 1, 1] = g[1, 2, 0] = 2.5
    normalize_voxels(g)
    assert np.isfinite(g).all() and not g.any()
    ev = make([5], [1], [1], [1])  # one event: one non-zero voxel
    v = voxel_grid(ev, 3, normalize=True)
    assert np.isfinite(v).all() and not v.any()


def test_normalize_per_window_in_clips():
    ev = random_events(2000, 8, 6, seed=8)
    norm = clip_voxels(ev, 3, 4, normalize=True)
    raw = clip_voxels(ev, 3, 4)
    for k in range(4):
        np.testing.assert_allclose(norm[k], normalize_voxels(raw[k].copy()), atol=1e-6)
        nz = raw[k] != 0
        assert abs(norm[k][nz].mean()) < 1e-5 and abs(norm[k][nz].std() - 1) < 1e-4


# ---------------------------------------------------------------- clips, crop, resize
def test_clip_windows_partition_the_events():
    ev = random_events(5000, 8, 6, duration=99_991, seed=4)  # span not divisible by 7
    grids_1bin = clip_voxels(ev, 1, 7)
    assert grids_1bin.shape == (7, 1, 6, 8)
    assert grids_1bin.sum() == ev.p.sum()
    counts = clip_histograms(ev, 7).sum(axis=(1, 2, 3))
    assert counts.sum() == len(ev)
    starts = grids.window_starts(ev, ev.t_start, ev.t_end, 7)
    np.testing.assert_array_equal(counts, np.diff(starts))
    close(clip_voxels(ev, 5, 7), ref_clip(ev, 5, 7))


def test_clip_window_boundaries_exact():
    # span 10 µs in 3 windows: edges at 10/3 and 20/3 -> t = 3 in window 0, t = 4 and 6 in window 1
    ev = make([0, 3, 4, 6, 7, 10], [0, 1, 2, 3, 0, 1], [0, 0, 0, 0, 1, 1], [1] * 6)
    np.testing.assert_array_equal(grids.window_starts(ev, 0, 10, 3), [0, 2, 4, 6])
    close(clip_voxels(ev, 4, 3), ref_clip(ev, 4, 3))
    # an event exactly on an edge starts the next window: span 9 in 3 windows, t = 3 -> window 1
    ev = make([0, 3, 9], [0, 1, 2], [0, 0, 0], [1, 1, 1])
    c = clip_voxels(ev, 2, 3)
    assert c[1, 0, 0, 1] == 1 and c[0, :, 0, 1].sum() == 0
    assert c[2, 1, 0, 2] == 1  # t_end closes the last window


def test_crop_by_hand():
    ev = make([0, 1, 2, 3], [0, 1, 2, 3], [0, 1, 1, 2], [1, -1, 1, 1], 4, 3)
    h = clip_histograms(ev, 1, crop=(1, 1, 2, 2))[0]  # keeps (1,1) OFF, (2,1) ON; (3,2) is outside
    expected = np.zeros((2, 2, 2))
    expected[1, 0, 0] = 1
    expected[0, 0, 1] = 1
    np.testing.assert_array_equal(h, expected)
    # a box past the sensor edges pads with zeros
    h = clip_histograms(ev, 1, crop=(-1, -1, 3, 3))[0]
    expected = np.zeros((2, 3, 3))
    expected[0, 1, 1] = 1  # (0,0) ON -> (1,1)
    expected[1, 2, 2] = 1  # (1,1) OFF -> (2,2)
    np.testing.assert_array_equal(h, expected)


def test_resize_by_event_scaling_is_sum_pooling():
    ev = random_events(3000, 8, 6, seed=6)
    full = clip_voxels(ev, 4, 2)
    small = clip_voxels(ev, 4, 2, size=(4, 3))
    pooled = full.reshape(2, 4, 3, 2, 4, 2).sum(axis=(3, 5))
    np.testing.assert_allclose(small, pooled, atol=1e-4)
    assert abs(small.sum() - full.sum()) < 1e-3
    close(clip_voxels(ev, 4, 2, crop=(1, 2, 6, 4), size=(4, 3)),
          ref_clip(ev, 4, 2, crop=(1, 2, 6, 4), size=(4, 3)))


def test_resize_non_integer_factor_by_hand():
    # width 5 -> 2: x' = floor(2x/5): x 0,1,2 -> 0; x 3,4 -> 1
    ev = make([0, 1, 2, 3, 4], [0, 1, 2, 3, 4], [0] * 5, [1] * 5, 5, 1)
    h = clip_histograms(ev, 1, size=(2, 1))[0, 0, 0]
    np.testing.assert_array_equal(h, [3, 2])


def test_area_resize_equals_event_scaling_for_integer_factors():
    ev = random_events(3000, 8, 6, seed=7)
    a = clip_voxels(ev, 3, 2, size=(4, 3), resize="area")
    e = clip_voxels(ev, 3, 2, size=(4, 3))
    np.testing.assert_allclose(a, e, atol=1e-4)
    odd = clip_voxels(ev, 3, 2, size=(5, 4), resize="area")  # non-integer: sums preserved
    np.testing.assert_allclose(odd.sum(axis=(2, 3)), e.sum(axis=(2, 3)), atol=1e-3)


# ---------------------------------------------------------------- the parallel kernel
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    n=st.integers(0, 60),
    bins=st.integers(1, 5),
    windows=st.integers(1, 4),
    chunks=st.integers(1, 7),
    histogram=st.booleans(),
)
def test_chunked_kernel_matches_reference(data, n, bins, windows, chunks, histogram):
    """Any chunking (more chunks than threads too) gives the reference result: no lost or doubled
    adds where chunks share planes, for voxels and histograms, with and without crop/resize."""
    w, h = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 5))
    duration = data.draw(st.integers(0, 40))
    t = sorted(data.draw(st.lists(st.integers(0, duration), min_size=n, max_size=n)))
    x = data.draw(st.lists(st.integers(0, w - 1), min_size=n, max_size=n))
    y = data.draw(st.lists(st.integers(0, h - 1), min_size=n, max_size=n))
    p = data.draw(st.lists(st.sampled_from([-1, 1]), min_size=n, max_size=n))
    ev = Events.from_arrays(np.array(t, np.int64), np.array(x), np.array(y), np.array(p, np.int8), w, h)
    box = st.tuples(st.integers(-2, 3), st.integers(-2, 3), st.integers(1, 7), st.integers(1, 6))
    crop = data.draw(st.none() | box)
    size = data.draw(st.none() | st.tuples(st.integers(1, 4), st.integers(1, 4)))
    t0 = data.draw(st.none() | st.integers(-3, duration + 3))
    t1 = None if t0 is None else data.draw(st.integers(t0, duration + 5))
    expected = ref_clip(ev, bins, windows, t0, t1, crop, size, histogram)
    original = grids._kernel.default_chunks
    grids._kernel.default_chunks = lambda n_events: chunks
    try:
        if histogram:
            got = clip_histograms(ev, windows, crop=crop, size=size, t_start=t0, t_end=t1)
        else:
            got = clip_voxels(ev, bins, windows, crop=crop, size=size, t_start=t0, t_end=t1)
    finally:
        grids._kernel.default_chunks = original
    close(got, expected)


@pytest.mark.parametrize("chunks", [1, 2, 3, 8])
def test_chunked_kernel_large(monkeypatch, chunks):
    ev = random_events(200_000, 17, 11, seed=9)
    monkeypatch.setattr(grids._kernel, "default_chunks", lambda n_events: chunks)
    np.testing.assert_allclose(voxel_grid(ev, 6), vectorised_reference(ev, 6), rtol=1e-5, atol=2e-3)
    np.testing.assert_array_equal(event_histogram(ev).sum(axis=(1, 2)), [(ev.p > 0).sum(), (ev.p < 0).sum()])


def vectorised_reference(ev, bins):
    """float64 voxel grid with numpy (np.add.at), t - t_start taken in int64 first."""
    out = np.zeros((bins, ev.height, ev.width))
    tstar = (bins - 1) * (ev.t - ev.t_start).astype(np.float64) / max(ev.duration, 1)
    for b in range(bins):
        np.add.at(out[b], (ev.y, ev.x), ev.p * np.maximum(0, 1 - np.abs(b - tstar)))
    return out


@pytest.mark.shared_data
def test_real_aedat4_recording(shared):
    """A real recording with AEDAT4 timestamps (~1.6e15 µs), against the numpy reference."""
    from evfer.io import read_events

    ev = read_events(shared("event-samples", "sample.aedat4"))
    assert ev.t_start > 10**15
    np.testing.assert_allclose(voxel_grid(ev, 10), vectorised_reference(ev, 10), rtol=1e-5, atol=1e-3)
    clip = clip_voxels(ev, 5, 4, crop=(40, 0, 240, 240), size=(112, 112))
    assert clip.shape == (4, 5, 112, 112)
    inside = (ev.x >= 40) & (ev.x < 280)
    assert abs(clip.sum() - ev.p[inside].sum()) < 1e-2 * inside.sum() ** 0.5 + 1e-3


def _child_grid(_):
    return voxel_grid(random_events(250_000, 20, 10, seed=10), 4)


def test_safe_in_forked_workers_and_threads():
    """Parallel runs use plain threads (no OpenMP): a forked child of a process that already ran
    the kernel in parallel works, and concurrent calls from several threads agree."""
    import multiprocessing
    from concurrent.futures import ThreadPoolExecutor

    expected = _child_grid(0)  # >= 200 k events: runs in parallel when 2+ threads are allowed
    with multiprocessing.get_context("fork").Pool(1) as pool:
        np.testing.assert_array_equal(pool.map(_child_grid, [0])[0], expected)
    with ThreadPoolExecutor(3) as ex:
        for got in ex.map(_child_grid, range(3)):
            np.testing.assert_array_equal(got, expected)


def test_kernel_threads_follow_the_environment_at_each_call(monkeypatch):
    """No module state: $EVFER_THREADS (the job runner's workers get 1) is read at every call."""
    monkeypatch.setenv("EVFER_THREADS", "3")
    assert grids._kernel.default_chunks(10**7) == 3 and grids._kernel.default_chunks(150_000) == 1
    monkeypatch.setenv("EVFER_THREADS", "1")
    assert grids._kernel.default_chunks(10**7) == 1


def test_agrees_with_tonic():
    """tonic's ToVoxelGrid scales t* by B, not B-1, and drops weight beyond bin B-1; so tonic with
    B bins equals our grid with B+1 bins minus its last bin."""
    tonic = pytest.importorskip("tonic")
    ev = random_events(3000, 12, 9, seed=12)
    theirs = tonic.transforms.ToVoxelGrid(sensor_size=(12, 9, 2), n_time_bins=5)(ev.array.copy())
    np.testing.assert_allclose(theirs[:, 0], voxel_grid(ev, 6)[:5], atol=1e-4)


# ---------------------------------------------------------------- interface and validation
def test_representations():
    ev = random_events(1000, 8, 6, seed=1)
    rep = make_representation("voxel_grid", bins=4, normalize="e2vid", resize="events")
    assert isinstance(rep, VoxelGrid) and rep.channels == 4 and rep.folder_name == "voxel_grid-bins4-e2vid-events"
    assert rep.params() == {"representation": "voxel_grid", "bins": 4, "normalize": "e2vid", "resize": "events"}
    np.testing.assert_array_equal(rep(ev), voxel_grid(ev, 4, normalize=True))
    assert rep.clip(ev, 3, size=(4, 3)).shape == (3, 4, 3, 4)
    assert VoxelGrid(bins=4).folder_name == "voxel_grid-bins4-rms-area"
    assert VoxelGrid(bins=4, normalize="e2vid", resize="events") == rep and VoxelGrid(bins=5, normalize="e2vid", resize="events") != rep
    raw = make_representation("voxel_grid", bins=4, normalize="none", resize="events")
    np.testing.assert_array_equal(raw(ev), voxel_grid(ev, 4))
    # rms: the clip divided by the RMS of its non-zero voxels (all windows together)
    clip = raw.clip(ev, 2)
    rms = VoxelGrid(bins=4, normalize="rms", resize="events").clip(ev, 2)
    np.testing.assert_allclose(rms, clip / np.sqrt(np.mean(clip[clip != 0].astype(np.float64) ** 2)), rtol=1e-6)
    hist = make_representation("histogram", normalize="none")
    assert isinstance(hist, EventHistogram) and hist.channels == 2 and hist.folder_name == "histogram-none-area"
    np.testing.assert_array_equal(hist(ev, 0, 50_000), event_histogram(ev, t_start=0, t_end=50_000))
    with pytest.raises(ConfigError, match="unknown representation 'frames'"):
        make_representation("frames")
    with pytest.raises(ConfigError, match="voxel.bins"):
        make_representation("voxel_grid", bins=0)
    with pytest.raises(ConfigError, match="colour"):
        make_representation("voxel_grid", colour=1)
    with pytest.raises(ConfigError, match="voxel.normalize"):
        make_representation("voxel_grid", normalize="l2")


def test_event_image_against_a_plain_reference():
    """ON and OFF counts per pixel by a plain loop, then log(1 + n) and the signed log of the net count."""
    from evfer.voxel import EventImage

    ev = random_events(3000, 10, 8, seed=4, on_fraction=0.7)
    on, off = np.zeros((8, 10)), np.zeros((8, 10))
    for x, y, p in zip(ev.x, ev.y, ev.p):
        (on if p > 0 else off)[y, x] += 1
    net = on - off
    expected = np.stack([np.log1p(on), np.log1p(off), np.sign(net) * np.log1p(np.abs(net))])
    rep = make_representation("event_image", normalize="none", resize="events")
    assert isinstance(rep, EventImage) and rep.channels == 3
    np.testing.assert_allclose(rep(ev), expected, rtol=1e-6)
    two = rep.clip(ev, 2, size=(5, 4))  # two windows, 2x2 sum pooling
    assert two.shape == (2, 3, 4, 5)
    pooled_on = on.reshape(4, 2, 5, 2).sum((1, 3))
    np.testing.assert_allclose(np.expm1(two[:, 0]).sum(0), pooled_on, rtol=1e-5)  # the windows add up


def test_representation_for_config_uses_only_its_own_options():
    from evfer.config import VoxelConfig
    from evfer.voxel import representation_for

    assert representation_for(VoxelConfig(bins=3, normalize="none")) == VoxelGrid(bins=3, normalize="none", resize="area")
    hist = representation_for(VoxelConfig(representation="histogram", bins=7))
    assert hist == EventHistogram(normalize="rms", resize="area") and "bins" not in hist.params()


def test_bad_arguments():
    ev = random_events(10, 4, 4)
    with pytest.raises(ValueError, match="bins"):
        voxel_grid(ev, 0)
    with pytest.raises(ValueError, match="windows"):
        clip_voxels(ev, 2, 0)
    with pytest.raises(ValueError, match="before its start"):
        voxel_grid(ev, 2, t_start=10, t_end=5)
    with pytest.raises(ValueError, match="crop"):
        clip_voxels(ev, 2, 1, crop=(0, 0, 0, 3))
    with pytest.raises(ValueError, match="resize"):
        clip_voxels(ev, 2, 1, size=(2, 2), resize="bilinear")


def test_histogram_and_event_image_give_each_pixels_known_counts():
    """Events built from known per-pixel counts (evfer.testing returns them with the events)."""
    from evfer.testing import events_with_counts
    from evfer.voxel import make_representation

    events, counts = events_with_counts(20, 14, max_count=5, seed=3)
    np.testing.assert_array_equal(event_histogram(events), counts)
    image = make_representation("event_image", normalize="none", resize="events").clip(events, 1)[0]
    net = counts[0] - counts[1]
    expected = np.stack([np.log1p(counts[0]), np.log1p(counts[1]), np.sign(net) * np.log1p(np.abs(net))])
    np.testing.assert_allclose(image, expected, rtol=1e-6)
