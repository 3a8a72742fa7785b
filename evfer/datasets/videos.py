"""Labelled videos (ADFES, RAVDESS, a lab's own recordings): the ``videos`` source kind.

Two layouts under ``root``:

- folders: ``<root>/<label>/<subject>_<anything>.<mp4|avi|mov|mkv|...>`` — the folder name is the
  original label (mapped through the label table), the file name up to its first ``_`` the subject;
- a CSV (option ``csv``, relative to ``root``) with the columns ``path, subject, label`` and
  optionally ``start_s, end_s`` (a time segment, seconds) and ``box`` (``x y w h``: the face crop in
  video pixels; default: the Haar cascade on the first frame, as for CK+).

Each video (or segment) is one frame clip (:mod:`evfer.datasets.frame_clips`): decoded at its own
frame rate (a file that does not state one is reported), colour to luma, face crop, resize, blur,
emulator. A damaged video that decodes fewer frames than its container states is refused (see
:func:`evfer.emulator.frames.iter_frames`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..emulator.frames import source_fps
from ..errors import InputError
from .clips import Box, ClipSpec, Skipped
from .frame_clips import VIDEO_SUFFIXES, FrameOptions, FrameSource
from .labels import normalize_original
from .source import Scan
from .table import box_cell, parse_number, read_table, resolve_path, under

_UNSAFE = str.maketrans({c: "_" for c in " /\\:*?\"<>|"})


@dataclass
class VideoOptions(FrameOptions):
    """Options of a ``videos`` source (besides the frame options)."""

    fps: float | None = None  # None: each video's own frame rate
    mask_timecode: bool = False  # CK+'s burnt-in timecode; videos have none
    csv: str | None = None  # label table (path, subject, label[, start_s, end_s, box]); None: folder layout



class Videos(FrameSource):
    """Videos labelled by folder or by a CSV."""

    name = "videos"
    Options = VideoOptions
    listing_options = frozenset({"csv"})
    path_options = frozenset({"csv"})

    def scan(self, progress: bool = True) -> Scan:
        if not self.root.is_dir():
            raise InputError(self.root, "videos folder not found")
        rows, skipped = self._rows()
        specs = []
        for row in rows:
            problem = _video_problem(row.video, self.options.fps)
            if problem:
                skipped.append(Skipped(row.item, problem))
                continue
            stem = row.video.stem if row.start_s is None else f"{row.video.stem}_{row.start_s:g}s"
            label = normalize_original(row.label)
            clip_id = f"{self.source_name}-{row.subject}-{label}-{stem}".translate(_UNSAFE)
            specs.append(ClipSpec(clip_id, self.source_name, row.subject, label, [str(row.video)],
                                  start_us=_us(row.start_s), end_us=_us(row.end_s), box=row.box))
        return self.listed(specs, skipped, "<label>/<subject>_<name>.mp4, or a csv option")

    def _rows(self) -> tuple[list[_Row], list[Skipped]]:
        """One row per clip, and the skipped rows/files."""
        if self.options.csv is not None:
            return _csv_rows(under(self.root, self.options.csv))
        rows, skipped = [], []
        for folder in sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            for f in sorted(folder.iterdir()):
                if f.name.startswith("."):
                    continue
                if f.suffix.lower() not in VIDEO_SUFFIXES:
                    skipped.append(Skipped(str(f), f"not a video ({', '.join(VIDEO_SUFFIXES)})"))
                    continue
                subject = f.stem.split("_")[0]
                if "_" not in f.stem or not subject:
                    skipped.append(Skipped(str(f), "name is not <subject>_<anything>"))
                    continue
                rows.append(_Row(f, subject, folder.name, str(f)))
        return rows, skipped


@dataclass(frozen=True)
class _Row:
    """One clip of the folder layout or the CSV: a video, its subject and label, a segment (s) and box."""

    video: Path
    subject: str
    label: str
    item: str  # how the skip list names it
    start_s: float | None = None
    end_s: float | None = None
    box: Box | None = None


def _us(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1e6)


def _csv_rows(table: Path) -> tuple[list[_Row], list[Skipped]]:
    rows, skipped = read_table(table, ("path", "subject", "label"), ("start_s", "end_s", "box"))
    out = []
    for row in rows:
        item = f"{table}:{row.line}"
        try:
            start, end = parse_number(row.get("start_s"), "start_s"), parse_number(row.get("end_s"), "end_s")
            if start is not None and end is not None and end <= start:
                raise ValueError(f"end_s {end:g} is not after start_s {start:g}")
            if (start is not None and start < 0) or (end is not None and end <= 0):
                raise ValueError("segment times must be >= 0 s")
            box = box_cell(row.get("box"))
        except ValueError as exc:
            skipped.append(Skipped(item, str(exc)))
            continue
        out.append(_Row(resolve_path(table, row.get("path")), row.get("subject"), row.get("label"), item,
                        start, end, box))
    return out, skipped


def _video_problem(path: Path, fps: float | None) -> str | None:
    """Why ``path`` cannot be used (missing, unreadable, no frame rate), or None."""

    if not path.is_file():
        return f"{path}: no such video"
    try:
        source_fps(path, fps)
    except InputError as exc:
        return str(exc)
    return None
