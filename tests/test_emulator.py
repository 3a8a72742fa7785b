"""Behaviour of the DVS emulator against hand-computed expectations and invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from evfer.emulator import PRESETS, Emulator, emulate, resolve_params, to_luma
from evfer.emulator.draws import RandomDraws
from evfer.emulator.timing import level_coefficients, refractory
from evfer.errors import ConfigError, InputError

from conftest import shared_path

FPS_US = 33_333


def moving_clip(n=10, h=24, w=32, seed=0):
    """A bright disc moving over a textured background (uint8)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    bg = 60 + 40 * rng.random((h, w))
    frames = []
    for k in range(n):
        cx, cy = 5 + 2.0 * k, h / 2 + 3 * math.sin(k / 2)
        frames.append(np.where((xx - cx) ** 2 + (yy - cy) ** 2 < 25, 220, bg))
    return np.stack(frames).round().astype(np.uint8), np.arange(n, dtype=np.int64) * FPS_US


def log_ramp(total_log: float, n=9, h=4, w=5, base=60.0):
    """Float frames (0-255 scale) whose log intensity changes uniformly by ``total_log`` (kept > 20 DN,
    the log part of the lin-log curve)."""
    base = base if total_log > 0 else 230.0
    levels = base * np.exp(total_log * np.arange(n) / (n - 1))
    return np.broadcast_to(levels[:, None, None], (n, h, w)).astype(np.float64).copy()


def per_pixel(events, n_pixels, w):
    """Event count of each pixel (flat index y * w + x)."""
    return np.bincount(events.y.astype(np.int64) * w + events.x, minlength=n_pixels)


# ------------------------------------------------------------------------------------------ basics
def test_static_frames_give_no_events():
    frames, t = moving_clip()
    static = np.repeat(frames[:1], 8, axis=0)
    for preset in ("clean", "v2e"):  # v2e: its leak/noise are negligible over 0.25 s (checked below)
        ev = emulate(static, t[:8], preset=preset, leak_rate_hz=0.0, shot_noise_rate_hz=0.0)
        assert len(ev) == 0
    assert len(emulate(static, t[:8], preset="clean", timestamps="v2e", upsample=3)) == 0


@pytest.mark.parametrize("sign", [1, -1])
@pytest.mark.parametrize("timestamps", ["interpolate", "v2e"])
def test_uniform_log_ramp_gives_floor_d_over_theta_events(sign, timestamps):
    D = 1.37  # not near a multiple of any threshold drawn below (checked)
    frames = log_ramp(sign * D)
    t = np.arange(len(frames), dtype=np.int64) * FPS_US
    ev = emulate(frames, t, preset="clean", seed=3, timestamps=timestamps)
    th_on, th_off = RandomDraws(resolve_params("clean"), 4, 5, seed=3).thresholds()
    th = (th_on if sign > 0 else th_off).numpy().astype(np.float64).reshape(-1)
    frac = (D / th) % 1
    assert ((frac > 1e-3) & (frac < 1 - 1e-3)).all()
    expected = np.floor(D / th).astype(np.int64)
    assert (per_pixel(ev, 20, 5) == expected).all()
    assert (ev.p == sign).all()
    # sigma 0: every pixel floor(1.37 / 0.2) = 6 events
    ev0 = emulate(frames, t, preset="clean", sigma_thres=0.0, timestamps=timestamps)
    assert (per_pixel(ev0, 20, 5) == 6).all()


def test_interpolated_times_of_a_ramp_are_the_crossing_times():
    """A uniform log ramp crosses level j*theta at t0 + j*theta/D * T: no bursts at frame times."""
    D, n = 1.37, 9
    frames = log_ramp(D, n=n)
    t = np.arange(n, dtype=np.int64) * FPS_US
    ev = emulate(frames, t, preset="clean", sigma_thres=0.0)
    T = t[-1] - t[0]
    for pix in range(20):
        times = ev.t[ev.y.astype(int) * 5 + ev.x == pix]
        expected = t[0] + np.arange(1, 7) * 0.2 / D * T
        assert np.abs(times - expected).max() <= 1.0
    assert not np.isin(ev.t, t).any()  # none lands on a frame time
    # v2e mode: every event on its frame's slice grid t_{k-1} + i*dt/N_k (here N_k = 1: frame ends)
    ev2 = emulate(frames, t, preset="clean", sigma_thres=0.0, timestamps="v2e")
    assert np.isin(ev2.t, t[1:]).all()


def test_sum_of_events_tracks_log_change_within_one_threshold():
    frames, t = moving_clip(n=12, seed=1)
    ev = emulate(frames, t, preset="clean", seed=5)
    h, w = frames.shape[1:]
    th_on, th_off = (a.numpy().astype(np.float64).reshape(-1) for a in
                     RandomDraws(resolve_params("clean"), h, w, seed=5).thresholds())
    pix = ev.y.astype(np.int64) * w + ev.x
    total = np.zeros(h * w)
    np.add.at(total, pix, np.where(ev.p > 0, th_on[pix], -th_off[pix]))
    lut = np.array([(i * math.log(20) / 20 if i <= 20 else math.log(i)) for i in range(256)])
    change = (lut[frames[-1]] - lut[frames[0]]).reshape(-1)
    residual = change - total
    assert (residual > -th_off - 1e-5).all() and (residual < th_on + 1e-5).all()
    assert len(ev) > 200 and np.abs(total).max() > 1.0  # non-trivial


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("timestamps", ["interpolate", "v2e"])
def test_timestamps_sorted_and_inside_the_clip(preset, timestamps):
    frames, _ = moving_clip(n=8)
    t = np.array([5, 30_000, 41_000, 90_000, 90_001, 120_000, 170_000, 200_000], np.int64)
    ev = emulate(frames, t, preset=preset, timestamps=timestamps, upsample=2, shot_noise_rate_hz=50.0)
    assert len(ev) > 100
    assert ev.t.dtype == np.int64 and (np.diff(ev.t) >= 0).all()
    assert ev.t.min() > t[0] and ev.t.max() <= t[-1]
    assert set(np.unique(ev.p)) == {-1, 1}
    assert (ev.x < 32).all() and (ev.y < 24).all()


def test_timestamp_modes_and_upsampling_only_move_events_in_time():
    """Without filter, leak, noise or refractory, timestamps and (monotone, log-linear) upsampling do
    not change which events happen — only when."""
    frames, t = moving_clip(n=10, seed=4)

    def counts(ev):
        key = (ev.y.astype(np.int64) * 32 + ev.x) * 2 + (ev.p > 0)
        return np.bincount(key, minlength=24 * 32 * 2)

    base = emulate(frames, t, seed=2)
    assert np.array_equal(counts(emulate(frames, t, seed=2, timestamps="v2e")), counts(base))
    up = emulate(frames, t, seed=2, upsample=4)
    same = counts(up) == counts(base)
    assert same.mean() > 0.995 and len(base) > 500
    assert not np.array_equal(up.t, base.t)


def test_ties_are_ordered_deterministically():
    frames, t = moving_clip()
    ev = emulate(frames, t, preset="clean", timestamps="v2e")
    key = ev.t * 10**6 + ev.y.astype(np.int64) * 1000 + ev.x
    assert (np.diff(key) >= 0).all()  # equal times: by pixel (y, then x)


# ------------------------------------------------------------------------------------------ seeds, chunks
def test_same_seed_same_events_and_seed_changes_them():
    frames, t = moving_clip()
    a = emulate(frames, t, preset="noisy", seed=7)
    b = emulate(frames, t, preset="noisy", seed=7)
    assert a == b and len(a) > 0
    assert a != emulate(frames, t, preset="noisy", seed=8)
    assert a != emulate(frames, t, preset="noisy", seed=7, clip_id="other")


def test_chunking_and_streaming_do_not_change_events():
    frames, t = moving_clip(n=11)
    over = dict(preset="v2e", seed=2, shot_noise_rate_hz=20.0, leak_rate_hz=5.0, upsample=2)
    whole = emulate(frames, t, chunk_frames=100, **over)
    assert whole == emulate(frames, t, chunk_frames=2, **over)
    emu = Emulator(24, 32, preset="v2e", seed=2, shot_noise_rate_hz=20.0, leak_rate_hz=5.0, upsample=2)
    parts = [emu.feed(frames[i:j], t[i:j]) for i, j in ((0, 1), (1, 5), (5, 6), (6, 11))]
    assert np.array_equal(np.concatenate([p.array for p in parts]), whole.array)
    with pytest.raises(InputError, match="increase"):
        emu.feed(frames[:1], t[10:11])


@pytest.mark.parametrize("over", [
    {},
    {"timestamps": "v2e"},
    {"refractory_period_s": 0.004, "shot_noise_rate_hz": 40.0},
    {"refractory_period_s": 0.004, "timestamps": "v2e", "linlog_threshold": 50.0},
    {"pos_thres": 0.01, "neg_thres": 3.0, "sigma_thres": 0.3, "linlog_threshold": 1.0},
    {"pos_thres": 1.5, "neg_thres": 0.01, "sigma_thres": 0.0, "linlog_threshold": 255.0},
])
def test_uint8_fast_path_equals_general_path(over):
    """The uint8 path (per-pixel firing bounds, work only at firing pixels) = the general path."""
    frames, t = moving_clip(n=12, seed=3)
    frames[6:] = np.clip(frames[6:].astype(int) * 3 // 2, 0, 255)  # big jumps, dark and saturated pixels
    frames[8, :4] = 0
    frames[9, :4] = 255
    fast = Emulator(24, 32, preset="clean", seed=1, **over)
    slow = Emulator(24, 32, preset="clean", seed=1, dense=True, **over)
    a, b = fast.feed(frames, t), slow.feed(frames, t)
    assert fast.sparse and not slow.sparse
    assert len(a) > 500 and a == b


def test_thread_setting_is_restored_and_tensors_accepted():
    frames, t = moving_clip(n=4)
    before = torch.get_num_threads()
    ev = Emulator(24, 32, threads=1).feed(torch.from_numpy(frames), torch.from_numpy(t))
    assert torch.get_num_threads() == before and len(ev) > 0
    assert ev == emulate(frames, t)


def test_meta_holds_resolved_parameters():
    frames, t = moving_clip(n=3)
    ev = emulate(frames, t, preset="v2e", seed=4, cutoff_hz=123.0)
    m = ev.meta["emulator"]
    assert m["preset"] == "v2e" and m["seed"] == 4 and m["cutoff_hz"] == 123.0
    assert m["refractory_period_s"] == 0.0005 and m["sigma_thres"] == 0.03
    assert m["timestamps"] == "interpolate"


# ------------------------------------------------------------------------------------------ refractory
def brute_force_refractory(n, last, r, s_prev, s_cur, tau1, h):
    """Plain greedy: every candidate level in order, kept if more than r after the previous one."""
    kept = []
    for j in range(1, n + 1):
        tau = min(max((j - 1) * h + tau1, s_prev), s_cur)
        if tau - last > r:
            kept.append(j)
            last = tau
    return kept, last


@pytest.mark.parametrize("mode", ["interpolate", "v2e"])
def test_refractory_closed_form_matches_brute_force(mode):
    rng = np.random.default_rng(0)
    k = 3000
    s_prev, dt = 1000.0, float(rng.choice([3333.0, 40000.0]))
    if mode == "interpolate":
        th = rng.uniform(0.05, 0.4, k)
        d0 = rng.uniform(-0.3, 1.0, k) * np.where(rng.random(k) < 0.3, 4, 1)  # some held-back levels
        d1 = np.maximum(d0 + rng.uniform(0, 3, k), th * 1.0001)
        n = np.floor(d1 / th).astype(np.int64)
        coeffs = level_coefficients(*(torch.as_tensor(v) for v in (th, d0, d1)), s_prev, dt)
        tau1, h = (v.numpy() for v in coeffs)
        r = 700.0
    else:  # round numbers: exact ties between slice spacings and r
        n = rng.integers(1, 90, k)
        h = np.full(k, dt / n.max())
        tau1 = h + s_prev
        r = dt / n.max() * 3 + 1e-6
    last = s_prev - rng.uniform(0, 6000, k)
    s = refractory(torch.as_tensor(n), torch.as_tensor(last), r, s_prev, s_prev + dt,
                   torch.as_tensor(tau1), torch.as_tensor(h))
    counts = s.count.numpy()
    owner = torch.repeat_interleave(torch.arange(k), s.count)
    rank = torch.arange(int(s.count.sum())) - (torch.cumsum(s.count, 0) - s.count)[owner]
    levels = s.levels(owner, rank).numpy()
    start = np.concatenate([[0], np.cumsum(counts)])
    for i in range(k):
        kept, new_last = brute_force_refractory(int(n[i]), last[i], r, s_prev, s_prev + dt, tau1[i], h[i])
        assert list(levels[start[i]:start[i + 1]]) == kept, i
        assert s.last[i].item() == new_last
    assert counts.sum() < n.sum() and (counts > 1).any()  # it did suppress, and not everything
    if mode == "interpolate":
        assert (s.first_at_start.numpy() & (counts > 1)).any()  # held-back levels, then more


def test_refractory_spacing_in_output():
    frames, t = moving_clip(n=10)
    frames[5:] = 255 - frames[5:]  # big jumps: many events per pixel
    r_us = 4000
    ev = emulate(frames, t, preset="clean", refractory_period_s=r_us * 1e-6, upsample=4)
    free = emulate(frames, t, preset="clean", upsample=4)
    assert len(ev) < len(free)
    order = np.lexsort((ev.t, ev.x, ev.y))
    same = (np.diff(ev.y[order].astype(int)) == 0) & (np.diff(ev.x[order].astype(int)) == 0)
    gaps = np.diff(ev.t[order])[same]
    assert gaps.min() >= r_us  # consecutive events of a pixel are at least r apart (after rounding)


# ------------------------------------------------------------------------------------------ noise rates
def test_shot_noise_rate_on_a_static_scene():
    n, h, w, rate = 61, 48, 48, 5.0  # 2 s of 30 fps frames
    t = np.round(np.arange(n) * 1e6 / 30).astype(np.int64)
    for level, g in ((0, 1 + (0.25 - 1) * 20 / 275), (255, 0.25)):
        frames = np.full((n, h, w), level, np.uint8)
        ev = emulate(frames, t, preset="clean", sigma_thres=0.0, shot_noise_rate_hz=rate, seed=level)
        expected = rate * g * h * w * (t[-1] - t[0]) * 1e-6  # ON + OFF
        assert abs(len(ev) - expected) < 4 * math.sqrt(expected), (level, len(ev), expected)
        on = (ev.p > 0).sum()
        assert abs(on - len(ev) / 2) < 4 * math.sqrt(len(ev) / 4)
        # interpolate mode spreads noise over the interval: no pile-up at frame times
        assert np.isin(ev.t, t).mean() < 0.01


def test_leak_rate_on_a_static_scene_follows_the_per_pixel_rates():
    n, h, w, rate = 301, 16, 16, 5.0  # 10 s
    t = np.round(np.arange(n) * 1e6 / 30).astype(np.int64)
    frames = np.full((n, h, w), 120, np.uint8)
    params = dict(sigma_thres=0.03, leak_rate_hz=rate, leak_jitter_fraction=0.1, noise_rate_cov_decades=0.1)
    ev = emulate(frames, t, preset="clean", seed=9, **params)
    assert (ev.p == 1).all()
    draws = RandomDraws(resolve_params("clean", **params), h, w, seed=9)
    draws.thresholds()
    m = draws.leak_multiplier().numpy().reshape(-1).astype(np.float64)
    expected = rate * m * (t[-1] - t[0]) * 1e-6  # per pixel
    counts = per_pixel(ev, h * w, w)
    assert np.abs(counts - expected).max() <= 2.5
    mean_rate = counts.mean() / 10.0
    assert abs(mean_rate - rate * math.exp((0.1 * math.log(10)) ** 2 / 2)) < 0.15 * rate
    assert np.isin(ev.t, t).mean() < 0.05


# ------------------------------------------------------------------------------------------ intensity input
def test_intensity_scales_and_colour():
    frames, t = moving_clip(n=6)
    ref = emulate(frames, t, seed=1)
    assert emulate(frames.astype(np.float32), t, seed=1) == ref  # floats on 0-255: same values
    rgb = np.repeat(frames[..., None], 3, axis=3)
    assert emulate(rgb, t, seed=1) == ref  # grey colour -> same luma
    unit = emulate(frames / 255.0, t, seed=1)  # [0, 1] floats are scaled x255
    assert abs(len(unit) - len(ref)) <= 0.01 * len(ref)
    wide = emulate(frames.astype(np.uint16) * 257, t, seed=1)
    assert abs(len(wide) - len(ref)) <= 0.01 * len(ref)
    assert np.allclose(to_luma(frames.astype(np.float64) * 4.0, intensity_max=1020.0), frames, atol=1e-4)
    colour = np.zeros((2, 2, 2, 3), np.uint8)
    colour[..., 0] = 200  # red in RGB order
    assert to_luma(colour)[0, 0, 0] == round(0.299 * 200)
    assert to_luma(colour, colour_order="bgr")[0, 0, 0] == round(0.114 * 200)


@pytest.mark.parametrize("frames, times, message", [
    (np.zeros((1, 4, 4), np.uint8), [0], "at least 2 frames"),
    (np.zeros((3, 4, 4), np.uint8), [0, 10, 10], "increase strictly"),
    (np.zeros((3, 4, 4), np.uint8), [0, 20, 10], "increase strictly"),
    (np.zeros((3, 4, 4), np.uint8), [0, 10], "one timestamp per frame"),
    (np.zeros((3, 4, 4), np.uint8), [0.0, 10.5, 20.0], "whole microseconds"),
    (np.full((3, 4, 4), np.nan), [0, 10, 20], "NaN or inf"),
    (np.full((3, 4, 4), np.inf, np.float32), [0, 10, 20], "NaN or inf"),
    (np.full((3, 4, 4), 300.0), [0, 10, 20], "0..255"),
    (np.full((3, 4, 4), -1.0), [0, 10, 20], "0..255"),
    (np.zeros((3, 4, 4, 2), np.uint8), [0, 10, 20], "3 channels"),
    (np.zeros((3, 4), np.uint8), [0, 10, 20], "shape"),
    ([np.zeros((4, 4), np.uint8), np.zeros((4, 5), np.uint8)], [0, 10], "same size"),
])
def test_bad_input_is_one_clear_error(frames, times, message):
    with pytest.raises(InputError, match=message) as info:
        emulate(frames, times, source="clip.mp4")
    assert "\n" not in str(info.value) and str(info.value).startswith("clip.mp4: ")


def test_parameters_are_validated():
    frames, t = moving_clip(n=3)
    unknown = r"unknown emulator parameter 'cutof_hz'; did you mean 'cutoff_hz'.*valid: pos_thres"
    with pytest.raises(ConfigError, match=unknown):
        emulate(frames, t, cutof_hz=10)
    with pytest.raises(ConfigError, match="unknown emulator preset 'fast'.*clean, noisy, v2e"):
        emulate(frames, t, preset="fast")
    with pytest.raises(ConfigError, match="sigma_thres"):
        resolve_params("clean", sigma_thres=-1)
    with pytest.raises(ConfigError, match="timestamps"):
        resolve_params("clean", timestamps="middle")
    with pytest.raises(ConfigError, match="emulator parameter upsample: expected an integer, got float 2.5"):
        resolve_params("clean", upsample=2.5)
    # `evfer convert --param k=v` values are read as YAML reads them, then typed like config values
    from evfer.emulator.params import parse_assignments

    given = parse_assignments(["cutoff_hz=12.5", "upsample=3", "timestamps=v2e"])
    assert given == {"cutoff_hz": 12.5, "upsample": 3, "timestamps": "v2e"}
    p = resolve_params("noisy", **given)
    assert (p.cutoff_hz, p.upsample, p.timestamps, p.sigma_thres) == (12.5, 3, "v2e", 0.05)
    with pytest.raises(ConfigError, match="emulator parameter cutoff_hz: expected a number, got str 'fast'"):
        resolve_params("noisy", **parse_assignments(["cutoff_hz=fast"]))
    v2e = PRESETS["v2e"]
    assert (v2e.pos_thres, v2e.neg_thres, v2e.sigma_thres, v2e.cutoff_hz, v2e.leak_rate_hz,
            v2e.shot_noise_rate_hz, v2e.refractory_period_s) == (0.2, 0.2, 0.03, 300.0, 0.01, 0.001, 0.0005)


# ------------------------------------------------------------------------------------------ real video
@pytest.mark.shared_data
def test_real_face_video_gives_a_plausible_event_stream():
    import cv2

    from evfer.emulator import read_frames

    path = shared_path("videos", "single_face.mp4")
    frames, t = read_frames(path)
    assert frames.shape == (72, 360, 640) and frames.dtype == np.uint8
    assert t[0] == 0 and t[1] == 33_333 and t[-1] == round(71 * 1e6 / 30)
    ev = emulate(frames[:40], t[:40], preset="clean", seed=0)
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    faces = cascade.detectMultiScale(frames[0], 1.1, 5, minSize=(80, 80))
    assert len(faces) >= 1
    x, y, w, h = max(faces, key=lambda f: f[2] * f[3])
    # head = face box widened for hair and outline; background = the rest of the frame at head height
    # (the torso below moves with the head and is left out)
    counts = np.zeros((360, 640))
    np.add.at(counts, (ev.y.astype(int), ev.x.astype(int)), 1)
    yy, xx = np.mgrid[0:360, 0:640]
    head = (xx >= x - 0.3 * w) & (xx < x + 1.3 * w) & (yy >= y - 0.4 * h) & (yy < y + 1.1 * h)
    background = ~head & (yy < y + 1.1 * h)
    assert counts[head].mean() > 2.5 * counts[background].mean(), (counts[head].mean(),
                                                                    counts[background].mean())
    on = (ev.p > 0).mean()
    assert 0.2 < on < 0.8
    assert 1e4 < len(ev) < 3e7
