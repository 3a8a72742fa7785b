"""Does pretraining the backbone on face EVENTS, without labels, help the CPU recipe? (issue 11)

The idea of evTransFER (an encoder first trained to reconstruct the face from its events): evfer can
make unlimited (frames, events) pairs. Here:

1. pairs: synthetic identities of their own seed (disjoint from every development set), each clip
   made by the synthetic kind's own path (face crop, blur, emulator); input = the recipe's
   representation (one 3-channel event image of the whole clip, 112x112, RMS-normalised); target =
   the apex frame and the apex-minus-onset difference, 64x64, in [0, 1] / [-1, 1];
2. an ImageNet MobileNetV2 encoder (``features``) + a small upsampling decoder trained with an L1
   loss (flip augmentation), then the encoder saved with torchvision's parameter names, which
   ``model.pretrained: PATH`` loads;
3. ``tools/recipe_experiments.py`` variants ``face-event-pretrained`` compare it with the recipe.

Usage: TORCH_HOME=../shared/weights python tools/pretrain_experiment.py OUT [--identities 80]
       [--epochs 15] -> OUT/mobilenet_v2-face-events.pt
"""

from __future__ import annotations

import argparse
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

TARGET = 64


def make_pair(args):
    spec, source = args
    import cv2

    from evfer.datasets.frame_clips import preprocess_frames
    from evfer.emulator import emulate
    from evfer.voxel import make_representation

    frame_set = source.frames(spec)
    frames, _ = preprocess_frames(frame_set.frames, source.options)
    events = emulate(frames, frame_set.times, source.context.emulator, clip_id=spec.id, source=spec.paths[0])
    if len(events) == 0:
        return None
    x = make_representation("event_image", normalize="rms").clip(events, 1, size=(112, 112))[0]
    apex = cv2.resize(frames[-1], (TARGET, TARGET), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    onset = cv2.resize(frames[0], (TARGET, TARGET), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    return x.astype(np.float32), np.stack([apex, apex - onset])


def make_pairs(out: Path, identities: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    cache = out / f"pairs-{identities}-s{seed}.npz"
    if cache.exists():
        z = np.load(cache)
        return z["x"], z["y"]
    from evfer.datasets.kinds import make_source, source_config

    src = make_source(source_config("synthetic", out / f"synthetic-s{seed}", identities=identities, seed=seed,
                                    frames=[12, 20], frame_size=[128, 128], face_margin=0.05, blur_sigma=0.5,
                                    neutral_from_onset=False))
    from dataclasses import replace

    from evfer.emulator import EmulatorSettings

    src.context = replace(src.context, emulator=EmulatorSettings.resolve("clean", {"pos_thres": 0.1,
                                                                                   "neg_thres": 0.1}, seed))
    src.materialize(progress=False)
    specs = src.scan(progress=False).specs
    with Pool(2) as pool:
        pairs = [p for p in pool.map(make_pair, [(s, src) for s in specs], chunksize=4) if p is not None]
    x = np.stack([p[0] for p in pairs])
    y = np.stack([p[1] for p in pairs])
    np.savez(cache, x=x, y=y)
    return x, y


def build(pretrained: str = "imagenet"):
    import torch
    from torch import nn

    from evfer.config import ModelConfig
    from evfer.models import build_model

    encoder = build_model(ModelConfig(backbone="mobilenet_v2", pretrained=pretrained), 6, 3).backbone

    def up(cin, cout):
        return nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                             nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

    decoder = nn.Sequential(nn.Conv2d(1280, 256, 1), nn.ReLU(inplace=True),  # 4x4 for 112x112 input
                            up(256, 128), up(128, 64), up(64, 32), up(32, 16),  # -> 64x64
                            nn.Conv2d(16, 2, 3, padding=1))
    torch.manual_seed(0)
    return encoder, decoder


def train(x: np.ndarray, y: np.ndarray, epochs: int, seed: int):
    import torch

    torch.manual_seed(seed)
    encoder, decoder = build()
    opt = torch.optim.Adam([{"params": encoder.parameters(), "lr": 1e-4},
                            {"params": decoder.parameters(), "lr": 1e-3}])
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    n, batch = len(xt), 32
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        t0, total = time.time(), 0.0
        encoder.train()
        decoder.train()
        for idx in torch.randperm(n, generator=gen).split(batch):
            xb, yb = xt[idx], yt[idx]
            if torch.rand(1, generator=gen).item() < 0.5:  # the same mirror for input and target
                xb, yb = xb.flip(-1), yb.flip(-1)
            pred = decoder(encoder.features(xb))
            loss = torch.nn.functional.l1_loss(pred, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        print(f"epoch {epoch + 1}/{epochs}: L1 {total / n:.4f} ({time.time() - t0:.0f} s)", flush=True)
    return encoder, decoder


def main(argv=None) -> int:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--identities", type=int, default=80)
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=15)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    from evfer.training.machine import machine_line

    print(machine_line())
    t0 = time.time()
    x, y = make_pairs(args.out, args.identities, args.seed)
    print(f"{len(x)} pairs {x.shape} -> {y.shape} in {time.time() - t0:.0f} s", flush=True)
    # the L1 of predicting the mean target: the floor a decoder must beat to have learned anything
    print(f"baseline L1 (mean target): {np.abs(y - y.mean(0)).mean():.4f}")
    t0 = time.time()
    encoder, _ = train(x, y, args.epochs, args.seed)
    path = args.out / "mobilenet_v2-face-events.pt"
    torch.save(encoder.state_dict(), path)
    print(f"trained in {time.time() - t0:.0f} s -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
