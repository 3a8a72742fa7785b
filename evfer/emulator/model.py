"""The DVS pixel model of v2e's EventEmulator (v2e 1.5.1), vectorised in torch.

Per clip: frame 0 initialises the state (lin-log intensity ``L``, low-pass state ``P = L``, memorised
base ``B = P``, per-pixel thresholds, leak-rate multipliers) and emits nothing; each later step
(frame interval, or sub-interval with ``upsample=K``) does, elementwise over pixels:

1. ``X = L(I)``: lin-log on the 0-255 scale — ``I*ln(20)/20`` up to 20 DN, ``ln(I)`` above —
   computed in float64, rounded to 1e-8, stored float32.
2. low-pass (if ``cutoff_hz > 0``): ``eps = min(1, a*dt/tau)``, ``a = (I+20)/275``,
   ``tau = 1/(2*pi*cutoff_hz)``; ``P <- (1-eps)*P + eps*X``. Otherwise ``P = X``.
3. leak (if ``leak_rate_hz > 0``): ``B <- B - ((m*R)*(1 - j*z)) * dt * th_on`` (``z`` fresh N(0,1)).
4. ``D = P - B`` (float32); ON count ``floor(D/th_on)`` if ``D >= th_on``, OFF count
   ``floor(-D/th_off)`` if ``D <= -th_off`` (exact floor of the quotient) — several events per
   pixel and step.
5. timestamps and the refractory filter (:mod:`.timing`); the base moves by the surviving count
   times the threshold (float32, as v2e), so remainders (and held-back contrast) carry over.
6. shot noise (if ``shot_noise_rate_hz > 0``): one float64 uniform ``u`` per pixel and step;
   ``q = (R/2)*dt*((f-1)*a + 1)``; ON if ``u > 1 - q*th_on_nom/th_on``, OFF if ``u < q*th_off_nom/th_off``;
   the base of a noisy pixel is reset to ``P``. Noise ignores (and does not update) the refractory
   memory, as in v2e. Time: v2e mode at the step end; interpolate mode at the rescaled ``u``
   (uniform in the step, no extra draw).

Exact but unavoidable choices, documented for users:

- Intensity scale: frames must be luma on 0-255 (see :func:`evfer.emulator.frames.to_luma`).
- Output timestamps are int64 µs, rounded *up* (``ceil``) into the step, so every event of the step
  (t_{k-1}, t_k] stays strictly after t_{k-1}; N frames give events only in (t_0, t_{N-1}].
- Ties in time are ordered: signal events by pixel index (y, then x) and level, then ON noise, then
  OFF noise.
- Refractory differs from v2e in one detail: v2e skips the check (and its memory update) in frames
  whose slice spacing exceeds the refractory period; here the check always applies, so the memory
  is never stale. The period is measured between unrounded event times (for interpolated
  timestamps: the interpolated crossing times, so it acts per pixel at that pixel's own event
  spacing, not at a global slice spacing); exact ties count as inside the period (a 1 ps margin).
  Contrast held back by it stays in ``D`` (as in v2e) and fires at the start of the next step if it
  is still above threshold.
- Upsampling (``upsample=K``) inserts K-1 frames per interval, linear in log space; the intensity
  that drives the low-pass filter and shot noise is interpolated linearly.
"""

from __future__ import annotations

import contextlib
import functools
import math
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError, InputError
from ..events import Events
from . import timing
from .assemble import order_step, pack, signal_events, to_event_array
from .draws import RandomDraws
from .frames import check_clip, check_timestamps, to_luma
from .params import EmulatorParams, EmulatorSettings, resolve_params

LINLOG_ROUNDING = 1e8
REFRACTORY_TIE_US = 1e-6  # see Emulator._init
A_MIN = 20.0 / 275.0  # smallest brightness factor (I = 0)
BOUND_GRID_MIN, BOUND_GRID_MAX, BOUND_GRID_STEPS = -16.0, 16.0, 4096  # see Emulator._make_bound_tables
BOUND_MARGIN = 1e-5  # ln units; covers float32 rounding (< 2.4e-7) with room


@contextlib.contextmanager
def _torch_threads(n: int | None):
    """Run with ``n`` torch CPU threads (None: unchanged), restoring the previous setting."""
    old = torch.get_num_threads()
    if n is None or n == old:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def resolve_device(device: Any) -> torch.device:
    """A usable torch device (default CPU); ConfigError for an unknown or unavailable one."""
    try:
        dev = torch.device(device if device is not None else "cpu")
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(f"device {device!r}: {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r}: CUDA is not available in this torch build/machine")
    return dev


def _at(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``x[idx]`` for 1-D ``x`` (index_select: several times faster than advanced indexing on CPU)."""
    return torch.index_select(x, 0, idx)


def lin_log(intensity: torch.Tensor, threshold: float = 20.0) -> torch.Tensor:
    """v2e's lin-log mapping of 0-255 intensities (linear up to ``threshold`` DN, then ``ln``):
    float64 math, rounded to 1e-8, float32 result."""
    x = intensity.to(torch.float64)
    f = (1.0 / threshold) * math.log(threshold)
    y = torch.where(x <= threshold, x * f, torch.log(x.clamp(min=threshold)))
    return (torch.round(y * LINLOG_ROUNDING) / LINLOG_ROUNDING).to(torch.float32)


def brightness(intensity: torch.Tensor) -> torch.Tensor:
    """v2e's normalised intensity ``a = (I + 20) / 275`` (float32) for the filter and shot noise."""
    return (intensity.to(torch.float32) + 20.0) / 275.0


class _Brightness:
    """v2e's brightness factor ``a`` of a frame interval's two frames, computed only where needed:
    whole frames for the low-pass filter, single pixels for shot noise."""

    def __init__(self, emu: Emulator, frame0: torch.Tensor, frame1: torch.Tensor):
        self.emu, self.frames, self._full = emu, (frame0, frame1), [None, None]

    def full_frame(self, i: int) -> torch.Tensor:
        if self._full[i] is None:
            self._full[i] = self.emu._brightness(self.frames[i])
        return self._full[i]

    def at_fraction(self, f: float | None) -> _StepBrightness:
        return _StepBrightness(self, f)


class _StepBrightness:
    """Brightness at fraction ``f`` of the interval (None = its end), linear between the frames."""

    def __init__(self, light: _Brightness, f: float | None):
        self.light, self.f = light, f

    def _mix(self, a0: torch.Tensor | None, a1: torch.Tensor) -> torch.Tensor:
        return a1 if self.f is None else a0 + (a1 - a0) * self.f

    def full(self) -> torch.Tensor:
        light = self.light
        return self._mix(None if self.f is None else light.full_frame(0), light.full_frame(1))

    def at(self, pix: torch.Tensor) -> torch.Tensor:
        light = self.light

        def one(i):
            if light._full[i] is not None:
                return _at(light._full[i], pix)
            return light.emu._brightness(_at(light.frames[i], pix))

        return self._mix(None if self.f is None else one(0), one(1))


class Emulator:
    """Stateful emulator of one clip: feed frames chunk by chunk, get their events.

    Args:
        height, width: sensor size (pixels).
        params: resolved :class:`EmulatorParams` (or use ``preset`` + overrides).
        seed, clip_id: the clip's random stream (see :mod:`.draws`).
        device: torch device (default CPU).
        threads: torch CPU threads while emulating (default 1, restored afterwards; None = leave
            torch's setting). A clip's operations are mostly too small to gain from more threads, and
            on a busy machine idle OpenMP threads waiting for a core make them many times slower.
            Parallelise over clips instead (``evfer convert --workers``).
        dense: always use the general full-frame path (for tests; see below).

    Two code paths give identical events. The general ("dense") path computes the lin-log frame
    and ``D`` for every pixel. For uint8 frames without low-pass, leak or upsampling the base ``B``
    changes only at pixels that fire, so each pixel keeps the uint8 intensities beyond which it may
    fire; a step is then two uint8 comparisons over the frame plus exact work at those pixels.
    """

    def __init__(self, height: int, width: int, params: EmulatorParams | None = None, *,
                 preset: str = "clean", seed: int = 0, clip_id: str = "", device: Any = None,
                 threads: int | None = 1, dense: bool = False, **overrides: Any):
        self.params = params if params is not None else resolve_params(preset, **overrides)
        if params is not None and overrides:
            self.params = params.replace(**overrides)
        self.preset = preset
        self.height, self.width = int(height), int(width)
        self.device = resolve_device(device)
        self.seed, self.clip_id = int(seed), str(clip_id)
        self.draws = RandomDraws(self.params, self.height, self.width, self.seed, self.clip_id)
        self.force_dense = dense
        self.threads = threads
        self._initialised = False
        self._luts: dict[str, torch.Tensor] = {}
        self._parts: list[np.ndarray] = []
        self.n_frames = 0
        self.n_steps = 0

    # ---------------------------------------------------------------- public
    def feed(self, frames: Any, timestamps_us: Any) -> Events:
        """Events of the next frames (luma (T, H, W), uint8 or float 0-255; int64 µs times).

        The first frame of the clip only initialises the pixels. Timestamps must increase strictly,
        also across chunks.
        """
        return self.assemble(self.feed_arrays(frames, timestamps_us))

    def feed_arrays(self, frames: Any, timestamps_us: Any) -> list[np.ndarray]:
        """Like :meth:`feed`, but returns the events as consecutive sorted :data:`EVENT_DTYPE` arrays."""
        if not isinstance(frames, torch.Tensor):
            frames = torch.from_numpy(np.ascontiguousarray(frames))
        t = np.asarray(timestamps_us, dtype=np.int64)
        if frames.ndim != 3 or tuple(frames.shape[1:]) != (self.height, self.width):
            raise InputError(None, f"frames must have shape (T, {self.height}, {self.width}), "
                             f"got {tuple(frames.shape)}")
        if len(t) != frames.shape[0]:
            raise InputError(None, f"{frames.shape[0]} frames but {len(t)} timestamps")
        if len(t) and self._initialised and t[0] <= self._t_last:
            raise InputError(None, f"timestamps must increase: {t[0]} µs follows {self._t_last} µs")
        if len(t) == 0:
            return []
        frames = frames.to(self.device).reshape(len(t), -1)
        if not self._initialised:
            p = self.params
            self.sparse = (frames.dtype == torch.uint8 and not self.force_dense and p.cutoff_hz == 0
                           and p.leak_rate_hz == 0 and p.upsample == 1)
        elif self.sparse and frames.dtype != torch.uint8:
            raise InputError(None, "frames changed from uint8 to another type between chunks")
        with _torch_threads(self.threads if self.device.type == "cpu" else None):
            if self.sparse:
                self._feed_sparse(frames, t)
            else:
                self._feed_dense(frames, t)
        parts, self._parts = self._parts, []
        return parts

    def meta(self) -> dict[str, Any]:
        """The resolved emulator settings, for ``Events.meta``."""
        return {"emulator": {"model": "evfer (v2e 1.5.1 pixel model)", "preset": self.preset,
                             "seed": self.seed, "clip_id": self.clip_id, **self.params.to_dict()}}

    def assemble(self, parts: list[np.ndarray]) -> Events:
        """One :class:`Events` (with :meth:`meta`) from consecutive parts returned by :meth:`feed_arrays`."""
        # sorted, on the sensor, polarity +-1 by construction (tests check it); skip the O(n) checks
        return Events(to_event_array(parts), self.width, self.height, self.meta(), check=False)

    # ---------------------------------------------------------------- set-up
    def _lut(self, name: str) -> torch.Tensor:
        """Lin-log ("linlog") or brightness ("bright") of the 256 uint8 values, float32."""
        if name not in self._luts:
            x = torch.arange(256, dtype=torch.float64)
            v = lin_log(x, self.params.linlog_threshold) if name == "linlog" else brightness(x)
            self._luts[name] = v.to(self.device)
        return self._luts[name]

    def _lin_log(self, frames: torch.Tensor) -> torch.Tensor:
        if frames.dtype == torch.uint8:
            return self._table(frames, "linlog")
        return lin_log(frames, self.params.linlog_threshold)

    def _brightness(self, frames: torch.Tensor) -> torch.Tensor:
        return self._table(frames, "bright") if frames.dtype == torch.uint8 else brightness(frames)

    def _table(self, frames: torch.Tensor, name: str) -> torch.Tensor:
        """Look uint8 values up in a 256-entry table (numpy's uint8 indexing on CPU: no int64 copy)."""
        lut = self._lut(name)
        if frames.device.type == "cpu":
            return torch.from_numpy(lut.numpy()[frames.numpy()])
        return lut[frames.to(torch.int64)]

    def _init(self, x0: torch.Tensor, t0: int) -> None:
        p, dev = self.params, self.device
        th_on, th_off = self.draws.thresholds()
        self.th_on = th_on.reshape(-1).to(dev)
        self.th_off = th_off.reshape(-1).to(dev)
        self.neg_th_off = -self.th_off
        m = self.draws.leak_multiplier()
        self.leak_mr = None if m is None else (m.reshape(-1) * p.leak_rate_hz).to(dev)
        if p.shot_noise_rate_hz > 0:
            # nominal / actual threshold, a float32 division (note: ``scalar / tensor`` in torch is
            # computed as ``scalar * reciprocal(tensor)``, which rounds differently)
            nominal_on = torch.full_like(self.th_on, p.pos_thres)
            nominal_off = torch.full_like(self.th_off, p.neg_thres)
            self.ratio_on = torch.div(nominal_on, self.th_on).to(torch.float64)
            self.ratio_off = torch.div(nominal_off, self.th_off).to(torch.float64)
            g_max = max(1.0, p.shot_noise_inten_factor)
            self._shot_bound = (g_max * float(self.ratio_on.max()), g_max * float(self.ratio_off.max()))
        self.P = x0.clone()
        self.B = x0.clone()
        # an event survives if it is more than r after the pixel's previous one; exact ties (common
        # with round frame times) count as inside the period — the 1 ps margin makes the closed form
        # and a plain event-by-event check agree on them despite float rounding
        self.r_us = p.refractory_period_s * 1e6 + REFRACTORY_TIE_US if p.refractory_period_s > 0 else 0.0
        if self.r_us > 0:
            self.last = torch.full_like(x0, t0 - self.r_us - 1.0, dtype=torch.float64)  # no event yet
        self._t_last = t0
        self._m_on = torch.empty(x0.shape, dtype=torch.bool, device=dev)
        self._m_off = torch.empty_like(self._m_on)
        self._initialised = True
        self.n_frames = 1

    def _nonzero(self, mask: torch.Tensor) -> torch.Tensor:
        if mask.device.type == "cpu":  # numpy's is several times faster
            return torch.from_numpy(np.flatnonzero(mask.numpy()))
        return torch.nonzero(mask).squeeze(1)

    def _keep(self, sig, noise, lo: int, hi: int) -> None:
        """Store a step's events (signal, then noise), sorted by time."""
        parts = [x for x in (sig, None if noise is None else noise[:2]) if x is not None]
        if parts:
            self._parts.append(order_step(parts, lo, hi))

    # ---------------------------------------------------------------- general path
    def _feed_dense(self, frames: torch.Tensor, t: np.ndarray) -> None:
        p = self.params
        X = self._lin_log(frames)
        start = 0
        if not self._initialised:
            self._init(X[0], int(t[0]))
            self._X_last, self._I_last = X[0], frames[0]
            self._D = torch.empty_like(X[0])
            start = 1
        K = p.upsample
        for k in range(start, len(t)):
            t_prev, t_cur = float(self._t_last), float(t[k])
            x0, x1 = self._X_last, X[k]
            light = _Brightness(self, self._I_last, frames[k])
            for i in range(1, K + 1):
                if i == K:
                    xi, f, si = x1, None, t_cur
                else:  # a frame interpolated linearly in log space (intensity linearly)
                    f = i / K
                    xi = x0 + (x1 - x0) * f
                    si = t_prev + (t_cur - t_prev) * f
                s_prev = t_prev + (t_cur - t_prev) * ((i - 1) / K) if i > 1 else t_prev
                self._step_dense(xi, light.at_fraction(f), s_prev, si)
            self._X_last, self._I_last = x1, frames[k]
            self._t_last = int(t[k])
            self.n_frames += 1

    def _step_dense(self, X: torch.Tensor, light: _StepBrightness, s_prev: float, s_cur: float) -> None:
        p = self.params
        dt_s = (s_cur - s_prev) * 1e-6
        self.n_steps += 1
        jitter, u = self.draws.step()
        # photoreceptor low-pass; skipped when eps = 1 everywhere (then it is exactly P = X)
        P_old = self.P
        if p.cutoff_hz > 0:
            k = dt_s * 2.0 * math.pi * p.cutoff_hz
            if float(np.float32(A_MIN) * np.float32(k)) >= 1.0:
                P_new = X
            else:
                eps = (light.full() * k).clamp_(max=1.0)
                P_new = (1.0 - eps) * P_old + eps * X
        else:
            P_new = X
        # leak
        B_old = self.B
        if self.leak_mr is not None:
            rate = self.leak_mr
            if jitter is not None:
                rate = rate * (1.0 - jitter.reshape(-1).to(self.device) * p.leak_jitter_fraction)
            B = B_old - rate * dt_s * self.th_on
        else:
            B = B_old  # updated in place below; B_old is only read before that
        # the few pixels that cross a threshold
        D = torch.sub(P_new, B, out=self._D)
        m_on = torch.ge(D, self.th_on, out=self._m_on)
        m_any = torch.le(D, self.neg_th_off, out=self._m_off).logical_or_(m_on)
        idx = self._nonzero(m_any)
        lo, hi = timing.step_bounds(s_prev, s_cur)
        d0 = (_at(P_old, idx) - _at(B_old, idx)) if p.timestamps == "interpolate" else None
        sig, _ = self._signal(idx, _at(D, idx), d0, B, s_prev, s_cur, lo, hi)
        noise = None
        if u is not None:
            noise = self._shot_noise(u, light.at, lambda c: _at(P_new, c), B, s_prev, s_cur, lo, hi)
        self.P = P_new
        self.B = B
        self._keep(sig, noise, lo, hi)

    # ---------------------------------------------------------------- uint8 fast path
    def _feed_sparse(self, frames: torch.Tensor, t: np.ndarray) -> None:
        start = 0
        if not self._initialised:
            self._init(self._lut("linlog")[frames[0].to(torch.int64)], int(t[0]))
            del self.P  # not kept: P is lin_log(frame) here
            self._I_last = frames[0]
            self._hi_m1 = torch.empty_like(frames[0])  # may fire ON  where I > hi_m1
            self._lo_p1 = torch.empty_like(frames[0])  # may fire OFF where I < lo_p1
            self._update_bounds(torch.arange(frames.shape[1], device=self.device))
            start = 1
        for k in range(start, len(t)):
            self._step_sparse(self._I_last, frames[k], float(self._t_last), float(t[k]))
            self._I_last = frames[k]
            self._t_last = int(t[k])
            self.n_frames += 1

    def _step_sparse(self, I_old: torch.Tensor, I: torch.Tensor, s_prev: float, s_cur: float) -> None:
        p = self.params
        self.n_steps += 1
        _, u = self.draws.step()
        lut = self._lut("linlog")
        m_on = torch.gt(I, self._hi_m1, out=self._m_on)
        m_any = torch.lt(I, self._lo_p1, out=self._m_off).logical_or_(m_on)
        idx = self._nonzero(m_any)
        B = self.B
        b = _at(B, idx)
        d1 = _at(lut, _at(I, idx).to(torch.int64)) - b
        th_on, nth_off = _at(self.th_on, idx), _at(self.neg_th_off, idx)
        fires = (d1 >= th_on) | (d1 <= nth_off)  # the exact test
        if not bool(fires.all()):
            keep = self._nonzero(fires)
            idx, b, d1, th_on, nth_off = (_at(v, keep) for v in (idx, b, d1, th_on, nth_off))
        lo, hi = timing.step_bounds(s_prev, s_cur)
        d0 = (_at(lut, _at(I_old, idx).to(torch.int64)) - b) if p.timestamps == "interpolate" else None
        sig, b_new = self._signal(idx, d1, d0, B, s_prev, s_cur, lo, hi, (th_on, -nth_off), b)
        noise = None
        if u is not None:
            bright = self._lut("bright")
            noise = self._shot_noise(u, lambda c: _at(bright, _at(I, c).to(torch.int64)),
                                     lambda c: _at(lut, _at(I, c).to(torch.int64)), B, s_prev, s_cur, lo, hi)
        if noise is not None:
            self._update_bounds(torch.cat([idx, noise[2]]))
        elif b_new is not None:
            self._update_bounds(idx, b_new, (th_on, nth_off))
        self._keep(sig, noise, lo, hi)

    def _update_bounds(self, pix: torch.Tensor, b: torch.Tensor | None = None,
                       th: tuple | None = None) -> None:
        """Recompute, at ``pix``, the uint8 intensities beyond which a pixel may fire.

        Looked up in a fine grid of log levels (:meth:`_make_bound_tables`), conservatively (a
        pixel within one grid cell plus float32 rounding of firing is a candidate); the exact float32
        test then runs on the candidates in :meth:`_step_sparse`. Here ``B`` stays within
        [lin_log(0), lin_log(255)] (it only moves towards lin_log(I)), so a pixel never fires at
        every level, and the uint8 range suffices.
        """
        hi_tab, lo_tab = (t.to(self.device) for t in bound_tables(float(self.params.linlog_threshold)))
        b = (_at(self.B, pix) if b is None else b).to(torch.float64)
        th_on, nth_off = (_at(self.th_on, pix), _at(self.neg_th_off, pix)) if th is None else th
        for y, tab, dst in ((b + th_on.to(torch.float64), hi_tab, self._hi_m1),
                            (b + nth_off.to(torch.float64), lo_tab, self._lo_p1)):
            cell = ((y - BOUND_GRID_MIN) * BOUND_GRID_STEPS).clamp_(0, len(tab) - 1).to(torch.int64)
            dst.scatter_(0, pix, _at(tab, cell))

    # ---------------------------------------------------------------- events of a step
    def _signal(self, idx, d1, d0, B, s_prev, s_cur, lo, hi, th_pair=None, b=None):
        """Signal events of the threshold-crossing pixels ``idx``; moves their base ``B`` (and the
        refractory memory). ``d1``: P - B at the step end; ``d0``: P_old - B_old at its start
        (interpolate mode); float32. ``th_pair``: (th_on, th_off) and ``b``: B at ``idx``, if known.
        Returns ((t, code) or None, new base at ``idx`` or None)."""
        if len(idx) == 0:
            return None, None
        dt = s_cur - s_prev
        on = d1 > 0
        th_on, th_off = th_pair if th_pair is not None else (_at(self.th_on, idx), _at(self.th_off, idx))
        th32 = torch.where(on, th_on, th_off)
        sign = torch.where(on, 1.0, -1.0)
        d1s = (d1 * sign).to(torch.float64)
        th = th32.to(torch.float64)
        n = torch.div(d1s, th, rounding_mode="floor").to(torch.int64)
        if d0 is not None:  # interpolate: level j crossed on the straight line d0 -> d1
            tau1, h = timing.level_coefficients(th, (d0 * sign).to(torch.float64), d1s, s_prev, dt)
        else:  # v2e slices: level j at s_prev + j * dt / N
            h = torch.full_like(th, dt / float(n.max()))
            tau1 = h + s_prev
        surv = None
        count = n
        if self.r_us > 0:
            surv = timing.refractory(n, _at(self.last, idx), self.r_us, s_prev, s_cur, tau1, h)
            count = surv.count
            self.last.scatter_(0, idx, surv.last)
        # the base moves by the surviving count times the threshold (float32, as v2e)
        b_new = (_at(B, idx) if b is None else b) + count.to(torch.float32) * th32 * sign
        B.scatter_(0, idx, b_new)
        code = pack(idx, on, self.width)
        return signal_events(code, tau1, h, count, surv, lo, hi), b_new

    def _shot_noise(self, u, a_at, p_new_at, B, s_prev, s_cur, lo, hi):
        """Shot-noise events of a step (``a_at``/``p_new_at`` give brightness / P at pixels); resets
        the base of noisy pixels to P. Returns (t, code, pixels) or None."""
        p = self.params
        dt = s_cur - s_prev
        u = u.reshape(-1).to(self.device)
        c1 = (p.shot_noise_rate_hz / 2.0) * (dt * 1e-6)
        bound_on = c1 * self._shot_bound[0] * (1 + 1e-9)
        bound_off = c1 * self._shot_bound[1] * (1 + 1e-9)
        cand = self._nonzero((u > 1.0 - bound_on) | (u < bound_off))
        if len(cand) == 0:
            return None
        uc = _at(u, cand)
        g = a_at(cand).to(torch.float64) * (p.shot_noise_inten_factor - 1.0) + 1.0
        q = g * c1
        q_on = q * _at(self.ratio_on, cand)
        q_off = q * _at(self.ratio_off, cand)
        on = uc > 1.0 - q_on
        off = uc < q_off
        pix = torch.cat([cand[on], cand[off]])
        if len(pix) == 0:
            return None
        if p.timestamps == "v2e":
            tau = torch.full((len(pix),), s_cur, dtype=torch.float64, device=self.device)
        else:  # the uniform u, rescaled to the firing range, is itself a uniform time in the step
            f_on = (uc[on] - (1.0 - q_on[on])) / q_on[on]
            f_off = 1.0 - uc[off] / q_off[off]
            tau = torch.cat([f_on, f_off]).clamp_(0.0, 1.0) * dt + s_prev
        is_on = torch.zeros(len(pix), dtype=torch.bool, device=self.device)
        is_on[: int(on.sum())] = True
        code = pack(pix, is_on, self.width)
        B.scatter_(0, pix, p_new_at(pix))  # noisy pixels forget their memorised level
        return timing.emit(tau, lo, hi), code, pix


def emulate(frames: Any, timestamps_us: Any, settings: EmulatorSettings | None = None, *, preset: str = "clean",
            seed: int = 0, device: Any = None, clip_id: str = "", colour_order: str = "rgb",
            intensity_max: float | None = None, chunk_frames: int = 32, source: str | None = None,
            **params: Any) -> Events:
    """DVS events of a frame clip.

    Args:
        frames: (N, H, W) grey or (N, H, W, 3) colour, converted to luma on v2e's 0-255 scale: uint8
            as is, uint16 scaled by 255/65535, floats with maximum <= 1 scaled by 255 (larger ones
            taken as 0-255); see :func:`evfer.emulator.frames.to_luma`.
        timestamps_us: (N,) strictly increasing frame times, int64 µs.
        settings: resolved :class:`EmulatorSettings` (parameters, preset, seed, device); without it,
            ``preset``, ``seed``, ``device`` and ``**params`` (:class:`EmulatorParams` names; unknown
            names are a ConfigError) are resolved here.
        colour_order: "rgb" (default: numpy/PIL/torchvision arrays) or "bgr" (arrays from OpenCV).
        intensity_max: the value of full white, to state the scale explicitly (frames are then
            multiplied by 255 / intensity_max).
        clip_id: with the seed, the clip's random stream; same (seed, clip_id) -> identical events.
        chunk_frames: frames converted per chunk (bounds the working memory).
        source: name used in error messages.

    Returns:
        time-sorted :class:`Events` in (t_0, t_{N-1}] on a W x H sensor; ``meta["emulator"]`` holds
        the resolved parameters, seed and clip id. Runs on ``device`` (default CPU, one thread).
    """

    if settings is None:
        settings = EmulatorSettings.resolve(preset, params, seed, device)
    elif params:
        raise TypeError("pass parameter overrides either in settings or as keywords, not both")
    luma = to_luma(frames, colour_order=colour_order, intensity_max=intensity_max, source=source)
    check_clip(luma, source)
    t = check_timestamps(timestamps_us, len(luma), source)
    emu = Emulator(luma.shape[1], luma.shape[2], settings.params, preset=settings.preset, seed=settings.seed,
                   clip_id=clip_id, device=settings.device)
    chunk = max(2, int(chunk_frames))
    parts = []
    for i in range(0, len(luma), chunk):
        parts += emu.feed_arrays(luma[i : i + chunk], t[i : i + chunk])
    return emu.assemble(parts)


@functools.lru_cache(maxsize=8)
def bound_tables(linlog_threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 bounds per cell [y_i, y_i+1) of a fine grid of log levels y = B + th_on (B - th_off), on
    the CPU (a pure function of the lin-log threshold, memoised).

    A pixel fires ON at level v iff ``float32(L[v] - B) >= th_on``, which implies
    ``L[v] >= y - 2.4e-7`` (float32 rounding of a difference below 8): so ``v`` is at least the
    first level reaching ``y_i - BOUND_MARGIN`` and ``hi_m1`` is one below it. Likewise OFF:
    ``lo_p1`` is one above the last level not above ``y_i+1 + BOUND_MARGIN``.
    """
    lut = lin_log(torch.arange(256, dtype=torch.float64), linlog_threshold).to(torch.float32).to(torch.float64)
    n = int((BOUND_GRID_MAX - BOUND_GRID_MIN) * BOUND_GRID_STEPS)
    y = BOUND_GRID_MIN + torch.arange(n + 2, dtype=torch.float64) / BOUND_GRID_STEPS
    first_on = torch.searchsorted(lut, y[:-1] - BOUND_MARGIN)
    last_off = torch.searchsorted(lut, y[1:] + BOUND_MARGIN, right=True) - 1
    return (first_on - 1).clamp(0, 255).to(torch.uint8), (last_off + 1).clamp(0, 255).to(torch.uint8)
