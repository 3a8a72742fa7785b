"""Classification metrics from predictions (plain NumPy, no framework state).

Conventions follow scikit-learn's: per-class precision/recall/F1 with 0 where undefined
(zero_division=0); macro averages over the classes that occur in the targets or the predictions.
Accuracy comes with its 95 % Wilson score interval over clips, and — when some neutral clips are
made from the onset frames of expression sequences (:func:`is_onset_neutral`) — the accuracy on the
expression clips alone, since those neutral clips are near-copies of the start of other clips.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

#: two-sided 95 % standard-normal quantile
Z95 = 1.959963984540054


def is_onset_neutral(clip_id: str) -> bool:
    """Whether a clip is a neutral clip made from the onset of expression sequences (CK+'s onset
    frames, a stills subject's neutral image): ids ending in ``-onset``."""
    return clip_id.endswith("-onset")


def wilson_interval(correct: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval (default 95 %) of a proportion ``correct / n``; (0, 1) when n = 0."""
    if n == 0:
        return 0.0, 1.0
    p = correct / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    denom = 1 + z * z / n
    low = 0.0 if correct == 0 else (centre - half) / denom  # the bounds are exact at 0 and n
    return low, 1.0 if correct == n else (centre + half) / denom


def accuracy_summary(correct: int, n: int) -> dict:
    """{"n", "correct", "accuracy", "accuracy_ci95": [low, high]} (Wilson interval over clips)."""
    return {"n": int(n), "correct": int(correct), "accuracy": correct / n if n else 0.0,
            "accuracy_ci95": [round(v, 4) for v in wilson_interval(correct, n)]}


def clip_accuracy(ids: Sequence[str], y_true: Sequence[int], y_pred: Sequence[int]) -> dict:
    """``accuracy_ci95`` and ``correct`` over all clips, plus ``expressions_only`` (the same for the
    clips that are not onset-neutral, :func:`is_onset_neutral`) when any clip is onset-neutral."""
    hit = np.asarray(y_true) == np.asarray(y_pred)
    out = {k: v for k, v in accuracy_summary(int(hit.sum()), len(hit)).items() if k in ("correct", "accuracy_ci95")}
    onset = np.array([is_onset_neutral(i) for i in ids], bool)
    if onset.any():
        out["expressions_only"] = accuracy_summary(int(hit[~onset].sum()), int((~onset).sum()))
    return out


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


def format_accuracy(m: dict) -> str:
    """e.g. "0.812 (95% CI 0.741-0.866, 96 clips)" from a dict with accuracy, accuracy_ci95 and n."""
    lo, hi = m["accuracy_ci95"]
    return f"{m['accuracy']:.3f} (95% CI {lo:.3f}-{hi:.3f}, {m['n']} clips)"


def format_confusion(cm: Sequence[Sequence[int]], classes: Sequence[str]) -> str:
    """Plain-text confusion matrix (rows true, columns predicted)."""
    w = max(8, max(len(c) for c in classes) + 1)
    head = " " * w + "".join(f"{c[:w - 1]:>{w}}" for c in classes)
    rows = [f"{c[:w - 1]:<{w}}" + "".join(f"{v:>{w}}" for v in row) for c, row in zip(classes, cm)]
    corner = "true \\ predicted"
    return "\n".join([corner, head, *rows])
