"""``evfer evaluate RUN_DIR [--split test]``: the only place the test split is used.

Writes ``metrics.json`` (test) or ``metrics-<split>.json``: accuracy, macro-F1, per-class
precision/recall/F1, confusion matrix, class names (and, for an ensemble, each member's accuracy
under ``members``); ``confusion.png`` / ``confusion-<split>.png``; and the per-clip predictions
``predictions-<split>.csv``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import torch

from ..atomic import write_json_atomic, write_text_atomic
from ..config import Config
from ..datasets.manifest import ClipRecord, read_manifest
from ..datasets.voxel_cache import VoxelCache, VoxelClipDataset, build_voxel_cache, cache_name
from ..errors import InputError
from ..metrics import classification_metrics, clip_accuracy
from ..models import Ensemble
from ..presentation.plots import plot_confusion
from ..presentation.report import try_write_report
from .checkpoints import find_checkpoint, load_checkpoint, read_hparams
from .inference import predict_proba


@torch.no_grad()
def predict_clips(model, cache, records: list[ClipRecord], classes: list[str], cfg: Config,
                  device: torch.device | None = None, batch_size: int = 16, tta_flip: bool | None = None) -> np.ndarray:
    """Class probabilities (N, K) for ``records`` from the voxel cache (see :func:`.inference.predict_proba`)."""

    device = device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = model.to(device)
    if cfg.train.channels_last:
        model = model.to(memory_format=torch.channels_last)
    ds = VoxelClipDataset(cache, records, classes)
    out = []
    for i in range(0, len(ds), batch_size):
        x = torch.stack([ds[j][0] for j in range(i, min(i + batch_size, len(ds)))]).to(device)
        out.append(predict_proba(model, x, cfg, tta_flip=tta_flip))
    return torch.cat(out).numpy() if out else np.zeros((0, len(classes)), np.float32)


def member_probabilities(model, cache, records: list[ClipRecord], classes: list[str], cfg: Config,
                         tta_flip: bool | None = None) -> list[np.ndarray]:
    """Per member of an :class:`Ensemble`, its probabilities (N, K) for ``records`` (their mean is the
    ensemble's); for a single model, a list of one."""
    members = list(model.members) if isinstance(model, Ensemble) else [model]
    return [predict_clips(m, cache, records, classes, cfg, tta_flip=tta_flip) for m in members]


def split_accuracy(checkpoint: str | Path, cfg: Config, cache, records: list[ClipRecord], classes: list[str]) -> float:
    """Accuracy of the model in ``checkpoint`` on ``records`` (e.g. a run's validation clips)."""
    probs = predict_clips(load_checkpoint(checkpoint).model, cache, records, classes, cfg)
    return float(np.mean(probs.argmax(1) == np.array([classes.index(r.label) for r in records])))


def member_metrics(member_probs: list[np.ndarray], records: list[ClipRecord], y_true: list[int], classes: list[str],
                   seed: int) -> list[dict]:
    """Each ensemble member's accuracy (with its interval), macro-F1 and expression-clip accuracy."""
    out = []
    for i, p in enumerate(member_probs):
        pred = p.argmax(1).tolist()
        m = classification_metrics(y_true, pred, classes)
        out.append({"member": i, "seed": seed + i, "accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "n": m["n"],
                    **clip_accuracy([r.id for r in records], y_true, pred)})
    return out


def check_unseen(checkpoint: Path, subjects: set[str], split: str) -> None:
    """InputError unless the model in ``checkpoint`` never trained or selected on ``subjects`` (the
    evaluated clips' subjects): its checkpoint lists the subjects it saw; one that does not (older
    evfer) cannot be trusted on them."""
    seen = read_hparams(checkpoint).get("subjects")
    if not isinstance(seen, dict):
        raise InputError(checkpoint, "this checkpoint does not list the subjects it was trained on (an older evfer); "
                                     f"it cannot be evaluated honestly on another run's {split} split")
    overlap = sorted(subjects & (set(seen.get("train", [])) | set(seen.get("val", []))))
    if overlap:
        raise InputError(checkpoint, f"was trained or selected on {len(overlap)} of the {split} subjects "
                                     f"({', '.join(overlap[:3])}{', ...' if len(overlap) > 3 else ''}): its "
                                     f"accuracy there would not be honest; evaluate it on its own run")


def evaluate(run_dir: str | Path, split: str = "test", checkpoint: str | Path | None = None,
             tta_flip: bool | None = None, report: bool = True) -> dict:
    """Evaluate a run's best model on ``split``; writes metrics, confusion plot and predictions, then
    (``report``) the run's report.html, whose path the returned metrics hold as ``report_html``.

    ``tta_flip``: flip test-time averaging, default the run's ``train.tta_flip``.
    """

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(run_dir, "run directory not found")
    ckpt = Path(checkpoint) if checkpoint else find_checkpoint(run_dir)
    own = ckpt.resolve().parent == (run_dir / "checkpoints").resolve()
    model, classes, cfg = load_checkpoint(ckpt)
    records = [r for r in read_manifest(run_dir / "manifest.csv") if r.split == split]
    if not records:
        raise InputError(run_dir, f"the run's manifest has no clips in split '{split}'")
    if not own:
        check_unseen(ckpt, {r.subject for r in records}, split)
    folder = Path(cfg.data.out) / "voxels" / cache_name(cfg.voxel)
    try:
        cache = VoxelCache(folder)
        if any(r.id not in cache.row for r in records):
            raise FileNotFoundError
    except FileNotFoundError:
        missing = [r for r in records if not (Path(cfg.data.out) / r.events_path).is_file()]
        if missing:
            raise InputError(Path(cfg.data.out) / missing[0].events_path,
                             "events of the evaluated clips are missing; run `evfer prepare` with the run's config") from None
        cache = VoxelCache(build_voxel_cache(Path(cfg.data.out), records, cfg.voxel, progress=False))

    flip = cfg.train.tta_flip if tta_flip is None else tta_flip
    per_member = member_probabilities(model, cache, records, classes, cfg, tta_flip=flip)
    probs = np.mean(per_member, axis=0)
    y_true = [classes.index(r.label) for r in records]
    y_pred = probs.argmax(1).tolist()
    metrics = classification_metrics(y_true, y_pred, classes)
    metrics.update(clip_accuracy([r.id for r in records], y_true, y_pred))
    metrics.update(split=split, checkpoint=str(ckpt), subjects=len({r.subject for r in records}), tta_flip=flip)
    if isinstance(model, Ensemble):
        metrics["members"] = member_metrics(per_member, records, y_true, classes, cfg.seed)
    # another run's checkpoint: its results go beside the run's, never over them
    suffix = ("" if split == "test" else f"-{split}") + ("" if own else f"-{ckpt.parent.parent.name}-{ckpt.stem}")
    write_json_atomic(run_dir / f"metrics{suffix}.json", metrics)
    plot_confusion(metrics["confusion_matrix"], classes, run_dir / f"confusion{suffix}.png",
                   title=f"{split}: accuracy {metrics['accuracy']:.3f}, macro-F1 {metrics['macro_f1']:.3f}")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "subject", "label", "predicted", *[f"p_{c}" for c in classes]])
    for r, p in zip(records, probs):
        w.writerow([r.id, r.subject, r.label, classes[int(p.argmax())], *[f"{v:.4f}" for v in p]])
    write_text_atomic(run_dir / f"predictions-{split}.csv", buf.getvalue())
    metrics["report_html"] = try_write_report(run_dir) if report and own else None
    return metrics
