"""The voxel cache: every clip's (T, bins, H, W) voxel grids in one float16 memory-mapped array.

Folder ``<data.out>/voxels/<name>/``, the name spelling out the parameters
(``bins10_T6_112x112_norm``), so a change of parameters builds a new cache beside the old one and
going back reuses it. Inside::

    voxels.npy    float16 (N, T, bins, H, W), np.load(..., mmap_mode="r")
    ids.txt       the N clip ids, row order
    params.json   the parameters, the representation's definition and each clip's events key

The folder is built under a temporary name and renamed when complete, so an existing folder is
always whole. It is reused when its clips and their events keys (the fingerprint of the settings
that made each events file) are unchanged; otherwise it is rebuilt, copying the rows of clips whose
events did not change.
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
    return f"bins{vox.bins}_T{vox.windows}_{w}x{h}_{vox.normalize}_{vox.resize}"


def rms_normalize(grids: np.ndarray) -> np.ndarray:
    """Divide by the RMS of the non-zero voxels (in place; all-zero input stays zero)."""
    nz = grids[grids != 0]
    if nz.size:
        grids /= np.sqrt(np.mean(np.square(nz, dtype=np.float64)))
    return grids


def clip_grids(events, vox: VoxelConfig) -> np.ndarray:
    """(T, bins, H, W) float32 voxel grids of one clip over its span (meta ``span_us`` if present)."""
    from ..voxel import clip_voxels

    span = events.meta.get("span_us")
    t0, t1 = (int(span[0]), int(span[1])) if span else (None, None)
    grids = clip_voxels(events, vox.bins, vox.windows, size=(int(vox.size[0]), int(vox.size[1])),
                        t_start=t0, t_end=t1, normalize=vox.normalize == "e2vid", resize=vox.resize)
    return rms_normalize(grids) if vox.normalize == "rms" else grids


def build_voxel_cache(out: Path, records: list[ClipRecord], vox: VoxelConfig, *, workers: int = 1,
                      progress: bool = True) -> Path:
    """Build (or reuse) the cache for ``records``; returns its folder."""
    from ..io import read_events

    import concurrent.futures as cf

    from ..voxel import get_threads, set_threads

    out = Path(out)
    final = out / "voxels" / cache_name(vox)
    ids = sorted(r.id for r in records)
    by_id = {r.id: r for r in records}
    keys = {cid: by_id[cid].events_key for cid in ids}
    old_ids: list[str] = []
    old_keys: dict[str, str] = {}
    if final.is_dir():
        try:
            old_ids = (final / "ids.txt").read_text().split()
            old_keys = json.loads((final / "params.json").read_text()).get("events_keys", {})
        except (OSError, ValueError):
            old_ids, old_keys = [], {}
        if old_ids == ids and old_keys == keys:
            return final
    params = {"bins": vox.bins, "windows": vox.windows, "size": list(vox.size), "normalize": vox.normalize,
              "resize": vox.resize,
              "representation": "voxel_grid (Zhu et al. 2019): bilinear in time, polarity-signed; "
                                "T equal windows over the clip span", "events_keys": keys}
    tmp = final.parent / f".tmp-{final.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    w, h = vox.size
    shape = (len(ids), vox.windows, vox.bins, h, w)
    arr = np.lib.format.open_memmap(tmp / "voxels.npy", mode="w+", dtype=np.float16, shape=shape)
    old = np.load(final / "voxels.npy", mmap_mode="r") if old_ids else None
    old_row = {cid: i for i, cid in enumerate(old_ids) if old_keys.get(cid) == keys[cid]}

    def fill(row_cid):
        row, cid = row_cid
        if old is not None and cid in old_row:
            arr[row] = old[old_row[cid]]
        else:
            grids = clip_grids(read_events(out / by_id[cid].events_path), vox)
            arr[row] = np.clip(grids, -FLOAT16_MAX, FLOAT16_MAX)

    threads = get_threads()
    try:
        set_threads(1)  # parallel over clips instead (the numba kernels release the GIL)
        with cf.ThreadPoolExecutor(max(1, workers)) as pool:
            for _ in tqdm(pool.map(fill, enumerate(ids)), total=len(ids), desc="voxels", unit="clip",
                          disable=not progress):
                pass
        arr.flush()
        arr = old = None  # release the memory maps before the rename
        (tmp / "ids.txt").write_text("\n".join(ids) + "\n")
        (tmp / "params.json").write_text(json.dumps(params, indent=2) + "\n")
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        set_threads(threads)
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
