"""the whole pipeline on synthetic faces (synthesize, emulate, voxelize, train, evaluate)

Synthesizes face identities, converts them to events, trains MobileNetV2 + LSTM on 2 CPU cores and
evaluates on identity-disjoint test faces. Target: >= 92% test accuracy in <= 10 minutes.
"""

from __future__ import annotations

from ._args import add

ORDER = 10


def arguments(p) -> None:
    p.add_argument("-o", "--out", default="runs/demo", help="output folder (default: runs/demo)")
    add(p, "overrides", "quiet")


def run(args) -> int:
    from ..metrics import format_confusion
    from ..training.demo import run_demo

    r = run_demo(args.out, args.overrides, progress=not args.quiet)
    rep, m, out = r["report"], r["metrics"], r["out"]
    print()
    print("evfer demo — synthetic faces, MobileNetV2 + LSTM, identity-disjoint test set")
    lo, hi = rep["test_accuracy_ci95"]
    print(f"  test accuracy  {rep['test_accuracy']:.3f}  (95% CI {lo:.3f}-{hi:.3f}; macro-F1 {rep['test_macro_f1']:.3f}; "
          f"{rep['test_clips']} clips from {rep['test_identities']} unseen identities)")
    print(f"  validation accuracy of the selected checkpoint {rep['best_val_acc']:.3f} after {rep['epochs']} epochs")
    print(f"  time {rep['seconds_total'] / 60:.1f} min; target >= {rep['target_accuracy']:.0%}: "
          f"{'met' if rep['target_met'] else 'NOT met'}")
    print()
    print(format_confusion(m["confusion_matrix"], m["classes"]))
    print()
    print(f"  metrics      {out / 'metrics.json'}")
    print(f"  confusion    {out / 'confusion.png'}")
    print(f"  curves       {out / 'curves.png'}")
    print(f"  checkpoint   {out / 'checkpoints' / 'best.ckpt'}")
    if r["report_html"]:
        print(f"  report       {r['report_html']}   (open it in a browser: everything on one page)")
    return 0
