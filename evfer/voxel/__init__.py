"""Event representations: voxel grids (Zhu et al. 2019 / E2VID), ON/OFF histograms and 3-channel
event images for ImageNet stems.

Fast numba kernels (one pass over time-sorted events, in ``get_threads()`` threads, fork-safe;
``set_threads(1)`` in worker processes that are already parallel); see :mod:`evfer.voxel.grids` for
the exact definitions (windows, crop, resize), :mod:`evfer.voxel.normalize` for the normalisations
and :mod:`evfer.voxel.representations` for the classes the dataset stage, ``voxelize`` and the
model use.
"""

from __future__ import annotations

from ._kernel import get_threads, set_threads
from .grids import (
    RESIZE_MODES,
    clip_histograms,
    clip_voxels,
    event_histogram,
    resolve_window,
    voxel_grid,
    window_starts,
)
from .normalize import METHODS, normalize_clip, normalize_voxels, rms_normalize
from .representations import (
    REPRESENTATIONS,
    EventHistogram,
    EventImage,
    Representation,
    VoxelGrid,
    make_representation,
    representation_for,
)

__all__ = [
    "METHODS",
    "REPRESENTATIONS",
    "RESIZE_MODES",
    "EventHistogram",
    "EventImage",
    "Representation",
    "VoxelGrid",
    "clip_histograms",
    "clip_voxels",
    "event_histogram",
    "get_threads",
    "make_representation",
    "normalize_clip",
    "normalize_voxels",
    "representation_for",
    "resolve_window",
    "rms_normalize",
    "set_threads",
    "voxel_grid",
    "window_starts",
]
