"""Which weights a run keeps (``train.select``, ``train.average_epochs``), and its resume point.

:class:`KeepModel` is the run's one checkpoint callback. It writes

- ``checkpoints/last.ckpt`` at the end of every epoch: the resume point (weights, optimiser, loop
  counters, the random number generators' states and this callback's state) — always the last
  finished epoch, so a resumed run continues where it stopped, never repeats an epoch, and draws the
  same batches and augmentations as a run that was never stopped;
- ``checkpoints/best.ckpt``, the model the run keeps:

  - ``select: val_acc`` / ``val_loss``: the epoch with the highest validation accuracy / lowest
    validation loss; ties go to the later epoch (a validation set of a dozen clips ties often, and
    the later epoch has learned more);
  - ``select: last``: the last epoch, written when training ends;
  - ``average_epochs: N`` (with ``select: last``): the mean of the weights at the end of the last N
    epochs (uniform, as stochastic weight averaging with a constant learning rate), written when
    training ends; BatchNorm statistics are recomputed over the training data for the BatchNorms
    that train (frozen ones keep theirs).

Both files are written atomically (:class:`AtomicCheckpointIO`); ``best.ckpt`` holds the weights and
hyper-parameters only (no optimiser state: a third of ``last.ckpt``'s size with Adam).
"""

from __future__ import annotations

import logging
import math
import random
import time
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from .checkpoints import write_checkpoint

log = logging.getLogger(__name__)

BEST, LAST = "best.ckpt", "last.ckpt"


class KeepModel(L.Callback):
    """Writes ``last.ckpt`` every epoch and ``best.ckpt`` per the selection rule (see the module doc).

    Args:
        folder: the run's ``checkpoints`` folder.
        select: ``val_acc``, ``val_loss`` or ``last``.
        epochs: the run's epoch budget (``train.epochs``): the averaging window is its last epochs.
        average_epochs: N > 0 averages the weights of the last N epochs (``select`` must be last).
    """

    def __init__(self, folder: str | Path, select: str, epochs: int, average_epochs: int = 0):
        if select not in ("val_acc", "val_loss", "last"):
            raise ValueError(f"unknown selection rule {select!r}")
        if average_epochs and select != "last":
            raise ValueError("averaging the last epochs needs select='last'")
        self.folder = Path(folder)
        self.select = select
        self.epochs = epochs
        self.average_epochs = average_epochs
        self.best_score: float | None = None
        self.best_epoch: int | None = None
        self.average: dict[str, torch.Tensor] | None = None  # running mean of the net's float tensors
        self.averaged: list[int] = []  # the epochs (0-based) in the average
        self.last_epoch: int | None = None  # the last finished epoch (0-based)
        self.seconds_before = 0.0  # training time of the sessions before this one (a resumed run)
        self._session_start: float | None = None
        self._validated_epoch = -1

    @property
    def state_key(self) -> str:
        return "KeepModel"

    @property
    def best_path(self) -> Path:
        return self.folder / BEST

    @property
    def last_path(self) -> Path:
        return self.folder / LAST

    @property
    def window(self) -> range:
        """The (0-based) epochs whose weights are averaged."""
        return range(self.epochs - self.average_epochs, self.epochs) if self.average_epochs else range(0)

    @property
    def seconds(self) -> float:
        """Training time of the whole run so far, over every session (resumes included)."""
        session = 0.0 if self._session_start is None else time.time() - self._session_start
        return self.seconds_before + session

    # ------------------------------------------------------------------ hooks
    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._session_start = time.time()

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._validated_epoch = trainer.current_epoch

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epoch = self.last_epoch = trainer.current_epoch
        if epoch in self.window:
            self._accumulate(pl_module.net, epoch)
        if self.select != "last" and self._validated_epoch == epoch:
            score = trainer.callback_metrics.get(self.select)
            if score is not None and self.improves(float(score)):
                self.best_score, self.best_epoch = float(score), epoch
                trainer.save_checkpoint(self.best_path, weights_only=False)
        trainer.save_checkpoint(self.last_path, weights_only=False)

    def improves(self, score: float) -> bool:
        """Whether ``score`` (of the select metric) replaces the kept epoch: ties go to the later one."""
        if math.isnan(score):
            return False
        if self.best_score is None:
            return True
        return score >= self.best_score if self.select == "val_acc" else score <= self.best_score

    def _accumulate(self, net: torch.nn.Module, epoch: int) -> None:
        if epoch in self.averaged:
            return
        state = {k: v.detach().float().cpu().clone() for k, v in net.state_dict().items() if v.is_floating_point()}
        n = len(self.averaged)
        if self.average is None or n == 0:
            self.average = state
        else:
            for k, v in state.items():
                self.average[k] += (v - self.average[k]) / (n + 1)
        self.averaged.append(epoch)

    # ------------------------------------------------------------------ the end of training
    def finish(self, trainer: L.Trainer, pl_module: L.LightningModule, train_loader=None) -> Path:
        """After ``trainer.fit``: write ``best.ckpt`` for ``select: last`` (the last epoch, or the
        average of the window) and return the kept model's path."""
        if self.select != "last":
            return self.best_path if self.best_path.is_file() else self.last_path
        if self.average_epochs:
            missing = [e for e in self.window if e not in self.averaged]
            if missing:
                log.warning("weight average over %d of the last %d epochs (epochs %s were trained before the "
                            "window moved)", len(self.averaged), self.average_epochs, missing)
            if self.average:
                self.load_average(pl_module)
                if train_loader is not None and trainable_batchnorms(pl_module.net):
                    device = next(pl_module.net.parameters()).device
                    torch.optim.swa_utils.update_bn(train_loader, pl_module.net, device)
        self.best_epoch = self.last_epoch
        trainer.save_checkpoint(self.best_path, weights_only=False)
        return self.best_path

    def load_average(self, pl_module: L.LightningModule) -> None:
        """Put the averaged weights into the module's network (integer buffers stay as they are)."""
        net = pl_module.net
        state = net.state_dict()
        state.update({k: v.to(state[k].device, state[k].dtype) for k, v in self.average.items()})
        net.load_state_dict(state)

    # ------------------------------------------------------------------ state (in last.ckpt)
    def state_dict(self) -> dict[str, Any]:
        return {"select": self.select, "best_score": self.best_score, "best_epoch": self.best_epoch,
                "last_epoch": self.last_epoch, "seconds": self.seconds,
                "window": [self.window.start, self.window.stop], "averaged": list(self.averaged),
                "average": self.average, "rng": rng_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.last_epoch = state.get("last_epoch")
        self.seconds_before = float(state.get("seconds") or 0.0)
        if state.get("select") == self.select:
            self.best_score, self.best_epoch = state.get("best_score"), state.get("best_epoch")
        if state.get("window") == [self.window.start, self.window.stop]:
            self.average, self.averaged = state.get("average"), list(state.get("averaged") or [])
        else:  # the epoch budget changed: the average restarts (the old window's epochs cannot be undone)
            self.average, self.averaged = None, []
        if state.get("rng"):
            set_rng_state(state["rng"])


def rng_state() -> dict[str, Any]:
    """The states of torch's (CPU and CUDA), NumPy's and Python's global generators, as tensors and
    plain values (a checkpoint read with ``weights_only`` can hold them)."""
    np_state = np.random.get_state()
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *map(float, np_state[2:])],
            "python": list(random.getstate()[1]) + [random.getstate()[0], random.getstate()[2]]}


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned (a resumed run draws what an unbroken one would)."""
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), int(pos), int(has_gauss), float(gauss)))
    *internal, version, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))


def trainable_batchnorms(net: torch.nn.Module) -> bool:
    """Whether ``net`` has BatchNorm layers that train (whose statistics an average must recompute)."""
    from torch.nn.modules.batchnorm import _BatchNorm

    return any(isinstance(m, _BatchNorm) and m.track_running_stats and any(p.requires_grad for p in m.parameters())
               for m in net.modules())


#: what only resuming needs: kept in ``last.ckpt``, left out of the kept model (``best.ckpt``), which
#: is read for its weights and hyper-parameters only (Adam's two moments alone are twice the weights)
RESUME_ONLY = ("optimizer_states", "lr_schedulers", "callbacks")


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer, atomic (see :func:`write_checkpoint`); Lightning's own writes the
    final file in place. Every file but ``last.ckpt`` is written without :data:`RESUME_ONLY`."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        if Path(path).name != LAST:
            checkpoint = {k: v for k, v in checkpoint.items() if k not in RESUME_ONLY}
        write_checkpoint(checkpoint, path)
