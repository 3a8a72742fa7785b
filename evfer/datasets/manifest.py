"""The manifest: one CSV row per clip, the single source of truth about a prepared dataset.

Columns: id, source, subject, original_label, label, events_path (relative to the manifest's folder),
event_count, duration_us, split (train | val | test | ""), repeats (times the clip is drawn per
training epoch after balancing: 0 = left out by undersampling, >1 = oversampled; always 1 outside
the training split), events_key (fingerprint of the settings that made the events: a changed
setting makes ``prepare`` recompute the clip and the voxel cache).
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..atomic import write_text_atomic
from ..errors import InputError

SPLITS = ("train", "val", "test")


@dataclass
class ClipRecord:
    id: str
    source: str
    subject: str
    original_label: str
    label: str
    events_path: str = ""
    event_count: int = 0
    duration_us: int = 0
    split: str = ""
    repeats: int = 1
    events_key: str = ""  # fingerprint of the settings that made the events file (see prepare.events_key)


COLUMNS = [f.name for f in dataclasses.fields(ClipRecord)]
_INT_COLUMNS = {"event_count", "duration_us", "repeats"}


def write_manifest(path: str | Path, records: list[ClipRecord]) -> None:
    """Write the manifest CSV atomically."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in records:
        writer.writerow(dataclasses.asdict(r))
    write_text_atomic(path, buf.getvalue())


def read_manifest(path: str | Path) -> list[ClipRecord]:
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "manifest not found")
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = set(COLUMNS) - set(reader.fieldnames or [])
        if missing:
            raise InputError(path, f"not an evfer manifest (missing columns: {', '.join(sorted(missing))})")
        records = []
        for i, row in enumerate(reader, start=2):
            try:
                values = {k: (int(row[k]) if k in _INT_COLUMNS else row[k]) for k in COLUMNS}
            except ValueError as exc:
                raise InputError(path, f"line {i}: {exc}") from None
            records.append(ClipRecord(**values))
    return records


def count_table(records: list[ClipRecord], classes: tuple[str, ...], *, by: str = "split",
                weighted: bool = False) -> str:
    """A plain-text table of clip counts: rows = values of ``by``, columns = classes."""
    groups = sorted({getattr(r, by) for r in records}, key=lambda g: (SPLITS.index(g) if g in SPLITS else 9, g))
    counts = {g: Counter() for g in groups}
    for r in records:
        counts[getattr(r, by)][r.label] += r.repeats if weighted else 1
    head = f"{by:<10}" + "".join(f"{c[:9]:>10}" for c in classes) + f"{'total':>10}"
    lines = [head]
    for g in groups:
        row = counts[g]
        lines.append(f"{(g or '-'):<10}" + "".join(f"{row[c]:>10}" for c in classes) + f"{sum(row.values()):>10}")
    return "\n".join(lines)
