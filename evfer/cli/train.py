"""evfer train CONFIG [key=value ...] [-o RUN_DIR]"""

from __future__ import annotations

from pathlib import Path

ORDER = 50


def register(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train the ResNet+LSTM recognizer (prepares the data first, resumes an interrupted run)",
        description="Prepare the data (cached), train with Lightning (best checkpoint by validation accuracy, "
        "early stopping, CSV logs, curves) into a run directory. Re-running the same command resumes from "
        "checkpoints/last.ckpt. The test split is not touched: use `evfer evaluate RUN_DIR`.",
    )
    p.add_argument("config", help="YAML config file")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. train.epochs=5")
    p.add_argument("-o", "--run-dir", help="run directory (default: runs/<config name>)")
    p.add_argument("--restart", action="store_true", help="ignore an existing last.ckpt and start over")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..config import load_config
    from ..training.train import train

    cfg = load_config(args.config, args.overrides)
    run_dir = Path(args.run_dir or Path("runs") / Path(args.config).stem)
    result = train(cfg, run_dir, restart=args.restart, progress=not args.quiet)
    acc = result.best_val_acc
    print(f"run: {result.run_dir}")
    print(f"precision: {result.summary['precision']} ({result.summary['precision_reason']})")
    print(f"best checkpoint: {result.best_checkpoint} (validation accuracy {acc:.3f})" if acc is not None
          else f"checkpoint: {result.best_checkpoint}")
    print(f"next: evfer evaluate {result.run_dir}")
    return 0
