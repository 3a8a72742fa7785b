"""Write synthetic sequences in the CK+ folder layout (resumable, parallel, atomic).

``DIR/cohn-kanade-images/S###/###/S###_###_########.png`` (frames from 00000001) and
``DIR/Emotion/S###/###/<last frame>_emotion.txt`` holding the CK+ code (e.g. ``   5.0000000e+00``).
``S###`` is the identity (1-based), ``###`` a per-identity sequence number that is a seeded shuffle of
the classes. The emotion file is written last, so its presence marks a complete sequence; a rerun
skips complete sequences. ``DIR/synth.json`` records the generator settings (informational only).
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from ...atomic import atomic_path, remove_stale_temporaries, write_json_atomic, write_text_atomic
from ...errors import ConfigError, InputError, OutputError
from ...jobs import run_jobs
from .faces import render_frames
from .params import CKPLUS_CODE, CLASSES, FRAMES_DEFAULT, sample_identity, sample_sequence, sequence_numbers

log = logging.getLogger(__name__)

#: Bump when the rendering changes, so an old folder is not silently extended with different faces.
GENERATOR_VERSION = 1
DEFAULT_SIZE = (160, 160)
MAX_IDENTITIES = 999  # S### has three digits


@dataclass
class SynthSummary:
    """What :func:`synthesize` did."""

    out_dir: str
    sequences: int = 0  # requested
    written: int = 0
    skipped: int = 0  # already complete
    frames_written: int = 0
    seconds: float = 0.0
    per_class: dict[str, int] = field(default_factory=dict)


def sequence_paths(root: Path, identity: int, seq_no: int, n_frames: int) -> tuple[list[Path], Path]:
    """PNG paths and the emotion-file path of one sequence (``identity`` 0-based)."""
    subject, seq = f"S{identity + 1:03d}", f"{seq_no:03d}"
    folder = root / "cohn-kanade-images" / subject / seq
    pngs = [folder / f"{subject}_{seq}_{k:08d}.png" for k in range(1, n_frames + 1)]
    emotion = root / "Emotion" / subject / seq / f"{pngs[-1].stem}_emotion.txt"
    return pngs, emotion


def emotion_text(code: int) -> str:
    """CK+'s emotion-file content: one float in MATLAB ``%16.7e`` ASCII format plus a newline."""
    return f"{float(code):16.7e}\n"


def _settings(seed: int, frames: tuple[int, int], size: tuple[int, int], fps: float, timecode: bool) -> dict:
    return {"generator": "evfer.datasets.synthetic", "version": GENERATOR_VERSION, "seed": int(seed),
            "frames": [int(frames[0]), int(frames[1])], "size": [int(size[0]), int(size[1])],
            "fps": float(fps), "timecode": bool(timecode)}


def _check_args(identities: int, frames: tuple[int, int], size: tuple[int, int], fps: float, classes) -> None:
    if not 1 <= identities <= MAX_IDENTITIES:
        raise ConfigError(f"identities must be 1..{MAX_IDENTITIES} (CK+ subject ids have 3 digits), "
                          f"got {identities}")
    if not 2 <= frames[0] <= frames[1]:
        raise ConfigError(f"frames per sequence must be a range min..max with 2 <= min <= max, got {frames}")
    if min(size) < 32 or max(size) > 4096:
        raise ConfigError(f"frame size must be 32..4096 pixels per side, got {size[0]}x{size[1]}")
    if not fps > 0:
        raise ConfigError(f"fps must be > 0, got {fps}")
    unknown = [c for c in classes if c not in CLASSES]
    if unknown or not classes:
        name = unknown[0] if unknown else "(none given)"
        raise ConfigError(f"unknown class {name} (valid: {', '.join(CLASSES)})")


def _write_sequence(task: tuple) -> int:
    """Render and write one sequence (runs in a worker); returns the number of frames written."""
    import cv2


    cv2.setNumThreads(1)
    root, seed, identity, expression, frames, size, fps, timecode = task
    root = Path(root)
    idn = sample_identity(seed, identity)
    seq = sample_sequence(seed, identity, expression, frames)
    pngs, emotion = sequence_paths(root, identity, sequence_numbers(seed, identity)[expression], seq.n_frames)
    video = render_frames(idn, seq, size, fps=fps, timecode=timecode, noise_seed=(seed, identity))
    pngs[0].parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(pngs[0].parent)  # leftovers of a killed run
    for path, frame in zip(pngs, video):
        with atomic_path(path) as tmp:
            if not cv2.imwrite(str(tmp), frame):
                raise OutputError(path, "could not write the image (a full disk, or no permission?)")
    write_text_atomic(emotion, emotion_text(CKPLUS_CODE[expression]))
    return len(pngs)


def _is_complete(root: Path, seed: int, identity: int, expression: str, frames: tuple[int, int]) -> bool:
    seq = sample_sequence(seed, identity, expression, frames)
    pngs, emotion = sequence_paths(root, identity, sequence_numbers(seed, identity)[expression], seq.n_frames)
    return emotion.is_file() and all(p.is_file() for p in pngs)


def _prepare_folder(root: Path, settings: dict, identities: int, classes: list[str], made_by: str) -> None:
    """Check that ``root`` is empty or an earlier run with the same settings; record the settings and
    who made the folder (``evfer synth`` or ``evfer prepare``): prepare never adds identities to a
    folder that ``evfer synth`` made (a user's set keeps its size)."""
    if root.exists() and not root.is_dir():
        raise InputError(root, "exists and is not a folder")
    meta = root / "synth.json"
    previous: dict = {}
    if meta.is_file():
        try:
            previous = json.loads(meta.read_text())
        except (OSError, ValueError) as exc:
            raise InputError(meta, f"unreadable ({exc}); delete the folder to regenerate") from None
        old = {k: previous.get(k) for k in settings}
        if old != settings:
            diff = ", ".join(f"{k} {old[k]} -> {settings[k]}" for k in settings if old[k] != settings[k])
            raise InputError(meta, f"folder holds a synthetic set made with other settings ({diff}); "
                                   "use another folder or delete this one")
    elif (root / "cohn-kanade-images").exists() or (root / "Emotion").exists():
        raise InputError(root, "already holds a CK+-layout dataset not made by `evfer synth`; "
                               "use another folder")
    have = int(previous.get("identities", 0))
    creator = previous.get("made_by", "evfer synth" if previous else made_by)
    if made_by == "evfer prepare" and creator == "evfer synth" and identities > have:
        raise InputError(root, f"holds {have} synthetic identities made by `evfer synth`; the source asks for "
                               f"{identities}: set its identities to {have}, or give another root and prepare "
                               "generates them there")
    old_classes = previous.get("classes", [])
    doc = {
        "made_by": creator,
        **settings,
        "identities": max(int(previous.get("identities", 0)), identities),
        "classes": [c for c in CLASSES if c in classes or c in old_classes],
        "class_codes": {c: CKPLUS_CODE[c] for c in CLASSES},
        "layout": "CK+: cohn-kanade-images/S###/###/S###_###_########.png, Emotion/S###/###/*_emotion.txt",
        "note": "informational; readers use the CK+ layout, not this file",
    }
    write_json_atomic(meta, doc)


def synthesize(
    out_dir: str | os.PathLike,
    identities: int,
    seed: int = 0,
    *,
    classes: list[str] | tuple[str, ...] = CLASSES,
    frames: tuple[int, int] | int = FRAMES_DEFAULT,
    size: tuple[int, int] = DEFAULT_SIZE,
    fps: float = 30.0,
    timecode: bool = False,
    workers: int | None = None,
    progress: bool = True,
    made_by: str = "evfer synth",
) -> SynthSummary:
    """Write ``identities`` x ``classes`` sequences to ``out_dir`` in the CK+ layout (resumable).

    ``frames``: frames per sequence, a count or a (min, max) range drawn per sequence. ``size`` =
    (W, H) pixels. ``workers``: processes (None = all available cores, <= 1 = in this process).
    Output does not depend on ``workers`` or on the order of generation.
    """

    frames = (frames, frames) if isinstance(frames, int) else (int(frames[0]), int(frames[1]))
    size = (int(size[0]), int(size[1]))
    classes = list(dict.fromkeys(classes))
    _check_args(identities, frames, size, fps, classes)
    root = Path(out_dir)
    _prepare_folder(root, _settings(seed, frames, size, fps, timecode), identities, classes, made_by)
    start = time.perf_counter()
    summary = SynthSummary(str(root), sequences=identities * len(classes))
    todo = []
    for identity in range(identities):
        for expression in classes:
            if _is_complete(root, seed, identity, expression, frames):
                summary.skipped += 1
            else:
                todo.append((str(root), seed, identity, expression, frames, size, fps, timecode))
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    for result in run_jobs(_write_sequence, todo, workers=workers, desc="synth", unit="seq", progress=progress,
                           label=lambda task: f"{task[0]} (identity {task[2] + 1}, {task[3]})"):
        if not result.ok:
            raise OutputError(root, f"cannot write the synthetic set ({result.error})")
        _done(summary, result.item, result.value)
    summary.seconds = time.perf_counter() - start
    log.debug("synthetic faces in %s: %d sequences written (%d frames), %d already complete, %.1f s",
             root, summary.written, summary.frames_written, summary.skipped, summary.seconds)
    return summary


def _done(summary: SynthSummary, task: tuple, n_frames: int) -> None:
    summary.written += 1
    summary.frames_written += n_frames
    summary.per_class[task[3]] = summary.per_class.get(task[3], 0) + 1


def ensure_synthetic(root: str | os.PathLike, options, progress: bool = True) -> SynthSummary:
    """Generate (or complete) the synthetic set of a ``synthetic`` source (its options: identities,
    seed, frames, synth_size, fps) in ``root``."""
    summary = synthesize(root, int(options.identities), int(options.seed), frames=tuple(options.frames),
                         size=tuple(options.synth_size), fps=float(options.fps), progress=progress,
                         made_by="evfer prepare")
    if summary.written:
        log.info("synthetic faces: wrote %d sequences (%d frames) to %s in %.1f s (%d already there)",
                 summary.written, summary.frames_written, summary.out_dir, summary.seconds, summary.skipped)
    return summary
