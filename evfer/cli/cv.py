"""subject k-fold cross-validation -> cv.json (pooled accuracy, per fold; --repeats: spread over seeds)

For each of K subject folds: train on the other subjects (model selection on an inner validation
subset of them), test on the fold. Resumable per fold. With --repeats R the whole cross-validation
runs R times with different seeds and the same folds, and cv.json reports the mean, standard
deviation, minimum and maximum of the pooled accuracy over the repeats and the accuracy of their
averaged probabilities: one seed on a few dozen clips is not a result.
"""

from __future__ import annotations

from pathlib import Path

from ._args import add, load_run_config, positive_int

ORDER = 56


def arguments(p) -> None:
    add(p, "config", "overrides")
    p.add_argument("--folds", type=int, default=5, help="number of subject folds (default 5)")
    p.add_argument("--repeats", type=positive_int, default=1, metavar="R",
                   help="run the cross-validation R times with seeds seed, seed+1, ... on the same folds and "
                        "report the spread (default 1)")
    p.add_argument("-o", "--out", help="output folder (default: runs/<config name>-cv)")
    add(p, "quiet")


def run(args) -> int:
    from ..errors import EvferError
    from ..training.cv import cross_validate

    if args.folds < 2:
        raise EvferError(f"--folds must be at least 2 (got {args.folds})")
    cfg = load_run_config(args)
    out = Path(args.out or Path("runs") / f"{Path(args.config).stem}-cv")
    r = cross_validate(cfg, args.folds, out, repeats=args.repeats, progress=not args.quiet)
    if args.repeats == 1:
        print_one(r)
    else:
        print_repeated(r)
    print(f"results: {out / 'cv.json'}")
    if r["report_html"]:
        print(f"report: {r['report_html']}")
    return 0


def print_one(r: dict) -> None:
    from ..metrics import format_accuracy

    print(f"{r['folds']}-fold subject cross-validation: accuracy {r['accuracy_mean']:.3f} ± {r['accuracy_std']:.3f}, "
          f"macro-F1 {r['macro_f1_mean']:.3f} ± {r['macro_f1_std']:.3f} (mean ± std over folds)")
    pooled = r["pooled"]
    print(f"  all test clips pooled: accuracy {format_accuracy(pooled)}")
    if "expressions_only" in pooled:
        print(f"  expression clips only (onset-neutral clips left out): accuracy "
              f"{format_accuracy(pooled['expressions_only'])}")
    for m in pooled.get("members", []):
        print(f"  ensemble member {m['member']}: accuracy {m['accuracy']:.3f}"
              + (f", expression clips {m['expressions_only']['accuracy']:.3f}" if "expressions_only" in m else ""))
    for f in r["per_fold"]:
        print(f"  fold {f['fold']}: accuracy {f['accuracy']:.3f}  macro-F1 {f['macro_f1']:.3f}  ({f['n']} clips)")


def print_repeated(r: dict) -> None:
    from ..metrics import format_accuracy

    def line(s: dict) -> str:
        return f"{s['mean']:.3f} ± {s['std']:.3f} (min {s['min']:.3f}, max {s['max']:.3f})"

    print(f"{r['folds']}-fold subject cross-validation, {r['repeats']} repeats (seeds "
          f"{', '.join(map(str, r['seeds']))}): pooled accuracy, mean ± sample std over repeats")
    print(f"  all test clips: {line(r['spread']['accuracy'])}")
    if "expressions_only" in r["spread"]:
        print(f"  expression clips only: {line(r['spread']['expressions_only'])}")
    avg = r["averaged"]
    print(f"  the repeats' averaged probabilities: accuracy {format_accuracy(avg)}"
          + (f"; expression clips {format_accuracy(avg['expressions_only'])}" if "expressions_only" in avg else ""))
    for p in r["per_repeat"]:
        print(f"  repeat {p['repeat']} (seed {p['seed']}): accuracy {p['accuracy']:.3f}"
              + (f", expression clips {p['expressions_only']['accuracy']:.3f}" if "expressions_only" in p else ""))
