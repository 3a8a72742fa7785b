"""Facial controls of each expression at its peak, and their value at any time of a sequence.

A control is a number (or a [left, right] pair, left = viewer's left = face x < 0) added to the
identity's neutral face. Each belongs to a region ("brows", "eyes", "mouth", "head") whose
:class:`~.params.Timing` ramps it from 0 (first frame) to its peak (last frame).
"""

from __future__ import annotations

import numpy as np

from .params import SequenceParams

#: control -> (region, per-side?)
CONTROLS = {
    "brow_in_dy": ("brows", True),  # inner brow end, face units, > 0 down
    "brow_out_dy": ("brows", True),  # outer brow end
    "brow_in_dx": ("brows", True),  # inner end towards the nose
    "brow_arch": ("brows", False),
    "glabella": ("brows", False),  # vertical frown lines between the brows, 0..1
    "forehead": ("brows", False),  # horizontal forehead wrinkles, 0..1
    "lid_up": ("eyes", True),  # relative change of the upper eye opening
    "lid_dn": ("eyes", True),  # relative change of the lower eye opening
    "corner_dy": ("mouth", True),  # mouth corner, face units, > 0 down
    "mouth_width": ("mouth", True),  # relative change of the half-width on each side
    "mouth_open": ("mouth", False),  # lip gap at the centre, face units
    "lip_thick": ("mouth", False),  # relative change of lip thickness
    "teeth": ("mouth", False),  # 0..1
    "pout": ("mouth", False),  # lower lip pushed up, face units
    "jaw": ("mouth", False),  # jaw drop 0..1 (chin and mouth move down)
    "cheek": ("mouth", True),  # cheek raise 0..1
    "fold": ("mouth", True),  # nasolabial fold depth 0..1
    "roll": ("head", False),  # head roll, degrees
    "head_scale": ("head", False),  # relative size change (< 0: head moves back)
}


def peak_controls(expression: str, side: int) -> dict[str, np.ndarray]:
    """Peak control deltas of ``expression`` at full intensity; ``side`` (+1/-1) for asymmetric ones."""
    both = lambda a: np.array([a, a], np.float64)  # noqa: E731
    s, o = (1, 0) if side > 0 else (0, 1)  # index of the favoured side, of the other side

    def one(value: float, index: int) -> np.ndarray:
        out = np.zeros(2)
        out[index] = value
        return out

    if expression == "happy":
        return {"corner_dy": both(-0.11), "mouth_width": both(0.15), "mouth_open": np.float64(0.07),
                "teeth": np.float64(1.0), "cheek": both(1.0), "fold": both(1.0), "lid_dn": both(-0.5),
                "lid_up": both(-0.15), "brow_out_dy": both(0.015)}
    if expression == "sad":
        return {"brow_in_dy": both(-0.14), "brow_out_dy": both(0.04), "brow_in_dx": both(0.02),
                "lid_up": both(-0.35), "corner_dy": both(0.1), "mouth_width": both(-0.06),
                "pout": np.float64(0.03), "lip_thick": np.float64(0.15)}
    if expression == "angry":
        return {"brow_in_dy": both(0.11), "brow_out_dy": both(0.03), "brow_in_dx": both(0.07),
                "glabella": np.float64(1.0), "lid_up": both(-0.4), "lid_dn": both(-0.25),
                "lip_thick": np.float64(-0.6), "mouth_width": both(-0.1), "corner_dy": both(0.01)}
    if expression == "confused":
        return {"brow_in_dy": one(-0.09, s) + one(0.06, o), "brow_out_dy": one(-0.12, s),
                "brow_in_dx": one(0.04, o), "lid_up": one(-0.35, o), "corner_dy": one(-0.1, s),
                "mouth_width": one(0.2, s), "fold": one(0.7, s), "roll": np.float64(5.0 * side)}
    if expression == "shocked":
        return {"brow_in_dy": both(-0.13), "brow_out_dy": both(-0.11), "brow_arch": np.float64(0.03),
                "forehead": np.float64(1.0), "lid_up": both(0.65), "lid_dn": both(0.3),
                "mouth_open": np.float64(0.27), "mouth_width": both(-0.2), "lip_thick": np.float64(-0.2),
                "jaw": np.float64(1.0), "head_scale": np.float64(-0.02)}
    if expression == "neutral":
        return {}
    raise ValueError(f"unknown expression {expression!r}")


def controls_at(seq: SequenceParams, tau: float) -> dict[str, np.ndarray]:
    """All controls at normalised time ``tau`` (0 = first frame, 1 = last frame)."""
    peak = peak_controls(seq.expression, seq.side)
    out = {}
    for name, (region, per_side) in CONTROLS.items():
        zero = np.zeros(2) if per_side else np.float64(0.0)
        if name in peak:
            out[name] = peak[name] * (seq.intensity * float(seq.timing[region].weight(tau)))
        else:
            out[name] = zero
    return out
