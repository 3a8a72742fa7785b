"""Training and validation data from a prepared dataset's voxel cache.

Only the ``train`` and ``val`` splits are ever loaded here: the test split is reserved for
``evfer evaluate`` and never influences model selection. Training clips are drawn ``repeats`` times
per epoch (the manifest's balancing).
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader

from ..config import Config
from ..datasets.manifest import ClipRecord
from ..datasets.voxel_cache import VoxelCache, VoxelClipDataset, expand_repeats
from .augment import ClipAugment


class VoxelDataModule(L.LightningDataModule):
    def __init__(self, cfg: Config, voxel_dir: str | Path, records: list[ClipRecord], classes: list[str]):
        super().__init__()
        self.cfg = cfg
        self.cache = VoxelCache(voxel_dir)
        self.records = records
        self.classes = classes

    def split(self, name: str) -> list[ClipRecord]:
        return [r for r in self.records if r.split == name]

    def _loader(self, ds, shuffle: bool) -> DataLoader:
        t = self.cfg.train
        return DataLoader(
            ds,
            batch_size=t.batch_size,
            shuffle=shuffle,
            num_workers=t.num_workers,
            persistent_workers=t.num_workers > 0,
            pin_memory=torch.cuda.is_available(),
            drop_last=False,
        )

    def train_dataloader(self) -> DataLoader:
        aug = self.cfg.train.augment
        ds = VoxelClipDataset(self.cache, expand_repeats(self.split("train")), self.classes, ClipAugment(aug))
        return self._loader(ds, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(VoxelClipDataset(self.cache, self.split("val"), self.classes), shuffle=False)
