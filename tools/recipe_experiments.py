"""The measured comparison behind the CPU recipe (``configs/ckplus-cpu.yaml``, ``docs/recipe.md``).

Runs ``evfer cv`` (5 subject folds) for every recipe variant on each development set and appends one
JSON line per run to ``OUT/results.jsonl`` (pooled accuracy with its Wilson 95 % interval, the
accuracy on expression clips alone, wall time, CPU capability, precision). Re-running skips the runs
already recorded (and ``evfer cv`` itself resumes finished folds).

Development sets (no CK+ here): ``yale`` — the 15 real Yale faces as ``kind: stills`` (neutral +
happy/sad/surprised, morphed; ``../shared/data/faces-yale``); ``synthetic`` — 16 synthetic identities
with onset-neutral clips, as CK+ has.

The variant ``bn-frozen+epochs-40+face-event-pretrained`` needs ``OUT/pretrain/mobilenet_v2-face-events.pt``
(``python tools/pretrain_experiment.py OUT/pretrain`` first).

Usage: TORCH_HOME=../shared/weights python tools/recipe_experiments.py OUT [--sets yale,synthetic]
       [--only NAME,NAME] [--seeds 0,1,2]
       python tools/recipe_experiments.py OUT --spread | --table [--results FILE] [--machine AMD]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
YALE = ROOT.parent / "shared" / "data" / "faces-yale"

#: the data of each development set (overrides on top of configs/ckplus-cpu.yaml)
SETS = {
    "yale": ["data.sources=[{kind: stills, root: %s, frame_size: [128, 128]}]" % YALE],
    "synthetic": ["data.sources=[{kind: synthetic, root: {out}/synthetic, identities: 16, seed: 11, "
                  "frames: [12, 20], neutral_from_onset: true, frame_size: [128, 128], face_margin: 0.05, "
                  "blur_sigma: 0.5}]", "emulator.params={pos_thres: 0.1, neg_thres: 0.1}"],
}

#: the baseline every variant changes: configs/ckplus-cpu.yaml as it was before these measurements chose
#: BatchNorm frozen and 40 epochs (ImageNet MobileNetV2, event image T=1 112x112, Adam 1e-4, 20 epochs)
BASELINE = ["train.epochs=20", "train.patience=20", "train.bn=train"]

#: the recipe chosen before issue 18 (configs/ckplus-cpu.yaml at commit d7ab628) on top of BASELINE
RECIPE = ["train.bn=frozen", "train.epochs=40", "train.patience=40"]

#: variant name -> overrides on top of the baseline; ``ckplus-cpu.yaml`` is the shipped recipe
VARIANTS: dict[str, list[str]] = {
    "baseline": [],
    "scratch-resnet18-voxels": ["model.backbone=resnet18", "model.pretrained=null", "voxel.representation=voxel_grid",
                                "voxel.bins=10", "voxel.windows=3", "voxel.size=[56, 56]", "train.lr=0.001"],
    "random-init": ["model.pretrained=null"],
    "voxel-grid-adapted-stem": ["voxel.representation=voxel_grid", "voxel.bins=5"],
    "windows-3": ["voxel.windows=3"],
    "head-lr-x10": ["train.lr=0.001", "train.backbone_lr=0.0001"],
    "label-smoothing": ["train.label_smoothing=0.1"],
    "mixup": ["train.mixup=0.2"],
    "bn-frozen": ["train.bn=frozen"],
    "ema": ["train.ema_decay=0.95"],
    "tta-flip": ["train.tta_flip=true"],
    "warmup-cosine": ["train.warmup_epochs=2", "train.scheduler=cosine"],
    "no-normalisation": ["voxel.normalize=none"],
    "epochs-40": ["train.epochs=40"],
    "size-128": ["voxel.size=[128, 128]"],
    "bn-frozen+mixup": ["train.bn=frozen", "train.mixup=0.2"],
    "bn-frozen+epochs-40": ["train.bn=frozen", "train.epochs=40"],
    "bn-frozen+mixup+epochs-40": ["train.bn=frozen", "train.mixup=0.2", "train.epochs=40"],
    "bn-frozen+tta-flip": ["train.bn=frozen", "train.tta_flip=true"],
    # configs/ckplus-cpu.yaml as shipped before issue 18 (no early stop, the best validation epoch kept)
    "ckplus-cpu.yaml": ["train.bn=frozen", "train.epochs=40", "train.patience=40"],
    # the backbone first trained to reconstruct synthetic faces from their events (tools/pretrain_experiment.py)
    "bn-frozen+epochs-40+face-event-pretrained": ["train.bn=frozen", "train.epochs=40",
                                                  "model.pretrained={out}/pretrain/mobilenet_v2-face-events.pt"],
    # --- model selection and averaging (issue 18), each on top of the recipe above (ckplus-cpu.yaml)
    "val-acc-later": [*RECIPE, "train.select=val_acc"],  # ties go to the later epoch
    "val-loss": [*RECIPE, "train.select=val_loss"],
    "last": [*RECIPE, "train.select=last"],
    "swa-10": [*RECIPE, "train.select=last", "train.average_epochs=10"],
    "head-5+swa-10": [*RECIPE, "train.select=last", "train.average_epochs=10", "train.head_epochs=5"],
    "last+ensemble-3": [*RECIPE, "train.select=last", "train.ensemble=3"],
    "swa-10+ensemble-3": [*RECIPE, "train.select=last", "train.average_epochs=10", "train.ensemble=3"],
    "last+ensemble-3+epochs-25": [*RECIPE, "train.select=last", "train.ensemble=3", "train.epochs=25"],
    # the validation subjects train too (a fixed budget needs no validation); the test folds are unchanged
    "last+noval": [*RECIPE, "train.select=last", "data.split.fractions=[0.85, 0.0, 0.15]"],
    "last+noval+ensemble-3+epochs-25": [*RECIPE, "train.select=last", "data.split.fractions=[0.85, 0.0, 0.15]",
                                        "train.ensemble=3", "train.epochs=25"],
    # configs/ckplus-cpu.yaml since issue 18
    "head-5+last": [*RECIPE, "train.select=last", "train.head_epochs=5"],
    "head-10+swa-10": [*RECIPE, "train.select=last", "train.average_epochs=10", "train.head_epochs=10"],
    "head-5+swa-10+ensemble-3": [*RECIPE, "train.select=last", "train.average_epochs=10", "train.head_epochs=5",
                                 "train.ensemble=3"],
    # a linear probe: the ImageNet backbone never trains, only the LSTM head (fast, and little for a seed to change)
    "head-40": [*RECIPE, "train.select=last", "train.head_epochs=40"],
    "head-40+lr-1e-3": [*RECIPE, "train.select=last", "train.head_epochs=40", "train.lr=0.001"],
    # the probe-then-fine-tune recipe with the validation subjects training too
    "head-5+swa-10+noval": [*RECIPE, "train.select=last", "train.average_epochs=10", "train.head_epochs=5",
                            "data.split.fractions=[0.85, 0.0, 0.15]"],
    "head-5+swa-10+noval+ensemble-3": [*RECIPE, "train.select=last", "train.average_epochs=10",
                                       "train.head_epochs=5", "data.split.fractions=[0.85, 0.0, 0.15]",
                                       "train.ensemble=3"],
    "head-5+last+noval": [*RECIPE, "train.select=last", "train.head_epochs=5", "data.split.fractions=[0.85, 0.0, 0.15]"],
    "head-5+last+ensemble-3": [*RECIPE, "train.select=last", "train.head_epochs=5", "train.ensemble=3"],
    "head-5+last+fp32": [*RECIPE, "train.select=last", "train.head_epochs=5", "train.precision=fp32"],
    "head-5+swa-5": [*RECIPE, "train.select=last", "train.average_epochs=5", "train.head_epochs=5"],  # the demo's
    # precision: the same recipes trained in fp32 (precision auto = bf16 on a CPU with AVX512-BF16)
    "head-5+swa-10+fp32": [*RECIPE, "train.select=last", "train.average_epochs=10", "train.head_epochs=5",
                           "train.precision=fp32"],
    "head-5+swa-10+noval+fp32": [*RECIPE, "train.select=last", "train.average_epochs=10", "train.head_epochs=5",
                                 "data.split.fractions=[0.85, 0.0, 0.15]", "train.precision=fp32"],
}


def run(out: Path, data_set: str, variant: str, seed: int) -> dict:
    import torch

    from evfer.configure import load_config
    from evfer.training.cv import cross_validate

    name = f"{data_set}-{variant}-s{seed}"
    members = next((int(o.split("=")[1]) for o in VARIANTS[variant] if o.startswith("train.ensemble=")), 1)
    overrides = [o.replace("{out}", str(out)) for o in SETS[data_set]] + BASELINE + [
        o.replace("{out}", str(out)) for o in VARIANTS[variant]] + [
        f"seed={seed * members}", f"data.out={out}/data-{data_set}"]  # an ensemble's seeds never overlap another's
    cfg = load_config(ROOT / "configs" / "ckplus-cpu.yaml", overrides)
    t0 = time.time()
    result = cross_validate(cfg, 5, out / name, progress=False)
    pooled = result["pooled"]
    expr = pooled.get("expressions_only", {})
    return {"set": data_set, "variant": variant, "seed": seed, "overrides": VARIANTS[variant],
            "accuracy": pooled["accuracy"], "ci95": pooled["accuracy_ci95"], "n": pooled["n"],
            "expression_accuracy": expr.get("accuracy"), "expression_ci95": expr.get("accuracy_ci95"),
            "expression_n": expr.get("n"), "minutes": round((time.time() - t0) / 60, 2),
            "cpu": torch.backends.cpu.get_cpu_capability(), "machine": machine(), "precision": cfg.train.precision}


def machine() -> str:
    """The CPU model and the cores torch uses, e.g. "AMD EPYC 9R14, 2 cores"."""
    import os

    import torch

    try:
        names = [ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                 if ln.startswith("model name")]
    except OSError:
        names = []
    return f"{names[0] if names else 'unknown CPU'}, {torch.get_num_threads() or os.cpu_count()} cores"


def table(rows: list[dict]) -> str:
    """Markdown: one line per variant, a column pair per (set, seed): all clips and expression clips,
    each accuracy with its 95 % Wilson interval."""
    columns = sorted({(r["set"], r["seed"]) for r in rows}, key=lambda c: (list(SETS).index(c[0]), c[1]))
    cell = {(r["variant"], r["set"], r["seed"]): r for r in rows}

    def fmt(acc, ci):
        return "" if acc is None else f"{acc:.3f} ({ci[0]:.2f}-{ci[1]:.2f})"

    head = "| variant | " + " | ".join(f"{s} s{k}: all | {s} s{k}: expressions" for s, k in columns) + " |"
    lines = [head, "|" + "---|" * (1 + 2 * len(columns))]
    for variant in VARIANTS:
        if not any((variant, s, k) in cell for s, k in columns):
            continue
        parts = []
        for s, k in columns:
            r = cell.get((variant, s, k))
            parts += ["", ""] if r is None else [fmt(r["accuracy"], r["ci95"]),
                                                 fmt(r["expression_accuracy"], r["expression_ci95"])]
        lines.append(f"| {variant} | " + " | ".join(parts) + " |")
    return "\n".join(lines)


def spread_table(rows: list[dict], sets: tuple[str, ...] = ("yale", "synthetic")) -> str:
    """Markdown: one line per variant with >= 2 seeds somewhere: per set, the expression-clip and
    all-clip accuracy as mean ± sample sd over the seeds, the worst seed, the number of seeds and
    the minutes per run."""
    import statistics

    by: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        by.setdefault((r["variant"], r["set"]), []).append(r)
    head = "| variant | " + " | ".join(f"{s}: expressions, mean ± sd (worst) | {s}: all clips | {s}: seeds, min/run"
                                        for s in sets) + " |"
    lines = [head, "|" + "---|" * (1 + 3 * len(sets))]

    def cell(values):
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.mean(values):.3f} ± {sd:.3f} ({min(values):.3f})"

    for variant in VARIANTS:
        runs = {s: by.get((variant, s), []) for s in sets}
        if not any(len(v) >= 2 for v in runs.values()):
            continue
        parts = []
        for s in sets:
            got = runs[s]
            if not got:
                parts += ["", "", ""]
                continue
            parts += [cell([r["expression_accuracy"] for r in got]), cell([r["accuracy"] for r in got]),
                      f"{len(got)}, {statistics.mean(r['minutes'] for r in got):.1f}"]
        lines.append(f"| {variant} | " + " | ".join(parts) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--sets", default="yale,synthetic")
    ap.add_argument("--only", default="")
    ap.add_argument("--seeds", help="the seeds to run (default 0); with --table / --spread: only these seeds' rows")
    ap.add_argument("--table", action="store_true", help="print the recorded results as a Markdown table")
    ap.add_argument("--spread", action="store_true", help="print mean ± sd over the seeds per variant and set")
    ap.add_argument("--results", type=Path, help="the JSON lines --table / --spread read (default OUT/results.jsonl)")
    ap.add_argument("--machine", default="", help="--table / --spread: only rows whose machine contains this")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    log = args.out / "results.jsonl"
    seeds = [int(s) for s in (args.seeds or "0").split(",")]
    if args.table or args.spread:
        rows = [json.loads(line) for line in (args.results or log).read_text().splitlines()]
        rows = [r for r in rows if args.machine.lower() in r.get("machine", "").lower()
                and (args.seeds is None or r["seed"] in seeds)]
        print(spread_table(rows) if args.spread else table(rows))
        return 0
    done = {(r["set"], r["variant"], r["seed"]) for r in map(json.loads, log.read_text().splitlines())} \
        if log.exists() else set()
    names = [n for n in VARIANTS if not args.only or n in args.only.split(",")]
    for seed in seeds:
        for data_set in args.sets.split(","):
            for variant in names:
                if (data_set, variant, seed) in done:
                    continue
                row = run(args.out, data_set, variant, seed)
                with log.open("a") as f:
                    f.write(json.dumps(row) + "\n")
                print(f"{data_set:<10} {variant:<26} acc {row['accuracy']:.3f} expr {row['expression_accuracy']} "
                      f"{row['minutes']} min", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
