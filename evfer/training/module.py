"""The LightningModule: loss, metrics and optimisation around an injected :class:`evfer.models.Recognizer`.

As in lightning-hydra-template, the network and the optimiser / scheduler factories are built by the
caller (:func:`evfer.training.train.train`) and injected; they are not hyper-parameters. What a
checkpoint needs to describe itself is: ``architecture`` (from the network), ``classes`` and
``config`` (the run's resolved config, see :mod:`evfer.training.checkpoints`).
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torchmetrics.classification import MulticlassAccuracy

from ..models import Recognizer
from .optim import OptimizerFactory, SchedulerFactory


class RecognizerModule(L.LightningModule):
    """Cross-entropy training of ``net`` on (B, T, C, H, W) clips with integer labels (B,).

    Args:
        net: the recognizer to train (already initialised; its device / memory format are kept).
        optimizer: factory called with the parameters, e.g. ``partial(torch.optim.Adam, lr=1e-4)``.
        scheduler: factory called with the optimiser, stepped once per epoch; None = constant lr.
        classes: class names in logit order.
        config: the run's resolved config as a plain dict (:func:`evfer.config.to_dict`).
        class_weights: per-class loss weights (K,), or None.
    """

    def __init__(
        self,
        net: Recognizer,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        *,
        classes: list[str],
        config: dict[str, Any],
        class_weights: list[float] | None = None,
    ):
        super().__init__()
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler"], logger=False)
        self.hparams["architecture"] = net.architecture()
        self.net = net
        self.make_optimizer = optimizer
        self.make_scheduler = scheduler
        k = len(classes)
        self.train_acc = MulticlassAccuracy(k, average="micro")
        self.val_acc = MulticlassAccuracy(k, average="micro")
        weights = torch.tensor(class_weights, dtype=torch.float32) if class_weights else None
        self.register_buffer("class_weights", weights, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

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
        opt = self.make_optimizer(self.parameters())
        if self.make_scheduler is None:
            return opt
        return {"optimizer": opt, "lr_scheduler": {"scheduler": self.make_scheduler(opt), "interval": "epoch"}}
