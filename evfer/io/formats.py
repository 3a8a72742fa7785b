"""The event file formats, in one table: names, file suffixes, reader, writer, capabilities.

Everything that depends on the format list is derived from :data:`FORMATS`: the suffixes
:func:`open_reader` accepts and the reader it picks, the ``format=`` values of ``write_events``
and the format a file name implies. Adding a format means one reader/writer module and one row.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from .geometry import check_plausible
from .reader import EventReader
from .sniff import sniff


@dataclass(frozen=True)
class Format:
    """One file format.

    Attributes:
        name: the ``write_events(format=...)`` value.
        description: human-readable name.
        suffixes: file name suffixes (lower case) files of this format have.
        reader: ``"module:attr"`` (module inside evfer.io, imported when first used) of a callable
            ``(path) -> EventReader``. Formats that share a suffix share their reader, which tells
            them apart by content.
        writer: ``"module:attr"`` of ``(tmp_path, chunks, width, height, meta) -> None``, or None
            for a format that is only read.
        content: kinds of first bytes (:func:`evfer.io.sniff.sniff`) its files may start with;
            a file whose suffix names this format but whose content is another known kind is
            refused before its reader sees it.
        default_for: file name endings for which writing picks this format when none is given
            (the longest matching ending wins).
        time_index: window reads jump to the window (time index or bisection) instead of
            decoding from the start.
        stores_size: evfer's writer stores the sensor size (files from elsewhere may lack it).
        stores_meta: evfer's writer stores the metadata (``Events.meta``).
    """

    name: str
    description: str
    suffixes: tuple[str, ...]
    reader: str
    writer: str | None
    content: tuple[str, ...]
    default_for: tuple[str, ...] = ()
    time_index: bool = False
    stores_size: bool = True
    stores_meta: bool = True

    @property
    def writable(self) -> bool:
        return self.writer is not None

    def open(self, path: Path) -> EventReader:
        """The reader for ``path`` (a checked, existing file)."""
        return resolve(self.reader)(path)

    def write(self, tmp: Path, chunks: Any, width: int, height: int, meta: dict[str, Any]) -> None:
        resolve(self.writer)(tmp, chunks, width, height, meta)


# fmt: off
FORMATS: tuple[Format, ...] = (
    Format("evt3", "Prophesee EVT 3.0 (also reads EVT 2.0 / 2.1)", (".raw",), "prophesee:RawReader",
           "prophesee_write:write_evt3", ("prophesee-evt",), default_for=(".raw",)),
    Format("evt2", "Prophesee EVT 2.0", (".raw",), "prophesee:RawReader",
           "prophesee_write:write_evt2", ("prophesee-evt",)),
    Format("dat", "Prophesee DAT (CD events)", (".dat",), "prophesee:DatReader",
           "prophesee_write:write_dat", ("prophesee-dat",), default_for=(".dat",)),
    Format("aedat4", "AEDAT 4.0 (iniVation DV)", (".aedat4",), "aedat:AedatReader",
           "aedat:write_aedat", ("aedat4",), default_for=(".aedat4",)),
    Format("evfer", "evfer event store (HDF5)", (".h5", ".hdf5"), "hdf5:reader_for",
           "hdf5:write_store", ("hdf5",), default_for=(".h5", ".hdf5"), time_index=True),
    Format("v2e", "v2e HDF5 output", (".h5", ".hdf5"), "hdf5:reader_for",
           "hdf5:write_v2e", ("hdf5",), default_for=(".v2e.h5", ".v2e.hdf5"), time_index=True),
    Format("npz", "NumPy archive of arrays t, x, y, p", (".npz",), "npz:NpzReader",
           "npz:write_npz", ("zip", "npy"), default_for=(".npz",)),
)
# fmt: on

#: File suffixes evfer reads, in table order.
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(dict.fromkeys(s for f in FORMATS for s in f.suffixes))
#: Values of ``write_events(..., format=...)``.
WRITE_FORMATS: tuple[str, ...] = tuple(f.name for f in FORMATS if f.writable)
#: Values of ``write_events(..., version=...)`` for .raw files.
RAW_VERSIONS: tuple[str, ...] = tuple(f.name for f in FORMATS if f.writable and ".raw" in f.suffixes)


def resolve(ref: str) -> Any:
    """The object a ``"module:attr"`` reference of the table names (module inside evfer.io)."""
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(f"{__package__}.{module}"), attr)


def formats_for(suffix: str) -> list[Format]:
    """The rows whose files have ``suffix`` (lower case), in table order."""
    return [f for f in FORMATS if suffix in f.suffixes]


def unknown_type(path: Path) -> InputError:
    kind = path.suffix.lower() or path.name
    return InputError(path, f"unknown file type '{kind}'; supported: {', '.join(SUPPORTED_SUFFIXES)}")


def check_file(path: str | os.PathLike) -> Path:
    """The path if it names a readable, non-empty regular file; otherwise a one-line InputError."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file")
    if path.is_dir():
        raise InputError(path, "is a directory, not an event file")
    if not os.access(path, os.R_OK):
        raise InputError(path, "permission denied")
    if path.stat().st_size == 0:
        raise InputError(path, "empty file (0 bytes)")
    return path


def open_reader(path: str | os.PathLike) -> EventReader:
    """The reader for ``path``, chosen by its suffix, after checking that the file exists, is not
    empty, and does not clearly hold another format than its suffix says; a sensor size the file
    states that cannot be true is refused here, before any command sizes an array by it."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES and not path.is_dir():
        raise unknown_type(path)
    path = check_file(path)
    rows = formats_for(suffix)
    content = sniff(path)
    if content is not None and not any(content.kind in f.content for f in rows):
        holder = next((f for f in FORMATS if content.kind in f.content), None)
        advice = f"; rename it to {holder.suffixes[0]}" if holder else ""
        raise InputError(path, f"has the extension {suffix} but holds {content.description}{advice}")
    reader = rows[0].open(path)
    check_plausible(reader.info, path)
    return reader


def write_format(path: Path, format: str | None, version: str | None) -> Format:
    """The format to write ``path`` in: ``format`` or ``version`` (.raw only) when given, else the
    one its name implies (``x.raw`` → evt3, ``x.v2e.h5`` → v2e, ``x.h5`` → evfer, ...)."""
    name, suffix = path.name.lower(), path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise unknown_type(path)
    if version is not None:
        if suffix != ".raw" or format is not None:
            raise ValueError("version= is for .raw files only (and not together with format=)")
        if version not in RAW_VERSIONS:
            choices = " or ".join(RAW_VERSIONS)
            raise ValueError(f"unknown EVT version {version!r}; choose {choices} (faery cannot write 2.1)")
        format = version
    if format is not None:
        row = next((f for f in FORMATS if f.name == format and f.writable), None)
        if row is None:
            raise ValueError(f"unknown format {format!r}; choose one of {', '.join(WRITE_FORMATS)}")
        if suffix not in row.suffixes:
            raise ValueError(f"format={format!r} needs a file name ending in {' or '.join(row.suffixes)}")
        return row
    endings = [(len(e), f) for f in FORMATS if f.writable for e in f.default_for if name.endswith(e)]
    if not endings:
        raise ValueError(f"no format is written to {suffix} files by default; pass format=")
    return max(endings, key=lambda pair: pair[0])[1]  # the longest ending; the first row on a tie
