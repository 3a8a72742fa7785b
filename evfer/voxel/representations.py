"""Event representations behind one small interface (as in RVT): the dataset stage and the model
only see ``channels``, ``params()``/``name`` and the two calls below.

``name`` is a folder-safe description of every parameter (e.g. ``voxel-b10-norm``); caches of
prepared tensors are keyed by it, so two representations with equal names must give equal output.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..events import Events
from .grids import RESIZE_MODES, clip_histograms, clip_voxels


class Representation(ABC):
    """Events -> float32 (C, H, W) per window."""

    kind: str = ""

    @property
    @abstractmethod
    def channels(self) -> int:
        """C, the number of planes per window."""

    @abstractmethod
    def params(self) -> dict[str, Any]:
        """Every parameter that changes the output, with ``kind`` (JSON-serialisable)."""

    @property
    @abstractmethod
    def name(self) -> str:
        """Folder-safe description of every parameter in :meth:`params`, e.g. ``voxel-b10-norm``."""

    def __call__(self, events: Events, t_start: int | None = None, t_end: int | None = None) -> np.ndarray:
        """One window [t_start, t_end] µs (defaults: the events' span): float32 (C, H, W)."""
        return self.clip(events, 1, t_start=t_start, t_end=t_end)[0]

    @abstractmethod
    def clip(
        self,
        events: Events,
        windows: int,
        *,
        crop: Sequence[int] | None = None,
        size: Sequence[int] | None = None,
        t_start: int | None = None,
        t_end: int | None = None,
    ) -> np.ndarray:
        """``windows`` equal-duration windows of [t_start, t_end] µs: float32 (T, C, H', W')
        (crop (x, y, w, h) and size (W', H') in pixels, see :func:`evfer.voxel.clip_voxels`)."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items() if k != "kind")
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Representation) and self.params() == other.params()

    def __hash__(self) -> int:
        return hash(self.name)


class VoxelGrid(Representation):
    """Voxel grid with ``bins`` time bins (the default representation)."""

    kind = "voxel"

    def __init__(self, bins: int = 10, normalize: bool = True, resize: str = "events"):
        if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
            raise ConfigError(f"voxel bins must be an integer >= 1, got {bins!r}")
        self.bins = bins
        self.normalize = bool(normalize)
        self.resize = _check_resize(resize)

    @property
    def name(self) -> str:
        """``voxel-b<bins>[-norm][-area]``."""
        return f"voxel-b{self.bins}" + ("-norm" if self.normalize else "") + _resize_suffix(self.resize)

    @property
    def channels(self) -> int:
        return self.bins

    def params(self) -> dict[str, Any]:
        return {"kind": self.kind, "bins": self.bins, "normalize": self.normalize, "resize": self.resize}

    def clip(self, events, windows, *, crop=None, size=None, t_start=None, t_end=None):
        return clip_voxels(events, self.bins, windows, crop=crop, size=size, t_start=t_start,
                           t_end=t_end, normalize=self.normalize, resize=self.resize)


class EventHistogram(Representation):
    """Two channels: ON and OFF event counts per pixel (rendering, ablations)."""

    kind = "histogram"

    def __init__(self, resize: str = "events"):
        self.resize = _check_resize(resize)

    @property
    def name(self) -> str:
        """``histogram[-area]``."""
        return "histogram" + _resize_suffix(self.resize)

    @property
    def channels(self) -> int:
        return 2

    def params(self) -> dict[str, Any]:
        return {"kind": self.kind, "resize": self.resize}

    def clip(self, events, windows, *, crop=None, size=None, t_start=None, t_end=None):
        return clip_histograms(events, windows, crop=crop, size=size, t_start=t_start, t_end=t_end,
                               resize=self.resize)


REPRESENTATIONS: dict[str, type[Representation]] = {"voxel": VoxelGrid, "histogram": EventHistogram}



def _check_resize(resize: str) -> str:
    if resize not in RESIZE_MODES:
        raise ConfigError(f"resize must be one of {list(RESIZE_MODES)}, got {resize!r}")
    return resize


def _resize_suffix(resize: str) -> str:
    return "" if resize == "events" else f"-{resize}"


def make_representation(kind: str = "voxel", **params: Any) -> Representation:
    """Representation by kind name ("voxel", "histogram") and its parameters (ConfigError if unknown)."""
    cls = REPRESENTATIONS.get(kind)
    if cls is None:
        raise ConfigError(f"unknown representation {kind!r}; choose one of {sorted(REPRESENTATIONS)}")
    try:
        return cls(**params)
    except TypeError as exc:
        raise ConfigError(f"representation {kind!r}: {exc}") from None
