"""Reading a 10-s window of a large recording: time and peak memory against the file size.

Writes a synthetic recording (default ~1 GB of EVT 3.0, 1280x720, 5 M events/s, uniformly random
pixels) as ``.raw`` and as the evfer ``.h5`` store, then measures, each in a fresh process (peak RSS
during the read minus the RSS before it; Linux VmHWM after resetting it):

  * ``read_events(path, t_start, t_end)`` for a 10-s window in the middle of the recording;
  * the naive baseline for the same window: decode the whole file (evt3.decode_file / h5py), then filter;
  * a full ``read_events`` and a full streaming pass with ``iter_events`` (bounded memory).

The file is in the page cache (just written), for ours and the baseline alike. Usage::

    python benchmarks/io_window.py [--size-mb 1024] [--rate 5e6] [--dir DIR] [--keep] [--no-full]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WIDTH, HEIGHT = 1280, 720
BYTES_PER_EVENT = 4.39  # faery's EVT 3.0 for uniformly random pixels (measured)


def _status_mb(key: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024 / 1e6  # kB -> MB
    raise KeyError(key)


def _reset_peak() -> float:
    """Reset the peak-RSS counter (Linux: clear_refs 5) and return the current RSS in MB."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _status_mb("VmRSS")
    except OSError:  # not Linux, or not allowed: fall back to the lifetime peak
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def _peak_mb() -> float:
    try:
        return _status_mb("VmHWM")
    except (OSError, KeyError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def chunks(seconds: int, rate: float):
    """One Events chunk per second of recording (µs clock from 0), deterministic seeds."""
    from evfer.events import Events
    from evfer.testing import random_events

    for k in range(seconds):
        ev = random_events(int(rate), WIDTH, HEIGHT, t_start=k * 1_000_000, duration=999_999, seed=k)
        yield Events(ev.array, WIDTH, HEIGHT, {}, check=False)  # no metadata: no header rewrite


def measure(mode: str, path: str, t0: int, t1: int) -> dict:
    """Run one measurement in this (fresh) process."""
    import numpy as np

    from evfer.io import iter_events, read_events

    if path.endswith(".raw"):
        import evt3  # noqa: F401 - loaded before the baseline RSS, like h5py below
    import h5py

    base = _reset_peak()
    start = time.perf_counter()
    if mode == "window":
        n = len(read_events(path, t_start=t0, t_end=t1))
    elif mode == "full":
        n = len(read_events(path))
    elif mode == "stream":
        n = sum(len(c) for c in iter_events(path, chunk_events=1_000_000))
    elif mode == "baseline":  # whole file into memory, then filter
        if path.endswith(".raw"):
            import evt3

            ev = evt3.decode_file(path)
            t = ev.t.astype(np.int64)
            keep = (t >= t0) & (t < t1)
            n = int(np.count_nonzero(keep))
            _ = ev.x[keep], ev.y[keep], ev.p[keep]
        else:
            with h5py.File(path, "r") as f:
                cols = {k: f["events"][k][:] for k in "txyp"}
            keep = (cols["t"] >= t0) & (cols["t"] < t1)
            n = int(np.count_nonzero(keep))
            _ = [c[keep] for c in cols.values()]
    else:
        raise ValueError(mode)
    return {"seconds": time.perf_counter() - start, "events": n, "peak_mb": _peak_mb() - base}


def run_child(mode: str, path: Path, t0: int, t1: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--measure", mode, "--path", str(path), "--t0", str(t0), "--t1", str(t1)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=float, default=1024, help="target .raw size (default 1024)")
    ap.add_argument("--rate", type=float, default=5e6, help="events per second (default 5e6)")
    ap.add_argument("--window-s", type=float, default=10.0, help="window length in seconds (default 10)")
    ap.add_argument("--dir", help="work folder (default: a new temporary folder, removed afterwards)")
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    ap.add_argument("--no-full", action="store_true", help="skip full reads (they hold everything in memory)")
    ap.add_argument("--measure", help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    ap.add_argument("--t0", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--t1", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.path, args.t0, args.t1)))
        return

    from evfer.training.machine import machine_line

    print(machine_line(), flush=True)
    from evfer.io import write_events

    work = Path(args.dir or tempfile.mkdtemp(prefix="evfer-io-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    seconds = max(math.ceil(args.size_mb * 1e6 / (args.rate * BYTES_PER_EVENT)), int(args.window_s) + 2)
    window = int(args.window_s * 1e6)
    t0 = (seconds * 1_000_000 - window) // 2  # the middle of the recording
    t1 = t0 + window
    try:
        print(f"writing {seconds} s x {args.rate:.3g} ev/s = {seconds * args.rate:,.0f} events to {work} ...")
        files = {}
        for name in ("big.raw", "big.h5"):
            start = time.perf_counter()
            files[name] = write_events(work / name, chunks(seconds, args.rate))
            took = time.perf_counter() - start
            print(f"  {name}: {os.path.getsize(files[name]) / 1e6:,.0f} MB in {took:.1f} s")
        modes = ["window", "baseline", "stream"] + ([] if args.no_full else ["full"])
        labels = {
            "window": f"read_events window [{t0 / 1e6:g}, {t1 / 1e6:g}) s",
            "baseline": "baseline: load whole file, filter",
            "stream": "iter_events, whole file (1 M chunks)",
            "full": "read_events, whole file",
        }
        print(f"\n{'file':<9} {'what':<40} {'time s':>8} {'peak MB':>9} {'events':>13}   (MB = 1e6 bytes)")
        for name, path in files.items():
            size = os.path.getsize(path) / 1e6
            res = {m: run_child(m, path, t0, t1) for m in modes}
            for m in modes:
                r = res[m]
                row = f"{r['seconds']:>8.2f} {r['peak_mb']:>9.0f} {r['events']:>13,}"
                print(f"{name:<9} {labels[m]:<40} {row}")
            w, b = res["window"], res["baseline"]
            assert w["events"] == b["events"], (w, b)
            held = w["events"] * 13 / 1e6  # the window as Events: 13 bytes per event
            print(
                f"{name:<9} {size:,.0f} MB file, window = {held:,.0f} MB of Events: peak = "
                f"{w['peak_mb'] / held:.2f} x that; baseline/ours: time {b['seconds'] / w['seconds']:.1f}x, "
                f"memory {b['peak_mb'] / max(w['peak_mb'], 1):.1f}x\n"
            )
        print("(2 shared CPU cores: figures taken under contention with other jobs)")
    finally:
        if args.keep:
            print(f"kept {work}")
        elif not args.dir:
            shutil.rmtree(work, ignore_errors=True)
        else:
            for name in ("big.raw", "big.h5"):
                (work / name).unlink(missing_ok=True)


if __name__ == "__main__":
    main()
