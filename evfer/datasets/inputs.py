"""One input outside a dataset (a video, an image folder or a recording) made into a clip for a
trained model: ``evfer predict`` calls :func:`clip_for_file`, which goes through a kind object and
the same :meth:`~evfer.datasets.source.SourceKind.clip` as ``prepare``.

Which kind, with which options:

- an input inside the root of one of the run's sources (a clip of the training dataset) is made by
  that source, exactly as ``prepare`` made it (same options, same clip id, so the same events);
- any other input is made by its own kind with that kind's defaults — ``videos`` for a video (its
  own frame rate, no timecode mask), ``ckplus`` for a folder in CK+'s layout, ``videos`` for another
  image folder (:data:`~evfer.datasets.frame_clips.IMAGE_FOLDER_FPS`), ``recordings`` for an event
  file (a face box from event density; an evfer clip file is used as cropped) — plus the options
  that define what the model was trained to see (:data:`MODEL_INPUT_OPTIONS`: face crop, margin,
  blur and frame size; the density box size), taken from the run's first source of that input type.
  It never inherits a training source's frame rate, timecode mask or label layout.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..config import Config, SourceConfig
from ..errors import InputError
from ..io import SUPPORTED_SUFFIXES
from .clips import Clip, ClipSpec, parse_box
from .frame_clips import VIDEO_SUFFIXES
from .kinds import clip_context, kind_class, make_source, source_config
from .source import EVENTS, FRAMES, SourceKind

#: options of a training source that define the model's input; a predict input outside the dataset
#: takes them from the run's first source of its input type (everything else: its kind's defaults)
MODEL_INPUT_OPTIONS = {FRAMES: ("face_crop", "face_margin", "blur_sigma", "frame_size"), EVENTS: ("box_size",)}


def input_type(path: Path) -> str:
    """FRAMES for a video or an image folder, EVENTS for an event file; InputError otherwise."""

    if not path.exists():
        raise InputError(path, "no such file or folder")
    suffix = path.suffix.lower()
    if path.is_dir() or suffix in VIDEO_SUFFIXES:
        return FRAMES
    if suffix in SUPPORTED_SUFFIXES:
        return EVENTS
    raise InputError(path, f"neither an event recording ({', '.join(SUPPORTED_SUFFIXES)}) "
                           f"nor a video ({', '.join(VIDEO_SUFFIXES)}) or image folder")


def own_kind(path: Path, kind_of_input: str) -> str:
    """The kind an input outside the dataset is made by (see the module doc)."""
    if kind_of_input == EVENTS:
        return "recordings"
    if path.is_dir() and kind_class("ckplus").is_sequence_folder(path):
        return "ckplus"
    return "videos"


def input_source(cfg: Config, kind: str, kind_of_input: str, root: str = "") -> SourceConfig:
    """A source of ``kind`` with that kind's defaults and the model-input options
    (:data:`MODEL_INPUT_OPTIONS`) of the run's first source of ``kind_of_input`` (FRAMES or EVENTS):
    how ``predict`` and ``live`` make inputs that are not in the dataset."""
    first = next((s for s in cfg.data.sources if kind_class(s.kind).input == kind_of_input), None)
    given = {f: getattr(first.options, f) for f in MODEL_INPUT_OPTIONS[kind_of_input]
             if first is not None and hasattr(first.options, f)}
    return source_config(kind, root=root, **given)


def clip_for_file(cfg: Config, path: str | os.PathLike, *, box: str | None = None,
                  clip_id: str | None = None) -> Clip:
    """The clip of ``path`` for the model trained with ``cfg`` (see the module doc).

    ``box`` (recordings): "auto" (face box from event density), "x,y,w,h" (sensor pixels), "none"
    (whole sensor) or None — the kind's own rule. ``clip_id`` seeds the emulator's per-pixel
    thresholds (default: the kind's :meth:`~evfer.datasets.source.SourceKind.file_clip_id`).
    """
    kind, spec = kind_for_file(cfg, path, box=box, clip_id=clip_id)
    return kind.clip(spec)


def kind_for_file(cfg: Config, path: str | os.PathLike, *, box: str | None = None,
                  clip_id: str | None = None) -> tuple[SourceKind, ClipSpec]:
    """The kind object and spec :func:`clip_for_file` makes the clip of ``path`` with (a frame kind
    also gives the clip with its source frames: ``kind.clip_with_frames(spec)``)."""
    path = Path(path)
    kind_of_input = input_type(path)
    same_type = [s for s in cfg.data.sources if kind_class(s.kind).input == kind_of_input]
    src = next((s for s in same_type if _inside(path, s.root)), None)
    if src is None:
        src = input_source(cfg, own_kind(path, kind_of_input), kind_of_input, root=str(path.parent))
    kind = make_source(src, clip_context(cfg))
    spec = kind.spec_for_file(path, clip_id or kind.file_clip_id(path))
    if box is not None and kind_of_input == EVENTS:  # frames are cropped by the face detector
        if box in ("auto", "none"):
            spec.box_rule = "density" if box == "auto" else "none"
        else:
            try:
                spec.box = parse_box(box)
            except ValueError:
                raise InputError(path, f"--box must be auto, none or x,y,w,h (got {box!r})") from None
    return kind, spec


def _inside(path: Path, root: str) -> bool:
    """Whether ``path`` lies in the folder ``root`` (a clip of that source's dataset)."""
    if not root:
        return False
    try:
        path.resolve().relative_to(Path(root).resolve())
    except ValueError:
        return False
    return True
