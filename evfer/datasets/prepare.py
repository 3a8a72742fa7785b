"""``evfer prepare``: dataset folders -> events -> manifest -> subject-disjoint split -> balance -> voxels.

Output folder (``data.out``)::

    events/<source>/<clip id>.h5     one events file per clip (evfer HDF5 store), written atomically
    manifest.csv                     one row per clip (see manifest.py), with split and repeats
    summary.txt, summary.json        clips per source/label/split, skipped items and why, label table
    prepare.yaml                     the resolved config
    voxels/<parameters>/             voxel cache (see voxel_cache.py), rebuilt only when parameters change

Re-running resumes: clips whose events file exists are not recomputed.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..atomic import remove_stale_temporaries, write_json_atomic, write_text_atomic
from ..config import Config, dump_yaml
from ..errors import EvferError
from ..io import probe, write_events
from ..jobs import run_jobs
from .balance import balance, class_counts
from .clips import ClipResult, ClipSpec, Skipped, clip_meta, crop_from_meta
from .kinds import clip_context, make_source
from .labels import LabelMap
from .manifest import ClipRecord, count_table, write_manifest
from .source import SourceKind
from .splits import apply_split, kfold_split, official_split, subject_split
from .voxel_cache import build_voxel_cache

log = logging.getLogger(__name__)


@dataclass
class PrepareResult:
    out: Path
    records: list[ClipRecord]
    skipped: list[Skipped]
    summary: dict
    voxel_dir: Path | None = None
    labels: LabelMap | None = None
    counts_before: dict = field(default_factory=dict)


NO_EVENTS = "no events (nothing changed by more than the emulator threshold); left out"
#: a clip with fewer events than this is degenerate (a corrupt or cut file, a static input): left out
MIN_CLIP_EVENTS = 20


def too_few(n_events: int) -> str | None:
    """Why a clip of ``n_events`` events is left out, or None."""
    if n_events == 0:
        return NO_EVENTS
    if n_events < MIN_CLIP_EVENTS:
        return f"only {n_events} events (fewer than {MIN_CLIP_EVENTS}: a cut or corrupt file, or a still input); left out"
    return None


@dataclass(frozen=True)
class ClipJob:
    """One clip to make: its kind object, spec, events file and fingerprint (picklable)."""

    kind: SourceKind
    spec: ClipSpec
    path: str
    key: str


def write_clip(job: ClipJob) -> ClipResult:
    """Worker: make one clip's events (the kind's :meth:`~SourceKind.clip`) and write its events file."""

    spec = job.spec
    clip = job.kind.clip(spec)
    meta = {**clip.events.meta, **clip_meta(clip)}
    meta.update(clip_id=spec.id, source=spec.source, subject=spec.subject, original_label=spec.original_label,
                events_key=job.key)
    write_events(job.path, clip.events, **meta)
    return ClipResult(spec.id, len(clip.events), clip.duration_us, clip.crop.method if clip.crop else None,
                      clip.notes)


def _job_label(job: ClipJob) -> str:
    return job.spec.paths[0] if job.spec.paths else job.spec.id


# ------------------------------------------------------------------------------------- main


def prepare(cfg: Config, *, build_voxels: bool = True, progress: bool = True) -> PrepareResult:
    """Run the whole preparation for ``cfg`` (see the module docstring). Resumable."""
    data = cfg.data
    if not data.sources:
        raise EvferError("data.sources is empty: add at least one {kind: ckplus|nefer|synthetic, root: PATH}")
    context = clip_context(cfg)
    out = Path(data.out)
    out.mkdir(parents=True, exist_ok=True)
    labels = LabelMap(data.label_set, data.label_map)

    jobs: list[tuple[ClipSpec, SourceKind]] = []
    skipped: list[Skipped] = []
    official: dict[str, str] = {}
    seen_ids: dict[str, str] = {}  # clip id -> the source that listed it first
    for src in data.sources:
        kind = make_source(src, context)
        kind.materialize(progress)
        scan = kind.scan(progress)
        for item in scan.skipped:
            item.source = item.source or kind.source_name
        skipped += scan.skipped
        official.update({f"{kind.source_name}:{subject}": split for subject, split in scan.official.items()})
        for spec in scan.specs:
            label = labels(spec.original_label)
            if label is None:
                why = "not in the label table" if spec.original_label not in labels.table else "dropped by the label table"
                skipped.append(Skipped(spec.id, f"label '{spec.original_label}' {why} ({labels.label_set})",
                                       spec.source))
                continue
            if spec.id in seen_ids:
                where = ("listed twice by this source" if seen_ids[spec.id] == kind.source_name
                         else f"also listed by the source {seen_ids[spec.id]}")
                skipped.append(Skipped(spec.id, f"duplicate clip id ({where}); the first is used", spec.source))
                continue
            seen_ids[spec.id] = kind.source_name
            spec.label = label
            jobs.append((spec, kind))

    records, crops = _make_all_events(jobs, data.workers, out, skipped, progress)
    if not records:
        reasons = Counter(s.reason.split(" (")[0] for s in skipped).most_common(3)
        raise EvferError(f"no usable clip in {', '.join(s.root for s in data.sources)} "
                         f"(skipped {len(skipped)}: {'; '.join(f'{r} x{n}' for r, n in reasons) or 'nothing found'})")

    assign_split(records, cfg, official)
    before = {s: dict(class_counts(records, s)) for s in ("train", "val", "test")}
    balance(records, data.balance.method, data.balance.seed)
    write_manifest(out / "manifest.csv", records)
    write_text_atomic(out / "prepare.yaml", "# the config this dataset folder was last prepared with, generated for "
                      "reading (each events file stores the fingerprint evfer checks)\n" + dump_yaml(cfg))

    summary = make_summary(records, skipped, labels, cfg, before)
    summary["clip_notes"] = _note_stats(records, crops.pop("notes"))
    summary["face_crop"] = crops
    write_json_atomic(out / "summary.json", summary)
    write_text_atomic(out / "summary.txt", format_summary(summary, records, labels))

    voxel_dir = None
    if build_voxels:
        voxel_dir = build_voxel_cache(out, records, cfg.voxel, workers=data.workers, progress=progress)
    return PrepareResult(out, records, skipped, summary, voxel_dir, labels, before)


def _make_all_events(jobs: list[tuple[ClipSpec, SourceKind]], workers: int, out: Path, skipped: list[Skipped],
                     progress: bool):
    """Make (or reuse) every clip's events file; returns (records, face-crop report)."""

    records: dict[str, ClipRecord] = {}
    methods: dict[str, str] = {}
    notes: dict[str, dict[str, float]] = {}
    todo: list[ClipJob] = []
    for folder in {(out / "events" / spec.source) for spec, _ in jobs}:
        remove_stale_temporaries(folder)  # events files a killed run was writing
    for spec, kind in jobs:
        rel = Path("events") / spec.source / f"{spec.id}.h5"
        key = kind.events_key(spec)
        # subjects are qualified by their source: CK+'s S005 and a synthetic S005 are different people
        rec = ClipRecord(spec.id, spec.source, f"{spec.source}:{spec.subject}", spec.original_label,
                         spec.label, str(rel), events_key=key)
        records[spec.id] = rec
        path = out / rel
        if path.exists():  # resume: atomic writes mean an existing file is complete
            try:
                info = probe(path)
                if info.meta.get("events_key") == key:
                    rec.event_count = info.n_events
                    if why := too_few(rec.event_count):
                        skipped.append(Skipped(spec.id, why, spec.source))
                        del records[spec.id]
                        continue
                    span = info.meta.get("span_us")
                    rec.duration_us = int(span[1] - span[0]) if span else info.duration_us
                    crop = crop_from_meta(info.meta)
                    if crop is not None:
                        methods[spec.id] = crop.method
                    if info.meta.get("notes"):
                        notes[spec.id] = dict(info.meta["notes"])
                    continue
                log.info("%s: made with other settings; recomputing", path)
            except EvferError:
                pass
            path.unlink()
        todo.append(ClipJob(kind, spec, str(path), key))

    failed: set[str] = set()
    for result in run_jobs(write_clip, todo, workers=max(1, int(workers)), desc="events", unit="clip",
                           progress=progress, label=_job_label):
        clip_id = result.item.spec.id
        error = result.error or too_few(result.value.n_events)
        if error:
            skipped.append(Skipped(clip_id, error, result.item.spec.source))
            failed.add(clip_id)
            continue
        records[clip_id].event_count = result.value.n_events
        records[clip_id].duration_us = result.value.duration_us
        if result.value.crop_method:
            methods[clip_id] = result.value.crop_method
        if result.value.notes:
            notes[clip_id] = dict(result.value.notes)
    kept = [r for r in sorted(records.values(), key=lambda r: r.id) if r.id not in failed]
    fallback = sorted(cid for cid, m in methods.items() if m == "center")
    if fallback:
        log.warning("no face found in %d clip(s); centre crop used (listed in summary.json)", len(fallback))
    crops = {"methods": dict(Counter(methods[r.id] for r in kept if r.id in methods)), "center_fallback": fallback,
             "notes": {r.id: notes[r.id] for r in kept if r.id in notes}}
    return kept, crops


def assign_split(records: list[ClipRecord], cfg: Config, official: dict[str, str]) -> None:
    """Set every record's split per ``data.split`` (subject-disjoint, checked)."""
    sp = cfg.data.split
    if sp.method == "subject":
        mapping = subject_split(records, sp.fractions, sp.seed)
    elif sp.method == "official":
        if not official:
            raise EvferError("data.split.method=official needs a source with a published split (nefer)")
        mapping = official_split(records, official, sp.fractions, sp.seed)
    else:
        mapping = kfold_split(records, sp.folds, sp.fold, sp.fractions, sp.seed)
    apply_split(records, mapping)


# ------------------------------------------------------------------------------------- reporting


def _event_rate_ratio(records: list[ClipRecord]) -> dict[str, float | None]:
    """Mean event rate (events/s) of neutral clips over that of expression clips, per source."""
    out: dict[str, float | None] = {}
    by_source = defaultdict(lambda: {"neutral": [], "expression": []})
    for r in records:
        if r.duration_us > 0:
            kind = "neutral" if r.label == "neutral" else "expression"
            by_source[r.source][kind].append(r.event_count / (r.duration_us * 1e-6))
    for source, rates in by_source.items():
        if rates["neutral"] and rates["expression"]:
            out[source] = float(np.mean(rates["neutral"]) / max(np.mean(rates["expression"]), 1e-9))
    return out


def make_summary(records, skipped, labels: LabelMap, cfg: Config, before: dict) -> dict:
    per = lambda key: {k: dict(Counter(r.label for r in records if getattr(r, key) == k))  # noqa: E731
                       for k in sorted({getattr(r, key) for r in records})}
    return {
        "clips": len(records),
        "subjects": len({r.subject for r in records}),
        "classes": list(labels.classes),
        "label_table": {k: v for k, v in labels.table.items()},
        "per_source": per("source"),
        "per_split": per("split"),
        "subjects_per_split": {s: len({r.subject for r in records if r.split == s}) for s in ("train", "val", "test")},
        "balance": cfg.data.balance.method,
        "train_counts_before": before.get("train", {}),
        "train_draws_after": dict(class_counts(records, "train", weighted=True)),
        "neutral_to_expression_event_rate": _event_rate_ratio(records),
        "skipped": [{"item": s.item, "reason": s.reason, "source": s.source} for s in skipped],
        "skipped_by_reason": dict(Counter(s.reason for s in skipped).most_common()),
        "skipped_per_source": {src: dict(Counter(_short(s.reason) for s in skipped if s.source == src).most_common())
                               for src in sorted({s.source for s in skipped})},
    }


def _note_stats(records: list[ClipRecord], notes: dict[str, dict[str, float]]) -> dict:
    """Per source and note (e.g. the alignment correlation of morphed stills): n, mean, min, max, and
    every clip's value."""
    out: dict = {}
    for r in records:
        for name, value in notes.get(r.id, {}).items():
            out.setdefault(r.source, {}).setdefault(name, {})[r.id] = value
    return {source: {name: {"n": len(v), "mean": float(np.mean(list(v.values()))),
                            "min": float(min(v.values())), "max": float(max(v.values())), "clips": v}
                     for name, v in names.items()}
            for source, names in out.items()}


def _short(reason: str) -> str:
    """A reason without its specifics (file names, numbers in parentheses), for counting."""
    return reason.split(" (")[0].rsplit(": ", 1)[-1]


def format_summary(summary: dict, records: list[ClipRecord], labels: LabelMap) -> str:
    lines = [f"{summary['clips']} clips from {summary['subjects']} subjects", "", labels.format_table(), ""]
    lines += ["clips per source:", count_table(records, labels.classes, by="source"), ""]
    for source, reasons in summary.get("skipped_per_source", {}).items():
        lines.append(f"skipped from {source or 'the sources'}: "
                     + "; ".join(f"{reason} x{n}" for reason, n in reasons.items()))
    if summary.get("skipped_per_source"):
        lines.append("")
    lines += ["clips per split (subject-disjoint; subjects: "
              + ", ".join(f"{k} {v}" for k, v in summary["subjects_per_split"].items()) + "):",
              count_table(records, labels.classes, by="split"), ""]
    before = ", ".join(f"{c} {summary['train_counts_before'].get(c, 0)}" for c in labels.classes)
    after = ", ".join(f"{c} {summary['train_draws_after'].get(c, 0)}" for c in labels.classes)
    lines.append(f"balancing ({summary['balance']}, training split only): clips {before} -> draws per epoch {after}")
    for source, ratio in summary["neutral_to_expression_event_rate"].items():
        lines.append(f"neutral-to-expression event-rate ratio ({source}): {ratio:.2f}")
    for source, names in summary.get("clip_notes", {}).items():
        for name, st in names.items():
            lines.append(f"{name} ({source}, {st['n']} clips): mean {st['mean']:.3g}, min {st['min']:.3g}, "
                         f"max {st['max']:.3g}")
    crops = summary.get("face_crop") or {}
    if crops.get("methods"):
        lines.append("face crop: " + ", ".join(f"{m} {n}" for m, n in sorted(crops["methods"].items()))
                     + (f" (no face found, centre crop: {', '.join(crops['center_fallback'][:5])}"
                        f"{' ...' if len(crops['center_fallback']) > 5 else ''})" if crops.get("center_fallback") else ""))
    if summary["skipped"]:
        lines += ["", f"skipped {len(summary['skipped'])} item(s):"]
        lines += [f"  {s['item']}: {s['reason']}" for s in summary["skipped"][:50]]
        if len(summary["skipped"]) > 50:
            lines.append(f"  ... {len(summary['skipped']) - 50} more in summary.json")
    return "\n".join(lines) + "\n"
