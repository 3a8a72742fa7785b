"""Labelled event recordings (a lab's own event camera): the ``recordings`` source kind.

A CSV (option ``csv``, relative to ``root``; default ``recordings.csv``) with the columns
``path, subject, label`` and optionally ``t_start_us, t_end_us`` (a time segment on the file's
clock, µs) and ``box`` (``x y w h``: the face box in sensor pixels). Paths are relative to the CSV's
folder or absolute; any format :mod:`evfer.io` reads (:data:`evfer.io.FORMATS`). Each row is one clip of the event-clip path (:mod:`evfer.datasets.event_clips`): the
segment cropped to the row's box, else the source's ``face_box``, else a box estimated from event
density as for NEFER.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from .clips import ClipSpec, Skipped
from .event_clips import BoxOptions, RecordingSource
from .labels import normalize_original
from .source import Scan
from .table import box_cell, parse_number, read_table, resolve_path, under

_UNSAFE = str.maketrans({c: "_" for c in " /\\:*?\"<>|"})


@dataclass
class RecordingOptions(BoxOptions):
    """Options of a ``recordings`` source (besides the face box)."""

    csv: str = "recordings.csv"  # the label table, relative to root (or absolute)
    sensor_size: list[int] | None = None  # [W, H] for files that state none (e.g. N-CARS-style .dat)

    def validate(self, path: str) -> None:
        super().validate(path)
        if self.sensor_size is not None and (len(self.sensor_size) != 2 or min(self.sensor_size) <= 0):
            raise ConfigError(f"{path}sensor_size: need [W, H] > 0 (got {self.sensor_size})")


class Recordings(RecordingSource):
    """Event files listed in a CSV with subject and label."""

    name = "recordings"
    Options = RecordingOptions
    listing_options = frozenset({"csv"})
    path_options = frozenset({"csv"})

    def sensor_size(self) -> tuple[int, int] | None:
        return tuple(self.options.sensor_size) if self.options.sensor_size else None

    def scan(self, progress: bool = True) -> Scan:
        table = under(self.root, self.options.csv)
        rows, skipped = read_table(table, ("path", "subject", "label"), ("t_start_us", "t_end_us", "box"))
        specs, first_row = [], {}
        for row in rows:
            item = f"{table}:{row.line}"
            try:
                spec = self._spec(table, row)
            except ValueError as exc:
                skipped.append(Skipped(item, str(exc)))
                continue
            if not Path(spec.paths[0]).is_file():
                skipped.append(Skipped(item, f"{spec.paths[0]}: no such recording"))
                continue
            if spec.id in first_row:
                skipped.append(Skipped(item, f"the same clip as {first_row[spec.id]} (same file, subject, label and "
                                             "start); the first row is used"))
                continue
            first_row[spec.id] = item
            specs.append(spec)
        return self.listed(specs, skipped)

    def _spec(self, table: Path, row) -> ClipSpec:
        path = resolve_path(table, row.get("path"))
        subject, label = row.get("subject"), normalize_original(row.get("label"))
        times: dict[str, int] = {}
        for key in ("t_start_us", "t_end_us"):
            value = parse_number(row.get(key), key)
            if value is not None:
                if value != int(value) or value < 0:
                    raise ValueError(f"{key} {value:g} is not a whole number of µs >= 0")
                times[key] = int(value)
        t0, t1 = times.get("t_start_us"), times.get("t_end_us")
        if t0 is not None and t1 is not None and t1 <= t0:
            raise ValueError(f"t_end_us {t1} is not after t_start_us {t0}")
        start = f"-t{t0}" if t0 is not None else ""
        clip_id = f"{self.source_name}-{subject}-{label}-{path.stem}{start}".translate(_UNSAFE)
        return ClipSpec(clip_id, self.source_name, subject, label, [str(path)], start_us=t0, end_us=t1,
                        box=box_cell(row.get("box")))
