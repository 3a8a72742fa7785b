"""Event representations: voxel grids (Zhu et al. 2019 / E2VID) and ON/OFF histograms.

Fast numba kernels (one pass over time-sorted events, in ``get_threads()`` threads, fork-safe;
``set_threads(1)`` in worker processes that are already parallel); see :mod:`evfer.voxel.grids` for
the exact definitions (windows, crop, resize) and :mod:`evfer.voxel.representations` for the
interface the dataset stage and the model use.
"""

from __future__ import annotations

from ._kernel import get_threads, set_threads
from .grids import (
    RESIZE_MODES,
    clip_histograms,
    clip_voxels,
    event_histogram,
    normalize_voxels,
    resolve_window,
    voxel_grid,
    window_starts,
)
from .representations import (
    REPRESENTATIONS,
    EventHistogram,
    Representation,
    VoxelGrid,
    make_representation,
)

__all__ = [
    "REPRESENTATIONS",
    "RESIZE_MODES",
    "EventHistogram",
    "Representation",
    "VoxelGrid",
    "clip_histograms",
    "clip_voxels",
    "event_histogram",
    "get_threads",
    "make_representation",
    "normalize_voxels",
    "resolve_window",
    "set_threads",
    "voxel_grid",
    "window_starts",
]
