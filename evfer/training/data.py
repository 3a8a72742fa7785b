"""A run's data: prepared once, then training and validation batches from the voxel cache.

:class:`VoxelDataModule` follows Lightning's protocol: :meth:`~VoxelDataModule.prepare_data` runs in
one process (global rank 0; Lightning makes every other process wait for it) and prepares the
dataset (:func:`evfer.datasets.prepare.prepare`, cached) into the run directory — its manifest and
the voxel cache's folder; :meth:`~VoxelDataModule.setup` runs in every process and reads them.

Only the ``train`` and ``val`` splits are ever loaded here: the test split is reserved for
``evfer evaluate`` and never influences model selection. Training clips are drawn ``repeats`` times
per epoch (the manifest's balancing).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from ..atomic import write_json_atomic
from ..config import Config, save_config
from ..datasets.balance import class_weights
from ..datasets.manifest import ClipRecord, read_manifest, write_manifest
from ..datasets.prepare import prepare
from ..datasets.voxel_cache import VoxelCache, VoxelClipDataset, expand_repeats
from ..errors import EvferError
from .augment import ClipAugment

PREPARED = "prepared.json"  # in the run directory: the voxel cache's folder and the classes


@dataclass(frozen=True)
class Prepared:
    """A run's prepared data: its clips (with split and balancing), the voxel cache, the class names."""

    records: list[ClipRecord]
    voxel_dir: Path
    classes: list[str]


def prepare_run(cfg: Config, run_dir: Path, progress: bool = True) -> Prepared:
    """Prepare ``cfg``'s data (cached) and write the run's ``manifest.csv``, ``prepared.json`` and
    ``config.yaml`` (a rendering for people, generated from the config the checkpoints hold)."""

    result = prepare(cfg, progress=progress)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run_dir / "config.yaml", header="the resolved config of this run, generated for reading; "
                                                     "evfer reads the copy inside its checkpoints")
    write_manifest(run_dir / "manifest.csv", result.records)
    classes = list(result.labels.classes)
    write_json_atomic(run_dir / PREPARED, {"voxel_dir": str(result.voxel_dir), "classes": classes})
    return Prepared(result.records, Path(result.voxel_dir), classes)


def read_prepared(run_dir: Path) -> Prepared:
    """What :func:`prepare_run` wrote into ``run_dir``."""
    try:
        info = json.loads((run_dir / PREPARED).read_text())
    except (OSError, ValueError):
        raise EvferError(f"{run_dir / PREPARED}: the run's data were not prepared") from None
    return Prepared(read_manifest(run_dir / "manifest.csv"), Path(info["voxel_dir"]), list(info["classes"]))


class VoxelDataModule(L.LightningDataModule):
    """The run's training and validation clips (see the module doc).

    ``prepared``: data prepared already (an ensemble's members share one preparation); then
    :meth:`prepare_data` does nothing.
    """

    def __init__(self, cfg: Config, run_dir: str | Path, *, prepared: Prepared | None = None,
                 progress: bool = True):
        super().__init__()
        self.prepare_data_per_node = False  # one process prepares for all (the run directory is shared)
        self.cfg, self.run_dir, self.progress = cfg, Path(run_dir), progress
        self.prepared = prepared
        self.cache: VoxelCache | None = None
        self.class_weights: list[float] | None = None

    def prepare_data(self) -> None:
        if self.prepared is None:
            prepare_run(self.cfg, self.run_dir, self.progress)

    def setup(self, stage: str | None = None) -> None:
        if self.prepared is None:
            self.prepared = read_prepared(self.run_dir)
        self.cache = VoxelCache(self.prepared.voxel_dir)
        if self.cfg.data.balance.method == "class_weights":
            self.class_weights = class_weights(self.records, tuple(self.classes))
        n_train, n_val = sum(r.repeats for r in self.split("train")), len(self.split("val"))
        if n_train == 0 or (n_val == 0 and self.cfg.train.select != "last"):
            raise EvferError(f"need training and validation clips (got {n_train} train draws, {n_val} val clips); "
                             "add subjects or change data.split.fractions (no validation subjects need "
                             "train.select: last)")

    def clip_stats(self) -> dict:
        """The training clips' duration (µs) and event rate (events/s): median, range, 5th and 95th
        percentiles — stored in the checkpoints for recognition over time (the default window, the
        event-rate flag)."""
        train = [r for r in self.split("train") if r.duration_us > 0]
        if not train:
            return {}
        durations = np.array([r.duration_us for r in train], float)
        rates = np.array([r.event_count / r.duration_us * 1e6 for r in train], float)

        def stats(v):
            return {"median": float(np.median(v)), "min": float(v.min()), "max": float(v.max()),
                    "p5": float(np.percentile(v, 5)), "p95": float(np.percentile(v, 95))}

        return {"clips": len(train), "duration_us": stats(durations), "event_rate": stats(rates)}

    @property
    def records(self) -> list[ClipRecord]:
        return self.prepared.records

    @property
    def classes(self) -> list[str]:
        return self.prepared.classes

    def split(self, name: str) -> list[ClipRecord]:
        return [r for r in self.records if r.split == name]

    def _loader(self, ds, shuffle: bool) -> DataLoader:
        t = self.cfg.train
        # a last batch of one clip would fail in training BatchNorms ("more than 1 value per channel")
        drop_last = shuffle and len(ds) % t.batch_size == 1 and len(ds) > 1
        return DataLoader(
            ds,
            batch_size=t.batch_size,
            shuffle=shuffle,
            num_workers=t.num_workers,
            persistent_workers=t.num_workers > 0,
            pin_memory=torch.cuda.is_available(),
            drop_last=drop_last,
        )

    def train_dataloader(self) -> DataLoader:
        aug = self.cfg.train.augment
        ds = VoxelClipDataset(self.cache, expand_repeats(self.split("train")), self.classes, ClipAugment(aug))
        return self._loader(ds, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        """The validation clips (none when the split has no validation subjects: a fixed budget)."""
        return self._loader(VoxelClipDataset(self.cache, self.split("val"), self.classes), shuffle=False)
