"""Label tables given as CSV files (``kind: videos``, ``stills``, ``recordings``): one row per clip,
a header row naming the columns, paths relative to the CSV's folder (or absolute).

Rows with a problem (a missing path, an empty label, a bad number) are returned as skipped items
``file:line`` with the reason; the rest are used.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from .clips import Box, Skipped, parse_box


@dataclass
class Row:
    """One CSV row: its line number and its cells by (lower-case) column name."""

    line: int
    cells: dict[str, str]

    def get(self, column: str) -> str:
        return (self.cells.get(column) or "").strip()


def read_table(path: Path, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> tuple[list[Row], list[Skipped]]:
    """The rows of a CSV with a header naming at least ``required``; InputError when the file cannot
    be read or lacks a required column; rows without a value in a required column are skipped."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "label table (CSV) not found")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = [h.strip().lower() for h in (reader.fieldnames or [])]
            missing = [c for c in required if c not in header]
            if missing:
                raise InputError(path, f"CSV lacks the column(s) {', '.join(missing)} "
                                       f"(header: {', '.join(header) or 'none'}; needed: {', '.join(required)}"
                                       + (f"; optional: {', '.join(optional)})" if optional else ")"))
            rows, skipped = [], []
            for raw in reader:
                cells = {str(k).strip().lower(): (v or "") for k, v in raw.items() if k is not None}
                row = Row(reader.line_num, cells)
                if not any(v.strip() for v in cells.values()):
                    continue
                empty = [c for c in required if not row.get(c)]
                if empty:
                    skipped.append(Skipped(f"{path}:{row.line}", f"empty {', '.join(empty)}"))
                    continue
                rows.append(row)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(path, f"unreadable CSV ({type(exc).__name__}: {exc})") from None
    return rows, skipped


def resolve_path(table: Path, value: str) -> Path:
    """A path cell: absolute, or relative to the table's folder."""
    p = Path(value).expanduser()
    return p if p.is_absolute() else Path(table).parent / p


def under(root: Path, value: str) -> Path:
    """A path option: absolute, or relative to the source's root."""
    p = Path(value).expanduser()
    return p if p.is_absolute() else Path(root) / p


def box_cell(text: str) -> Box | None:
    """A box cell (:func:`evfer.datasets.clips.parse_box`); None when empty."""
    return parse_box(text) if text.strip().strip("[]()") else None


def parse_number(text: str, what: str) -> float | None:
    """A numeric cell; None when empty; ValueError naming ``what`` otherwise."""
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a number") from None
