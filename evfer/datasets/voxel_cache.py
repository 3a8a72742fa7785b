"""The voxel cache: every clip's (T, bins, H, W) voxel grids in one float16 memory-mapped array.

Folder ``<data.out>/voxels/<name>/``, the name spelling out the parameters
(``bins10_T6_112x112_norm``), so a change of parameters builds a new cache beside the old one and
going back reuses it. Inside::

    voxels.npy    float16 (N, T, bins, H, W), np.load(..., mmap_mode="r")
    ids.txt       the N clip ids, row order
    params.json   the parameters (and the representation's definition)

The folder is built under a temporary name and renamed when complete, so an existing folder is
always whole. Rows of clips already in an older cache with the same parameters are copied, not
recomputed.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..config import VoxelConfig
from .manifest import ClipRecord

FLOAT16_MAX = float(np.finfo(np.float16).max)


def cache_name(vox: VoxelConfig) -> str:
    w, h = vox.size
    return f"bins{vox.bins}_T{vox.windows}_{w}x{h}_{'norm' if vox.normalize else 'raw'}"


def clip_grids(events, vox: VoxelConfig) -> np.ndarray:
    """(T, bins, H, W) float32 voxel grids of one clip over its span (meta ``span_us`` if present)."""
    from ..voxel import clip_voxels

    span = events.meta.get("span_us")
    t0, t1 = (int(span[0]), int(span[1])) if span else (None, None)
    return clip_voxels(events, vox.bins, vox.windows, size=(int(vox.size[0]), int(vox.size[1])),
                       t_start=t0, t_end=t1, normalize=vox.normalize)


def build_voxel_cache(out: Path, records: list[ClipRecord], vox: VoxelConfig, *, workers: int = 1,
                      progress: bool = True) -> Path:
    """Build (or reuse) the cache for ``records``; returns its folder."""
    from ..io import read_events

    out = Path(out)
    final = out / "voxels" / cache_name(vox)
    ids = sorted(r.id for r in records)
    old_ids: list[str] = []
    if final.is_dir():
        old_ids = (final / "ids.txt").read_text().split()
        if old_ids == ids:
            return final
    params = {"bins": vox.bins, "windows": vox.windows, "size": list(vox.size), "normalize": vox.normalize,
              "representation": "voxel_grid (Zhu et al. 2019): bilinear in time, polarity-signed; "
                                "T equal windows over the clip span; resized by event-coordinate scaling"}
    tmp = final.parent / f".tmp-{final.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    w, h = vox.size
    shape = (len(ids), vox.windows, vox.bins, h, w)
    arr = np.lib.format.open_memmap(tmp / "voxels.npy", mode="w+", dtype=np.float16, shape=shape)
    old = np.load(final / "voxels.npy", mmap_mode="r") if old_ids else None
    old_row = {cid: i for i, cid in enumerate(old_ids)}
    by_id = {r.id: r for r in records}
    try:
        for row, cid in enumerate(tqdm(ids, desc="voxels", unit="clip", disable=not progress)):
            if old is not None and cid in old_row:
                arr[row] = old[old_row[cid]]
                continue
            events = read_events(out / by_id[cid].events_path)
            grids = clip_grids(events, vox)
            arr[row] = np.clip(grids, -FLOAT16_MAX, FLOAT16_MAX)
        arr.flush()
        del arr, old
        (tmp / "ids.txt").write_text("\n".join(ids) + "\n")
        (tmp / "params.json").write_text(json.dumps(params, indent=2) + "\n")
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


class VoxelCache:
    """Read access to a cache folder: ``cache[clip_id] -> float16 array (T, bins, H, W)``."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.ids = (self.folder / "ids.txt").read_text().split()
        self.row = {cid: i for i, cid in enumerate(self.ids)}
        self.params = json.loads((self.folder / "params.json").read_text())
        self._array: np.ndarray | None = None

    @property
    def array(self) -> np.ndarray:
        if self._array is None:  # opened lazily, so each DataLoader worker gets its own map
            self._array = np.load(self.folder / "voxels.npy", mmap_mode="r")
        return self._array

    def __getitem__(self, clip_id: str) -> np.ndarray:
        return self.array[self.row[clip_id]]

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_array"] = None
        return state


def expand_repeats(records: list[ClipRecord]) -> list[ClipRecord]:
    """Each record ``repeats`` times (the training draws of one epoch after balancing)."""
    return [r for r in records for _ in range(r.repeats)]


class VoxelClipDataset:
    """Torch dataset over a voxel cache: item i -> (float32 tensor (T, bins, H, W), class index).

    ``records`` are the clips to serve (one split; pass :func:`expand_repeats` output for balanced
    training). ``transform`` (training augmentation) receives and returns a float32 tensor.
    """

    def __init__(self, cache: VoxelCache, records: list[ClipRecord], classes: tuple[str, ...] | list[str],
                 transform=None):
        missing = [r.id for r in records if r.id not in cache.row]
        if missing:
            raise KeyError(f"clips missing from the voxel cache {cache.folder}: {missing[:3]}")
        self.cache = cache
        self.records = list(records)
        self.classes = list(classes)
        self.targets = [self.classes.index(r.label) for r in self.records]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int):
        import torch

        x = torch.from_numpy(np.asarray(self.cache[self.records[i].id], dtype=np.float32))
        if self.transform is not None:
            x = self.transform(x)
        return x, self.targets[i]
