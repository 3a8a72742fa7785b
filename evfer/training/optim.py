"""Optimiser and learning-rate schedule factories from ``train:`` (injected into the LightningModule)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch

from ..config import TrainConfig

OptimizerFactory = Callable[..., torch.optim.Optimizer]  # (params or param groups) -> optimiser
SchedulerFactory = Callable[[torch.optim.Optimizer], torch.optim.lr_scheduler.LRScheduler]  # stepped per epoch


def optimizer_factory(t: TrainConfig) -> OptimizerFactory:
    """Adam with ``train.lr`` and ``train.weight_decay``."""
    return partial(torch.optim.Adam, lr=t.lr, weight_decay=t.weight_decay)


def scheduler_factory(t: TrainConfig) -> SchedulerFactory | None:
    """``train.scheduler``: none → None; cosine → anneal the lr to 0 over ``train.epochs``."""
    if t.scheduler == "cosine":
        return partial(torch.optim.lr_scheduler.CosineAnnealingLR, T_max=max(1, t.epochs))
    return None
