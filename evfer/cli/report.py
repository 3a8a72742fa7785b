"""one self-contained HTML page about a run or a cv folder -> RUN_DIR/report.html

Config, data summary, training curves, test (or cross-validation) metrics with 95% confidence
intervals, per-class scores and the confusion matrix, the misclassified clips with a picture of
their events, timings and the machine — one HTML file with its images embedded, which opens from
disk without a network. `evfer demo`, `evaluate` and `cv` write it themselves.
"""

from __future__ import annotations

ORDER = 57


def arguments(p) -> None:
    p.add_argument("run_dir", help="a run directory (evfer train / demo) or a cross-validation folder (evfer cv)")
    p.add_argument("-o", "--output", metavar="OUT.html", help="where to write the page (default: RUN_DIR/report.html)")


def run(args) -> int:
    import time

    from ..presentation.report import write_report

    started = time.time()
    path = write_report(args.run_dir, args.output)
    print(f"report: {path} ({time.time() - started:.1f} s)")
    return 0
