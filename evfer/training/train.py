"""``evfer train``: prepare (cached) -> fit with Lightning -> a self-contained run directory.

Run directory::

    config.yaml              the resolved config, generated for people (the truth is the copy in every
                             checkpoint, read through evfer.training.checkpoints)
    manifest.csv             the clips and the split actually used (with balancing repeats)
    prepared.json            the voxel cache's folder and the class names (evfer.training.data)
    checkpoints/best.ckpt    the model the run keeps, per train.select / train.average_epochs
                             (evfer.training.selection; model selection never sees the test split)
    checkpoints/last.ckpt    the last finished epoch, for resuming: re-running the same command continues here
    members/m<i>/            with train.ensemble: K > 1, member i's checkpoints, logs and curves; then
                             checkpoints/best.ckpt holds all K members as one model (evfer.training.ensemble)
    logs/metrics.csv         per-epoch train/val loss and accuracy (Lightning CSVLogger)
    tensorboard/             the same as TensorBoard event files (with train.logger=tensorboard)
    curves.png               training curves
    train_summary.json       best validation accuracy, epochs, time, throughput, the precision and why,
                             the machine (CPU, torch's CPU capability, device)
    pretrained.txt           what an ImageNet checkpoint contributed (when model.pretrained is set)

A resumed run (``last.ckpt`` present, no ``--restart``) is checked against the config stored in
``last.ckpt``: only options in :data:`RESUMABLE_CHANGES` may differ.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import signal
import sys
import time
import warnings
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import EarlyStopping
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from ..atomic import write_json_atomic, write_text_atomic
from ..config import Config, to_dict
from ..datasets.kinds import absolute_paths
from ..datasets.labels import LabelMap
from ..errors import EvferError, OutputError
from ..models import Recognizer, build_model
from ..presentation.plots import plot_training_curves
from ..voxel import representation_for
from .checkpoints import read_config
from .data import Prepared, VoxelDataModule
from .ema import WeightEMA
from .evaluate import split_accuracy
from .machine import describe_machine
from .module import RecognizerModule
from .optim import optimizer_factory, scheduler_factory
from .precision import Precision, device_type, resolve_precision
from .selection import AtomicCheckpointIO, KeepModel

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    run_dir: Path
    best_checkpoint: Path
    best_val_acc: float | None
    summary: dict


#: train options that may differ when a run is resumed (they do not change what the model learns from)
RESUMABLE_CHANGES = {"epochs", "patience", "num_workers", "devices", "accelerator", "strategy", "num_nodes",
                     "val_every", "limit_batches", "precision", "tta_flip", "logger", "ensemble", "ensemble_workers"}


def _config_differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        name = f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict):
            out += _config_differences(a, b, name + ".")
        elif a != b and not (prefix == "train." and key in RESUMABLE_CHANGES):
            out.append(f"{name}: {a!r} -> {b!r}")
    return out


def check_resumable(saved: Config, cfg: Config, run_dir: Path) -> None:
    """Refuse to resume the run in ``run_dir``, trained with ``saved`` (the config in its last.ckpt),
    with a config ``cfg`` that changes the data, split, model or optimisation: the model would
    continue from weights that have seen clips now in another split."""
    old = to_dict(saved)
    diffs = _config_differences(old, to_dict(absolute_paths(cfg)))
    old_epochs = (old.get("train") or {}).get("epochs")
    if cfg.train.scheduler != "none" and old_epochs != cfg.train.epochs:
        # the schedule was laid out over the old epoch count: extending it would raise the lr again
        diffs.append(f"train.epochs: {old_epochs!r} -> {cfg.train.epochs!r} (with train.scheduler={cfg.train.scheduler})")
    if diffs:
        shown = "; ".join(diffs[:3]) + (f"; and {len(diffs) - 3} more" if len(diffs) > 3 else "")
        raise EvferError(f"{run_dir}: cannot resume with a different config ({shown}); "
                         "use --restart to start over or another run directory")


@contextlib.contextmanager
def lightning_output():
    """For the duration of a fit, Lightning's messages as evfer wants them, then everything restored:
    its loggers print through their own handler only (not again through the root logger), its
    advertising tips and known-harmless warnings are dropped (e.g. "Previous log files ... will be
    deleted!" when a resumed run folds its logs itself)."""
    names = ("lightning", "lightning.pytorch", "lightning.fabric", "lightning.pytorch.utilities.rank_zero")
    saved = [(logging.getLogger(n), logging.getLogger(n).propagate, logging.getLogger(n).level) for n in names]
    with warnings.catch_warnings():
        for message in (".*isinstance\\(treespec, LeafSpec\\).*", ".*does not have many workers.*", ".*litlogger.*",
                        ".*Previous log files in this directory will be deleted.*",
                        ".*exists and is not empty.*"):
            warnings.filterwarnings("ignore", message=message)
        for logger, _, _ in saved[:3]:
            logger.propagate = False
        saved[3][0].setLevel(logging.WARNING)
        try:
            yield
        finally:
            for logger, propagate, level in saved:
                logger.propagate, logger.level = propagate, level


def merge_metrics(logs: Path) -> None:
    """Fold the per-session logs of a resumed run into ``metrics.csv`` (later sessions win per epoch)."""
    parts = sorted(logs.glob("metrics-session*.csv"))
    if not parts:
        return
    rows, fields = {}, ["epoch", "step"]
    for part in [*parts, logs / "metrics.csv"]:
        if not part.exists():
            continue
        with part.open(newline="") as f:
            reader = csv.DictReader(f)
            fields += [k for k in reader.fieldnames or [] if k not in fields]
            session = {}
            for row in reader:
                session.setdefault(row["epoch"], []).append(row)
        rows.update(session)
    buf = StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for epoch in sorted(rows, key=lambda e: int(float(e))):
        writer.writerows(rows[epoch])
    write_text_atomic(logs / "metrics.csv", buf.getvalue())
    for part in parts:
        part.unlink()


def input_channels(cfg: Config) -> int:
    """Input channels C of the model's (B, T, C, H, W) clips: the channels of the representation
    ``cfg.voxel`` selects (voxel grid: its bins; event image: 3)."""

    return representation_for(cfg.voxel).channels


def make_module(cfg: Config, classes: list[str], class_weights: list[float] | None, *, resume: bool,
                run_dir: Path):
    """The RecognizerModule of a run: the network (ImageNet / checkpoint weights unless resuming, where
    last.ckpt provides them), the optimiser and schedule factories and the fine-tuning options."""


    net = (Recognizer if resume else build_model)(cfg.model, len(classes), input_channels(cfg))
    if net.pretrained_report is not None:
        write_text_atomic(run_dir / "pretrained.txt", net.pretrained_report.summary() + "\n")
    if cfg.train.channels_last:
        net = net.to(memory_format=torch.channels_last)
    t = cfg.train
    return RecognizerModule(net, optimizer_factory(t), scheduler_factory(t), classes=classes, config=to_dict(cfg),
                            class_weights=class_weights, backbone_lr=t.backbone_lr,
                            label_smoothing=t.label_smoothing, mixup=t.mixup, bn=t.bn, head_epochs=t.head_epochs)


def make_trainer(cfg: Config, run_dir: Path, precision: Precision, progress: bool):
    """(Lightning Trainer, its :class:`KeepModel` checkpoint callback, its EarlyStopping or None) for
    ``cfg.train``. Early stopping watches the selection metric; a fixed budget (``select: last``) has none."""


    t = cfg.train
    keep = KeepModel(run_dir / "checkpoints", t.select, t.epochs, t.average_epochs)
    early = None if t.select == "last" else EarlyStopping(monitor=t.select, mode="max" if t.select == "val_acc" else "min",
                                                          patience=t.patience)
    ema = [WeightEMA(t.ema_decay)] if t.ema_decay > 0 else []
    trainer = L.Trainer(
        max_epochs=t.epochs,
        accelerator=t.accelerator,
        devices=t.devices,
        num_nodes=t.num_nodes,
        strategy=t.strategy,
        precision=precision.lightning,
        callbacks=[*ema, keep, *([early] if early else []), *([EpochLines()] if progress and not sys.stderr.isatty() else [])],
        plugins=[AtomicCheckpointIO()],
        enable_checkpointing=False,
        logger=make_loggers(t.logger, run_dir),
        default_root_dir=run_dir,
        deterministic=t.deterministic,
        check_val_every_n_epoch=t.val_every,
        limit_train_batches=t.limit_batches,
        limit_val_batches=0 if cfg.data.split.fractions[1] == 0 else t.limit_batches,
        num_sanity_val_steps=0 if cfg.data.split.fractions[1] == 0 else 2,
        log_every_n_steps=1,
        enable_progress_bar=progress and sys.stderr.isatty(),
        enable_model_summary=False,
    )
    return trainer, keep, early


class EpochLines(L.Callback):
    """One plain line per epoch on stderr (``epoch 3/40: train_loss 1.234, val_acc 0.500``): the
    progress a log file gets instead of Lightning's bars."""

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        shown = ", ".join(f"{k} {float(v):.3f}" for k, v in sorted(trainer.callback_metrics.items())
                          if k.endswith(("_loss", "_acc")))
        print(f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}: {shown}", file=sys.stderr, flush=True)


def make_loggers(kind: str, run_dir: Path) -> list:
    """Lightning loggers of ``train.logger``: the CSV logger (``logs/metrics.csv``) always, and with
    ``tensorboard`` a TensorBoard logger writing into ``<run_dir>/tensorboard``."""

    loggers = [CSVLogger(run_dir, name="logs", version="")]
    if kind == "tensorboard":
        loggers.append(TensorBoardLogger(run_dir, name="tensorboard", version="", default_hp_metric=False))
    return loggers


def check_logger(kind: str) -> None:
    """An EvferError when ``train.logger`` needs a package that is not installed."""
    import importlib.util

    if kind == "tensorboard" and not any(importlib.util.find_spec(m) for m in ("tensorboard", "tensorboardX")):
        raise EvferError("train.logger=tensorboard needs the tensorboard package: "
                         "pip install 'evfer[tensorboard]' (or use train.logger=csv)")


def train(cfg: Config, run_dir: str | Path, *, restart: bool = False, progress: bool = True) -> TrainResult:
    """Train per ``cfg`` into ``run_dir`` (resuming from ``last.ckpt`` unless ``restart``); with
    ``train.ensemble`` K > 1, K members (see :mod:`.ensemble`). ``cfg`` comes checked from
    :func:`evfer.configure.load_config`."""
    check_logger(cfg.train.logger)
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise OutputError(run_dir, "is a file; give a folder for the run")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(run_dir, f"cannot create the run folder ({exc.strerror or exc})") from None
    cfg = absolute_paths(cfg)
    if cfg.train.ensemble > 1:
        from .ensemble import train_ensemble

        return train_ensemble(cfg, run_dir, restart=restart, progress=progress)
    resume = resume_point(cfg, run_dir, restart)
    precision = resolve_precision(cfg.train.precision, device_type(cfg.train.accelerator))
    if resume:
        log.info("resuming %s", describe_resume(run_dir / "checkpoints" / "last.ckpt", cfg.train.epochs))
    log.info("precision %s: %s", precision.name, precision.reason)
    return fit(cfg, run_dir, precision, resume=resume, progress=progress)


def describe_resume(last: Path, epochs: int) -> str:
    """e.g. "from epoch 12 of 40 (checkpoints/last.ckpt)", or "a finished run"."""
    from ..models import read_checkpoint

    state = (read_checkpoint(last, mmap=True).get("callbacks") or {}).get("KeepModel") or {}
    done = (state.get("last_epoch") or 0) + 1 if state.get("last_epoch") is not None else None
    if done is None:
        return f"from {last}"
    if done >= epochs:
        return f"a finished run ({done} of {epochs} epochs; {last})"
    return f"from epoch {done + 1} of {epochs} ({done} done; {last})"


def resume_point(cfg: Config, run_dir: Path, restart: bool) -> bool:
    """Whether training in ``run_dir`` resumes from its ``last.ckpt`` (checked against ``cfg``)."""

    last = run_dir / "checkpoints" / "last.ckpt"
    resume = last.exists() and not restart
    if resume:
        check_resumable(read_config(last), cfg, run_dir)
    return resume


def fit(cfg: Config, run_dir: Path, precision: Precision, *, resume: bool, progress: bool,
        prepared: Prepared | None = None) -> TrainResult:
    """Fit one network into ``run_dir`` (checkpoints, logs, curves, train_summary.json). The data are
    prepared by Lightning's rank-0 hook (:class:`~.data.VoxelDataModule`) unless ``prepared``."""


    classes = list(LabelMap(cfg.data.label_set, cfg.data.label_map).classes)
    # the initial weights and augmentations follow the seed alone (not whether the data were cached)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    data = VoxelDataModule(cfg, run_dir, prepared=prepared, progress=progress)
    module = make_module(cfg, classes, None, resume=resume, run_dir=run_dir)
    with lightning_output():
        trainer, keep, early = make_trainer(cfg, run_dir, precision, progress)
        metrics_csv = run_dir / "logs" / "metrics.csv"
        if resume and metrics_csv.exists() and trainer.is_global_zero:  # the logger would overwrite earlier epochs
            sessions = sorted((run_dir / "logs").glob("metrics-session*.csv"))
            metrics_csv.rename(run_dir / "logs" / f"metrics-session{len(sessions):03d}.csv")
        started = time.time()
        try:
            trainer.fit(module, datamodule=data, ckpt_path=str(run_dir / "checkpoints" / "last.ckpt") if resume else None)
        except SystemExit:  # Lightning turns Ctrl-C into exit(1) after its own clean-up: make it Ctrl-C again
            if trainer.interrupted:
                signal.signal(signal.SIGINT, signal.default_int_handler)  # Lightning left it ignored
                raise KeyboardInterrupt from None
            raise
        best = keep.finish(trainer, module, data.train_dataloader())
    elapsed = time.time() - started
    if trainer.is_global_zero:
        merge_metrics(run_dir / "logs")

    records = data.records
    summary = {
        "best_checkpoint": str(best),
        "best_val_acc": (split_accuracy(best, cfg, data.cache, data.split("val"), classes)
                         if best.is_file() and data.split("val") else None),
        "select": cfg.train.select,
        "best_epoch": None if keep.best_epoch is None else keep.best_epoch + 1,
        "averaged_epochs": [e + 1 for e in keep.averaged] if cfg.train.average_epochs else [],
        "epochs": int(trainer.current_epoch),
        "stopped_early": bool(early is not None and early.stopped_epoch),
        "train_seconds_this_session": round(elapsed, 1),
        # every session of the run: the earlier ones' training time (in last.ckpt) + this one's, measured
        # alike, so the whole is never less than this session (the callback's clock starts later)
        "train_seconds": round(keep.seconds_before + elapsed, 1),
        "resumed": resume,
        "train_clips": sum(1 for r in records if r.split == "train"),
        "train_draws_per_epoch": sum(r.repeats for r in records if r.split == "train"),
        "val_clips": len(data.split("val")),
        "classes": classes,
        "seed": cfg.seed,
        "precision": precision.lightning,
        "precision_reason": precision.reason,
        "world_size": trainer.world_size,
        "machine": describe_machine(device_type(cfg.train.accelerator)),
    }
    if trainer.is_global_zero:
        write_json_atomic(run_dir / "train_summary.json", summary)
        if metrics_csv.exists():

            plot_training_curves(metrics_csv, run_dir / "curves.png")
    return TrainResult(run_dir, best, summary["best_val_acc"], summary)
