"""Figures written next to a run: training curves and confusion matrices (matplotlib, Agg)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..atomic import atomic_path


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight")


def plot_confusion(cm: Sequence[Sequence[int]], classes: Sequence[str], path: str | Path, title: str = "") -> Path:
    """Confusion matrix, rows = true class, counts and row-normalised shading."""
    plt = _plt()
    cm = np.asarray(cm)
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.0 + 0.8 * len(classes), 0.8 + 0.7 * len(classes)))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", color="white" if norm[i, j] > 0.5 else "black")
    if title:
        ax.set_title(title)
    path = Path(path)
    _save(fig, path)
    plt.close(fig)
    return path


def read_metrics_csv(path: str | Path) -> dict[str, list[tuple[int, float]]]:
    """Lightning CSVLogger metrics.csv -> {metric: [(epoch, value), ...]} (one value per epoch)."""
    series: dict[str, dict[int, float]] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            epoch = row.get("epoch")
            if epoch in (None, ""):
                continue
            for key, value in row.items():
                if key in ("epoch", "step") or value in (None, ""):
                    continue
                series.setdefault(key, {})[int(float(epoch))] = float(value)
    return {k: sorted(v.items()) for k, v in series.items()}


def plot_training_curves(metrics_csv: str | Path, path: str | Path) -> Path:
    """Loss and accuracy per epoch (train and validation) from a CSVLogger file."""
    plt = _plt()
    s = read_metrics_csv(metrics_csv)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6))
    for key, ax in (("loss", a1), ("acc", a2)):
        for split, style in (("train", "-"), ("val", "--")):
            name = next((k for k in s if k.startswith(f"{split}_{key}")), None)
            if name:
                e, v = zip(*s[name])
                ax.plot(e, v, style, marker="o", ms=3, label=name)
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend()
    path = Path(path)
    _save(fig, path)
    plt.close(fig)
    return path
