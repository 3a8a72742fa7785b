"""Classification metrics from predictions (plain NumPy, no framework state).

Conventions follow scikit-learn's: per-class precision/recall/F1 with 0 where undefined
(zero_division=0); macro averages over the classes that occur in the targets or the predictions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int], n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) int64 counts; rows = true class, columns = predicted class."""
    cm = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(cm, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return cm


def classification_metrics(y_true: Sequence[int], y_pred: Sequence[int], classes: Sequence[str]) -> dict:
    """accuracy, macro precision/recall/F1, per-class precision/recall/F1/support, confusion matrix."""
    k = len(classes)
    cm = confusion_matrix(y_true, y_pred, k)
    tp = np.diag(cm).astype(float)
    predicted = cm.sum(0).astype(float)
    support = cm.sum(1).astype(float)
    precision = np.divide(tp, predicted, out=np.zeros(k), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros(k), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros(k), where=denom > 0)
    present = (support > 0) | (predicted > 0)
    n = int(cm.sum())
    macro = lambda v: float(v[present].mean()) if present.any() else 0.0  # noqa: E731
    return {
        "n": n,
        "accuracy": float(tp.sum() / n) if n else 0.0,
        "macro_f1": macro(f1),
        "macro_precision": macro(precision),
        "macro_recall": macro(recall),
        "classes": list(classes),
        "per_class": {
            c: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                "support": int(support[i])}
            for i, c in enumerate(classes)
        },
        "confusion_matrix": cm.tolist(),
    }


def format_confusion(cm: Sequence[Sequence[int]], classes: Sequence[str]) -> str:
    """Plain-text confusion matrix (rows true, columns predicted)."""
    w = max(8, max(len(c) for c in classes) + 1)
    head = " " * w + "".join(f"{c[:w - 1]:>{w}}" for c in classes)
    rows = [f"{c[:w - 1]:<{w}}" + "".join(f"{v:>{w}}" for v in row) for c, row in zip(classes, cm)]
    corner = "true \\ predicted"
    return "\n".join([corner, head, *rows])
