"""Normalisation of a clip's planes (T, C, H, W), in one place: ``rms``, ``e2vid`` or ``none``.

- ``rms``: divide the whole clip by the RMS of its non-zero values; polarity signs, empty pixels and
  the relative activity of the windows are kept (all-zero input stays zero).
- ``e2vid`` (Rebecq et al.): per window, non-zero values -> (v - mean) / std over that window's
  non-zero values (zeros stay zero; std 0 gives 0). The mean shift flips the sign of weak voxels.
- ``none``: raw values (bilinear event counts).
"""

from __future__ import annotations

import numpy as np

from . import _kernel

METHODS = ("rms", "e2vid", "none")


def normalize_clip(planes: np.ndarray, method: str) -> np.ndarray:
    """Normalise float32 (T, C, H, W) ``planes`` in place by ``method`` (see the module docstring)."""
    if method == "rms":
        return rms_normalize(planes)
    if method == "e2vid":
        for window in planes:
            normalize_voxels(window)
        return planes
    if method == "none":
        return planes
    raise ValueError(f"normalize must be one of {METHODS}, got {method!r}")


def rms_normalize(planes: np.ndarray) -> np.ndarray:
    """Divide by the RMS of the non-zero values (in place; all-zero input stays zero)."""
    nz = planes[planes != 0]
    if nz.size:
        planes /= np.sqrt(np.mean(np.square(nz, dtype=np.float64)))
    return planes


def normalize_voxels(grid: np.ndarray) -> np.ndarray:
    """E2VID normalisation of one grid, in place: non-zero voxels -> (v - mean) / std with the mean and
    (population) std of the non-zero voxels; zeros stay zero. If all non-zero voxels are equal
    (std 0) they become 0 instead of inf/NaN. Returns ``grid`` (float32, C-contiguous)."""
    if grid.dtype != np.float32 or not grid.flags.c_contiguous:
        raise ValueError("normalize_voxels needs a C-contiguous float32 array")
    _kernel.normalize_inplace(grid.reshape(-1))
    return grid
