"""One input outside a dataset (a video, an image folder or a recording) made into a clip exactly as
a run's training clips were: ``evfer predict`` calls :func:`clip_for_file`, which goes through the
same kind object and the same :meth:`~evfer.datasets.source.SourceKind.clip` as ``prepare``."""

from __future__ import annotations

import os
from pathlib import Path

from ..config import Config, SourceConfig
from ..errors import InputError
from .clips import Clip, ClipSpec
from .frame_clips import VIDEO_SUFFIXES
from .kinds import kind_class, make_source, resolve_data
from .source import EVENTS, FRAMES, SourceKind

#: The kind used for an input type when the run has no source of that type (default options; a
#: recording is then used whole unless a box is given).
DEFAULT_KIND = {FRAMES: "ckplus", EVENTS: "recordings"}


def input_type(path: Path) -> str:
    """FRAMES for a video or an image folder, EVENTS for an event file; InputError otherwise."""
    from ..io import SUPPORTED_SUFFIXES

    if not path.exists():
        raise InputError(path, "no such file or folder")
    suffix = path.suffix.lower()
    if path.is_dir() or suffix in VIDEO_SUFFIXES:
        return FRAMES
    if suffix in SUPPORTED_SUFFIXES:
        return EVENTS
    raise InputError(path, f"neither an event recording ({', '.join(SUPPORTED_SUFFIXES)}) "
                           f"nor a video ({', '.join(VIDEO_SUFFIXES)}) or image folder")


def clip_for_file(cfg: Config, path: str | os.PathLike, *, box: str | None = None,
                  clip_id: str | None = None) -> Clip:
    """The clip of ``path`` made with the first source of ``cfg`` that takes its input type.

    ``box`` (recordings): "auto" (face box from event density), "x,y,w,h" (sensor pixels), "none"
    (whole sensor) or None — the source's own rule (its ``face_box``, else density; the whole sensor
    when the run has no event source). ``clip_id`` seeds the emulator's per-pixel thresholds
    (default: the kind's :meth:`~evfer.datasets.source.SourceKind.file_clip_id`, e.g. the file name).
    """
    kind, spec = kind_for_file(cfg, path, box=box, clip_id=clip_id)
    return kind.clip(spec)


def kind_for_file(cfg: Config, path: str | os.PathLike, *, box: str | None = None,
                  clip_id: str | None = None) -> tuple[SourceKind, ClipSpec]:
    """The kind object and spec :func:`clip_for_file` makes the clip of ``path`` with (a frame kind
    also gives the clip with its source frames: ``kind.clip_with_frames(spec)``)."""
    path = Path(path)
    kind_of_input = input_type(path)
    context = resolve_data(cfg)
    src = next((s for s in cfg.data.sources if kind_class(s.kind).input == kind_of_input), None)
    if src is None:
        src = SourceConfig(kind=DEFAULT_KIND[kind_of_input], root="")
        if kind_of_input == EVENTS and box is None:
            box = "none"
    kind = make_source(src, context)
    spec = kind.spec_for_file(path, clip_id or kind.file_clip_id(path))
    if box is not None and kind_of_input == EVENTS:  # frames are cropped by the face detector
        spec.info["box"] = parse_box(box, path)
    return kind, spec


def parse_box(text: str, path: Path) -> str | list[int]:
    """``auto`` -> "density", ``none`` -> "none", ``x,y,w,h`` -> [x, y, w, h]; InputError otherwise."""
    if text in ("auto", "none"):
        return "density" if text == "auto" else "none"
    try:
        x, y, w, h = (int(v) for v in text.split(","))
    except ValueError:
        raise InputError(path, f"--box must be auto, none or x,y,w,h (got {text!r})") from None
    return [x, y, w, h]
