"""The fast emulator against a slow, plainly written per-pixel reference of the same pixel model.

The reference below follows the description of v2e's EventEmulator (lin-log, thresholds, low-pass,
leak, counts, base update, shot noise, v2e's slice timestamps) plus evfer's documented extensions
(interpolated timestamps, upsampling; see evfer.emulator.model / .timing) step by step, with Python
loops over steps and pixels and numpy float32 scalars for the pixel state (the precision the
emulator documents). Both take their random numbers from the same :class:`RandomDraws` stream
(thresholds, leak multipliers, per-step jitter and shot-noise uniforms), so for every component the
outputs must be *identical*. The refractory period is checked the brute-force way here (every
candidate event in time order) against the emulator's closed form.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from evfer.emulator import emulate, lin_log, resolve_params
from evfer.emulator.draws import RandomDraws

F32 = np.float32


def ref_linlog(i: float, thr: float = 20.0) -> np.float32:
    f = (1.0 / thr) * math.log(thr)
    y = i * f if i <= thr else math.log(i)
    return F32(round(y * 1e8) / 1e8)


def ref_brightness(i: float) -> np.float32:
    return (F32(i) + F32(20.0)) / F32(275.0)


def reference(frames: np.ndarray, times: np.ndarray, preset: str, seed: int = 0, **overrides):
    """Events as a list of (t, x, y, p), from plain loops over steps and pixels."""
    p = resolve_params(preset, **overrides)
    n_frames, H, W = frames.shape
    draws = RandomDraws(p, H, W, seed)
    th_on, th_off = (a.numpy() for a in draws.thresholds())
    m = draws.leak_multiplier()
    m = None if m is None else m.numpy()
    ratio_on = F32(p.pos_thres) / th_on
    ratio_off = F32(p.neg_thres) / th_off
    # "more than r after the previous event"; exact ties count as inside (1 ps margin, as documented)
    r_us = p.refractory_period_s * 1e6 + 1e-6 if p.refractory_period_s > 0 else 0.0
    X = [[[ref_linlog(float(frames[k, y, x]), p.linlog_threshold) for x in range(W)] for y in range(H)]
         for k in range(n_frames)]
    A = [[[ref_brightness(float(frames[k, y, x])) for x in range(W)] for y in range(H)]
         for k in range(n_frames)]
    P = [[X[0][y][x] for x in range(W)] for y in range(H)]
    B = [[X[0][y][x] for x in range(W)] for y in range(H)]
    last = [[times[0] - r_us - 1.0 for x in range(W)] for y in range(H)]  # no event yet
    out = []
    K = p.upsample
    for k in range(1, n_frames):
        t_prev, t_cur = float(times[k - 1]), float(times[k])
        for i in range(1, K + 1):
            # the step's input: frame k, or a frame interpolated linearly in log space
            f = F32(i / K)
            if i == K:
                Xs = X[k]
                As = A[k]
                s_cur = t_cur
            else:
                Xs = [[X[k - 1][y][x] + (X[k][y][x] - X[k - 1][y][x]) * f for x in range(W)]
                      for y in range(H)]
                As = [[A[k - 1][y][x] + (A[k][y][x] - A[k - 1][y][x]) * f for x in range(W)]
                      for y in range(H)]
                s_cur = t_prev + (t_cur - t_prev) * (i / K)
            s_prev = t_prev + (t_cur - t_prev) * ((i - 1) / K) if i > 1 else t_prev
            out += ref_step(p, Xs, As, P, B, last, th_on, th_off, m, ratio_on, ratio_off, draws,
                            s_prev, s_cur, r_us)
    return out


def ref_step(p, Xs, As, P, B, last, th_on, th_off, m, ratio_on, ratio_off, draws, s_prev, s_cur, r_us):
    H, W = th_on.shape
    dt = s_cur - s_prev
    dt_s = dt * 1e-6
    jitter, u = draws.step()
    jitter = None if jitter is None else jitter.numpy()
    u = None if u is None else u.numpy()
    lo, hi = math.floor(s_prev) + 1, math.ceil(s_cur)

    def emit(tau):
        return min(max(math.ceil(tau), lo), hi)

    # pass 1: filter, leak, difference, counts
    state = {}
    for y in range(H):
        for x in range(W):
            if p.cutoff_hz > 0:
                eps = min(As[y][x] * F32(dt_s * 2.0 * math.pi * p.cutoff_hz), F32(1.0))
                p_new = (F32(1.0) - eps) * P[y][x] + eps * Xs[y][x]
            else:
                p_new = Xs[y][x]
            b_old = B[y][x]
            b = b_old
            if m is not None:
                rate = m[y, x] * F32(p.leak_rate_hz)
                if jitter is not None:
                    rate = rate * (F32(1.0) - jitter[y, x] * F32(p.leak_jitter_fraction))
                b = b - rate * F32(dt_s) * th_on[y, x]
            d = p_new - b
            if d >= th_on[y, x]:
                sign, th = 1, th_on[y, x]
            elif d <= -th_off[y, x]:
                sign, th = -1, th_off[y, x]
            else:
                sign, th = 0, None
            n = int(float(d * sign) // float(th)) if sign else 0
            state[y, x] = (p_new, b_old, b, d, sign, th, n)
    n_slices = max([s[6] for s in state.values()] + [1])
    events = []  # (t, group, pixel, rank, x, y, p)
    # pass 2: event times, refractory (brute force), base update
    for y in range(H):
        for x in range(W):
            p_new, b_old, b, d, sign, th, n = state[y, x]
            accepted = 0
            if n:
                # level j at tau_1 + (j - 1) * h (docs of evfer.emulator.timing)
                if p.timestamps == "v2e":  # v2e's slices: the j-th event of every pixel at s_prev + j*dt/N
                    h = dt / n_slices
                    tau1 = h + s_prev
                else:  # crossing of level j*th on the straight line d0 -> d1 (sign folded)
                    d0 = float((P[y][x] - b_old) * F32(sign))
                    d1 = float(d * F32(sign))
                    rate = dt / (d1 - d0) if d1 - d0 > 0 else 0.0
                    tau1 = (float(th) - d0) * rate + s_prev
                    h = float(th) * rate
                for j in range(1, n + 1):
                    tau = (j - 1) * h + tau1
                    if r_us > 0:
                        tau_c = min(max(tau, s_prev), s_cur)
                        if not tau_c - last[y][x] > r_us:
                            continue
                        last[y][x] = tau_c
                    events.append((emit(tau), 0, y * W + x, accepted, x, y, sign))
                    accepted += 1
                b = b + F32(accepted) * th * F32(sign)
            # shot noise
            if u is not None:
                c1 = (p.shot_noise_rate_hz / 2.0) * dt_s
                g = float(As[y][x]) * (p.shot_noise_inten_factor - 1.0) + 1.0
                q = g * c1
                q_on = q * float(ratio_on[y, x])
                q_off = q * float(ratio_off[y, x])
                uu = float(u[y, x])
                fired = False
                if uu > 1.0 - q_on:
                    frac = (uu - (1.0 - q_on)) / q_on
                    tau = s_cur if p.timestamps == "v2e" else min(max(frac, 0.0), 1.0) * dt + s_prev
                    events.append((emit(tau), 1, y * W + x, 0, x, y, 1))
                    fired = True
                if uu < q_off:
                    frac = 1.0 - uu / q_off
                    tau = s_cur if p.timestamps == "v2e" else min(max(frac, 0.0), 1.0) * dt + s_prev
                    events.append((emit(tau), 2, y * W + x, 0, x, y, -1))
                    fired = True
                if fired:
                    b = p_new
            P[y][x] = p_new
            B[y][x] = b
    events.sort(key=lambda e: e[:4])
    return [(e[0], e[4], e[5], e[6]) for e in events]


def as_rows(events) -> list[tuple[int, int, int, int]]:
    return [(int(t), int(x), int(y), int(p)) for t, x, y, p in zip(events.t, events.x, events.y, events.p)]


def random_clip(seed: int, n: int = 6, h: int = 7, w: int = 9, dark: bool = False):
    """Moving blobs + noise, with some large jumps (many events per pixel) and dark pixels."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    frames = []
    for k in range(n):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        img = 40 + 200 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / rng.uniform(2, 12))
        img += rng.normal(0, 20, (h, w))
        if dark:
            img *= 0.1
        frames.append(np.clip(img, 0, 255))
    frames = np.round(np.stack(frames)).astype(np.uint8)
    times = np.cumsum(rng.integers(20_000, 40_000, n)) - 20_000  # irregular frame intervals
    return frames, times.astype(np.int64)


# ---------------------------------------------------------------------------------------------- tests
def test_linlog_lut_matches_plain_math():
    fast = lin_log(__import__("torch").arange(256, dtype=__import__("torch").float64)).numpy()
    slow = np.array([ref_linlog(float(i)) for i in range(256)], np.float32)
    assert np.array_equal(fast, slow)
    assert fast[0] == 0 and abs(fast[20] - math.log(20)) < 1e-7 and abs(fast[255] - math.log(255)) < 1e-7


CASES = {
    "clean": ("clean", {}),
    "no-mismatch": ("clean", {"sigma_thres": 0.0}),
    "asymmetric-thresholds": ("clean", {"pos_thres": 0.15, "neg_thres": 0.35, "sigma_thres": 0.05}),
    "linlog-threshold": ("clean", {"linlog_threshold": 60.0}),
    "lowpass": ("clean", {"cutoff_hz": 15.0}),
    "leak": ("clean", {"leak_rate_hz": 40.0, "leak_jitter_fraction": 0.3, "noise_rate_cov_decades": 0.3}),
    "leak-no-jitter": ("clean", {"leak_rate_hz": 25.0, "noise_rate_cov_decades": 0.2}),
    "shot-noise": ("clean", {"shot_noise_rate_hz": 30.0}),
    "shot-noise-overlap": ("clean", {"shot_noise_rate_hz": 60.0, "shot_noise_inten_factor": 2.0}),
    "refractory": ("clean", {"refractory_period_s": 0.004}),
    "refractory-long": ("clean", {"refractory_period_s": 0.03}),
    "noisy": ("noisy", {}),
    "v2e": ("v2e", {}),
    "v2e-times": ("clean", {"timestamps": "v2e"}),
    "v2e-times-refractory": ("clean", {"timestamps": "v2e", "refractory_period_s": 0.004}),
    "v2e-times-shot": ("clean", {"timestamps": "v2e", "shot_noise_rate_hz": 30.0}),
    "upsample": ("clean", {"upsample": 3}),
    "upsample-v2e-times": ("clean", {"upsample": 4, "timestamps": "v2e"}),
    "everything": ("noisy", {"upsample": 2, "refractory_period_s": 0.003, "shot_noise_rate_hz": 20.0,
                             "leak_rate_hz": 10.0}),
    "everything-v2e": ("v2e", {"upsample": 3, "timestamps": "v2e", "refractory_period_s": 0.004,
                               "shot_noise_rate_hz": 20.0, "leak_rate_hz": 10.0}),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("clip_seed", [1, 2])
def test_fast_equals_reference(case, clip_seed):
    preset, over = CASES[case]
    frames, times = random_clip(clip_seed, dark=clip_seed == 2)
    fast = emulate(frames, times, preset=preset, seed=clip_seed, chunk_frames=4, **over)
    slow = reference(frames, times, preset, seed=clip_seed, **over)
    assert len(slow) > 20  # the clip does exercise the model
    assert as_rows(fast) == slow


def test_reference_cases_exercise_their_component():
    """Guard against vacuous cases: each switched-on part changes the output of the plain model."""
    frames, times = random_clip(1)
    base = reference(frames, times, "clean", seed=1)
    for case in ("lowpass", "leak", "shot-noise", "refractory", "upsample", "v2e-times", "linlog-threshold"):
        preset, over = CASES[case]
        assert reference(frames, times, preset, seed=1, **over) != base, case
    # several events per pixel per step do occur, and refractory suppresses some of them
    refr = reference(frames, times, "clean", seed=1, refractory_period_s=0.004)
    assert len(refr) < len(base)
    pixels_steps: dict[tuple[int, int, int], int] = {}
    for t, x, y, _ in base:
        key = (x, y, int(np.searchsorted(times, t)))
        pixels_steps[key] = pixels_steps.get(key, 0) + 1
    assert max(pixels_steps.values()) >= 5
