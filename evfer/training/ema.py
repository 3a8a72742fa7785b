"""Exponential moving average of the network's weights (``train.ema_decay``), as a Lightning callback.

After every training batch (one optimiser step) the average is updated:
``avg = decay·avg + (1 - decay)·w`` (the first step copies ``w``); BatchNorm statistics are averaged
alike. Validation runs on the average, so model selection (best.ckpt) and early stopping judge it.
Checkpoints store the average as the network's weights — ``evfer evaluate``, ``predict`` and
``export`` use it unchanged — and the raw weights in this callback's state, from which a resumed
run continues training.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

PREFIX = "net."  # the network's keys in the LightningModule's state dict


class WeightEMA(L.Callback):
    def __init__(self, decay: float):
        if not 0 < decay < 1:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.average: AveragedModel | None = None
        self._pending: tuple[dict[str, torch.Tensor], int] | None = None  # restored before on_fit_start
        self._raw: dict[str, torch.Tensor] | None = None  # training weights while validating the average

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.average = AveragedModel(pl_module.net, multi_avg_fn=get_ema_multi_avg_fn(self.decay), use_buffers=True)
        if self._pending is not None:
            self._restore(*self._pending)
            self._pending = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.average.update_parameters(pl_module.net)

    def _started(self) -> bool:
        return self.average is not None and int(self.average.n_averaged) > 0

    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        if self._started():
            self._raw = {k: v.detach().clone() for k, v in pl_module.net.state_dict().items()}
            pl_module.net.load_state_dict(self.average.module.state_dict())

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if self._raw is not None:
            pl_module.net.load_state_dict(self._raw)
            self._raw = None

    def state_dict(self) -> dict[str, Any]:
        return {"decay": self.decay, "n_averaged": int(self.average.n_averaged) if self.average is not None else 0}

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict[str, Any]) -> None:
        """The average becomes the checkpoint's network; the raw weights go into this callback's state."""
        if not self._started():
            return
        state = checkpoint["state_dict"]
        checkpoint["callbacks"][self.state_key]["raw"] = {k: state[k] for k in state if k.startswith(PREFIX)}
        state.update({PREFIX + k: v.detach().clone() for k, v in self.average.module.state_dict().items()})

    def on_load_checkpoint(self, trainer, pl_module, checkpoint: dict[str, Any]) -> None:
        """Called after the network got the checkpoint's (averaged) weights: put the raw ones back."""
        state = checkpoint.get("callbacks", {}).get(self.state_key) or {}
        if "raw" not in state:
            return
        average = {k[len(PREFIX):]: v for k, v in checkpoint["state_dict"].items() if k.startswith(PREFIX)}
        pl_module.net.load_state_dict({k[len(PREFIX):]: v for k, v in state["raw"].items()})
        if self.average is None:
            self._pending = (average, state["n_averaged"])
        else:
            self._restore(average, state["n_averaged"])

    def _restore(self, average: dict[str, torch.Tensor], n_averaged: int) -> None:
        self.average.module.load_state_dict(average)
        self.average.n_averaged.fill_(n_averaged)
