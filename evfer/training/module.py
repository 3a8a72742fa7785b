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
from torch.nn.modules.batchnorm import _BatchNorm
from torchmetrics.classification import MulticlassAccuracy

from ..models import Recognizer
from .optim import OptimizerFactory, SchedulerFactory, param_groups


class RecognizerModule(L.LightningModule):
    """Cross-entropy training of ``net`` on (B, T, C, H, W) clips with integer labels (B,).

    Args:
        net: the recognizer to train (already initialised; its device / memory format are kept).
        optimizer: factory called with the parameters, e.g. ``partial(torch.optim.Adam, lr=1e-4)``.
        scheduler: factory called with the optimiser, stepped once per epoch; None = constant lr.
        classes: class names in logit order.
        config: the run's resolved config as a plain dict (:func:`evfer.config.to_dict`).
        class_weights: per-class loss weights (K,), or None.
        backbone_lr: learning rate of ``net.backbone`` (its own param group); None = the optimiser's.
        label_smoothing: of the training loss (the validation loss is plain cross-entropy).
        mixup: alpha of mixup (training batches): x = λ·x_i + (1-λ)·x_j, loss mixed alike,
            λ ~ Beta(alpha, alpha) drawn from torch's seeded RNG; 0 = off.
        bn: "frozen": the backbone's BatchNorm layers stay in eval mode (running statistics kept, e.g.
            ImageNet's) and their affine weights are not trained; "train": usual BatchNorm.
        head_epochs: the first ``head_epochs`` epochs train the LSTM head only: the backbone's
            parameters get no gradient and its layers stay in eval mode (a linear probe before
            fine-tuning, Kumar et al. 2022); from then on the whole network trains.
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
        backbone_lr: float | None = None,
        label_smoothing: float = 0.0,
        mixup: float = 0.0,
        bn: str = "train",
        head_epochs: int = 0,
    ):
        super().__init__()
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler"], logger=False)
        self.hparams["architecture"] = net.architecture()
        self.net = net
        self.make_optimizer = optimizer
        self.make_scheduler = scheduler
        self.frozen_bn = [m for m in net.backbone.modules() if isinstance(m, _BatchNorm)] if bn == "frozen" else []
        for m in self.frozen_bn:
            m.requires_grad_(False)
        self.backbone_trains = True
        k = len(classes)
        self.train_acc = MulticlassAccuracy(k, average="micro")
        self.val_acc = MulticlassAccuracy(k, average="micro")
        weights = torch.tensor(class_weights, dtype=torch.float32) if class_weights else None
        self.register_buffer("class_weights", weights, persistent=False)

    def train(self, mode: bool = True):
        """nn.Module.train, keeping frozen BatchNorms in eval mode."""
        super().train(mode)
        for m in self.frozen_bn:
            m.eval()
        if not self.backbone_trains:
            self.net.backbone.eval()
        return self

    def set_backbone_trains(self, trains: bool) -> None:
        """Train the backbone (True) or keep it fixed (False: no gradients, eval mode); frozen
        BatchNorms stay frozen either way."""
        self.backbone_trains = trains
        frozen = {id(p) for m in self.frozen_bn for p in m.parameters()}
        for p in self.net.backbone.parameters():
            if id(p) not in frozen:
                p.requires_grad_(trains)
        self.train(self.training)

    def setup(self, stage: str) -> None:
        """From the datamodule: loss weights per class (``data.balance.method: class_weights``) and
        the training clips' statistics, which the checkpoints keep (``hyper_parameters["clips"]``)."""
        data = self.trainer.datamodule if self._trainer is not None else None
        weights = getattr(data, "class_weights", None)
        if weights is not None and self.class_weights is None:
            self.class_weights = torch.tensor(weights, dtype=torch.float32, device=self.device)
        if data is not None and hasattr(data, "clip_stats"):
            self.hparams["clips"] = data.clip_stats()
            # the subjects the model saw: evaluating it on any of them elsewhere is refused
            self.hparams["subjects"] = {s: sorted({r.subject for r in data.split(s)}) for s in ("train", "val")}

    def on_fit_start(self) -> None:
        """Each DDP process draws its own augmentations (rank 0 keeps the run's random stream)."""
        if self.global_rank:
            torch.manual_seed(int(self.hparams.config.get("seed", 0)) + self.global_rank)

    def on_train_epoch_start(self) -> None:
        trains = self.current_epoch >= self.hparams.head_epochs
        if trains != self.backbone_trains:
            self.set_backbone_trains(trains)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def _loss(self, logits: torch.Tensor, y: torch.Tensor, smoothing: float) -> torch.Tensor:
        return F.cross_entropy(logits.float(), y, weight=self.class_weights, label_smoothing=smoothing)

    def _log(self, stage: str, loss: torch.Tensor, metric, n: int) -> None:
        self.log(f"{stage}_loss", loss, on_step=False, on_epoch=True, prog_bar=True, sync_dist=True, batch_size=n)
        self.log(f"{stage}_acc", metric, on_step=False, on_epoch=True, prog_bar=True, batch_size=n)

    def training_step(self, batch, batch_idx):
        x, y = batch
        smoothing = self.hparams.label_smoothing
        if self.hparams.mixup > 0:
            lam = float(torch.distributions.Beta(self.hparams.mixup, self.hparams.mixup).sample())
            perm = torch.randperm(len(y)).to(y.device)
            logits = self(lam * x + (1 - lam) * x[perm])
            loss = lam * self._loss(logits, y, smoothing) + (1 - lam) * self._loss(logits, y[perm], smoothing)
            y = y if lam >= 0.5 else y[perm]  # accuracy against the dominant clip's label
        else:
            logits = self(x)
            loss = self._loss(logits, y, smoothing)
        self.train_acc(logits.detach(), y)
        self._log("train", loss, self.train_acc, len(y))
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.val_acc(logits, y)
        self._log("val", self._loss(logits, y, 0.0), self.val_acc, len(y))

    def configure_optimizers(self):
        opt = self.make_optimizer(param_groups(self.net, self.hparams.backbone_lr))
        if self.make_scheduler is None:
            return opt
        return {"optimizer": opt, "lr_scheduler": {"scheduler": self.make_scheduler(opt), "interval": "epoch"}}
