"""``evfer cv CONFIG --folds K [--repeats R]``: subject k-fold cross-validation, the honest measure for
small datasets, optionally repeated over seeds.

Fold k: the subjects of fold k are the test set; an inner validation set of subjects is carved out
of the remaining subjects for model selection; the rest trains. Every fold is a full run directory
(``fold-<k>/``, resumable: a fold with ``metrics.json`` is not re-run, and its ``last.ckpt`` resume
point is removed once it is done; ``checkpoints/best.ckpt`` stays), with its own report.html;
the folder's ``report.html`` covers them all. ``cv.json`` collects per-fold metrics,
``accuracy_mean``/``accuracy_std`` (over folds, population std), macro-F1 likewise, and the metrics
pooled over folds (every clip is tested exactly once): confusion matrix, accuracy with its 95 % Wilson
interval over clips and, when neutral clips come from onset frames, the accuracy on the expression
clips alone (``pooled.expressions_only``); for an ensemble, each member's pooled accuracy
(``pooled.members``).

``--repeats R`` runs the whole cross-validation R times with seeds ``seed + r·E`` (E = the
ensemble size, so no two runs share a seed) and the same folds (the folds follow
``data.split.seed``, not ``seed``): ``repeat-<r>/`` is each one's folder as above, and the top
``cv.json`` holds each repeat's pooled accuracy (all clips and expression clips), their mean, sample
standard deviation, minimum and maximum (``spread``), and the pooled metrics of the repeats'
averaged probabilities (``averaged``): what one run of the recipe can be expected to give, and how
much that varies with the seed.
"""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import numpy as np

from ..atomic import write_json_atomic
from ..config import Config
from ..metrics import accuracy_summary, classification_metrics, clip_accuracy
from ..presentation.plots import plot_confusion
from ..presentation.report import try_write_report
from .evaluate import evaluate
from .train import train


def cross_validate(cfg: Config, folds: int, out: str | Path, *, repeats: int = 1, progress: bool = True) -> dict:
    """Run (or resume) the cross-validation into ``out``; returns what ``cv.json`` holds (+ ``report_html``)."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1 (got {repeats})")

    out = Path(out)
    if repeats == 1:
        result = one_cross_validation(cfg, folds, out, progress=progress)
    else:
        runs = []
        for r in range(repeats):
            repeat_cfg = copy.deepcopy(cfg)
            repeat_cfg.seed = cfg.seed + r * cfg.train.ensemble
            runs.append(one_cross_validation(repeat_cfg, folds, out / f"repeat-{r}", progress=progress))
            try_write_report(out / f"repeat-{r}")
        result = repeated_summary(runs, [out / f"repeat-{r}" for r in range(repeats)], folds)
        write_json_atomic(out / "cv.json", result)
    return {**result, "report_html": try_write_report(out)}


def one_cross_validation(cfg: Config, folds: int, out: Path, *, progress: bool = True) -> dict:
    """One K-fold cross-validation into ``out`` (fold-<k>/, cv.json, confusion.png)."""

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
            drop_resume_points(run_dir)
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
        "seed": cfg.seed,
        "classes": classes,
        "accuracy_mean": float(acc.mean()),
        "accuracy_std": float(acc.std()),
        "macro_f1_mean": float(f1.mean()),
        "macro_f1_std": float(f1.std()),
        "pooled": {**{k: pooled_metrics[k] for k in ("accuracy", "macro_f1", "per_class", "confusion_matrix")},
                   **pooled_accuracy(per_fold)},
        "per_fold": [{"fold": k, "accuracy": m["accuracy"], "accuracy_ci95": m.get("accuracy_ci95"),
                      "macro_f1": m["macro_f1"], "n": m["n"], "subjects": m.get("subjects"),
                      "per_class": m["per_class"], "confusion_matrix": m["confusion_matrix"],
                      **({"members": m["members"]} if "members" in m else {})}
                     for k, m in enumerate(per_fold)],
    }
    if all("members" in m for m in per_fold):
        result["pooled"]["members"] = pooled_members(per_fold)
    write_json_atomic(out / "cv.json", result)
    plot_confusion(pooled.tolist(), classes, out / "confusion.png",
                   title=f"{folds}-fold CV: accuracy {acc.mean():.3f} ± {acc.std():.3f}")
    return result


def drop_resume_points(run_dir: Path) -> None:
    """Remove a finished fold's ``last.ckpt`` files (its members' too): metrics.json marks the fold
    done, so they would never be resumed, and they hold the optimiser's state (3x a model's size)."""
    for path in run_dir.rglob("last.ckpt"):
        path.unlink(missing_ok=True)


def pooled_accuracy(per_fold: list[dict]) -> dict:
    """Accuracy over all folds' test clips with its Wilson interval (``n``, ``correct``, ``accuracy_ci95``),
    and ``expressions_only`` likewise when every fold's metrics have it."""
    correct = sum(int(np.trace(np.asarray(m["confusion_matrix"]))) for m in per_fold)
    out = accuracy_summary(correct, sum(m["n"] for m in per_fold))
    del out["accuracy"]  # equal to the pooled confusion matrix's
    out.update(_pooled_expressions(per_fold))
    return out


def _pooled_expressions(parts: list[dict]) -> dict:
    if not all("expressions_only" in m for m in parts):
        return {}
    e = [m["expressions_only"] for m in parts]
    return {"expressions_only": accuracy_summary(sum(p["correct"] for p in e), sum(p["n"] for p in e))}


def pooled_members(per_fold: list[dict]) -> list[dict]:
    """Each ensemble member's accuracy pooled over the folds (all clips and expression clips)."""
    out = []
    for i in range(min(len(m["members"]) for m in per_fold)):
        parts = [m["members"][i] for m in per_fold]
        out.append({"member": i, **accuracy_summary(sum(p["correct"] for p in parts), sum(p["n"] for p in parts)),
                    **_pooled_expressions(parts)})
    return out


def spread(values: list[float]) -> dict:
    """mean, sample standard deviation (0 for one value), minimum and maximum of ``values``."""
    v = np.asarray(values, float)
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
            "min": float(v.min()), "max": float(v.max()), "values": [float(x) for x in v]}


def repeated_summary(runs: list[dict], folders: list[Path], folds: int) -> dict:
    """The top ``cv.json`` of a repeated cross-validation (see the module doc)."""
    per_repeat = []
    for r, (run, folder) in enumerate(zip(runs, folders)):
        p = run["pooled"]
        per_repeat.append({"repeat": r, "seed": run["seed"], "folder": folder.name, "accuracy": p["accuracy"],
                           "accuracy_ci95": p["accuracy_ci95"], "n": p["n"], "macro_f1": p["macro_f1"],
                           **({"expressions_only": p["expressions_only"]} if "expressions_only" in p else {}),
                           **({"members": p["members"]} if "members" in p else {})})
    result = {
        "folds": folds,
        "repeats": len(runs),
        "seeds": [run["seed"] for run in runs],
        "classes": runs[0]["classes"],
        "per_repeat": per_repeat,
        "spread": {"accuracy": spread([p["accuracy"] for p in per_repeat])},
        "averaged": averaged_predictions(folders, folds, runs[0]["classes"]),
    }
    if all("expressions_only" in p for p in per_repeat):
        result["spread"]["expressions_only"] = spread([p["expressions_only"]["accuracy"] for p in per_repeat])
    return result


def averaged_predictions(folders: list[Path], folds: int, classes: list[str]) -> dict:
    """Pooled metrics of the clip probabilities averaged over the repeats (each repeat's
    ``fold-<k>/predictions-test.csv``): the accuracy of the repeats' models used together."""
    probs: dict[str, list[np.ndarray]] = {}
    labels: dict[str, str] = {}
    for folder in folders:
        for k in range(folds):
            with (folder / f"fold-{k}" / "predictions-test.csv").open(newline="") as f:
                for row in csv.DictReader(f):
                    probs.setdefault(row["id"], []).append(np.array([float(row[f"p_{c}"]) for c in classes]))
                    labels[row["id"]] = row["label"]
    ids = sorted(probs)
    y_true = [classes.index(labels[i]) for i in ids]
    y_pred = [int(np.mean(probs[i], axis=0).argmax()) for i in ids]
    m = classification_metrics(y_true, y_pred, classes)
    return {**{k: m[k] for k in ("accuracy", "macro_f1", "per_class", "confusion_matrix", "n")},
            **clip_accuracy(ids, y_true, y_pred)}
