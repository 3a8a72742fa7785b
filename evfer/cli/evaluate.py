"""evaluate a run's best model on the test split -> metrics.json, confusion.png, report.html

Accuracy, macro-F1, per-class precision/recall/F1 and the confusion matrix of the run's best
checkpoint (chosen on validation) on a split of the run's manifest (default: test).
"""

from __future__ import annotations

from ._args import add

ORDER = 55


def arguments(p) -> None:
    p.add_argument("run_dir", help="run directory written by `evfer train`")
    p.add_argument("--split", default="test", choices=["train", "val", "test"],
                   help="the split of the run's manifest to evaluate (default test; val and train for diagnosis)")
    p.add_argument("--checkpoint", help="a specific checkpoint instead of checkpoints/best.ckpt")
    add(p, "tta-flip", "json")


def run(args) -> int:
    import json

    from ..metrics import format_accuracy, format_confusion
    from ..training.evaluate import evaluate

    m = evaluate(args.run_dir, args.split, args.checkpoint, tta_flip=args.tta_flip)
    if args.json:
        print(json.dumps(m, indent=2))
        return 0
    print(f"{args.split}: {m['n']} clips from {m['subjects']} subjects")
    print(f"accuracy {format_accuracy(m)}   macro-F1 {m['macro_f1']:.3f}" + ("   (flip TTA)" if m["tta_flip"] else ""))
    if "expressions_only" in m:
        print(f"expression clips only (onset-neutral clips left out): accuracy {format_accuracy(m['expressions_only'])}")
    for c, v in m["per_class"].items():
        print(f"  {c:<10} precision {v['precision']:.3f}  recall {v['recall']:.3f}  f1 {v['f1']:.3f}  n={v['support']}")
    print(format_confusion(m["confusion_matrix"], m["classes"]))
    if m["report_html"]:
        print(f"report: {m['report_html']}")
    return 0
