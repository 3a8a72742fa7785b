"""subject k-fold cross-validation -> cv.json (mean/std accuracy, pooled confusion)

For each of K subject folds: train on the other subjects (model selection on an inner validation
subset of them), test on the fold. Resumable per fold.
"""

from __future__ import annotations

from pathlib import Path

from ._args import add, load_run_config

ORDER = 56


def arguments(p) -> None:
    add(p, "config", "overrides")
    p.add_argument("--folds", type=int, default=5, help="number of subject folds (default 5)")
    p.add_argument("-o", "--out", help="output folder (default: runs/<config name>-cv)")
    add(p, "quiet")


def run(args) -> int:
    from ..errors import EvferError
    from ..training.cv import cross_validate
    from ..training.metrics import format_accuracy

    if args.folds < 2:
        raise EvferError(f"--folds must be at least 2 (got {args.folds})")
    cfg = load_run_config(args)
    out = Path(args.out or Path("runs") / f"{Path(args.config).stem}-cv")
    r = cross_validate(cfg, args.folds, out, progress=not args.quiet)
    print(f"{args.folds}-fold subject cross-validation: accuracy {r['accuracy_mean']:.3f} ± {r['accuracy_std']:.3f}, "
          f"macro-F1 {r['macro_f1_mean']:.3f} ± {r['macro_f1_std']:.3f} (mean ± std over folds)")
    pooled = r["pooled"]
    print(f"  all test clips pooled: accuracy {format_accuracy(pooled)}")
    if "expressions_only" in pooled:
        print(f"  expression clips only (onset-neutral clips left out): accuracy "
              f"{format_accuracy(pooled['expressions_only'])}")
    for f in r["per_fold"]:
        print(f"  fold {f['fold']}: accuracy {f['accuracy']:.3f}  macro-F1 {f['macro_f1']:.3f}  ({f['n']} clips)")
    print(f"results: {out / 'cv.json'}")
    if r["report_html"]:
        print(f"report: {r['report_html']}")
    return 0
