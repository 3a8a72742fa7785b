"""Event times inside one time step, the closed-form refractory period, and time ordering.

Times are float64 microseconds until they are rounded to int64 µs. A step runs from ``s_prev`` to
``s_cur`` (``dt = s_cur - s_prev``); a firing pixel's candidate events in a step are its levels
``j = 1..n``, placed on an arithmetic progression

    tau_j = tau_1 + (j - 1) * h,    tau_1 = (th - d0) * rate + s_prev,    h = th * rate   (float64)

- ``interpolate`` (default): the pixel's drive ``d`` (log intensity minus memorised base, sign
  folded so events are positive) moves linearly from ``d0`` at ``s_prev`` to ``d1`` at ``s_cur``;
  level ``j`` is crossed where ``d = j * th``: ``rate = dt / (d1 - d0)`` (0 if ``d1 <= d0``, which
  happens only when every level was already crossed at ``s_prev``). Levels already crossed at
  ``s_prev`` (contrast held back by the refractory period) fall at or before ``s_prev``.
- ``v2e``: v2e's slices: ``th = dt / N`` (N = largest count of any pixel in the step), ``d0 = 0``,
  ``rate = 1``, i.e. ``tau_j = s_prev + j * dt / N``.

An event's time is ``tau_j`` clipped to [s_prev, s_cur]; it is emitted rounded up (``ceil``) and
clipped to the step's integer range [floor(s_prev) + 1, ceil(s_cur)] (:func:`step_bounds`), so the
events of a step lie in (s_prev, ceil(s_cur)] and N frames give events only in (t_0, t_{N-1}].

Refractory period ``r`` (µs): a candidate survives only if its (clipped, unrounded) time is more
than ``r`` after the pixel's previous survivor; candidates are taken in order (greedy, like v2e's
slice loop). The ``c`` candidates at ``s_prev`` yield at most one survivor; the rest form the
progression ``a + m*h``, whose survivors are ``m = i0, i0 + stride, ...`` with ``i0`` the first one
clear of the previous survivor and ``stride = floor(r/h) + 1``. :func:`refractory` computes this
for all firing pixels at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def level_coefficients(th: torch.Tensor, d0: torch.Tensor, d1: torch.Tensor, s_prev: float,
                       dt: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Interpolate mode: ``(tau_1, h)`` (float64) of pixels with threshold ``th`` and drive ``d0 -> d1``."""
    den = d1 - d0
    pos = den > 0
    # a true division (``float / tensor`` in torch multiplies by the reciprocal, rounding differently)
    rate = torch.where(pos, torch.div(torch.full_like(den, dt), torch.where(pos, den, 1.0)), 0.0)
    return (th - d0) * rate + s_prev, th * rate


def level_times(j: torch.Tensor, tau1: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """Unclipped time (float64 µs) of level ``j`` (float64): ``tau_1 + (j - 1) * h``."""
    return (j - 1) * h + tau1


def emit(tau: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
    """Round float64 µs times up to whole µs inside the step's integer range [lo, hi] (int64)."""
    return torch.ceil(tau).clamp_(lo, hi).to(torch.int64)


def step_bounds(s_prev: float, s_cur: float) -> tuple[int, int]:
    """Integer µs range [lo, hi] of the events of a step (s_prev, s_cur]: lo > s_prev, hi = ceil(s_cur)."""
    return int(np.floor(s_prev)) + 1, int(np.ceil(s_cur))


@dataclass
class Survivors:
    """Refractory result per firing pixel (1-D tensors).

    Attributes:
        first_at_start: one of the levels due at ``s_prev`` survives (it is the pixel's first event).
        c: number of levels due at or before ``s_prev`` (int64).
        i0: index (0-based, within the progression ``j = c+1..n``) of the first surviving event.
        stride: index step between surviving progression events (int64, >= 1).
        count: total surviving events (int64).
        last: time (float64 µs) of the pixel's last survivor (its old value if none).
    """

    first_at_start: torch.Tensor
    c: torch.Tensor
    i0: torch.Tensor
    stride: torch.Tensor
    count: torch.Tensor
    last: torch.Tensor

    def levels(self, owner: torch.Tensor, rank: torch.Tensor) -> torch.Tensor:
        """Level ``j`` (int64) of each survivor, given its pixel (``owner``) and rank in the pixel."""
        def at(x):
            return torch.index_select(x, 0, owner)

        first = at(self.first_at_start)
        j = at(self.c) + 1 + at(self.i0) + (rank - first.to(torch.int64)) * at(self.stride)
        return torch.where(first & (rank == 0), torch.ones_like(j), j)


def refractory(n: torch.Tensor, last: torch.Tensor, r: float, s_prev: float, s_cur: float,
               tau1: torch.Tensor, h: torch.Tensor) -> Survivors:
    """Closed-form greedy refractory filter of the candidates ``j = 1..n`` of each firing pixel.

    ``tau1, h`` (float64) define the level times (module docstring); ``last`` holds each pixel's
    previous survivor time (float64 µs), ``r`` the refractory period (µs, > 0).
    """
    nf = n.to(torch.float64)
    pos_h = h > 0
    safe_h = torch.where(pos_h, h, 1.0)

    def due_at_start(j):  # level j's time is at or before s_prev (same expression as the times)
        return (level_times(j, tau1, h) <= s_prev) & (j >= 1) & (j <= nf)

    c = torch.where(pos_h, torch.floor((s_prev - tau1) / safe_h) + 1, torch.where(tau1 <= s_prev, nf, 0.0))
    c = torch.nan_to_num(c, nan=0.0).clamp_(min=0).minimum(nf)
    c = c + due_at_start(c + 1).to(torch.float64)  # exact count: the estimate is at most one off
    c = c - ((c > 0) & ~due_at_start(c)).to(torch.float64)
    a = level_times(c + 1, tau1, h).clamp_(s_prev, s_cur)  # first progression event
    first = (c > 0) & (s_prev - last > r)
    last1 = torch.where(first, s_prev, last)
    nb = nf - c
    gap = last1 + r - a
    i0 = torch.where(gap < 0, 0.0, torch.where(pos_h, torch.floor(gap / safe_h) + 1, nb))
    i0 = torch.nan_to_num(i0, nan=0.0).minimum(nb)
    stride = torch.where(pos_h, torch.floor(r / safe_h) + 1, nb + 1).minimum(nb + 1).clamp_(min=1)
    count_b = torch.where(nb > i0, torch.floor((nb - i0 - 1) / stride) + 1, 0.0)
    c_i, i0_i, stride_i, count_b_i = (v.to(torch.int64) for v in (c, i0, stride, count_b))
    j_last = (c_i + 1 + i0_i + (count_b_i - 1).clamp(min=0) * stride_i).to(torch.float64)
    t_last = level_times(j_last, tau1, h).clamp_(s_prev, s_cur)
    new_last = torch.where(count_b_i > 0, t_last, last1)
    return Survivors(first, c_i, i0_i, stride_i, count_b_i + first.to(torch.int64), new_last)


def time_order(t_rel: np.ndarray, span: int) -> np.ndarray:
    """Stable argsort of non-negative int64 times ``t_rel`` < ``span`` (LSD radix on 16-bit digits)."""
    if span <= 1 << 16:
        return np.argsort(t_rel.astype(np.uint16), kind="stable")
    if span <= 1 << 32:
        o1 = np.argsort((t_rel & 0xFFFF).astype(np.uint16), kind="stable")
        o2 = np.argsort((t_rel[o1] >> 16).astype(np.uint16), kind="stable")
        return o1[o2]
    return np.argsort(t_rel, kind="stable")
