"""Class probabilities of a trained model under the run's inference settings (precision, flip TTA)."""

from __future__ import annotations

import torch

from ..config import Config
from .precision import autocast_for


@torch.no_grad()
def predict_proba(model, x: torch.Tensor, cfg: Config, *, timeline: bool = False,
                  tta_flip: bool | None = None) -> torch.Tensor:
    """Probabilities (B, K) — or (B, T, K) with ``timeline`` — of clips x (B, T, C, H, W), float32 on CPU.

    Runs under ``cfg.train.precision`` (see :mod:`.precision`). With flip test-time averaging
    (``tta_flip``, default ``cfg.train.tta_flip``) the result is the mean of the probabilities of x
    and of its mirror image x.flip(-1) (the W axis). ``model`` must be in eval mode.
    """
    flip = cfg.train.tta_flip if tta_flip is None else tta_flip
    with autocast_for(cfg, x.device):
        p = model.predict_proba(x, timeline=timeline).float()
        if flip:
            p = (p + model.predict_proba(x.flip(-1), timeline=timeline).float()) / 2
    return p.cpu()
