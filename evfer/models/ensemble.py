"""K recognizers of one architecture used as one model (``train.ensemble: K``).

The ensemble's output is the mean of its members' class probabilities. :meth:`Ensemble.forward`
returns ``log(mean_k softmax(logits_k))`` (B, K classes) — "logits" whose softmax is exactly that
mean — so everything that takes a :class:`~evfer.models.Recognizer` (evaluation, prediction, the
rendered video, ONNX / TorchScript export) takes an ensemble unchanged.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .recognizer import Recognizer


class Ensemble(nn.Module):
    """Members ``members[0..K-1]`` (same architecture, different training seeds); input (B, T, C, H, W)."""

    def __init__(self, members: list[Recognizer]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        first = members[0]
        if any(m.architecture() != first.architecture() for m in members):
            raise ValueError("ensemble members must share one architecture")
        self.members = nn.ModuleList(members)
        self.cfg, self.num_classes, self.in_channels = first.cfg, first.num_classes, first.in_channels

    def __len__(self) -> int:
        return len(self.members)

    def architecture(self) -> dict[str, Any]:
        """The members' architecture plus ``ensemble``: K."""
        return {**self.members[0].architecture(), "ensemble": len(self.members)}

    def describe(self) -> str:
        return f"ensemble of {len(self.members)} x {self.members[0].describe()}"

    def _mean_log_proba(self, x: torch.Tensor, timeline: bool) -> torch.Tensor:
        logits = [m.forward_timeline(x) if timeline else m(x) for m in self.members]
        log_p = torch.stack([torch.log_softmax(z.float(), dim=-1) for z in logits])  # (K, B[, T], classes)
        return torch.logsumexp(log_p, dim=0) - torch.log(torch.tensor(float(len(logits)), device=log_p.device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C, H, W) → log of the members' mean probabilities (B, K), float32."""
        return self._mean_log_proba(x, timeline=False)

    def forward_timeline(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C, H, W) → (B, T, K): the same after every window."""
        return self._mean_log_proba(x, timeline=True)

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor, timeline: bool = False) -> torch.Tensor:
        """The members' mean class probabilities (B, K), or (B, T, K) with ``timeline``."""
        return torch.exp(self.forward_timeline(x) if timeline else self(x))
