"""NumPy ``.npz`` archives with arrays ``t`` (µs), ``x``, ``y``, ``p`` (bool, 0/1 or -1/+1).

Optional: ``width`` and ``height`` (scalars) and ``meta_json`` (a JSON string). The whole archive is
loaded at once (use the HDF5 store for large recordings). Unsorted events are sorted on reading.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..events import Events
from ._common import FileInfo, meta_from_json, meta_to_json

FIELDS = ("t", "x", "y", "p")


def _load(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise InputError(path, f"not a readable .npz archive (truncated or corrupt?): {exc}") from None
    except ValueError as exc:  # object arrays need pickle, which we refuse
        raise InputError(path, f"cannot load .npz: {exc}") from None


class NpzReader:
    def __init__(self, path: Path):
        self.path = path
        self.arrays = _load(path)
        missing = [k for k in FIELDS if k not in self.arrays]
        if missing:
            have = ", ".join(sorted(self.arrays)) or "nothing"
            raise InputError(path, f"missing array(s) {', '.join(missing)} (it has: {have})")
        size = None
        if "width" in self.arrays and "height" in self.arrays:
            size = int(self.arrays["width"]), int(self.arrays["height"])
        meta = meta_from_json(str(self.arrays["meta_json"]), path) if "meta_json" in self.arrays else {}
        self.info = FileInfo(
            format="npz",
            description="NumPy archive (.npz)",
            geometry=size,
            geometry_detail="width/height arrays" if size else "",
            meta=meta,
        )

    def packets(
        self, t_start: int | None = None, t_end: int | None = None, whole: bool = False
    ) -> Iterator[np.ndarray]:
        a = self.arrays
        for k in FIELDS:
            if a[k].ndim != 1:
                raise InputError(self.path, f"array '{k}' has shape {a[k].shape}, expected one dimension")
        # validation (whole µs, coordinates in 0..65535, polarity convention) and sorting
        ev = Events.from_arrays(a["t"], a["x"], a["y"], a["p"], 1 << 16, 1 << 16, source=self.path, sort=True)
        yield ev.array


def write_npz(tmp: Path, chunks: Iterable[Events], width: int, height: int, meta: dict[str, Any]) -> None:
    parts = [ev.array for ev in chunks]
    from ..events import EVENT_DTYPE

    a = np.concatenate(parts) if parts else np.empty(0, EVENT_DTYPE)
    extra = {"meta_json": np.array(meta_to_json(meta))} if meta else {}
    with open(tmp, "wb") as f:
        np.savez_compressed(
            f, t=a["t"], x=a["x"], y=a["y"], p=a["p"], width=np.int64(width), height=np.int64(height), **extra
        )
