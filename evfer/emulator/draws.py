"""Every random number of one emulated clip, drawn in a fixed order from one seeded generator.

The generators — a CPU ``torch.Generator`` for normals and a numpy PCG64 generator for uniforms
(about twice as fast as torch's) — are seeded from ``(seed, clip_id)``, so a clip's events depend
only on its seed and id — not on the device, the frame chunking, the worker count or the order in
which clips are processed. Draw order (each array has the sensor's shape (H, W)):

1. per clip: ON-threshold normals, OFF-threshold normals (if ``sigma_thres > 0``), then the leak-rate
   normals (if the leak is on);
2. per time step (a frame interval, or a sub-interval with ``upsample``): the leak-jitter normals (if
   the leak is on and ``leak_jitter_fraction > 0``, torch), then the shot-noise uniforms, float64 (if
   shot noise is on, numpy).
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import torch

from .params import EmulatorParams

MIN_THRESHOLD = 0.01  # ln units; thresholds are clamped to at least this (as in v2e)


def generator_seed(seed: int, clip_id: str = "") -> int:
    """The generator seed of a clip: ``seed`` itself without a clip id, else a hash of both."""
    if not clip_id:
        return int(seed) % 2**64
    digest = hashlib.blake2b(f"{int(seed)}\0{clip_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


class RandomDraws:
    """The random numbers of one clip (see the module docstring for the order)."""

    def __init__(self, params: EmulatorParams, height: int, width: int, seed: int = 0, clip_id: str = ""):
        self.params = params
        self.shape = (int(height), int(width))
        g = generator_seed(seed, clip_id)
        self.gen = torch.Generator(device="cpu")
        self.gen.manual_seed(g)
        self.np_gen = np.random.Generator(np.random.PCG64(g))

    def thresholds(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-pixel ON and OFF thresholds, float32 (H, W): N(nominal, sigma) clamped >= 0.01."""
        p = self.params
        out = []
        for nominal in (p.pos_thres, p.neg_thres):
            if p.sigma_thres > 0:
                z = torch.randn(self.shape, generator=self.gen, dtype=torch.float32)
                th = (z * p.sigma_thres + nominal).clamp_(min=MIN_THRESHOLD)
            else:
                th = torch.full(self.shape, nominal, dtype=torch.float32)
            out.append(th)
        return out[0], out[1]

    def leak_multiplier(self) -> torch.Tensor | None:
        """Per-pixel leak-rate multiplier m = 10**(c*z), float32 (H, W); None if the leak is off."""
        p = self.params
        if p.leak_rate_hz <= 0:
            return None
        z = torch.randn(self.shape, generator=self.gen, dtype=torch.float32)
        return torch.exp(z * (math.log(10.0) * p.noise_rate_cov_decades))

    def step(self) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """One time step's (leak-jitter normals float32, shot-noise uniforms float64), None when off."""
        p = self.params
        jitter = None
        if p.leak_rate_hz > 0 and p.leak_jitter_fraction > 0:
            jitter = torch.randn(self.shape, generator=self.gen, dtype=torch.float32)
        shot = None
        if p.shot_noise_rate_hz > 0:
            shot = torch.from_numpy(self.np_gen.random(self.shape))
        return jitter, shot
