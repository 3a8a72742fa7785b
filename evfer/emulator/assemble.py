"""From per-pixel event counts of a time step to its time-sorted events, and to :class:`Events`.

Events are carried as two flat arrays: ``t`` (int64 µs) and ``code = y << 17 | x << 1 | (1 if ON)``
(int64; see :func:`pack`), then as one :data:`EVENT_DTYPE` array per step. Order of events with
equal timestamps: signal before noise; signal events by pixel index (y, then x) and level; noise ON
before OFF, each by pixel index.
"""

from __future__ import annotations

import numpy as np
import torch

from ..events import EVENT_DTYPE
from . import timing


def pack(pix: torch.Tensor, on: torch.Tensor, width: int) -> torch.Tensor:
    """Event codes ``y << 17 | x << 1 | on`` (int64) of flat pixel indices ``pix = y * W + x``."""
    y = torch.div(pix, width, rounding_mode="floor")
    return (y << 17) | ((pix - y * width) << 1) | on.to(torch.int64)


def signal_events(
    code: torch.Tensor, tau1: torch.Tensor, h: torch.Tensor, count: torch.Tensor,
    survivors: timing.Survivors | None, lo: int, hi: int,
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Events of a step's firing pixels, pixel-major then level order: (t int64, code int64).

    ``count`` events per pixel at levels ``1..count`` (or the refractory survivors' levels).
    """
    total = int(count.sum()) if len(count) else 0
    if total == 0:
        return None
    dev = count.device
    owner = torch.repeat_interleave(torch.arange(len(count), device=dev), count, output_size=total)
    rank = torch.arange(total, device=dev) - torch.index_select(torch.cumsum(count, 0) - count, 0, owner)
    j_minus_1 = rank if survivors is None else survivors.levels(owner, rank) - 1
    # (1-D gathers: index_select on 2-D tensors is several times slower per element)
    tau = j_minus_1.to(torch.float64) * torch.index_select(h, 0, owner) + torch.index_select(tau1, 0, owner)
    return timing.emit(tau, lo, hi), torch.index_select(code, 0, owner)


def order_step(parts: list[tuple[torch.Tensor, torch.Tensor]], lo: int, hi: int) -> np.ndarray:
    """A step's events (parts: signal, then noise) as an :data:`EVENT_DTYPE` array stably sorted by
    time."""
    if len(parts) == 1:
        t, code = parts[0]
    else:
        t, code = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
    if t.device.type != "cpu":
        order = torch.sort(t, stable=True).indices
        t, code = t[order].cpu().numpy(), code[order].cpu().numpy()
    else:
        t, code = t.numpy(), code.numpy()
        order = timing.time_order(t - lo, hi - lo + 1)
        t, code = t[order], code[order]
    out = np.empty(len(t), EVENT_DTYPE)
    out["t"] = t
    out["x"] = (code >> 1) & 0xFFFF
    out["y"] = code >> 17
    out["p"] = (code & 1) * 2 - 1
    return out


def to_event_array(parts: list[np.ndarray]) -> np.ndarray:
    """One :data:`EVENT_DTYPE` array from consecutive sorted parts."""
    if not parts:
        return np.empty(0, EVENT_DTYPE)
    if len(parts) == 1:
        return parts[0]
    # concatenating the packed structured dtype field by field is ~4x slower than copying bytes
    return np.concatenate([p.view(np.uint8) for p in parts]).view(EVENT_DTYPE)
