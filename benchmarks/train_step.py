"""Training-step and prediction speed of each backbone + LSTM on this machine, per precision.

For the demo config (evfer/configs/demo.yaml), the default config (evfer.config defaults) and the CPU
recipe (configs/ckplus-cpu.yaml: one 3-channel event image per clip), for
each backbone (ResNet-18/50, MobileNetV2, ...) and each precision (``auto`` is resolved as training
resolves it: bf16 only where the CPU computes it natively):
- training: clips/s of a full step (forward, loss, backward, Adam) with batches served by the real
  data path (voxel cache memmap -> VoxelClipDataset -> augmentation -> DataLoader, as in training),
  and the share of the step time spent waiting for data (target < 10 %); a plain loop, so
  Lightning's own per-step overhead (logging, callbacks) is not included;
- prediction: ms per clip (batch 1, eval mode).

The header names torch's CPU capability (``ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2`` shows an
AVX2-only machine) and what ``train.precision: auto`` picks here.

Usage: python benchmarks/train_step.py [--steps N] [--configs demo,default,cpu]
       [--backbones resnet18,resnet50,mobilenet_v2] [--precisions auto,fp32]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from evfer.config import AugmentConfig, Config, ModelConfig
from evfer.configure import load_config
from evfer.datasets.labels import SIX
from evfer.datasets.manifest import ClipRecord
from evfer.datasets.voxel_cache import VoxelCache, VoxelClipDataset
from evfer.models import build_model
from evfer.training.augment import ClipAugment
from evfer.training.demo import demo_config
from evfer.training.machine import machine_line
from evfer.training.precision import resolve_precision
from evfer.training.train import input_channels


def _shape(cfg: Config) -> tuple[int, int, int, int, int]:
    return (cfg.voxel.windows, input_channels(cfg), *cfg.voxel.size, cfg.train.batch_size)


ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {  # name: (T, channels, H, W, batch), read from the configs so the figures stay true
    "demo": _shape(demo_config(Path("runs/demo"))),
    "default": _shape(Config()),
    "cpu": _shape(load_config(ROOT / "configs" / "ckplus-cpu.yaml")),  # 3-channel event images, T=1
}
CLASSES = list(SIX)


def make_cache(folder: Path, n: int, t: int, bins: int, h: int, w: int) -> VoxelCache:
    """A voxel cache of ``n`` random clips in the real on-disk format (float16 memmap)."""
    import json

    arr = np.lib.format.open_memmap(folder / "voxels.npy", mode="w+", dtype=np.float16, shape=(n, t, bins, h, w))
    rng = np.random.default_rng(0)
    for i in range(n):
        arr[i] = rng.standard_normal((t, bins, h, w)).astype(np.float16)
    arr.flush()
    (folder / "ids.txt").write_text("\n".join(f"c{i}" for i in range(n)) + "\n")
    (folder / "params.json").write_text(json.dumps({"bins": bins}))
    return VoxelCache(folder)


def autocast(precision: str):
    return (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if precision == "bf16" else nullcontext


def bench_train(cfg: str, backbone: str, precision: str, steps: int, folder: Path) -> dict:
    t, bins, h, w, batch = CONFIGS[cfg]
    n = batch * (steps + 2)
    cache = make_cache(folder, n, t, bins, h, w)
    records = [ClipRecord(f"c{i}", "bench", "S", "x", CLASSES[i % 6], split="train") for i in range(n)]
    ds = VoxelClipDataset(cache, records, CLASSES, ClipAugment(AugmentConfig()))
    loader = torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=True, num_workers=0)
    # channels_last in both precisions, so the fp32/bf16 ratio isolates the precision
    model = build_model(ModelConfig(backbone=backbone), 6, bins).to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    ctx = autocast(precision)
    model.train()
    data_s = step_s = 0.0
    it = iter(loader)
    for i in range(steps + 2):  # 2 warm-up steps
        t0 = time.perf_counter()
        x, y = next(it)
        t1 = time.perf_counter()
        with ctx():
            loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        t2 = time.perf_counter()
        if i >= 2:
            data_s += t1 - t0
            step_s += t2 - t0
    return {"clips_per_s": steps * batch / step_s, "data_share": data_s / step_s}


@torch.no_grad()
def bench_predict(cfg: str, backbone: str, precision: str, reps: int) -> float:
    t, bins, h, w, _ = CONFIGS[cfg]
    model = build_model(ModelConfig(backbone=backbone), 6, bins).eval()
    model = model.to(memory_format=torch.channels_last)
    ctx = autocast(precision)
    x = torch.randn(1, t, bins, h, w)
    for _ in range(2):
        with ctx():
            model.predict_proba(x)
    t0 = time.perf_counter()
    for _ in range(reps):
        with ctx():
            model.predict_proba(x)
    return (time.perf_counter() - t0) / reps * 1000


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--configs", default="demo,default,cpu")
    ap.add_argument("--backbones", default="resnet18,resnet50,mobilenet_v2")
    ap.add_argument("--precisions", default="auto,fp32", help="auto, bf16, fp32 (auto resolved as in training)")
    args = ap.parse_args(argv)
    auto = resolve_precision("auto", "cpu")
    print(f"{machine_line()}; precision auto -> {auto.name} ({auto.reason})")
    precisions = []
    for name in args.precisions.split(","):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # bf16 without native support: the slowdown is what is measured
            resolved = resolve_precision(name, "cpu").name
        if resolved not in precisions:
            precisions.append(resolved)
    print(f"{'config':<8} {'input (T,C,H,W) x B':<21} {'backbone':<13} {'precision':<9} {'train clips/s':>13} "
          f"{'data share':>10} {'predict ms/clip':>15}")
    for cfg in args.configs.split(","):
        t, bins, h, w, batch = CONFIGS[cfg]
        for backbone in args.backbones.split(","):
            for precision in precisions:
                with tempfile.TemporaryDirectory() as tmp:
                    r = bench_train(cfg, backbone, precision, args.steps, Path(tmp))
                ms = bench_predict(cfg, backbone, precision, reps=5)
                print(f"{cfg:<8} {f'({t},{bins},{h},{w}) x {batch}':<21} {backbone:<13} {precision:<9} "
                      f"{r['clips_per_s']:>13.1f} {r['data_share']:>9.1%} {ms:>15.1f}", flush=True)
    print("data share target < 10 %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
