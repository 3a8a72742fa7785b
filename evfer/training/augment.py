"""Training-time augmentation of voxel clips (T, bins, H, W); one random draw per clip.

The same geometric transform is applied to every window of a clip (a face does not jump between
windows). Uses torch's global RNG, which Lightning seeds per worker.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..config import AugmentConfig


class ClipAugment:
    """Horizontal flip (p = 0.5), random translation/scale (bilinear, zero padding), count jitter.

    ``jitter``: each window is multiplied by a factor in [1 - j, 1 + j], mimicking windows with more or
    fewer events (the model sees normalised grids, so this varies contrast between windows).
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
            t = x.shape[0]
            factors = 1 + (torch.rand(t) * 2 - 1) * c.jitter
            x = x * factors.view(t, *([1] * (x.dim() - 1)))
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
