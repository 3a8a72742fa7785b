"""train the CNN + LSTM recognizer (prepares the data first, resumes an interrupted run)

Prepare the data (cached), train with Lightning (best checkpoint by validation accuracy, early
stopping, CSV logs, curves) into a run directory. Re-running the same command resumes from
checkpoints/last.ckpt. The test split is not touched: use `evfer evaluate RUN_DIR`.
"""

from __future__ import annotations

from pathlib import Path

from ._args import add, load_run_config

ORDER = 50


def arguments(p) -> None:
    add(p, "config", "overrides")
    p.add_argument("-o", "--run-dir", help="run directory (default: runs/<config name>)")
    p.add_argument("--restart", action="store_true", help="ignore an existing last.ckpt and start over")
    add(p, "quiet")


def run(args) -> int:
    from ..training.train import train

    cfg = load_run_config(args)
    run_dir = Path(args.run_dir or Path("runs") / Path(args.config).stem)
    result = train(cfg, run_dir, restart=args.restart, progress=not args.quiet)
    acc = result.best_val_acc
    print(f"run: {result.run_dir}")
    print(f"precision: {result.summary['precision']} ({result.summary['precision_reason']})")
    print(f"best checkpoint: {result.best_checkpoint} (validation accuracy {acc:.3f})" if acc is not None
          else f"checkpoint: {result.best_checkpoint}")
    print(f"next: evfer evaluate {result.run_dir}")
    return 0
