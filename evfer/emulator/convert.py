"""Batch conversion: frame videos / image folders -> one event file (HDF5 store) each.

Output names mirror the sources' paths relative to their common parent folder, with ``.h5``
replacing a video's suffix (``S005/001`` -> ``OUT/S005/001.h5``, ``clips/a.mp4`` -> ``OUT/a.h5``).
Sources that would still collide (``a.mp4`` next to ``a.avi``, or a folder ``a`` next to ``a.mp4``)
keep their full name (``a.mp4.h5``). The relative name is also the clip id that seeds the clip's
random numbers, so results do not depend on worker count, order or sharding.

Resume: an existing output is complete (writes are atomic) and is skipped if it was made with the
same settings; with other settings it is reported as a failure (pass ``overwrite=True``); a damaged
one (unreadable) is made again and listed in :attr:`~evfer.jobs.BatchSummary.redone`. Temporaries of killed runs are
removed from the output folders.
Sharding: ``shard=(i, n)`` keeps the jobs whose index in the sorted job list is ``i`` modulo ``n``,
so n machines given the same sources split them without coordination.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..atomic import remove_stale_temporaries
from ..errors import InputError, OutputError
from ..fingerprint import fingerprint
from ..io import probe, write_events
from ..jobs import BatchSummary, FileJob, run_jobs, split_outcomes
from .frames import iter_frames, source_fps
from .model import Emulator, resolve_device
from .params import EmulatorSettings

OUTPUT_SUFFIX = ".h5"


def plan_jobs(sources: Iterable[str | os.PathLike], out: str | os.PathLike) -> list[FileJob]:
    """Jobs for ``sources`` (videos or image folders) writing into folder ``out``, sorted by name:
    sources inside the working directory keep their layout below their common folder
    (``OUT/sub/clip.h5``); any other source is ``OUT/<its name>.h5`` (``-2``, ``-3``, ... where two
    share a name). If ``out`` ends in ``.h5``/``.hdf5`` and there is exactly one source, it is the
    output file.
    """
    srcs = sorted({Path(s).resolve() for s in sources})
    if not srcs:
        raise InputError(None, "no sources given")
    for s in srcs:
        if not s.exists():
            raise InputError(s, "no such file or folder")
    out = Path(out)
    if out.suffix.lower() in (".h5", ".hdf5"):
        if len(srcs) != 1:
            raise InputError(out, f"an output file name needs exactly one source, got {len(srcs)}; "
                             "give a folder for several")
        return [FileJob(srcs[0], out, srcs[0].stem if srcs[0].is_file() else srcs[0].name)]
    cwd = Path.cwd().resolve()
    if all(s.is_relative_to(cwd) for s in srcs):  # mirror the layout below the sources' common folder
        root = Path(os.path.commonpath([s.parent for s in srcs]))
        rel = {s: s.relative_to(root) for s in srcs}
    else:  # inputs from elsewhere: OUT/<name>.h5, never their absolute folders
        rel = {s: Path(s.name) for s in srcs}
    names = {s: (r.with_suffix("") if s.is_file() else r).as_posix() for s, r in rel.items()}
    seen: dict[str, int] = {}
    for n in names.values():
        seen[n] = seen.get(n, 0) + 1
    for s in srcs:
        if seen[names[s]] > 1:  # keep the full name of colliding sources
            names[s] = rel[s].as_posix()
    taken: set[str] = set()
    for s in srcs:  # still the same (same name in two folders): -2, -3, ...
        base, n = names[s], 1
        while names[s] in taken:
            n += 1
            names[s] = f"{base}-{n}"
        taken.add(names[s])
    jobs = [FileJob(s, out / (names[s] + OUTPUT_SUFFIX), names[s]) for s in srcs]
    return sorted(jobs, key=lambda j: j.name)


def select_shard(jobs: list[FileJob], shard: tuple[int, int]) -> list[FileJob]:
    """The jobs of shard ``i`` of ``n``: index modulo n in the (sorted) job list."""
    i, n = shard
    if not (n >= 1 and 0 <= i < n):
        raise InputError(None, f"--shard {i}/{n}: need 0 <= i < n")
    return [j for k, j in enumerate(jobs) if k % n == i]


def settings_of(settings: EmulatorSettings, fps: float | None, crop: tuple[int, int, int, int] | None,
                size: tuple[int, int] | None) -> dict[str, Any]:
    """The conversion settings stored with each output; their fingerprint decides resume."""
    return {
        "emulator": settings.params.to_dict(),
        "preset": settings.preset,
        "seed": int(settings.seed),
        "fps": None if fps is None else float(fps),
        "crop": None if crop is None else [int(v) for v in crop],
        "size": None if size is None else [int(v) for v in size],
    }


def convert_file(src: str | os.PathLike, dst: str | os.PathLike, settings: EmulatorSettings | None = None, *,
                 fps: float | None = None, crop: tuple[int, int, int, int] | None = None,
                 size: tuple[int, int] | None = None, clip_id: str | None = None,
                 chunk_frames: int = 64) -> Path:
    """Emulate one video file or image folder and write its events to ``dst`` (HDF5 store, atomic).

    ``settings``: the resolved emulator settings (default: the clean preset, seed 0). Frames are read
    in chunks of ``chunk_frames`` (bounded memory for long videos). ``clip_id`` (default: the
    source's name) seeds the clip. Metadata: source, fps, frame count and time span, crop/size, the
    resolved emulator parameters and the conversion settings.
    """

    settings = settings or EmulatorSettings.resolve()
    src, dst = Path(src), Path(dst)
    clip_id = clip_id if clip_id is not None else (src.stem if src.is_file() else src.name)
    rate = source_fps(src, fps)
    emu = None
    parts: list = []
    n = 0
    t_first = t_last = None
    for frames, times in iter_frames(src, fps=rate, crop=crop, size=size, chunk=chunk_frames):
        if emu is None:
            emu = Emulator(frames.shape[1], frames.shape[2], settings.params, preset=settings.preset,
                           seed=settings.seed, clip_id=clip_id, device=settings.device)
            t_first = int(times[0])
        parts += emu.feed_arrays(frames, times)
        n += len(frames)
        t_last = int(times[-1])
    if emu is None or n < 2:
        raise InputError(src, f"need at least 2 frames to make events, got {n}")
    events = emu.assemble(parts)
    stored = settings_of(settings, fps, crop, size)
    return write_events(dst, events, source=str(src), fps=rate, n_frames=n, span_us=[t_first, t_last],
                        crop=stored["crop"], size=stored["size"], convert_settings=stored)


def _done(job: FileJob, key: str) -> bool:
    """True if ``job.dst`` exists and was made with the settings of fingerprint ``key``. An existing
    output made with other settings is an InputError naming the source (pass --overwrite); a damaged
    or unreadable one an InputError naming the output (the caller makes it again)."""
    if not job.dst.exists():
        return False

    stored = probe(job.dst).meta.get("convert_settings")  # damage: InputError(job.dst, ...)
    if fingerprint(stored) != key:
        raise InputError(job.src, f"its output {job.dst} exists but was made with other settings (different "
                         "preset, parameters, seed, fps, crop or size); pass --overwrite to redo it")
    return True


def check_output_folders(folders) -> None:
    """Every output folder usable (created when missing) and its killed runs' temporaries removed;
    an OutputError naming the folder otherwise (e.g. a file stands where the folder should be)."""

    for folder in sorted(folders):
        if folder.exists() and not folder.is_dir():
            raise OutputError(folder, "exists and is not a folder; give an output folder (or one .h5 file name "
                                      "for a single source)")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(folder, f"cannot create the output folder ({exc.strerror or type(exc).__name__})") from None
        remove_stale_temporaries(folder)


@dataclass(frozen=True)
class _Convert:
    """The work of one job (picklable for the worker processes)."""

    settings: EmulatorSettings
    fps: float | None
    crop: tuple[int, int, int, int] | None
    size: tuple[int, int] | None

    def __call__(self, job: FileJob) -> Path:
        return convert_file(job.src, job.dst, self.settings, fps=self.fps, crop=self.crop, size=self.size,
                            clip_id=job.name)


def convert_sources(sources: Iterable[str | os.PathLike], out: str | os.PathLike,
                    settings: EmulatorSettings | None = None, *, fps: float | None = None,
                    crop: tuple[int, int, int, int] | None = None, size: tuple[int, int] | None = None,
                    workers: int = 1, shard: tuple[int, int] = (0, 1), overwrite: bool = False,
                    progress: bool = True) -> BatchSummary:
    """Convert many sources (see the module docstring) with the resolved ``settings``; errors of single
    sources are collected in :attr:`BatchSummary.failed`, not raised."""

    settings = settings or EmulatorSettings.resolve()
    resolve_device(settings.device)  # an unusable device: fail before any work
    jobs = select_shard(plan_jobs(sources, out), shard)
    check_output_folders({job.dst.parent for job in jobs})
    key = fingerprint(settings_of(settings, fps, crop, size))
    summary = BatchSummary(total=len(jobs))
    todo = []
    for job in jobs:
        try:
            if not overwrite and _done(job, key):
                summary.skipped.append(job.dst)
                continue
        except InputError as exc:
            if exc.source != str(job.dst):
                summary.failed.append((job.src, str(exc)))
                continue
            summary.redone[job.dst] = exc.problem  # damaged: made again, as prepare does
        todo.append(job)
    done, failed = split_outcomes(run_jobs(_Convert(settings, fps, crop, size), todo, workers=workers,
                                           desc="convert", unit="clip", progress=progress,
                                           label=lambda job: str(job.src)))
    summary.done = sorted(job.dst for job in done)
    summary.failed = sorted(summary.failed + [(job.src, error) for job, error in failed])
    return summary
