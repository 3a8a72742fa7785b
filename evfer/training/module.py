"""The LightningModule: loss, optimiser and metrics around :class:`evfer.models.ResNetLSTM`.

Architecture lives in :mod:`evfer.models`; this module only trains it. Hyper-parameters saved in
every checkpoint: ``evfer_model`` (architecture), ``classes``, ``config`` (the resolved run config,
including the voxel and emulator settings that ``evfer predict`` needs).
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torchmetrics.classification import MulticlassAccuracy

from ..models import build_model


class RecognizerModule(L.LightningModule):
    def __init__(
        self,
        evfer_model: dict[str, Any],
        classes: list[str],
        config: dict[str, Any],
        lr: float = 1e-4,
        weight_decay: float = 0.0,
        scheduler: str = "none",
        max_epochs: int = 1,
        class_weights: list[float] | None = None,
        channels_last: bool = True,
    ):
        super().__init__()
        self.save_hyperparameters()
        # never re-read an ImageNet checkpoint when restoring: the trained weights come from the checkpoint
        self.model = build_model({**evfer_model, "pretrained": None})
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        k = len(classes)
        self.train_acc = MulticlassAccuracy(k, average="micro")
        self.val_acc = MulticlassAccuracy(k, average="micro")
        weights = torch.tensor(class_weights, dtype=torch.float32) if class_weights else None
        self.register_buffer("class_weights", weights, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def _step(self, batch, metric, stage: str) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        loss = F.cross_entropy(logits.float(), y, weight=self.class_weights)
        metric(logits.detach(), y)
        self.log(f"{stage}_loss", loss, on_step=False, on_epoch=True, prog_bar=True, sync_dist=True,
                 batch_size=len(y))
        self.log(f"{stage}_acc", metric, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(y))
        return loss

    def training_step(self, batch, batch_idx):
        return self._step(batch, self.train_acc, "train")

    def validation_step(self, batch, batch_idx):
        self._step(batch, self.val_acc, "val")

    def configure_optimizers(self):
        opt = torch.optim.Adam(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
        if self.hparams.scheduler == "cosine":
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, self.hparams.max_epochs))
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}
        return opt
