"""The voxel cache: every clip's (T, C, H, W) planes in one float16 memory-mapped array, made by the
representation the config selects (:func:`evfer.voxel.representation_for`).

Folder ``<data.out>/voxels/<name>/``, the name spelling out the representation and its parameters
(``voxel_grid-bins10-rms-area_T6_112x112``), so a change of parameters builds a new cache beside the
old one and going back reuses it. Inside::

    voxels.npy    float16 (N, T, C, H, W), np.load(..., mmap_mode="r")
    ids.txt       the N clip ids, row order
    params.json   the representation's parameters, T, size and each clip's events key

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

from ..atomic import remove_stale_temporaries, temp_prefix
from ..config import VoxelConfig
from ..errors import EvferError
from ..jobs import run_jobs
from ..voxel import Representation, representation_for
from .clips import Clip, read_clip
from .manifest import ClipRecord

FLOAT16_MAX = float(np.finfo(np.float16).max)


def cache_name(vox: VoxelConfig) -> str:
    """The cache folder's name for the ``voxel:`` settings."""
    w, h = vox.size
    return f"{representation_for(vox).folder_name}_T{vox.windows}_{w}x{h}"


def clip_planes(clip: Clip, vox: VoxelConfig, representation: Representation | None = None) -> np.ndarray:
    """(T, C, H, W) float32 planes of one clip over its span, as the cache stores them (before the
    float16 cast)."""
    rep = representation or representation_for(vox)
    return rep.clip(clip.events, vox.windows, size=(int(vox.size[0]), int(vox.size[1])),
                    t_start=clip.span_us[0], t_end=clip.span_us[1])


def as_cached(planes: np.ndarray) -> np.ndarray:
    """``planes`` as the cache stores them: float16, clipped to its range. ``evfer predict`` feeds the
    model these same numbers (as float32), so a clip predicted on the fly gets exactly the
    probabilities evaluation gave its cache row."""
    return np.clip(planes, -FLOAT16_MAX, FLOAT16_MAX).astype(np.float16)


def build_voxel_cache(out: Path, records: list[ClipRecord], vox: VoxelConfig, *, workers: int = 1,
                      progress: bool = True) -> Path:
    """Build (or reuse) the cache for ``records``; returns its folder. The clips' planes are made by
    the job runner (``workers`` processes; one: here, with the kernels' threads)."""
    from functools import partial


    rep = representation_for(vox)
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
    params = {**rep.params(), "windows": vox.windows, "size": list(vox.size), "channels": rep.channels,
              "events_keys": keys}
    remove_stale_temporaries(final.parent)  # the half-built caches of killed runs
    tmp = final.parent / f"{temp_prefix(final.name)}build"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    w, h = vox.size
    shape = (len(ids), vox.windows, rep.channels, h, w)
    arr = np.lib.format.open_memmap(tmp / "voxels.npy", mode="w+", dtype=np.float16, shape=shape)
    old = np.load(final / "voxels.npy", mmap_mode="r") if old_ids else None
    # clips that left the dataset are dropped; the planes of unchanged clips are reused
    old_row = {cid: i for i, cid in enumerate(old_ids) if cid in keys and old_keys.get(cid) == keys[cid]}

    row_of = {cid: row for row, cid in enumerate(ids)}
    todo = []
    for row, cid in enumerate(ids):
        if old is not None and cid in old_row:
            arr[row] = old[old_row[cid]]
        else:
            todo.append(cid)
    try:
        work = partial(cached_planes, vox=vox)
        paths = {cid: str(out / by_id[cid].events_path) for cid in todo}
        for result in run_jobs(work, [(cid, paths[cid]) for cid in todo], workers=workers, desc="voxels", unit="clip",
                               progress=progress, label=lambda item: item[1]):
            if not result.ok:
                raise EvferError(result.error)
            arr[row_of[result.item[0]]] = result.value
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
    return final


def cached_planes(item: tuple[str, str], *, vox: VoxelConfig) -> np.ndarray:
    """Job: the cached (float16) planes of one clip, from its events file (``item`` = (id, path))."""
    return as_cached(clip_planes(read_clip(item[1]), vox))


class VoxelCache:
    """Read access to a cache folder: ``cache[clip_id] -> float16 array (T, C, H, W)``."""

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
    """Torch dataset over a voxel cache: item i -> (float32 tensor (T, C, H, W), class index).

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
