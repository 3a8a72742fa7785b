"""Does ``evfer prepare`` still make the same dataset? Inputs for the check, and the comparison.

A refactoring must not change results. This tool builds three prepare inputs and compares two
prepared output folders made from them (e.g. by an older checkout and by this one):

- ``demo20``: the demo config (``evfer/configs/demo.yaml``) with its first 20 identities;
- ``ckplus``: a small CK+-layout tree (official layout, burnt-in timecode, onset-neutral clips,
  a background-activity filter on the events);
- ``nefer``: a NEFER-layout tree of EVT 3.0 recordings (a face-like blob + noise) with annotation
  CSVs, density face boxes and the official split.

Usage::

    python tools/prepare_regression.py inputs DIR          # write DIR/<name>.yaml and the input trees
    evfer prepare DIR/demo20.yaml data.out=A/demo20 --quiet   # once per config and code version
    python tools/prepare_regression.py compare A B         # exit 1 and list the differences, if any

``compare`` checks, per dataset folder: the manifest rows (every column), the decoded events of
every clip (t, x, y, p and sensor size), and every voxel cache's ids and arrays (bit for bit).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

DEMO_IDENTITIES = 20


def _demo_yaml(root: Path) -> str:
    from importlib import resources

    import yaml

    raw = yaml.safe_load(resources.files("evfer.configs").joinpath("demo.yaml").read_text())
    src = raw["data"]["sources"][0]
    src["root"] = str(root / "demo-synthetic")
    src["identities"] = DEMO_IDENTITIES
    raw["data"]["out"] = str(root / "out" / "demo20")
    return yaml.safe_dump(raw, sort_keys=False)


def make_inputs(root: Path) -> None:
    """Write the three configs and the CK+ / NEFER trees under ``root``."""
    from evfer.datasets.synthetic import synthesize
    from evfer.io import write_events
    from evfer.testing import blob_events

    root = root.resolve()
    root.mkdir(parents=True, exist_ok=True)
    (root / "demo20.yaml").write_text(_demo_yaml(root))

    synthesize(root / "ck", 4, seed=3, frames=(8, 12), size=(120, 120), timecode=True, progress=False)
    (root / "ckplus.yaml").write_text(f"""seed: 0
data:
  sources:
    - {{kind: ckplus, root: {root / 'ck'}, frame_size: [64, 64], onset_frames: 3, blur_sigma: 0.5}}
  denoise: {{window_us: 66000, radius: 1}}
  split: {{method: subject, fractions: [0.5, 0.25, 0.25], seed: 2}}
  balance: {{method: undersample, seed: 1}}
  out: {root / 'out' / 'ckplus'}
  workers: 2
emulator: {{preset: clean, params: {{pos_thres: 0.1, neg_thres: 0.1}}, seed: 4}}
voxel: {{bins: 5, windows: 3, size: [32, 32], normalize: e2vid}}
""")

    nefer = root / "nefer"
    users = {"user_01": "train", "user_02": "train", "user_03": "validation", "user_04": "train"}
    emotions = ["Happiness", "Sadness", "Surprise", "Neutral"]
    tables: dict[str, list[list[str]]] = {"train": [], "validation": []}
    for u, (user, split) in enumerate(users.items()):
        for k, emotion in enumerate(emotions):
            seq = f"user{user[-2:]}_2022-06-0{k + 1}_10-00-0{u}"
            box = (400 + 40 * u, 150 + 10 * k, 320, 320)
            ev = blob_events(box, 4000, 500, 1280, 720, duration=300_000, seed=100 * u + k)
            write_events(nefer / "event_raw" / user / f"{seq}.raw", ev)
            tables[split] += [[user, f"{seq}_cd", f"frames/{seq}/{i:04d}.png", emotion] for i in range(51)]
    for split, rows in tables.items():
        path = nefer / "annotations" / "expected_emotions" / f"{split}_event.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as f:
            csv.writer(f).writerows(rows)
    (root / "nefer.yaml").write_text(f"""seed: 0
data:
  sources:
    - {{kind: nefer, root: {nefer}}}
  split: {{method: official, fractions: [0.7, 0.2, 0.1], seed: 0}}
  out: {root / 'out' / 'nefer'}
  workers: 1
voxel: {{bins: 4, windows: 2, size: [40, 40]}}
""")
    print(f"inputs in {root}: demo20.yaml, ckplus.yaml, nefer.yaml")


def _manifest(folder: Path) -> list[dict]:
    with (folder / "manifest.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def compare(a: Path, b: Path) -> list[str]:
    """Differences between two prepared dataset folders (empty list: identical results)."""
    from evfer.io import read_events

    problems: list[str] = []
    rows_a, rows_b = _manifest(a), _manifest(b)
    if rows_a != rows_b:
        problems.append(f"{a.name}: manifest rows differ ({len(rows_a)} vs {len(rows_b)} rows)")
        for ra, rb in zip(rows_a, rows_b):
            if ra != rb:
                diff = {k: (ra.get(k), rb.get(k)) for k in set(ra) | set(rb) if ra.get(k) != rb.get(k)}
                problems.append(f"  first differing row {ra.get('id')}: {diff}")
                break
    for row in rows_a:
        ea, eb = read_events(a / row["events_path"]), read_events(b / row["events_path"])
        if ea.sensor_size != eb.sensor_size or not np.array_equal(ea.array, eb.array):
            problems.append(f"{a.name}: events of {row['id']} differ ({len(ea)} vs {len(eb)} events)")
    caches_a = sorted(p.name for p in (a / "voxels").iterdir() if p.is_dir() and not p.name.startswith("."))
    caches_b = sorted(p.name for p in (b / "voxels").iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(caches_a) != 1 or len(caches_b) != 1:
        problems.append(f"{a.name}: expected one voxel cache each, got {caches_a} and {caches_b}")
        return problems
    va, vb = a / "voxels" / caches_a[0], b / "voxels" / caches_b[0]
    if (va / "ids.txt").read_text() != (vb / "ids.txt").read_text():
        problems.append(f"{a.name}: voxel cache clip ids differ")
    xa, xb = np.load(va / "voxels.npy"), np.load(vb / "voxels.npy")
    if xa.shape != xb.shape or not np.array_equal(xa, xb):
        problems.append(f"{a.name}: voxel arrays differ (shapes {xa.shape} vs {xb.shape})")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("inputs", help="write the configs and input trees")
    p.add_argument("dir", type=Path)
    p = sub.add_parser("compare", help="compare two folders of prepared datasets (A/<name>, B/<name>)")
    p.add_argument("a", type=Path)
    p.add_argument("b", type=Path)
    args = ap.parse_args(argv)
    if args.cmd == "inputs":
        make_inputs(args.dir)
        return 0
    problems = []
    names = sorted(p.name for p in args.a.iterdir() if (p / "manifest.csv").is_file())
    for name in names:
        found = compare(args.a / name, args.b / name)
        problems += found
        print(f"{name}: {'identical' if not found else 'DIFFERENT'}")
    for line in problems:
        print(line)
    return 1 if problems or not names else 0


if __name__ == "__main__":
    sys.exit(main())
