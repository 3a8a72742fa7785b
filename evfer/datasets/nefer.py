"""NEFER (Berlincioni et al., CVPRW 2023): Prophesee recordings + the official annotation CSVs.

Layout as users have it::

    ROOT/event_raw/user_XX/<stem>.raw                    EVT 3.0 recordings (1280x720 Gen4)
    ROOT/annotations/expected_emotions/{train,validation}_event.csv
    ROOT/annotations/reported_emotions/{train,validation}_event_subjective.csv   (+ class "None")

A CSV has one row per event frame, no header: ``user_XX,<sequence id>,<frame path>,<Emotion>``.
One sequence (51 rows in the official files) is one clip; its recording is found by stem
(``<id>.raw``, or the id without its ``_cd`` suffix), in the user's folder first. The ``*_gopro``
files (RGB camera) are ignored. NEFER's "validation" users are our *test* users (official split).

Findings on the official event CSVs (checked by tests/test_nefer.py): all rows of a sequence agree
on the label, no sequence or user is in both train and validation, expected and reported files list
the same rows. Should an edited file break that, :func:`scan_nefer` drops the affected sequences and
says why (a guessed label would be silent label noise):

- rows of one sequence with different labels or users → the sequence is skipped (votes listed);
- a sequence in both the train and the validation file → skipped;
- a user with sequences in both files → official split "test", its train-file sequences skipped.

Face boxes were never released: ``face_box`` from the config, else estimated from event density
when the recording is read (the recording path, :mod:`evfer.datasets.event_clips`).
"""

from __future__ import annotations

import csv
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..errors import InputError
from .clips import Clip, ClipSpec, Skipped
from .event_clips import BoxOptions, RecordingSource
from .labels import DEFAULT_MAP, normalize_original
from .source import Scan
from .table import under

#: label set -> (folder, file pattern); ``{split}`` is "train" or "validation".
ANNOTATION_FILES = {
    "expected": ("expected_emotions", "{split}_event.csv"),
    "reported": ("reported_emotions", "{split}_event_subjective.csv"),
}
#: NEFER file split -> official split of our subjects.
OFFICIAL_SPLITS = {"train": "train", "validation": "test"}
#: Original labels a row may carry (normalised): the 7 NEFER emotions, "none", and "neutral".
KNOWN_LABELS = frozenset(DEFAULT_MAP["six"])

_USER = re.compile(r"^user[ _-]?0*(\d+)$", re.IGNORECASE)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class NeferOptions(BoxOptions):
    """Options of a ``nefer`` source (besides the face box)."""

    labels: Literal["expected", "reported"] = "expected"  # NEFER's expected labels, or the self-reported ones (with None)
    annotations: str | None = None  # folder holding expected_emotions/ and reported_emotions/


class Nefer(RecordingSource):
    """NEFER's recordings with the official annotation CSVs and user split."""

    name = "nefer"
    Options = NeferOptions
    listing_options = frozenset({"labels", "annotations"})
    path_options = frozenset({"annotations"})

    def scan(self, progress: bool = True) -> Scan:
        specs, skipped, official = scan_nefer(self.root, self.options, self.source_name)
        return self.listed(specs, skipped, official=official)

    def make_clip(self, spec: ClipSpec) -> Clip:
        clip = super().make_clip(spec)
        clip.events = clip.events.with_meta(sequence=spec.sequence)
        return clip


def normalize_user(text: str) -> str | None:
    """``user_01`` for ``user_01`` / ``user01`` / ``User_1``; None if it is not a NEFER user id."""
    m = _USER.match(text.strip())
    return f"user_{int(m.group(1)):02d}" if m else None


# ------------------------------------------------------------------------------------- annotations
def find_annotations(root: Path, options: NeferOptions) -> Path:
    """The folder holding ``expected_emotions/`` and/or ``reported_emotions/``.

    ``options.annotations`` if given (relative to ROOT, as every path option), else
    ``ROOT/annotations``, else ROOT itself. InputError naming
    every path tried when none holds the label folder of ``options.labels``.
    """
    folder = ANNOTATION_FILES[options.labels][0]
    root = Path(root)
    tried = [under(root, options.annotations)] if options.annotations else [root / "annotations", root]
    for base in tried:
        if (base / folder).is_dir():
            return base
    if not options.annotations and not root.is_dir():
        raise InputError(root, "NEFER root folder not found")
    raise InputError(
        tried[0],
        f"NEFER annotations not found: no {folder}/ folder in {' or '.join(str(p) for p in tried)} "
        "(set the source's 'annotations' option to the folder holding it)",
    )


@dataclass
class _Sequence:
    """Rows of one sequence id in one annotation file."""

    file: Path
    line: int  # first row's line number
    users: Counter = field(default_factory=Counter)
    labels: Counter = field(default_factory=Counter)

    @property
    def rows(self) -> int:
        return sum(self.labels.values())


def read_annotation_csv(path: Path) -> tuple[dict[str, _Sequence], list[Skipped]]:
    """Sequences of one NEFER CSV (id -> rows), and its malformed rows as ``file:line`` Skipped items.

    A first row that names neither a user nor an emotion is taken as a header and ignored; blank
    rows are ignored.
    """
    seqs: dict[str, _Sequence] = {}
    bad: list[Skipped] = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            for row in reader:
                line = reader.line_num
                cells = [c.strip() for c in row]
                if not any(cells):
                    continue
                problem = _row_problem(cells)
                if problem is None:
                    user, seq, _, emotion = cells
                    s = seqs.get(seq)
                    if s is None:
                        s = seqs[seq] = _Sequence(path, line)
                    s.users[normalize_user(user)] += 1
                    s.labels[normalize_original(emotion)] += 1
                elif line == 1 and len(cells) == 4 and normalize_user(cells[0]) is None:
                    continue  # header
                else:
                    bad.append(Skipped(f"{path}:{line}", f"malformed annotation row: {problem}"))
    except (UnicodeDecodeError, csv.Error) as exc:
        problem = f"unreadable annotation file ({type(exc).__name__}: {exc}); rest of it ignored"
        bad.append(Skipped(str(path), problem))
    return seqs, bad


def _row_problem(cells: list[str]) -> str | None:
    if len(cells) != 4:
        return f"expected 4 columns (user, sequence, frame, emotion), got {len(cells)}"
    user, seq, _, emotion = cells
    if normalize_user(user) is None:
        return f"user '{user}' is not a NEFER user id (user_XX)"
    if not seq:
        return "empty sequence id"
    if normalize_original(emotion) not in KNOWN_LABELS:
        return f"unknown emotion '{emotion}'"
    return None


# ------------------------------------------------------------------------------------- recordings
def index_recordings(folder: Path) -> dict[str, list[Path]]:
    """Every ``*.raw`` file under ``folder`` (any depth, symlinks followed once), by stem."""
    index: dict[str, list[Path]] = {}
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames.sort()
        for name in sorted(filenames):
            stem, ext = os.path.splitext(name)
            if ext.lower() == ".raw":
                index.setdefault(stem, []).append(Path(dirpath) / name)
    return index


def recording_stems(sequence: str) -> tuple[str, str]:
    """The two stems a sequence's recording may have: the id itself and the id with/without ``_cd``."""
    if sequence.endswith("_cd"):
        return sequence, sequence[: -len("_cd")]
    return sequence, sequence + "_cd"


def find_recording(sequence: str, subject: str, index: dict[str, list[Path]]) -> Path | None:
    """The recording of ``sequence``: by stem (:func:`recording_stems`), in a folder named after
    ``subject`` first, then anywhere in ``index``; None when there is none."""
    candidates = [p for stem in recording_stems(sequence) for p in index.get(stem, ())]
    for p in candidates:
        if normalize_user(p.parent.name) == subject:
            return p
    return candidates[0] if candidates else None


# ------------------------------------------------------------------------------------- scanning
def scan_nefer(root: Path, options: NeferOptions,
               source: str = "nefer") -> tuple[list[ClipSpec], list[Skipped], dict[str, str]]:
    """List NEFER's clips with the label set ``options.labels`` ("expected" or "reported").

    Returns (clip specs, skipped items with reasons, official split subject -> "train" | "test").
    A reported "None" is kept as original label "none" (the label map drops it).
    """
    base = find_annotations(root, options)
    folder, pattern = ANNOTATION_FILES[options.labels]
    skipped: list[Skipped] = []
    per_split: dict[str, dict[str, _Sequence]] = {}
    for split in OFFICIAL_SPLITS:
        path = base / folder / pattern.format(split=split)
        if not path.is_file():
            skipped.append(Skipped(str(path), "annotation file not found"))
            continue
        per_split[split], bad = read_annotation_csv(path)
        skipped += bad
    if not per_split:
        names = pattern.format(split="{train,validation}")
        raise InputError(base / folder, f"no NEFER annotation file ({names})")

    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "NEFER root folder not found")
    rec_dir = root / "event_raw" if (root / "event_raw").is_dir() else root
    index = index_recordings(rec_dir)
    if not index:
        raise InputError(rec_dir, "no .raw recordings found (NEFER's event_raw/user_XX/*.raw)")

    in_both = set(per_split.get("train", {})) & set(per_split.get("validation", {}))
    official: dict[str, str] = {}
    for split in ("validation", "train"):  # validation first: a user in both files is a test user
        for seq in per_split.get(split, {}).values():
            for user in seq.users:
                official.setdefault(user, OFFICIAL_SPLITS[split])

    specs: list[ClipSpec] = []
    for split, seqs in per_split.items():
        for seq_id, seq in seqs.items():
            item = f"{seq_id} ({seq.file.name}:{seq.line})"
            reason = _sequence_problem(seq, seq_id in in_both)
            user = next(iter(seq.users))
            if reason is None and official[user] != OFFICIAL_SPLITS[split]:
                reason = (f"{user} is also a validation user in the official split; "
                          "dropped to keep it subject-disjoint")
            if reason is None:
                rec = find_recording(seq_id, user, index)
                if rec is None:
                    stem = seq_id.removesuffix("_cd")
                    reason = f"no recording found (looked for {stem}.raw and {stem}_cd.raw)"
            if reason is not None:
                skipped.append(Skipped(item, reason))
                continue
            label = next(iter(seq.labels))
            specs.append(
                ClipSpec(
                    id=f"{source}-" + _UNSAFE.sub("_", seq_id),
                    source=source,
                    subject=user,
                    original_label=label,
                    paths=[str(rec)],
                    sequence=seq_id,
                )
            )
    return specs, skipped, official


def _sequence_problem(seq: _Sequence, in_both: bool) -> str | None:
    if in_both:
        return "listed in both the train and the validation annotation file"
    if len(seq.users) > 1:
        return "rows name different users: " + _votes(seq.users)
    if len(seq.labels) > 1:
        return "rows disagree on the label: " + _votes(seq.labels)
    return None


def _votes(c: Counter) -> str:
    return ", ".join(f"{k} x{n}" for k, n in c.most_common())
