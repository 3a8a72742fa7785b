"""Event files -> one voxel-grid file each (``evfer voxelize``), resumable and in parallel.

The planes come from the representation registry (:mod:`evfer.voxel.representations`) over the
span the dataset cache uses: the clip span an events file stores (``span_us``, written by
``prepare``; :func:`evfer.datasets.clips.span_from`), else its first to last event; ``window``
(t0, t1) µs, both inclusive, replaces either end. A prepared events file voxelized with the cache's
settings therefore equals its cache row (:func:`evfer.datasets.voxel_cache.clip_planes`), before the
cache's float16 cast.

Each output holds float32 planes (T, C, H, W), or (C, H, W) when T = 1, and the metadata of
:func:`output_meta`, in one of :data:`OUTPUT_FORMATS` (:mod:`evfer.datasets.voxel_files`).

Names mirror the inputs relative to their common folder, a folder argument counting as a folder
and a file argument as its parent (``voxelize events/ -o vox/``: ``events/S1/a.raw`` ->
``vox/S1/a.npy``). Files whose names differ only in their suffix (``a.raw`` beside ``a.dat``) keep
it (``a.raw.npy``). Folders are searched recursively for files evfer reads; hidden files and
earlier voxelize outputs (when the output folder is inside an input folder) are left out.

Resume: each output stores the fingerprint of the settings and of its input file (size and
modification time). An output with the same fingerprint is skipped; one made with other settings,
or unreadable (a damaged file, a missing ``.npy`` sidecar), is recomputed; ``overwrite`` recomputes
all. Writes are atomic.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..atomic import remove_stale_temporaries
from ..errors import ConfigError, InputError
from ..fingerprint import fingerprint
from ..io import SUPPORTED_SUFFIXES, iter_events, read_events
from ..jobs import BatchSummary, FileJob, run_jobs, split_outcomes
from ..voxel import Representation
from .clips import span_from
from .voxel_files import OUTPUT_FORMATS, is_voxel_output, read_meta, write_output

#: the most memory one file's planes may take (a sensor size a file states can be absurd)
MAX_PLANES_BYTES = 4 * 2**30


@dataclass(frozen=True)
class VoxelizeSettings:
    """Everything that shapes an output besides its input file.

    Attributes:
        representation: a registry representation (:func:`evfer.voxel.make_representation`).
        windows: T, equal-duration windows of the span.
        size: (W, H) pixels of the planes; None: each file's sensor size (no resize).
        window: (t0, t1) µs, both inclusive, on the file's clock (or from its first event with
            ``window_relative``); None: that end of the file's span.
        sensor_size: (W, H) pixels for files that state none (else inferred by :mod:`evfer.io`).
        format: one of :data:`OUTPUT_FORMATS`.
    """

    representation: Representation
    windows: int = 1
    size: tuple[int, int] | None = None
    window: tuple[int | None, int | None] = (None, None)
    sensor_size: tuple[int, int] | None = None
    format: str = "npy"
    window_relative: bool = False

    def __post_init__(self):
        if isinstance(self.windows, bool) or not isinstance(self.windows, int) or self.windows < 1:
            raise ConfigError(f"windows: must be an integer >= 1, got {self.windows!r}")
        if self.size is not None and (len(self.size) != 2 or min(self.size) < 1):
            raise ConfigError(f"size: need (W, H) of at least 1 pixel each, got {self.size!r}")
        if self.format not in OUTPUT_FORMATS:
            raise ConfigError(f"format: {self.format!r} is not one of {', '.join(OUTPUT_FORMATS)}")

    def params(self) -> dict[str, Any]:
        """The settings as JSON-serialisable values (what the fingerprint covers)."""
        as_list = lambda v: None if v is None else [None if x is None else int(x) for x in v]  # noqa: E731
        return {**self.representation.params(), "windows": self.windows, "size": as_list(self.size),
                "window_us": as_list(self.window), "sensor_size": as_list(self.sensor_size),
                "format": self.format, **({"window_relative": True} if self.window_relative else {})}


def first_event_us(path: str | os.PathLike, sensor_size: tuple[int, int] | None = None) -> int:
    """The timestamp (µs) of the first event of an event file; InputError when it holds none."""

    for chunk in iter_events(path, sensor_size=sensor_size):
        if len(chunk):
            return int(chunk.t_start)
    raise InputError(path, "the file holds no events")


def absolute_window(path: str | os.PathLike, window: tuple, sensor_size: tuple[int, int] | None = None
                    ) -> tuple[int | None, int | None]:
    """``(t0, t1[, relative])`` on the file's clock: a relative window is shifted by the file's first event."""
    t0, t1, *rest = window
    if not (rest and rest[0]):
        return t0, t1
    first = first_event_us(path, sensor_size)
    return (None if t0 is None else first + t0), (None if t1 is None else first + t1)


# ---------------------------------------------------------------- one file
def voxelize_file(src: str | os.PathLike, dst: str | os.PathLike, settings: VoxelizeSettings,
                  key: str = "") -> dict[str, Any]:
    """Voxelize one event file into ``dst`` (format by its suffix, atomic); returns the metadata.

    Bad input raises an :class:`InputError` naming ``src``, an unwritable ``dst`` one naming ``dst``.
    """

    t0, t1 = absolute_window(src, (*settings.window, settings.window_relative), settings.sensor_size)
    events = read_events(src, t_start=t0, t_end=None if t1 is None else t1 + 1,
                         sensor_size=settings.sensor_size)
    if not len(events):
        where = (f" in the window {t0 if t0 is not None else ''}..{t1 if t1 is not None else ''} µs (file clock)"
                 if settings.window != (None, None) else "")
        raise InputError(src, f"no events{where}; nothing to voxelize")
    stored_start, stored_end = span_from(events)
    start = stored_start if t0 is None else t0
    end = stored_end if t1 is None else t1
    if end < start:
        raise InputError(src, f"the span {start}..{end} µs ends before it starts (window outside the file?)")
    size = settings.size or events.sensor_size
    need = settings.windows * settings.representation.channels * int(size[0]) * int(size[1]) * 4
    if need > MAX_PLANES_BYTES:
        raise InputError(src, f"planes of {size[0]}x{size[1]} pixels would take {need / 2**30:.1f} GiB "
                              f"(more than {MAX_PLANES_BYTES / 2**30:.0f}); give a smaller --size")
    planes = settings.representation.clip(events, settings.windows, size=size, t_start=start, t_end=end)
    if settings.windows == 1:
        planes = planes[0]
    meta = output_meta(src, settings, events, (start, end), size, key)
    write_output(Path(dst), planes, meta)
    return meta


def output_meta(src: str | os.PathLike, settings: VoxelizeSettings, events, span: tuple[int, int],
                size: tuple[int, int], key: str) -> dict[str, Any]:
    """The metadata stored with an output: source file, representation parameters (``bins`` for
    voxel grids), C, T, layout, size and sensor size (W, H) px, time span [t0, t1] µs, the number of
    events in the span, and the resume fingerprint. Strings, integers and lists of integers only."""
    rep = settings.representation
    return {
        "source": os.path.abspath(src),
        **rep.params(),
        "channels": rep.channels,
        "windows": settings.windows,
        "layout": "T,C,H,W" if settings.windows > 1 else "C,H,W",
        "size": [int(size[0]), int(size[1])],
        "sensor_size": [int(events.width), int(events.height)],
        "time_span_us": [int(span[0]), int(span[1])],
        "event_count": len(events.window(span[0], span[1] + 1)),
        "fingerprint": key,
    }


def input_key(settings: VoxelizeSettings, src: Path) -> str:
    """The resume fingerprint of ``src`` voxelized with ``settings`` (input identity: size, mtime)."""
    stat = src.stat()
    return fingerprint({"settings": settings.params(), "input": [stat.st_size, stat.st_mtime_ns]})


# ---------------------------------------------------------------- planning
def plan_jobs(inputs: Iterable[str | os.PathLike], out: str | os.PathLike, format: str) -> list[FileJob]:
    """Jobs (without keys) for event files and folders of them, writing into folder ``out``."""
    args = [Path(os.path.abspath(p)) for p in inputs]
    if not args:
        raise InputError(None, "no inputs given")
    for arg in args:
        if not arg.exists():
            raise InputError(arg, "no such file or folder")
    files = sorted({f for arg in args for f in event_files(arg)})
    if not files:
        raise InputError(None, f"no event files in {', '.join(map(str, args))}")
    root = Path(os.path.commonpath([a if a.is_dir() else a.parent for a in args]))
    rel = {f: f.relative_to(root) for f in files}
    stems = {f: r.with_suffix("").as_posix() for f, r in rel.items()}
    taken = Counter(stems.values())
    names = {f: rel[f].as_posix() if taken[stems[f]] > 1 else stems[f] for f in files}
    return [FileJob(f, Path(out) / f"{names[f]}.{format}") for f in files]


def event_files(path: Path) -> list[Path]:
    """``path`` itself if a file, else the files below it with a suffix evfer reads (recursively;
    hidden names and voxelize outputs left out)."""

    if not path.is_dir():
        return [path]
    found = []
    for folder, dirs, names in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            f = Path(folder) / name
            if (not name.startswith(".") and f.suffix.lower() in SUPPORTED_SUFFIXES
                    and not is_voxel_output(f)):
                found.append(f)
    return found


def output_state(dst: Path, key: str) -> str:
    """``new`` (no output), ``done`` (made with fingerprint ``key``), ``settings`` (made with other
    settings or another input) or ``unreadable``."""
    if not dst.exists():
        return "new"
    try:
        stored = read_meta(dst).get("fingerprint")
    except Exception:  # any failure to read it back means the output cannot be trusted
        return "unreadable"
    return "done" if stored == key else "settings"


# ---------------------------------------------------------------- many files
@dataclass(frozen=True)
class _Voxelize:
    """The work of one job (picklable for the worker processes)."""

    settings: VoxelizeSettings

    def __call__(self, job: FileJob) -> dict[str, Any]:
        return voxelize_file(job.src, job.dst, self.settings, job.key)


def voxelize_inputs(inputs: Iterable[str | os.PathLike], out: str | os.PathLike, settings: VoxelizeSettings,
                    *, workers: int = 1, overwrite: bool = False, progress: bool = True) -> BatchSummary:
    """Voxelize event files and folders into folder ``out`` (module docstring); a bad file is a
    line in :attr:`BatchSummary.failed` and the rest are done."""

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(out, "exists and is not a folder; give a folder for the outputs")
    jobs = plan_jobs(inputs, out, settings.format)
    for folder in sorted({Path(job.dst).parent for job in jobs}):  # what a killed run was writing
        remove_stale_temporaries(folder)
    summary = BatchSummary(total=len(jobs))
    todo = []
    for job in jobs:
        if Path(os.path.abspath(job.dst)) == job.src:
            summary.failed.append((job.src, f"{job.dst}: the output would replace its input; choose "
                                   "another output folder or format"))
            continue
        try:
            key = input_key(settings, job.src)
        except OSError as exc:
            summary.failed.append((job.src, str(InputError(job.src, exc.strerror or str(exc)))))
            continue
        state = "new" if overwrite else output_state(job.dst, key)
        if state == "done":
            summary.skipped.append(job.dst)
            continue
        if state != "new":
            summary.redone[job.dst] = state
        todo.append(replace(job, key=key))
    done, failed = split_outcomes(run_jobs(_Voxelize(settings), todo, workers=workers,
                                           desc="voxelize", unit="file", progress=progress,
                                           label=lambda job: str(job.src)))
    for job, _ in failed:
        summary.redone.pop(job.dst, None)
    summary.done = sorted(job.dst for job in done)
    summary.failed = sorted(summary.failed + [(job.src, error) for job, error in failed])
    return summary

