"""How much the pre-emulation blur (``data.sources[].blur_sigma``) cuts static events.

A static scene is frame 0 of a real face video (``../shared/data/videos/single_face.mp4``; a
synthetic face when absent) repeated 30 times at 30 fps, each copy with fresh sensor noise (Gaussian,
2 DN) and JPEG compression (quality 85) — the two sources of the events a clean emulator fires on
static CK+ content. The moving scene is the video's first 30 frames with the same noise. Prints, per
blur sigma (pixels), the event counts, the static-to-moving ratio and how much of each is kept.

Usage: python benchmarks/denoise.py [--sigmas 0,0.5,1,1.5]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

from evfer.emulator import emulate

ROOT = Path(__file__).resolve().parents[1]
VIDEO = Path(os.environ.get("EVFER_SHARED_DATA", ROOT.parent / "shared" / "data")) / "videos" / "single_face.mp4"
FRAMES = 30


def load_frames() -> tuple[np.ndarray, str]:
    cap = cv2.VideoCapture(str(VIDEO))
    frames = []
    while len(frames) < FRAMES:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY))
    if len(frames) == FRAMES:
        return np.stack(frames), VIDEO.name
    from evfer.datasets.synthetic import render_sequence  # noqa: PLC0415 - fallback only

    seq = render_sequence(0, "happy", FRAMES, (320, 320), noise=False)
    return seq, "a synthetic face (shared video absent)"


def noisy(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sensor noise (Gaussian, 2 DN) and JPEG quality 85, as a camera and a lossy store would add."""
    g = np.clip(frame + rng.normal(0, 2, frame.shape), 0, 255).astype(np.uint8)
    return cv2.imdecode(cv2.imencode(".jpg", g, [cv2.IMWRITE_JPEG_QUALITY, 85])[1], cv2.IMREAD_GRAYSCALE)


def blur(frames: np.ndarray, sigma: float) -> np.ndarray:
    return frames if sigma == 0 else np.stack([cv2.GaussianBlur(f, (0, 0), sigma) for f in frames])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sigmas", default="0,0.5,1,1.5")
    args = ap.parse_args(argv)
    from evfer.training.machine import machine_line

    print(machine_line(), flush=True)
    torch.set_num_threads(1)
    frames, origin = load_frames()
    rng = np.random.default_rng(0)
    static = np.stack([noisy(frames[0], rng) for _ in range(FRAMES)])
    moving = np.stack([noisy(f, rng) for f in frames])
    ts = np.arange(FRAMES, dtype=np.int64) * 33_333
    print(f"{origin}, {frames.shape[2]}x{frames.shape[1]}, {FRAMES} frames, emulator preset clean")
    print(f"{'sigma px':>8} {'static events':>14} {'moving events':>14} {'static/moving':>13} "
          f"{'static cut':>10} {'moving kept':>11}")
    base = None
    for sigma in (float(s) for s in args.sigmas.split(",")):
        n_static = len(emulate(blur(static, sigma), ts, preset="clean"))
        n_moving = len(emulate(blur(moving, sigma), ts, preset="clean"))
        base = base or (n_static, n_moving)
        print(f"{sigma:>8.1f} {n_static:>14,} {n_moving:>14,} {n_static / n_moving:>13.2f} "
              f"{base[0] / max(n_static, 1):>9.1f}x {n_moving / base[1]:>11.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
