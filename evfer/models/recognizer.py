"""Backbone + LSTM expression recognizer over a clip of voxel-grid windows.

Shapes: input (B, T, C, H, W) float — B clips, T time windows (T >= 1), C input channels (voxel
bins, or 3 for an RGB-like event image); the backbone maps each window to a pooled feature
(B, T, F); a single-layer LSTM (batch_first) runs over the T windows; dropout and a linear layer
turn the hidden state into logits. :meth:`Recognizer.forward` classifies from the last time step,
i.e. after the LSTM has seen the whole clip; :meth:`Recognizer.forward_timeline` gives the
classifier output after every step (the prediction timeline). Softmax only in
:meth:`Recognizer.predict_proba`.

The architecture is ``(ModelConfig, num_classes, in_channels)``: :meth:`Recognizer.architecture`
is its plain-dict form stored in checkpoints, :meth:`Recognizer.from_architecture` rebuilds it.

Precision: the backbone follows whatever autocast is active (bf16 on CPU / CUDA) and works in
channels_last memory format; the LSTM and the classifier always run in float32 (autocast is
switched off around them). On CPU, autocast would otherwise run the LSTM in bf16 (measured with
torch 2.13), whose recurrence accumulates rounding over T steps; the LSTM is ~2 % of the FLOPs at 64x64.
The logits are therefore float32 under every precision setting. No device is hard-coded.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from ..config import ModelConfig, from_dict, to_dict
from ..errors import ConfigError, InputError
from .backbones import get_backbone
from .pretrained import IMAGENET_CHOICES, LoadReport, imagenet_url, load_pretrained


def check_model_config(cfg: ModelConfig) -> None:
    """ConfigError naming the key unless ``cfg`` (the ``model:`` section) names a registered backbone
    and, for ``pretrained: imagenet*``, weights that exist for it. Reads no file: run it right after
    loading a config, before any data work."""
    cfg.validate("model.")
    get_backbone(cfg.backbone)
    if cfg.pretrained is not None and str(cfg.pretrained).lower() in IMAGENET_CHOICES:
        imagenet_url(cfg.backbone, str(cfg.pretrained).lower())


class Recognizer(nn.Module):
    """Per-window backbone features → LSTM over windows → dropout → linear → logits.

    Args:
        cfg: the architecture (``model:`` section): backbone, LSTM hidden size, dropout, ...
        num_classes: number of expression classes K (>= 2).
        in_channels: input channels C per window (the stem convolution's input).

    Weights are randomly initialised; ``cfg.pretrained`` is not read here (see :func:`build_model`).
    """

    def __init__(self, cfg: ModelConfig, num_classes: int, in_channels: int):
        super().__init__()
        if num_classes < 2 or in_channels < 1:
            raise ValueError(f"need num_classes >= 2 and in_channels >= 1 (got {num_classes}, {in_channels})")
        check_model_config(cfg)
        self.cfg = cfg
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.spec = get_backbone(cfg.backbone)
        self.backbone = self.spec.build(num_classes=0, in_channels=in_channels)
        self.lstm = nn.LSTM(self.spec.feature_dim, cfg.hidden, num_layers=1, batch_first=True)
        self.dropout = nn.Dropout(cfg.dropout)
        self.fc = nn.Linear(cfg.hidden, num_classes)
        self.pretrained_report: LoadReport | None = None

    def architecture(self) -> dict[str, Any]:
        """Plain (JSON/YAML-safe) dict: the ``model:`` section plus num_classes and in_channels."""
        return {**to_dict(self.cfg), "num_classes": self.num_classes, "in_channels": self.in_channels}

    @classmethod
    def from_architecture(cls, arch: Mapping[str, Any], source: str | os.PathLike | None = None) -> Recognizer:
        """Rebuild (random weights) from :meth:`architecture`; one-line InputError naming ``source``
        when the stored architecture is not valid."""
        values = dict(arch)
        try:
            num_classes, in_channels = int(values.pop("num_classes")), int(values.pop("in_channels"))
            return cls(from_dict(ModelConfig, values, "model."), num_classes, in_channels)
        except (KeyError, TypeError, ValueError, ConfigError) as exc:
            raise InputError(source, f"stored model architecture is invalid: {exc}") from None

    def describe(self) -> str:
        """e.g. "resnet18+LSTM32, 4 input channels, 6 classes" (for messages)."""
        return f"{self.cfg.backbone}+LSTM{self.cfg.hidden}, {self.in_channels} input channels, {self.num_classes} classes"

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C, H, W) → pooled backbone features (B, T, F)."""
        if x.dim() != 5:
            raise ValueError(f"expected input (B, T, C, H, W), got shape {tuple(x.shape)}")
        b, t = x.shape[:2]
        frames = x.reshape(b * t, *x.shape[2:])
        weight = self.backbone.get_parameter(self.spec.stem)
        if not weight.is_contiguous() and weight.is_contiguous(memory_format=torch.channels_last):
            frames = frames.contiguous(memory_format=torch.channels_last)
        return self.backbone(frames).reshape(b, t, -1)

    def _head(self, feats: torch.Tensor, last_only: bool) -> torch.Tensor:
        """LSTM + dropout + fc in float32 with autocast off; (B, T, F) → (B, K) or (B, T, K)."""
        device_type = feats.device.type
        if torch.amp.is_autocast_available(device_type) and torch.is_autocast_enabled(device_type):
            with torch.autocast(device_type=device_type, enabled=False):
                return self._head(feats, last_only)
        out, _ = self.lstm(feats.float())
        if last_only:
            out = out[:, -1]
        return self.fc(self.dropout(out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C, H, W) float → logits (B, K), float32, from the last time step."""
        return self._head(self.features(x), last_only=True)

    def forward_timeline(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C, H, W) → logits (B, T, K): step t classifies windows 0..t (the last equals forward)."""
        return self._head(self.features(x), last_only=False)

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor, timeline: bool = False) -> torch.Tensor:
        """Class probabilities (B, K), or (B, T, K) with ``timeline``. Call ``.eval()`` first."""
        logits = self.forward_timeline(x) if timeline else self(x)
        return torch.softmax(logits.float(), dim=-1)


def build_model(cfg: ModelConfig, num_classes: int, in_channels: int) -> Recognizer:
    """A :class:`Recognizer` for training: random weights, then ``cfg.pretrained`` (a checkpoint path
    or ``imagenet``) loaded into the backbone when set; its report is kept in ``pretrained_report``."""
    model = Recognizer(cfg, num_classes, in_channels)
    if cfg.pretrained is not None:
        model.pretrained_report = load_pretrained(model.backbone, cfg.pretrained, cfg.backbone)
    return model
