"""Optimiser and learning-rate schedule from ``train:``, as factories injected into the LightningModule.

- :func:`optimizer_factory` — Adam(lr, weight_decay); called with the parameters or param groups.
- :func:`param_groups` — the backbone in its own group when ``train.backbone_lr`` is set.
- :func:`scheduler_factory` — per-epoch schedule: optional linear warm-up, then constant or cosine.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, LRScheduler, SequentialLR

from ..config import TrainConfig

OptimizerFactory = Callable[..., torch.optim.Optimizer]  # (params or param groups) -> optimiser
SchedulerFactory = Callable[[torch.optim.Optimizer], LRScheduler]  # stepped once per epoch


def optimizer_factory(t: TrainConfig) -> OptimizerFactory:
    """Adam with ``train.lr`` and ``train.weight_decay`` (param groups may set their own lr)."""
    return partial(torch.optim.Adam, lr=t.lr, weight_decay=t.weight_decay)


def param_groups(net: torch.nn.Module, backbone_lr: float | None) -> list:
    """The trainable parameters of ``net`` (a Recognizer): one list when ``backbone_lr`` is None, else
    two groups, ``net.backbone`` at ``backbone_lr`` and the rest (LSTM, classifier) at the default lr."""
    trainable = [p for p in net.parameters() if p.requires_grad]
    if backbone_lr is None:
        return trainable
    backbone = {id(p) for p in net.backbone.parameters()}
    return [{"params": [p for p in trainable if id(p) in backbone], "lr": backbone_lr},
            {"params": [p for p in trainable if id(p) not in backbone]}]


def scheduler_factory(t: TrainConfig) -> SchedulerFactory | None:
    """``train.scheduler`` after ``train.warmup_epochs`` of linear warm-up; None = constant lr.

    Epoch e < w (warm-up) runs at lr·(e+1)/(w+1); cosine then anneals from lr to 0 over the
    remaining ``epochs - w`` epochs.
    """
    cosine = t.scheduler == "cosine"
    if t.warmup_epochs == 0:
        return partial(CosineAnnealingLR, T_max=max(1, t.epochs)) if cosine else None
    return partial(warmup_then, warmup=t.warmup_epochs, cosine_epochs=t.epochs - t.warmup_epochs if cosine else 0)


def warmup_then(opt: torch.optim.Optimizer, warmup: int, cosine_epochs: int) -> LRScheduler:
    """Linear warm-up over ``warmup`` epochs, then cosine annealing over ``cosine_epochs`` (0: constant)."""
    warm = LinearLR(opt, start_factor=1 / (warmup + 1), end_factor=1.0, total_iters=warmup)
    if cosine_epochs == 0:
        return warm
    return SequentialLR(opt, [warm, CosineAnnealingLR(opt, T_max=cosine_epochs)], milestones=[warmup])
