"""Recognition over time: speed, memory, live latency and correctness of windowed prediction.

Prints the machine line (CPU, cores, torch's CPU capability) and:

1. **video** — ``timeline()`` of a 60 s 640x480 video (the shared real face video, letterboxed to
   640x480 and looped) with the CPU recipe's network (ImageNet-shaped MobileNetV2 + LSTM on one
   112x112 event image per window; random weights: the speed does not depend on them), 1 s windows
   every 0.5 s: face detection, cropping, emulation, voxelization and the network, as x real time
   (target >= 3 on 2 AVX2 cores).
2. **recording** — the same on a synthetic ~1 GB EVT 3.0 ``.raw`` (1280x720, a face-sized blob plus
   background, ``--rate`` events/s), read in a child process: x real time and peak memory (targets
   >= 10x and < 1.5 GB).
3. **live** — ``evfer live --replay`` of 20 s of the video: median and 95th-percentile latency from a
   window's end to its label, 1 s windows every 0.5 s (target median < 250 ms).
4. **correctness** — a video of labelled segments of one synthetic identity that no training clip
   showed (expression A, then neutral, then B), labelled per window by a model trained on other
   synthetic identities (``--checkpoint``, else the demo recipe trained here once into ``--dir``):
   the share of windows fully inside a segment labelled with its expression (target >= 90 %) and
   the distance of each label change from its segment boundary (target: within one stride).

Usage: python benchmarks/timeline.py [--dir DIR] [--only video,recording,live,correctness]
       [--size-mb 1024] [--rate 1e6] [--checkpoint CKPT]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
VIDEO = ROOT.parent / "shared" / "data" / "videos" / "WolfgangLanger_Pexels.mp4"


# ------------------------------------------------------------------------------------- inputs
def long_video(out: Path, seconds: float = 60.0) -> Path:
    """The shared face video letterboxed to 640x480 and looped to ``seconds``, at its own frame rate."""
    import cv2

    if out.exists():
        return out
    cap = cv2.VideoCapture(str(VIDEO))
    fps = cap.get(cv2.CAP_PROP_FPS)
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        canvas = np.zeros((480, 640, 3), np.uint8)
        canvas[60:420] = f
        frames.append(canvas)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (640, 480))
    n = int(seconds * fps)
    for i in range(n):
        k = i % (2 * len(frames) - 2)  # forth and back: no jump at the loop
        writer.write(frames[k if k < len(frames) else 2 * len(frames) - 2 - k])
    writer.release()
    return out


def recipe_checkpoint(out: Path) -> Path:
    """A checkpoint of the CPU recipe's architecture (configs/ckplus-cpu.yaml) with random weights."""
    import torch

    from evfer.config import to_dict
    from evfer.configure import load_config
    from evfer.models import Recognizer
    from evfer.training.checkpoints import write_checkpoint

    if out.exists():
        return out
    cfg = load_config(ROOT / "configs" / "ckplus-cpu.yaml", ["model.pretrained=null"])
    torch.manual_seed(0)
    net = Recognizer(cfg.model, 6, 3)
    hp = {"architecture": net.architecture(), "config": to_dict(cfg),
          "classes": ["happy", "sad", "angry", "confused", "shocked", "neutral"]}
    write_checkpoint({"hyper_parameters": hp, "state_dict": {f"net.{k}": v for k, v in net.state_dict().items()}}, out)
    return out


def big_recording(out: Path, size_mb: float, rate: float) -> tuple[Path, float]:
    """A synthetic EVT 3.0 recording of ~``size_mb`` MB: a face-sized blob (60 %) plus uniform
    background at ``rate`` events/s; returns (path, seconds)."""
    from evfer.io import write_events
    from evfer.testing import blob_events

    bytes_per_event = 4.0  # measured below from the file
    seconds = max(1, int(size_mb * 1e6 / bytes_per_event / rate))
    meta = out.with_suffix(".json")
    if out.exists() and meta.exists():
        return out, json.loads(meta.read_text())["seconds"]

    def chunks():
        for s in range(seconds):
            n = int(rate)
            yield blob_events((480, 180, 320, 360), int(n * 0.6), n - int(n * 0.6), t_start=s * 1_000_000,
                              duration=1_000_000, seed=s)

    write_events(out, chunks())  # streamed: one second of events at a time
    meta.write_text(json.dumps({"seconds": seconds, "rate": rate}))
    return out, seconds


# ------------------------------------------------------------------------------------- measurements
def time_timeline(ckpt: Path, path: Path, window_us: int, stride_us: int) -> tuple[float, int]:
    from evfer.training.checkpoints import load_checkpoint
    from evfer.training.timeline import timeline

    model, classes, cfg = load_checkpoint(ckpt)
    t = time.perf_counter()
    rows = timeline(model, classes, cfg, path, window_us=window_us, stride_us=stride_us)
    return time.perf_counter() - t, len(rows)


CHILD = """
import json, resource, sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
from benchmarks.timeline import time_timeline
seconds, rows = time_timeline(Path({ckpt!r}), Path({path!r}), 1_000_000, 500_000)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"seconds": seconds, "rows": rows, "peak_mb": peak}}))
"""


def measure_recording(ckpt: Path, path: Path) -> dict:
    code = CHILD.format(root=str(ROOT), ckpt=str(ckpt), path=str(path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure_live(ckpt: Path, video: Path, seconds: float = 20.0) -> dict:
    from evfer.training.checkpoints import load_checkpoint
    from evfer.training.live import replay_chunks, run_live
    from evfer.training.timeline import Predictor

    model, classes, cfg = load_checkpoint(ckpt)
    kind, chunks = replay_chunks(cfg, video)
    limited = (c for c in chunks if c.t_end <= seconds * 1e6)
    summary = run_live(Predictor(model, classes, cfg, batch_size=1), cfg, kind, limited, window_us=1_000_000,
                       stride_us=500_000)
    return {"windows": len(summary.rows), "median_ms": summary.latency(50) * 1000, "p95_ms": summary.latency(95) * 1000,
            "dropped_chunks": summary.dropped_chunks}


def segment_video(out: Path, expressions=("happy", "shocked"), seg_s: float = 1.0, fps: float = 30.0,
                  identity: int = 7, seed: int = 9999) -> list[tuple[float, float, str]]:
    """A video of one synthetic identity (``seed`` differs from any training set's): A's onset over
    ``seg_s``, a return to neutral, ``seg_s`` of neutral, B's onset over ``seg_s``. Returns the
    labelled segments (start s, end s, label); the returns are unlabelled transitions."""
    import cv2

    from evfer.datasets.synthetic import render_sequence

    n = int(seg_s * fps)
    a = render_sequence(identity, expressions[0], n, (160, 160), seed=seed, fps=fps)
    back = a[::-1][: max(2, n // 3)]
    neutral = render_sequence(identity, "neutral", n, (160, 160), seed=seed, fps=fps)
    b = render_sequence(identity, expressions[1], n, (160, 160), seed=seed, fps=fps)
    frames = np.concatenate([a, back, neutral, b])
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), fps, (160, 160), False)
    for f in frames:
        writer.write(f)
    writer.release()
    t = 0.0
    segments = []
    for label, count in ((expressions[0], len(a)), (None, len(back)), ("neutral", len(neutral)), (expressions[1], len(b))):
        if label:
            segments.append((t, t + count / fps, label))
        t += count / fps
    return segments


def correctness(ckpt: Path, video: Path, segments, window_us: int, stride_us: int) -> dict:
    from evfer.training.checkpoints import load_checkpoint
    from evfer.training.timeline import timeline

    model, classes, cfg = load_checkpoint(ckpt)
    rows = timeline(model, classes, cfg, video, window_us=window_us, stride_us=stride_us)
    inside = [(r, label) for r in rows for a, b, label in segments if a <= r.start_s and r.end_s <= b + 1e-6]
    right = sum(r.label == label for r, label in inside)
    # each boundary between labelled segments: the first window whose label is the next segment's
    offsets = []
    for (a0, b0, l0), (a1, b1, l1) in zip(segments, segments[1:]):
        switch = next((r.end_s for r in rows if r.end_s > b0 and r.label == l1), None)
        offsets.append(None if switch is None else round(switch - a1, 3))
    return {"windows": len(rows), "inside": len(inside), "right": right,
            "share": right / max(len(inside), 1), "label_change_offsets_s": offsets,
            "labels": [(round(r.start_s, 2), r.label) for r in rows]}


def demo_checkpoint(folder: Path) -> Path:
    """The demo recipe trained once into ``folder`` (synthetic identities of the demo's seed)."""
    ckpt = folder / "demo" / "checkpoints" / "best.ckpt"
    if not ckpt.exists():
        subprocess.run([sys.executable, "-m", "evfer", "demo", "-o", str(folder / "demo")], check=True)
    return ckpt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "evfer-timeline-bench")
    ap.add_argument("--only", default="video,recording,live,correctness")
    ap.add_argument("--size-mb", type=float, default=1024)
    ap.add_argument("--rate", type=float, default=1e6, help="events/s of the synthetic recording (default 1e6)")
    ap.add_argument("--checkpoint", type=Path, help="model for the correctness check (default: the demo recipe)")
    args = ap.parse_args()
    from evfer.training.machine import machine_line

    print(machine_line(), flush=True)
    args.dir.mkdir(parents=True, exist_ok=True)
    only = set(args.only.split(","))
    ckpt = recipe_checkpoint(args.dir / "recipe-random.ckpt")
    if {"video", "live"} & only:
        video = long_video(args.dir / "face-60s-640x480.mp4")
    if "video" in only:
        seconds, rows = time_timeline(ckpt, video, 1_000_000, 500_000)
        print(f"video 60 s 640x480, 1 s windows every 0.5 s ({rows} windows): {seconds:.1f} s, "
              f"{60 / seconds:.1f}x real time (target >= 3x on 2 AVX2 cores)", flush=True)
    if "recording" in only:
        raw, length = big_recording(args.dir / f"blob-{int(args.rate)}.raw", args.size_mb, args.rate)
        r = measure_recording(ckpt, raw)
        print(f"recording {raw.stat().st_size / 1e9:.2f} GB EVT 3.0, {length:.0f} s at {args.rate:.0e} events/s "
              f"({r['rows']} windows): {r['seconds']:.1f} s, {length / r['seconds']:.1f}x real time, peak "
              f"{r['peak_mb']:.0f} MB (targets >= 10x, < 1500 MB)", flush=True)
    if "live" in only:
        r = measure_live(ckpt, video)
        print(f"live --replay, 1 s windows every 0.5 s ({r['windows']} windows): latency median {r['median_ms']:.0f} ms, "
              f"95th percentile {r['p95_ms']:.0f} ms, {r['dropped_chunks']} chunks dropped (target median < 250 ms)",
              flush=True)
    if "correctness" in only:
        model = args.checkpoint or demo_checkpoint(args.dir)
        seg_video = args.dir / "segments.avi"
        segments = segment_video(seg_video)
        from evfer.training.checkpoints import read_hparams
        from evfer.training.timeline import default_window, training_clips

        window, stride = default_window(training_clips(read_hparams(model))) or (500_000, 250_000)
        stride = min(stride, 100_000)
        r = correctness(model, seg_video, segments, window, stride)
        print(f"correctness: {r['right']} of {r['inside']} windows inside a segment right ({r['share']:.0%}; target "
              f">= 90 %), window {window / 1e6:g} s, stride {stride / 1e6:g} s; label changes after the segment "
              f"boundaries by {r['label_change_offsets_s']} s (target: within one stride + a window)", flush=True)
        print("  " + " ".join(f"{t}:{label}" for t, label in r["labels"]), flush=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
