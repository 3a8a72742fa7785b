"""``train.ensemble: K``: K members trained with seeds ``seed``, ``seed+1``, ... on the same split,
kept as one model that averages their class probabilities (:class:`evfer.models.Ensemble`).

Member i is a complete training run in ``RUN_DIR/members/m<i>/`` (checkpoints, logs, curves,
train_summary.json; it resumes like any run); the data are prepared once for all of them. Members
train at once in worker processes where the cores allow (CPU training; ``train.ensemble_workers``,
0 = as many as the cores, each with its share of the threads), one after another otherwise. Then
``RUN_DIR/checkpoints/best.ckpt`` holds every member's kept weights under one architecture
(``ensemble: K``), which ``evaluate``, ``cv``, ``predict``, ``export`` and ``--render`` load as one
model; ``train_summary.json`` lists the members.
"""

from __future__ import annotations

import copy
import logging
import os
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from ..atomic import write_json_atomic
from ..config import Config, to_dict
from ..datasets.voxel_cache import VoxelCache
from ..errors import EvferError
from ..jobs import run_jobs
from ..models import read_checkpoint, strip_prefix
from .checkpoints import write_checkpoint
from .data import Prepared, prepare_run
from .evaluate import split_accuracy
from .precision import Precision, device_type, resolve_precision

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Member:
    """Member ``index`` of an ensemble: its config (seed ``seed + index``) and run folder."""

    index: int
    cfg: Config
    run_dir: Path
    restart: bool


def member_config(cfg: Config, index: int) -> Config:
    """Member ``index``'s config: the run's, with seed ``seed + index`` and no ensemble of its own."""
    member = copy.deepcopy(cfg)
    member.seed = cfg.seed + index
    member.train.ensemble = 1
    return member


def member_dir(run_dir: Path, index: int) -> Path:
    return Path(run_dir) / "members" / f"m{index}"


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def ensemble_workers(cfg: Config) -> int:
    """How many members train at once: on a CPU ``train.ensemble_workers`` (0 = one per core, at most
    K); one at a time on an accelerator or with a distributed strategy."""
    t = cfg.train
    if device_type(t.accelerator) != "cpu" or t.strategy != "auto" or t.num_nodes != 1:
        return 1
    wanted = t.ensemble_workers or available_cores()
    return max(1, min(wanted, t.ensemble, available_cores()))


def train_ensemble(cfg: Config, run_dir: Path, *, restart: bool, progress: bool):
    """Train the K members of ``cfg.train.ensemble`` and write the ensemble's ``best.ckpt``."""
    from .train import TrainResult, resume_point

    k = cfg.train.ensemble
    precision = resolve_precision(cfg.train.precision, device_type(cfg.train.accelerator))
    log.info("precision %s: %s", precision.name, precision.reason)
    prepared = prepare_run(cfg, run_dir, progress)
    records, voxel_dir, classes = prepared.records, prepared.voxel_dir, prepared.classes
    members = []
    for i in range(k):
        m = Member(i, member_config(cfg, i), member_dir(run_dir, i), restart)
        resume_point(m.cfg, m.run_dir, restart)  # refuse a changed config before any member trains
        members.append(m)
    workers = ensemble_workers(cfg)
    threads = max(1, available_cores() // workers)
    started = time.time()
    work = partial(fit_member, prepared=prepared, precision=precision, threads=threads if workers > 1 else 0,
                   progress=progress and workers == 1)
    summaries: dict[int, dict] = {}
    log.info("training %d ensemble members, %d at a time", k, workers)
    for outcome in run_jobs(work, members, workers=workers, desc="ensemble members", unit="member",
                            progress=progress and workers > 1, label=lambda m: f"ensemble member {m.index}"):
        if not outcome.ok:
            raise EvferError(outcome.error)
        summaries[outcome.item.index] = outcome.value
    elapsed = time.time() - started
    val = [r for r in records if r.split == "val"]
    best = run_dir / "checkpoints" / "best.ckpt"
    write_ensemble_checkpoint([Path(summaries[i]["best_checkpoint"]) for i in range(k)], cfg, best)
    summary = {
        "best_checkpoint": str(best),
        "best_val_acc": (split_accuracy(best, cfg, VoxelCache(voxel_dir), val, classes) if val else None),
        "select": cfg.train.select,
        "ensemble": k,
        "ensemble_workers": workers,
        "members": [{"member": i, **{key: summaries[i][key] for key in (
            "seed", "best_checkpoint", "best_val_acc", "best_epoch", "epochs", "train_seconds", "train_seconds_this_session",
            "resumed")}} for i in range(k)],
        "epochs": max(summaries[i]["epochs"] for i in range(k)),
        "stopped_early": any(summaries[i]["stopped_early"] for i in range(k)),
        "train_seconds_this_session": round(elapsed, 1),
        "train_seconds": round(sum(summaries[i]["train_seconds"] for i in range(k)), 1),  # member time, all sessions
        "resumed": any(summaries[i]["resumed"] for i in range(k)),
        **{key: summaries[0][key] for key in ("train_clips", "train_draws_per_epoch", "val_clips", "classes",
                                              "precision", "precision_reason", "world_size", "machine")},
        "seed": cfg.seed,
    }

    write_json_atomic(run_dir / "train_summary.json", summary)
    return TrainResult(run_dir, best, summary["best_val_acc"], summary)


def fit_member(member: Member, *, prepared: Prepared, precision: Precision, threads: int, progress: bool) -> dict:
    """Train one member (in a worker process or here); returns its train summary."""
    from .train import fit, resume_point

    if threads:
        import torch

        torch.set_num_threads(threads)
    resume = resume_point(member.cfg, member.run_dir, member.restart)
    result = fit(member.cfg, member.run_dir, precision, resume=resume, progress=progress, prepared=prepared)
    return {**result.summary, "best_checkpoint": str(result.best_checkpoint)}


def write_ensemble_checkpoint(member_checkpoints: list[Path], cfg: Config, out: Path) -> None:
    """One checkpoint of all members' kept weights: hyper_parameters ``architecture`` (+ ``ensemble``:
    K), ``classes`` and ``config`` (the ensemble run's), state dict ``net.members.<i>.<key>``."""

    state, arch, classes, clips, subjects = {}, None, None, None, None
    for i, path in enumerate(member_checkpoints):
        ckpt = read_checkpoint(path)
        hp = ckpt.get("hyper_parameters") or {}
        arch, classes = arch or dict(hp["architecture"]), classes or list(hp["classes"])
        clips = clips or hp.get("clips")
        subjects = subjects or hp.get("subjects")
        weights, _ = strip_prefix(ckpt.get("state_dict", {}), anchor="lstm.weight_ih_l0")
        state.update({f"net.members.{i}.{k}": v for k, v in weights.items()})
    arch["ensemble"] = len(member_checkpoints)
    write_checkpoint({"hyper_parameters": {"architecture": arch, "classes": classes, "config": to_dict(cfg),
                                           **({"clips": clips} if clips else {}),
                                           **({"subjects": subjects} if subjects else {})},
                      "state_dict": state, "members": [str(p) for p in member_checkpoints]}, out)
