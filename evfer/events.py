"""The one event type that flows through evfer.

`Events` holds time-sorted DVS events as a structured NumPy array (fields ``t`` int64 µs, ``x``/``y``
uint16 pixels, ``p`` int8 in {-1, +1}) together with the sensor size and free metadata. Every reader
returns it, every later stage consumes it. Inputs are checked once, here, at construction:
polarity conventions are normalised, unsorted input is sorted (or rejected), and coordinates outside
the sensor are an error.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from typing import Any

import numpy as np

from .errors import InputError

EVENT_DTYPE = np.dtype([("t", "<i8"), ("x", "<u2"), ("y", "<u2"), ("p", "i1")])

_MAX_COORD = np.iinfo(np.uint16).max


def normalize_polarity(p: Any, source: str | None = None) -> np.ndarray:
    """Return polarity as int8 in {-1, +1}.

    Accepts bool (True = ON), {0, 1} (1 = ON) or {-1, +1}. Anything else — including a mix of all
    three values {-1, 0, 1}, which has no unambiguous reading — is an error.
    """
    p = np.asarray(p)
    if p.dtype == np.bool_:
        return np.where(p, 1, -1).astype(np.int8)
    if p.size == 0:
        return np.zeros(0, np.int8)
    if not (np.issubdtype(p.dtype, np.integer) or np.issubdtype(p.dtype, np.floating)):
        raise InputError(source, f"polarity has unsupported dtype {p.dtype}")
    values = np.unique(p)
    if np.isin(values, (-1, 1)).all():
        return p.astype(np.int8)
    if np.isin(values, (0, 1)).all():
        return np.where(p > 0, 1, -1).astype(np.int8)
    shown = ", ".join(str(v) for v in values[:6]) + (", ..." if len(values) > 6 else "")
    raise InputError(source, f"polarity values {{{shown}}} are neither bool, 0/1 nor -1/+1")


class Events:
    """Time-sorted events on a ``width`` x ``height`` sensor.

    Attributes:
        array: structured array with dtype :data:`EVENT_DTYPE`, sorted by ``t`` (µs).
        width, height: sensor size in pixels; every x < width and y < height.
        meta: free metadata (source, subject, label, emulator parameters, ...).
    """

    __slots__ = ("array", "width", "height", "meta")

    def __init__(
        self,
        array: np.ndarray,
        width: int,
        height: int,
        meta: Mapping[str, Any] | None = None,
        *,
        check: bool = True,
        source: str | None = None,
    ):
        if array.dtype != EVENT_DTYPE:
            raise InputError(source, f"event array has dtype {array.dtype}, expected {EVENT_DTYPE}")
        self.array = array
        self.width = int(width)
        self.height = int(height)
        self.meta = dict(meta or {})
        if check:
            self._check(source)

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_arrays(
        cls,
        t: Any,
        x: Any,
        y: Any,
        p: Any,
        width: int,
        height: int,
        meta: Mapping[str, Any] | None = None,
        *,
        sort: bool = True,
        source: str | None = None,
    ) -> Events:
        """Build events from separate arrays, normalising polarity to -1/+1.

        ``t`` in µs (integers, or floats holding whole µs). Unsorted ``t`` is stably sorted when
        ``sort`` is true, otherwise rejected.
        """
        t, x, y = (np.asarray(a) for a in (t, x, y))
        n = len(t)
        p = np.asarray(p)
        if not (len(x) == len(y) == len(p) == n):
            raise InputError(source, f"field lengths differ: t={n} x={len(x)} y={len(y)} p={len(p)}")
        if n and np.issubdtype(t.dtype, np.floating):
            if not np.isfinite(t).all():
                raise InputError(source, "timestamps contain NaN or inf")
            if not np.array_equal(t, np.round(t)):
                raise InputError(source, "timestamps must be whole microseconds (got fractions)")
        for name, a in (("x", x), ("y", y)):
            if n and not np.issubdtype(a.dtype, np.integer):
                if not (np.isfinite(a).all() and np.array_equal(a, np.round(a))):
                    raise InputError(source, f"{name} coordinates must be whole pixels")
            if n and (a.min() < 0 or a.max() > _MAX_COORD):
                raise InputError(source, f"{name} coordinates outside 0..{_MAX_COORD}")
        array = np.empty(n, EVENT_DTYPE)
        array["t"] = t
        array["x"] = x
        array["y"] = y
        array["p"] = normalize_polarity(p, source)
        if n > 1 and not is_sorted(array["t"]):
            if not sort:
                raise InputError(source, "timestamps are not sorted (pass sort=True to sort them)")
            array = array[np.argsort(array["t"], kind="stable")]
        return cls(array, width, height, meta, source=source)

    @classmethod
    def empty(cls, width: int, height: int, meta: Mapping[str, Any] | None = None) -> Events:
        return cls(np.empty(0, EVENT_DTYPE), width, height, meta, check=False)

    @classmethod
    def concatenate(cls, parts: list[Events]) -> Events:
        """Join event packets of one sensor that follow each other in time."""
        if not parts:
            raise ValueError("nothing to concatenate")
        w, h = parts[0].width, parts[0].height
        if any((e.width, e.height) != (w, h) for e in parts):
            raise ValueError("cannot concatenate events of different sensor sizes")
        return cls(np.concatenate([e.array for e in parts]), w, h, parts[0].meta)

    def _check(self, source: str | None) -> None:
        a = self.array
        if self.width <= 0 or self.height <= 0:
            raise InputError(source, f"invalid sensor size {self.width}x{self.height}")
        if len(a) == 0:
            return
        if len(a) > 1 and not is_sorted(a["t"]):
            raise InputError(source, "timestamps are not sorted")
        if a["x"].max() >= self.width or a["y"].max() >= self.height:
            raise InputError(
                source,
                f"event coordinates up to ({a['x'].max()}, {a['y'].max()}) lie outside the "
                f"{self.width}x{self.height} sensor",
            )
        if not np.isin(a["p"], (-1, 1)).all():
            raise InputError(source, "polarity must be -1 or +1")

    # ---------------------------------------------------------------- fields
    @property
    def t(self) -> np.ndarray:
        return self.array["t"]

    @property
    def x(self) -> np.ndarray:
        return self.array["x"]

    @property
    def y(self) -> np.ndarray:
        return self.array["y"]

    @property
    def p(self) -> np.ndarray:
        return self.array["p"]

    @property
    def sensor_size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.width, self.height

    @property
    def t_start(self) -> int | None:
        return int(self.array["t"][0]) if len(self) else None

    @property
    def t_end(self) -> int | None:
        """Timestamp of the last event (inclusive), µs."""
        return int(self.array["t"][-1]) if len(self) else None

    @property
    def duration(self) -> int:
        """Span from first to last event in µs (0 for fewer than two events)."""
        return int(self.array["t"][-1] - self.array["t"][0]) if len(self) > 1 else 0

    def __len__(self) -> int:
        return len(self.array)

    def __repr__(self) -> str:
        span = f"{self.t_start}..{self.t_end} µs" if len(self) else "empty"
        return f"Events(n={len(self)}, sensor={self.width}x{self.height}, {span})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Events):
            return NotImplemented
        return self.sensor_size == other.sensor_size and np.array_equal(self.array, other.array)

    __hash__ = None  # type: ignore[assignment]

    def __getitem__(self, index: slice | np.ndarray) -> Events:
        """Slice or boolean-mask the events (keeps order, sensor size and metadata)."""
        if isinstance(index, (int, np.integer)):
            raise TypeError("index Events with a slice or mask; use .array[i] for one event")
        return Events(self.array[index], self.width, self.height, self.meta, check=False)

    # ---------------------------------------------------------------- slicing
    def window(self, t0: int | None = None, t1: int | None = None) -> Events:
        """Events with ``t0 <= t < t1`` (µs; None = open end). A view, no copy (binary search)."""
        t = self.array["t"]
        # bisect on the strided field: O(log N) element reads (np.searchsorted would copy the column)
        i0 = 0 if t0 is None else bisect.bisect_left(t, t0)
        i1 = len(t) if t1 is None else bisect.bisect_left(t, t1)
        return self[i0 : max(i0, i1)]

    def crop(self, x0: int, y0: int, w: int, h: int) -> Events:
        """Events inside the box [x0, x0+w) x [y0, y0+h), shifted so the box's corner is (0, 0).

        The box may extend past the sensor; the new sensor size is ``w`` x ``h``.
        """
        if w <= 0 or h <= 0:
            raise ValueError(f"crop box must have positive size, got {w}x{h}")
        # bounds clipped to the uint16 coordinates, compared in their own dtype (no int64 copies)
        lo_x, hi_x = min(max(x0, 0), _MAX_COORD + 1), min(max(x0 + w, 0), _MAX_COORD + 1)
        lo_y, hi_y = min(max(y0, 0), _MAX_COORD + 1), min(max(y0 + h, 0), _MAX_COORD + 1)
        x, y = self.array["x"], self.array["y"]
        keep = (x >= lo_x) & (x < hi_x)
        keep &= (y >= lo_y) & (y < hi_y)
        out = np.compress(keep, self.array)  # a new array (2.5x faster than boolean indexing of records)
        if x0:
            out["x"] = (out["x"].astype(np.int64) - x0).astype(np.uint16) if x0 < 0 else out["x"] - np.uint16(x0)
        if y0:
            out["y"] = (out["y"].astype(np.int64) - y0).astype(np.uint16) if y0 < 0 else out["y"] - np.uint16(y0)
        return Events(out, w, h, self.meta, check=False)

    def shift_time(self, dt: int) -> Events:
        """Events with every timestamp moved by ``dt`` µs."""
        out = self.array.copy()
        out["t"] += dt
        return Events(out, self.width, self.height, self.meta, check=False)

    def with_meta(self, **meta: Any) -> Events:
        """The same events with metadata entries added or replaced."""
        return Events(self.array, self.width, self.height, {**self.meta, **meta}, check=False)

    # ---------------------------------------------------------------- conversion
    def to_torch(self, device: Any = None) -> dict[str, Any]:
        """Fields as torch tensors: t int64 (µs), x/y int32 (pixels), p int8 (±1)."""
        import torch

        return {
            "t": torch.as_tensor(np.ascontiguousarray(self.t), device=device),
            "x": torch.as_tensor(self.x.astype(np.int32), device=device),
            "y": torch.as_tensor(self.y.astype(np.int32), device=device),
            "p": torch.as_tensor(np.ascontiguousarray(self.p), device=device),
        }

    def to_tensor(self, device: Any = None) -> Any:
        """One (N, 4) int64 tensor with columns t, x, y, p."""
        import torch

        cols = np.stack([self.t, self.x.astype(np.int64), self.y.astype(np.int64), self.p.astype(np.int64)], 1)
        return torch.as_tensor(cols.reshape(-1, 4), device=device)


def is_sorted(t: np.ndarray, block: int = 1 << 22) -> bool:
    """Whether ``t`` is non-decreasing (checked in blocks, so temporaries stay small)."""
    for i in range(0, len(t) - 1, block):
        part = t[i : i + block + 1]
        if not bool(np.all(part[1:] >= part[:-1])):
            return False
    return True
