"""Training-time augmentation of voxel clips (T, bins, H, W); one random draw per clip.

The same geometric transform is applied to every window of a clip (a face does not jump between
windows). Uses torch's global RNG, which Lightning seeds per worker.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..config import AugmentConfig


class ClipAugment:
    """Horizontal flip (p = 0.5), random translation/scale (bilinear, zero padding), event-count jitter.

    ``jitter`` = j: the clip keeps a random fraction f ~ U(1 - j, 1) of its events — each non-zero
    voxel survives with probability f (events dropped at voxel granularity, no rescaling), mimicking a
    less sensitive sensor or a fainter expression.
    """

    def __init__(self, cfg: AugmentConfig):
        self.cfg = cfg

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        c = self.cfg
        if c.flip and torch.rand(()) < 0.5:
            x = x.flip(-1)
        if c.translate > 0 or c.scale > 0:
            x = self._affine(x)
        if c.jitter > 0:
            keep = 1 - torch.rand(()) * c.jitter
            x = x * (torch.rand(x.shape) < keep).to(x.dtype)
        return x

    def _affine(self, x: torch.Tensor) -> torch.Tensor:
        c = self.cfg
        t, b, h, w = x.shape
        zoom = 1 + (torch.rand(()) * 2 - 1) * c.scale
        shift = (torch.rand(2) * 2 - 1) * c.translate * 2  # affine_grid coordinates span [-1, 1]
        theta = torch.tensor([[1 / zoom, 0, shift[0]], [0, 1 / zoom, shift[1]]], dtype=x.dtype).unsqueeze(0)
        grid = F.affine_grid(theta, (1, t * b, h, w), align_corners=False)
        out = F.grid_sample(x.reshape(1, t * b, h, w), grid, mode="bilinear", padding_mode="zeros",
                            align_corners=False)
        return out.reshape(t, b, h, w)
