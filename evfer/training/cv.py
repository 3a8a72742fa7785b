"""``evfer cv CONFIG --folds K``: subject k-fold cross-validation, the honest measure for small datasets.

Fold k: the subjects of fold k are the test set; an inner validation set of subjects is carved out
of the remaining subjects for model selection (early stopping, best checkpoint); the rest trains.
Every fold is a full run directory (``fold-<k>/``, resumable: a fold with ``metrics.json`` is not
re-run), with its own report.html; the folder's ``report.html`` covers them all. ``cv.json`` collects per-fold metrics, ``accuracy_mean``/``accuracy_std`` (over folds,
population std), macro-F1 likewise, and the metrics pooled over folds (every clip is tested exactly
once): confusion matrix, accuracy with its 95 % Wilson interval over clips and, when neutral clips
come from onset frames, the accuracy on the expression clips alone (``pooled.expressions_only``).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np

from ..atomic import write_json_atomic
from ..config import Config
from .metrics import accuracy_summary, classification_metrics


def cross_validate(cfg: Config, folds: int, out: str | Path, *, progress: bool = True) -> dict:
    from .evaluate import evaluate
    from .plots import plot_confusion
    from .train import train

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    per_fold = []
    for k in range(folds):
        fold_cfg = copy.deepcopy(cfg)
        fold_cfg.data.split.method = "kfold"
        fold_cfg.data.split.folds = folds
        fold_cfg.data.split.fold = k
        run_dir = out / f"fold-{k}"
        metrics_path = run_dir / "metrics.json"
        if metrics_path.is_file():
            metrics = json.loads(metrics_path.read_text())
        else:
            train(fold_cfg, run_dir, progress=progress)
            metrics = evaluate(run_dir, "test")
        per_fold.append(metrics)

    classes = per_fold[0]["classes"]
    pooled = np.sum([np.asarray(m["confusion_matrix"]) for m in per_fold], axis=0)
    # pooled metrics from the summed confusion matrix (every clip tested exactly once)
    y_true = np.repeat(np.arange(len(classes)), pooled.sum(1))
    y_pred = np.concatenate([np.repeat(np.arange(len(classes)), row) for row in pooled])
    pooled_metrics = classification_metrics(y_true, y_pred, classes)
    acc = np.array([m["accuracy"] for m in per_fold])
    f1 = np.array([m["macro_f1"] for m in per_fold])
    result = {
        "folds": folds,
        "classes": classes,
        "accuracy_mean": float(acc.mean()),
        "accuracy_std": float(acc.std()),
        "macro_f1_mean": float(f1.mean()),
        "macro_f1_std": float(f1.std()),
        "pooled": {**{k: pooled_metrics[k] for k in ("accuracy", "macro_f1", "per_class", "confusion_matrix")},
                   **pooled_accuracy(per_fold)},
        "per_fold": [{"fold": k, "accuracy": m["accuracy"], "accuracy_ci95": m.get("accuracy_ci95"),
                      "macro_f1": m["macro_f1"], "n": m["n"], "subjects": m.get("subjects"),
                      "per_class": m["per_class"], "confusion_matrix": m["confusion_matrix"]}
                     for k, m in enumerate(per_fold)],
    }
    write_json_atomic(out / "cv.json", result)
    plot_confusion(pooled.tolist(), classes, out / "confusion.png",
                   title=f"{folds}-fold CV: accuracy {acc.mean():.3f} ± {acc.std():.3f}")
    from .report import try_write_report

    return {**result, "report_html": try_write_report(out)}


def pooled_accuracy(per_fold: list[dict]) -> dict:
    """Accuracy over all folds' test clips with its Wilson interval (``n``, ``correct``, ``accuracy_ci95``),
    and ``expressions_only`` likewise when every fold's metrics have it."""
    correct = sum(int(np.trace(np.asarray(m["confusion_matrix"]))) for m in per_fold)
    out = accuracy_summary(correct, sum(m["n"] for m in per_fold))
    del out["accuracy"]  # equal to the pooled confusion matrix's
    if all("expressions_only" in m for m in per_fold):
        parts = [m["expressions_only"] for m in per_fold]
        out["expressions_only"] = accuracy_summary(sum(p["correct"] for p in parts), sum(p["n"] for p in parts))
    return out
