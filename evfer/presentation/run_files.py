"""Reading what a run directory holds, for the report: every reader returns None for a missing or
unreadable file, so a report of an unfinished run shows what there is and says what is missing.

A training run (``evfer train``/``demo``) holds config.yaml, manifest.csv, train_summary.json,
logs/metrics.csv, curves.png and, once evaluated, metrics.json, confusion.png and
predictions-test.csv; its dataset summary is ``<data.out>/summary.json``; an ensemble run has its
members' logs and curves in ``members/m<i>/``. A cross-validation folder (``evfer cv``) holds
cv.json, confusion.png and one such run per fold (``fold-<k>/``); a repeated one (``--repeats``)
holds cv.json and one cross-validation folder per repeat (``repeat-<r>/``).
"""

from __future__ import annotations

import csv
import json
from functools import cached_property
from pathlib import Path

import yaml

from ..datasets.manifest import ClipRecord, read_manifest
from ..errors import EvferError
from .plots import plot_training_curves, read_metrics_csv


class RunFiles:
    """The files of one run directory (or of a cross-validation folder), read on first use."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.unreadable: dict[str, str] = {}  # file name -> what is wrong with it (it exists)

    def json(self, name: str) -> dict | None:
        path = self.folder / name
        try:
            value = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            self.unreadable[name] = f"unreadable ({type(exc).__name__}: truncated or corrupt?)"
            return None
        if not isinstance(value, dict):
            self.unreadable[name] = "not a JSON object"
            return None
        return value

    def problem(self, name: str, what: str) -> str:
        """The page's note for a file that is missing or, when it exists, unreadable."""
        if name in self.unreadable:
            return f"{name} is {self.unreadable[name]}; {what}"
        return f"no {name}; {what}"

    def text(self, name: str) -> str | None:
        try:
            return (self.folder / name).read_text()
        except (OSError, UnicodeDecodeError):
            return None

    def png(self, name: str) -> bytes | None:
        try:
            data = (self.folder / name).read_bytes()
        except OSError:
            return None
        return data if data.startswith(b"\x89PNG") else None

    @cached_property
    def config(self) -> dict | None:
        """The run's resolved config (config.yaml) as plain data."""
        text = self.text("config.yaml")
        try:
            value = yaml.safe_load(text) if text else None
        except yaml.YAMLError:
            return None
        return value if isinstance(value, dict) else None

    @cached_property
    def data_out(self) -> Path | None:
        """The prepared dataset's folder (``data.out``, absolute in a run's config)."""
        out = ((self.config or {}).get("data") or {}).get("out")
        if not out:
            return None
        out = Path(out)
        return out if out.is_absolute() else self.folder / out

    @cached_property
    def dataset_summary(self) -> dict | None:
        """``<data.out>/summary.json`` of ``evfer prepare``."""
        return RunFiles(self.data_out).json("summary.json") if self.data_out else None

    @cached_property
    def manifest(self) -> list[ClipRecord] | None:
        """The clips and splits the run used (manifest.csv)."""
        try:
            return read_manifest(self.folder / "manifest.csv")
        except (EvferError, OSError):
            return None

    @cached_property
    def curves(self) -> dict[str, list[tuple[int, float]]] | None:
        """Per-epoch series of logs/metrics.csv ({metric: [(epoch, value), ...]})."""

        try:
            return read_metrics_csv(self.folder / "logs" / "metrics.csv")
        except (OSError, ValueError, KeyError):
            return None

    def curves_png(self) -> bytes | None:
        """curves.png, drawn from logs/metrics.csv when the run has the log but not the figure yet."""
        png = self.png("curves.png")
        if png is None and self.curves:
            plot_training_curves(self.folder / "logs" / "metrics.csv", self.folder / "curves.png")
            png = self.png("curves.png")
        return png

    def predictions(self, split: str = "test") -> list[dict] | None:
        """Rows of ``predictions-<split>.csv``: id, subject, label, predicted and p_<class> (floats)."""
        name = f"predictions-{split}.csv"
        try:
            with (self.folder / name).open(newline="") as f:
                rows = list(csv.DictReader(f))
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            self.unreadable[name] = f"unreadable ({type(exc).__name__})"
            return None
        good = []
        for row in rows:
            try:
                for key in [k for k in row if k.startswith("p_")]:
                    row[key] = float(row[key])
                if not (row.get("id") and row.get("label") and row.get("predicted")):
                    raise ValueError
            except (TypeError, ValueError):
                continue
            good.append(row)
        if len(good) < len(rows):
            self.unreadable[name] = f"cut or damaged: {len(rows) - len(good)} of {len(rows)} rows unreadable"
        return good

    @cached_property
    def folds(self) -> list[RunFiles]:
        """The fold runs of a cross-validation folder (fold-0, fold-1, ...), in fold order."""
        return _numbered(self.folder, "fold-")

    @cached_property
    def members(self) -> list[RunFiles]:
        """The member runs of an ensemble run (members/m0, m1, ...), in member order."""
        return _numbered(self.folder / "members", "m")

    @cached_property
    def repeats(self) -> list[RunFiles]:
        """The cross-validations of a repeated cross-validation folder (repeat-0, repeat-1, ...)."""
        return _numbered(self.folder, "repeat-")

    @property
    def is_cv(self) -> bool:
        return (self.folder / "cv.json").is_file() or bool(self.folds) or bool(self.repeats)

    @property
    def is_run(self) -> bool:
        return any((self.folder / n).exists() for n in ("config.yaml", "manifest.csv", "train_summary.json",
                                                         "checkpoints", "metrics.json"))


def _numbered(folder: Path, prefix: str) -> list[RunFiles]:
    """The sub-folders ``<prefix><n>`` of ``folder`` as RunFiles, by n."""
    if not folder.is_dir():
        return []
    found = [p for p in folder.glob(f"{prefix}*") if p.is_dir() and p.name[len(prefix):].isdigit()]
    return [RunFiles(p) for p in sorted(found, key=lambda p: int(p.name[len(prefix):]))]
