"""Event representations behind one interface (as in RVT): what the dataset stage caches, what
``evfer voxelize`` writes and what ``predict`` feeds the model, all through the same class.

A representation turns a clip's events into float32 planes (T, C, H, W): T equal-duration windows
of the clip span, C planes per window, resized to (W, H), normalised (:mod:`evfer.voxel.normalize`).
It is chosen by the config's ``voxel.representation`` (:func:`representation_for`); its
:attr:`~Representation.folder_name` spells out every parameter, so caches of different settings
live side by side. Adding a representation is one class plus one line in :data:`REPRESENTATIONS`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..errors import ConfigError, did_you_mean
from ..events import Events
from .grids import RESIZE_MODES, clip_histograms, clip_voxels
from .normalize import METHODS, normalize_clip


@dataclass(frozen=True)
class Representation(ABC):
    """Events -> float32 (T, C, H, W) planes; ``normalize`` in rms | e2vid | none, ``resize`` in
    area | events (see :mod:`evfer.voxel.grids`). Subclasses are frozen dataclasses too: equal
    parameters, equal representations."""

    #: the ``voxel.representation`` value that selects the class
    name: ClassVar[str]

    normalize: str = "rms"
    resize: str = "area"

    def __post_init__(self):
        if self.normalize not in METHODS:
            raise ConfigError(f"voxel.normalize: {self.normalize!r} is not one of {', '.join(METHODS)}")
        if self.resize not in RESIZE_MODES:
            raise ConfigError(f"voxel.resize: {self.resize!r} is not one of {', '.join(RESIZE_MODES)}")

    @property
    @abstractmethod
    def channels(self) -> int:
        """C, the number of planes per window."""

    @abstractmethod
    def planes(self, events: Events, windows: int, crop, size, t_start, t_end) -> np.ndarray:
        """The raw (not normalised) planes (T, C, H, W), float32."""

    def options(self) -> dict[str, Any]:
        """The representation's own parameters besides normalize and resize (for :meth:`params`)."""
        return {}

    def params(self) -> dict[str, Any]:
        """Every parameter that changes the output (JSON-serialisable)."""
        return {"representation": self.name, **self.options(), "normalize": self.normalize, "resize": self.resize}

    @property
    def folder_name(self) -> str:
        """Folder-safe spelling of :meth:`params`, e.g. ``voxel_grid-bins10-rms-area``."""
        own = "".join(f"-{k}{v}" for k, v in self.options().items())
        return f"{self.name}{own}-{self.normalize}-{self.resize}"

    def clip(self, events: Events, windows: int, *, crop: Sequence[int] | None = None,
             size: Sequence[int] | None = None, t_start: int | None = None,
             t_end: int | None = None) -> np.ndarray:
        """``windows`` equal-duration windows of [t_start, t_end] µs (default: the events' span):
        float32 (T, C, H', W'); crop (x, y, w, h) and size (W', H') in pixels."""
        return normalize_clip(self.planes(events, windows, crop, size, t_start, t_end), self.normalize)

    def __call__(self, events: Events, t_start: int | None = None, t_end: int | None = None) -> np.ndarray:
        """One window [t_start, t_end] µs: float32 (C, H, W)."""
        return self.clip(events, 1, t_start=t_start, t_end=t_end)[0]



@dataclass(frozen=True)
class VoxelGrid(Representation):
    """Voxel grid with ``bins`` time bins per window (Zhu et al. 2019), bilinear in time,
    polarity-signed (the default representation)."""

    name = "voxel_grid"

    bins: int = 10

    def __post_init__(self):
        if isinstance(self.bins, bool) or not isinstance(self.bins, int) or self.bins < 1:
            raise ConfigError(f"voxel.bins: must be an integer >= 1, got {self.bins!r}")
        super().__post_init__()

    @property
    def channels(self) -> int:
        return self.bins

    def options(self) -> dict[str, Any]:
        return {"bins": self.bins}

    def planes(self, events, windows, crop, size, t_start, t_end):
        return clip_voxels(events, self.bins, windows, crop=crop, size=size, t_start=t_start, t_end=t_end,
                           resize=self.resize)


@dataclass(frozen=True)
class EventHistogram(Representation):
    """Two planes per window: ON and OFF event counts per pixel."""

    name = "histogram"

    @property
    def channels(self) -> int:
        return 2

    def planes(self, events, windows, crop, size, t_start, t_end):
        return clip_histograms(events, windows, crop=crop, size=size, t_start=t_start, t_end=t_end,
                               resize=self.resize)


@dataclass(frozen=True)
class EventImage(Representation):
    """Three planes per window for ImageNet stems (an RGB-shaped input the pretrained first
    convolution takes untouched): log(1 + ON count), log(1 + OFF count) and the signed
    log(1 + |ON - OFF|) per pixel."""

    name = "event_image"

    @property
    def channels(self) -> int:
        return 3

    def planes(self, events, windows, crop, size, t_start, t_end):
        counts = clip_histograms(events, windows, crop=crop, size=size, t_start=t_start, t_end=t_end,
                                 resize=self.resize)
        on, off = counts[:, 0], counts[:, 1]
        net = on - off
        return np.stack([np.log1p(on), np.log1p(off), np.sign(net) * np.log1p(np.abs(net))], axis=1)


REPRESENTATIONS: dict[str, type[Representation]] = {
    VoxelGrid.name: VoxelGrid,
    EventHistogram.name: EventHistogram,
    EventImage.name: EventImage,
}


def make_representation(name: str = "voxel_grid", **params: Any) -> Representation:
    """A representation by name and its parameters (ConfigError for an unknown name or parameter)."""
    cls = REPRESENTATIONS.get(name)
    if cls is None:
        raise ConfigError(f"voxel.representation: unknown representation {name!r}"
                          f"{did_you_mean(name, REPRESENTATIONS)} (valid: {', '.join(REPRESENTATIONS)})")
    try:
        return cls(**params)
    except TypeError as exc:
        raise ConfigError(f"voxel.representation {name!r}: {exc}") from None


def representation_for(vox: Any) -> Representation:
    """The representation a config's ``voxel:`` group selects (its ``representation``, ``bins``,
    ``normalize`` and ``resize``; options a representation does not have are not passed to it)."""
    import inspect

    cls = REPRESENTATIONS.get(vox.representation)
    if cls is None:
        return make_representation(vox.representation)  # raises the ConfigError
    accepted = inspect.signature(cls.__init__).parameters
    params = {k: getattr(vox, k) for k in ("bins", "normalize", "resize") if k in accepted}
    return cls(**params)
