"""Event representations: voxel grids (Zhu et al. 2019 / E2VID), ON/OFF histograms and 3-channel
event images for ImageNet stems.

Fast numba kernels (one pass over time-sorted events, in as many threads as the CPUs this process
may use, or ``$EVFER_THREADS``; the job runner's worker processes use one); see :mod:`evfer.voxel.grids` for
the exact definitions (windows, crop, resize), :mod:`evfer.voxel.normalize` for the normalisations
and :mod:`evfer.voxel.representations` for the classes the dataset stage, ``voxelize`` and the
model use.
"""

from __future__ import annotations

from ._kernel import default_threads
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
    "default_threads",
    "event_histogram",
    "make_representation",
    "normalize_clip",
    "normalize_voxels",
    "representation_for",
    "resolve_window",
    "rms_normalize",
    "voxel_grid",
    "window_starts",
]
