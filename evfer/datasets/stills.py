"""Still-image expression sets (JAFFE, KDEF, RaFD, TFEID, Yale): the ``stills`` source kind.

Layouts under ``root``:

- a folder per subject holding a neutral image (stem ``neutral`` or ``normal``) and expression
  images whose stem is the original label (``happy``, ``sad``, ``surprised``, ``angry``, ``disgust``,
  ``fear``, ``contempt``, ...: mapped through the label table; other stems are reported and skipped);
- a CSV (option ``csv``, relative to ``root``) with the columns ``subject, image, label,
  neutral_image`` (paths relative to the CSV's folder).

Each (neutral, expression) pair of a subject becomes an onset-to-apex sequence of ``frames`` frames
(:mod:`evfer.datasets.morph`: the expression image registered to the neutral one and
brightness-matched, then morphed along the optical flow with the ``timing`` curve, with a small
seeded head motion), then the frame-clip path of CK+ (face crop, resize, blur, emulator). With
``neutral_clips`` (default on) each subject also gives a neutral clip (id ``...-onset``, like CK+'s
onset clips): its neutral image with the same kind of head motion (a still image alone makes no
events). A pair that cannot be aligned
(ECC fails, or its correlation on the face is below ``min_correlation``) is skipped with the reason;
each clip's alignment (correlation, residual in DN) is stored with its events and summarised by
``prepare``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from ..emulator.frames import IMAGE_SUFFIXES
from ..errors import ConfigError, InputError
from . import morph
from .clips import ClipSpec, Skipped, clip_seed
from .frame_clips import FrameOptions, FrameSet, FrameSource, face_box, load_frames
from .labels import normalize_original
from .source import Scan
from .table import read_table, resolve_path, under

NEUTRAL_STEMS = ("neutral", "normal")
_UNSAFE = str.maketrans({c: "_" for c in " /\\:*?\"<>|"})


@dataclass
class StillsOptions(FrameOptions):
    """Options of a ``stills`` source (besides the frame options)."""

    mask_timecode: bool = False
    frames: int = 16  # frames per sequence, neutral to apex
    timing: Literal["ease", "linear", "smoothstep"] = "ease"  # progress curve over the sequence
    register: Literal["affine", "euclidean", "none"] = "affine"  # align the expression shot to the neutral one
    min_correlation: float = 0.8  # pairs aligned worse than this (ECC correlation on the face) are skipped
    head_motion_px: float = 1.0  # amplitude of the seeded head shift (pixels of the stills); 0: none
    head_motion_deg: float = 0.5  # amplitude of the head rotation (degrees); 0: none
    seed: int = 0  # head motion
    neutral_clips: bool = True  # a neutral clip per subject (its neutral image with head motion)
    csv: str | None = None  # label table (subject, image, label, neutral_image); None: folder per subject

    def validate(self, path: str) -> None:
        super().validate(path)
        if self.frames < 2:
            raise ConfigError(f"{path}frames: must be at least 2")
        if not -1 <= self.min_correlation <= 1:
            raise ConfigError(f"{path}min_correlation: must be in [-1, 1]")
        if self.head_motion_px < 0 or self.head_motion_deg < 0:
            raise ConfigError(f"{path}head_motion_px/head_motion_deg: must be >= 0")


class Stills(FrameSource):
    """Neutral + expression stills, morphed into sequences."""

    name = "stills"
    Options = StillsOptions
    listing_options = frozenset({"neutral_clips", "csv"})
    path_options = frozenset({"csv"})

    def scan(self, progress: bool = True) -> Scan:
        if not self.root.is_dir():
            raise InputError(self.root, "stills folder not found")
        if self.options.csv is not None:
            pairs, skipped = _csv_pairs(under(self.root, self.options.csv))
        else:
            pairs, skipped = _folder_pairs(self.root)
        specs: list[ClipSpec] = []
        neutrals: dict[tuple[str, str], None] = {}
        for subject, neutral, image, label in pairs:
            base = f"{self.source_name}-{subject}".translate(_UNSAFE)
            specs.append(ClipSpec(f"{base}-{image.stem}".translate(_UNSAFE), self.source_name, subject,
                                  normalize_original(label), [str(neutral), str(image)]))
            neutrals[(subject, str(neutral))] = None
        if self.options.neutral_clips:
            for subject, neutral in neutrals:
                base = f"{self.source_name}-{subject}".translate(_UNSAFE)
                stem = "" if sum(s == subject for s, _ in neutrals) == 1 else f"-{Path(neutral).stem}"
                # "-onset": the neutral start of the subject's sequences (reports keep it apart from expressions)
                specs.append(ClipSpec(f"{base}{stem}-onset", self.source_name, subject, "neutral", [neutral]))
        return self.listed(specs, skipped, "<subject>/neutral.png + <subject>/<label>.png, or a csv option")

    def frames(self, spec: ClipSpec) -> FrameSet:
        """The clip's frames: the morph of its pair, or its neutral image, both with head motion."""

        o = self.options
        neutral = load_frames(spec.paths[:1])[0]
        if min(neutral.shape) < MIN_SIDE:
            raise InputError(spec.paths[0], f"the image is {neutral.shape[1]}x{neutral.shape[0]} pixels: too small for a "
                                            f"face (at least {MIN_SIDE}x{MIN_SIDE})")
        notes: dict[str, float] = {}
        if len(spec.paths) == 1:
            frames = np.repeat(neutral[None], o.frames, axis=0)
        else:
            expression = load_frames(spec.paths[1:])[0]
            if expression.shape == neutral.shape and np.array_equal(expression, neutral):
                raise InputError(spec.paths[1], "is identical to the neutral image: it shows no expression")
            crop = face_box(neutral, 0.0)
            box = crop.box if crop.method == "haar" else None
            aligned, al = morph.register(neutral, expression, box, motion=o.register, source=spec.paths[1])
            if al.correlation < o.min_correlation:
                raise InputError(spec.paths[1], f"cannot be aligned to the neutral image well enough "
                                                f"(correlation {al.correlation:.3f} < min_correlation "
                                                f"{o.min_correlation:g}; residual {al.residual:.1f} DN)")
            frames = morph.morph_frames(neutral, aligned, o.frames, o.timing)
            notes = {"alignment_correlation": round(al.correlation, 4), "alignment_residual_dn": round(al.residual, 2)}
        if o.head_motion_px > 0 or o.head_motion_deg > 0:
            rng = np.random.default_rng(clip_seed(o.seed, spec.id))
            frames = morph.move(frames, morph.head_motion(o.frames, neutral.shape, rng, o.head_motion_px,
                                                          o.head_motion_deg))
        times = np.round(np.arange(o.frames) * 1e6 / o.fps).astype(np.int64)
        return FrameSet(frames, times, float(o.fps), notes)


#: the smallest image side (pixels) a still may have: below, there is no face to crop
MIN_SIDE = 32


def _folder_pairs(root: Path) -> tuple[list[tuple[str, Path, Path, str]], list[Skipped]]:
    pairs, skipped = [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
        neutral = [p for p in images if p.stem.lower() in NEUTRAL_STEMS]
        if not neutral:
            if images:
                skipped.append(Skipped(str(folder), f"no neutral image ({' or '.join(NEUTRAL_STEMS)}.png)"))
            continue
        if len(neutral) > 1:
            skipped.append(Skipped(str(folder), f"{len(neutral)} neutral images; expected one"))
            continue
        for image in images:
            if image != neutral[0]:
                pairs.append((folder.name, neutral[0], image, image.stem))
    return pairs, skipped


def _csv_pairs(table: Path) -> tuple[list[tuple[str, Path, Path, str]], list[Skipped]]:
    rows, skipped = read_table(table, ("subject", "image", "label", "neutral_image"))
    pairs = []
    for row in rows:
        neutral, image = resolve_path(table, row.get("neutral_image")), resolve_path(table, row.get("image"))
        missing = [str(p) for p in (neutral, image) if not p.is_file()]
        if missing:
            skipped.append(Skipped(f"{table}:{row.line}", f"no such image: {', '.join(missing)}"))
            continue
        pairs.append((row.get("subject"), neutral, image, row.get("label")))
    return pairs, skipped
