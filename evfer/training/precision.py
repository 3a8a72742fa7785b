"""Numeric precision of training and inference (``train.precision``)."""

from __future__ import annotations

from contextlib import nullcontext

import torch

from ..config import Config

#: train.precision → Lightning's precision plugin name.
LIGHTNING_PRECISION = {"bf16": "bf16-mixed", "fp32": "32-true"}


def autocast_for(cfg: Config, device: torch.device):
    """The autocast context for inference on ``device`` under ``cfg.train.precision``."""
    if cfg.train.precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()
