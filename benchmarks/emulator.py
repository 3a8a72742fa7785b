"""DVS emulator speed at CK+ size (640x490 grey) with real motion.

Frames: the shared face videos (``../shared/data/videos/*.mp4``) resized to 640x490 grey
(``--frames`` per video); if they are absent, a synthetic moving scene (announced).
Measures, in one process and on the same frames:

  * ``emulate`` with presets ``clean`` (interpolated timestamps, the default) and ``v2e``:
    frames/s and events/s, wall clock (best and median of ``--repeat`` runs) and process CPU time;
  * a plain NumPy baseline written like v2e's EventEmulator (per frame: lin-log, counts, then a
    Python loop over event slices), ``clean`` parameters with v2e's timestamps — run on the first
    ``--baseline-frames`` frames only and extrapolated (labelled as such);
  * a whole 20-frame CK+-size sequence including file I/O: 20 PNGs in a folder -> ``convert_file``
    (read, emulate, write the HDF5 store), wall time, best of ``--repeat``.

For scale (quoted, not measured here): v2e's own EventEmulator without SuperSloMo runs ~37 frames/s
(clean) and ~25 frames/s (v2e defaults) on 640x490 CK+ frames on these 2 cores.

The emulator runs each clip on one CPU thread (its default; see ``Emulator(threads=...)``); the
other core is for a second clip (``evfer convert --workers 2``). The machine may be shared: the load
average is printed before and after, and CPU time is reported next to wall time.

Usage::

    python benchmarks/emulator.py [--frames 150] [--repeat 5] [--baseline-frames 12]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
VIDEOS = Path(os.environ.get("EVFER_SHARED_DATA", ROOT.parent / "shared" / "data")) / "videos"
SIZE = (640, 490)  # W, H of CK+ frames
V2E_QUOTED = {"clean": 37.0, "v2e": 25.0}


def load_frames(per_video: int) -> tuple[list[tuple[str, np.ndarray, np.ndarray]], str]:
    """[(name, frames uint8 (N, 490, 640), timestamps µs)], and where they came from."""
    from evfer.emulator import read_frames

    clips = []
    for path in sorted(VIDEOS.glob("*.mp4")):
        frames, t = read_frames(path, size=SIZE)
        clips.append((path.name, frames[:per_video], t[:per_video]))
    if clips:
        return clips, f"shared videos {', '.join(c[0] for c in clips)} resized to {SIZE[0]}x{SIZE[1]}"
    from evfer.testing import moving_frames

    print(f"NOTE: {VIDEOS} not found; using a synthetic moving scene instead")
    n = per_video
    t = np.round(np.arange(n) * 1e6 / 30).astype(np.int64)
    origin = "synthetic moving scene (shared videos absent)"
    return [("synthetic", moving_frames(n, SIZE[1], SIZE[0]), t)], origin


def time_emulate(frames: np.ndarray, t: np.ndarray, preset: str, repeat: int, clip_id: str) -> dict:
    from evfer.emulator import emulate

    emulate(frames[:3], t[:3], preset=preset)  # warm-up (tables, allocator)
    walls, cpus = [], []
    n_events = 0
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        n_events = len(emulate(frames, t, preset=preset, clip_id=clip_id))
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    steps = len(frames) - 1  # frame intervals emulated
    return {"steps": steps, "events": n_events, "wall_best": min(walls),
            "wall_median": statistics.median(walls), "cpu_best": min(cpus)}


# ------------------------------------------------------------------------------------------ baseline
def numpy_v2e_loop(frames: np.ndarray, t_us: np.ndarray, seed: int = 0) -> int:
    """A plain NumPy port of v2e's EventEmulator loop (clean parameters; v2e's slice timestamps).

    Returns the number of events (kept as arrays like v2e keeps its event rows).
    """
    rng = np.random.default_rng(seed)

    def lin_log(x):
        x = x.astype(np.float64)
        y = np.where(x <= 20, x * (math.log(20) / 20), np.log(np.maximum(x, 20)))
        return (np.round(y * 1e8) / 1e8).astype(np.float32)

    shape = frames.shape[1:]
    th_on = np.maximum(rng.normal(0.2, 0.02, shape), 0.01).astype(np.float32)
    th_off = np.maximum(rng.normal(0.2, 0.02, shape), 0.01).astype(np.float32)
    base = lin_log(frames[0])
    events = []
    for k in range(1, len(frames)):
        diff = lin_log(frames[k]) - base
        n_on = np.floor(np.maximum(diff, 0) / th_on).astype(np.int32)
        n_off = np.floor(np.maximum(-diff, 0) / th_off).astype(np.int32)
        n_slices = max(int(n_on.max()), int(n_off.max()), 1)
        dt = (t_us[k] - t_us[k - 1]) * 1e-6
        for i in range(n_slices):
            ts = t_us[k - 1] * 1e-6 + dt * (i + 1) / n_slices
            for sign, n in ((1, n_on), (-1, n_off)):
                y, x = np.nonzero(n >= i + 1)
                rows = np.empty((len(x), 4), np.float32)
                rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3] = ts, x, y, sign
                events.append(rows[rng.permutation(len(rows))])
        base = base + n_on * th_on - n_off * th_off
    return sum(len(e) for e in events)


# ------------------------------------------------------------------------------------------ CK+ sequence
def time_sequence(frames: np.ndarray, repeat: int) -> dict:
    """convert_file on a folder of 20 PNGs; best/median wall time and a read/emulate/write split."""
    import cv2

    from evfer.emulator import Emulator, read_frames
    from evfer.emulator.convert import convert_file
    from evfer.io import write_events

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "S999" / "001"
        folder.mkdir(parents=True)
        for k, f in enumerate(frames[:20]):
            cv2.imwrite(str(folder / f"S999_001_{k + 1:08d}.png"), f)
        times = []
        for r in range(repeat + 1):
            out = Path(tmp) / f"out{r}.h5"
            w0 = time.perf_counter()
            convert_file(folder, out, fps=30)
            times.append(time.perf_counter() - w0)
        n_events = read_events_count(out)
        w0 = time.perf_counter()
        fr, t = read_frames(folder, fps=30)
        w1 = time.perf_counter()
        emu = Emulator(fr.shape[1], fr.shape[2], preset="clean")
        ev = emu.feed(fr, t)
        w2 = time.perf_counter()
        write_events(Path(tmp) / "split.h5", ev)
        w3 = time.perf_counter()
    return {"best": min(times[1:]), "median": statistics.median(times[1:]), "first": times[0],
            "events": n_events, "split": (w1 - w0, w2 - w1, w3 - w2)}


def read_events_count(path: Path) -> int:
    from evfer.io import probe

    return probe(path).n_events


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=150, help="frames per video (default 150)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--baseline-frames", type=int, default=12)
    args = ap.parse_args()
    from evfer.training.machine import machine_line

    print(machine_line(), flush=True)

    import torch

    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores "
          f"(torch {torch.__version__}, emulator on 1 CPU thread per clip)")
    clips, origin = load_frames(args.frames)
    n_frames = sum(len(f) for _, f, _ in clips)
    print(f"frames: {origin}; {n_frames} frames in {len(clips)} clip(s)\n")

    for name, frames, t in clips:
        print(f"{name}: {len(frames)} frames")
        res = {}
        for preset in ("clean", "v2e"):
            r = res[preset] = time_emulate(frames, t, preset, args.repeat, name)
            fps = r["steps"] / r["wall_best"]
            median, cpu = r["steps"] / r["wall_median"], r["steps"] / r["cpu_best"]
            mev, per_frame = r["events"] / r["wall_best"] / 1e6, r["events"] / r["steps"]
            print(f"  {preset:6s} {fps:6.0f} frames/s (wall best; median {median:.0f}; CPU time {cpu:.0f})  "
                  f"{mev:5.2f} Mev/s  {per_frame:7.0f} events/frame   {fps / V2E_QUOTED[preset]:4.1f}x "
                  f"v2e's quoted {V2E_QUOTED[preset]:.0f} frames/s")
        nb = min(args.baseline_frames, len(frames))
        w0 = time.perf_counter()
        n_base = numpy_v2e_loop(frames[:nb], t[:nb])
        base_s = time.perf_counter() - w0
        base_fps = (nb - 1) / base_s
        clean_fps = res["clean"]["steps"] / res["clean"]["wall_best"]
        print(f"  baseline: plain NumPy v2e-style loop (clean parameters, v2e timestamps) on the first "
              f"{nb - 1} "
              f"intervals, extrapolated: {base_fps:.1f} frames/s ({n_base / base_s / 1e6:.2f} Mev/s); "
              f"evfer clean = {clean_fps / base_fps:.1f}x")
        seq = time_sequence(frames, args.repeat)
        r_, e_, w_ = seq["split"]
        print(f"  20-frame sequence incl. I/O (20 PNGs -> read, emulate, write HDF5 store, clean): "
              f"{seq['best'] * 1e3:.0f} ms best, {seq['median'] * 1e3:.0f} ms median (first call "
              f"{seq['first'] * 1e3:.0f} ms; {seq['events']:,} events; split read/emulate/write "
              f"{r_ * 1e3:.0f}/{e_ * 1e3:.0f}/{w_ * 1e3:.0f} ms)\n")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
