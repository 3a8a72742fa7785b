"""CK+ (Lucey et al. 2010) as users download it: the ``ckplus`` source kind.

Two layouts are recognised under ``root``:

- official: ``cohn-kanade-images/S###/###/S###_###_########.png`` and
  ``Emotion/S###/###/S###_###_########_emotion.txt`` (one float code 0-7; only 327 of 593 sequences
  are labelled — unlabelled ones are skipped and counted);
- per-emotion copies: ``<emotion>/S###_###/*.png`` or ``<emotion>/S###_###_*.png``.

The subject id is ``S###``. Each sequence (neutral onset -> apex) becomes one expression clip; with
``neutral_from_onset`` its first ``onset_frames`` frames also become a ``neutral`` clip (CK+ has no
neutral sequences). Clips are frame clips (:mod:`evfer.datasets.frame_clips`: timecode mask, face crop,
resize, blur, emulator). The synthetic faces are written in this layout and read the same way.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..emulator.frames import IMAGE_SUFFIXES, natural_key
from ..errors import ConfigError, InputError
from .clips import ClipSpec, Skipped
from .frame_clips import FrameOptions, FrameSource, images_in
from .labels import CKPLUS_CODES, normalize_original
from .source import Scan

_SEQ_RE = re.compile(r"(S\d{3})_(\d{3})")
_EMOTIONS = set(CKPLUS_CODES.values())


@dataclass
class CKPlusOptions(FrameOptions):
    """Options of a ``ckplus`` source (besides the frame options)."""

    neutral_from_onset: bool = True  # CK+ has no neutral sequences: a neutral clip from the onset frames
    onset_frames: int = 4  # frames used for that neutral clip

    def validate(self, path: str) -> None:
        super().validate(path)
        if self.onset_frames < 2:
            raise ConfigError(f"{path}onset_frames: must be at least 2 frames")


class CKPlus(FrameSource):
    """CK+ in the official or a per-emotion layout."""

    name = "ckplus"
    Options = CKPlusOptions
    listing_options = frozenset({"neutral_from_onset"})

    def scan(self, progress: bool = True) -> Scan:
        return self.listed(*scan_ckplus(self.root, self.options, self.source_name))

    @staticmethod
    def is_sequence_folder(path: Path) -> bool:
        """Whether ``path`` is a folder of a CK+ layout's sequence (``S005/001``, ``S005_001``)."""
        path = Path(path)
        return path.is_dir() and bool(_SEQ_RE.fullmatch(path.name) or _SEQ_RE.fullmatch(f"{path.parent.name}_{path.name}"))

    def file_clip_id(self, path: Path) -> str:
        """A sequence folder in a CK+ layout (``S005/001`` or ``S005_001``) gets the id ``prepare``
        gives it, so its emulated events (seeded by the id) are the prepared ones."""
        path = Path(path)
        if path.is_dir():
            if _SEQ_RE.fullmatch(path.name):
                return f"{self.source_name}-{path.name}"
            if _SEQ_RE.fullmatch(f"{path.parent.name}_{path.name}"):
                return f"{self.source_name}-{path.parent.name}_{path.name}"
        return super().file_clip_id(path)


def _find_dir(root: Path, name: str) -> Path | None:
    for cand in (root / name, *root.glob(f"*/{name}"), *root.glob(f"*/*/{name}")):
        if cand.is_dir():
            return cand
    return None


def parse_emotion_file(path: Path) -> str:
    """Original label from a CK+ ``*_emotion.txt`` (one float code 0-7); InputError otherwise."""
    text = path.read_text(errors="replace").strip()
    try:
        value = float(text.split()[0]) if text else float("nan")
    except ValueError:
        raise InputError(path, f"malformed emotion file (expected one number, got {text[:30]!r})") from None
    if not np.isfinite(value) or value != int(value) or int(value) not in CKPLUS_CODES:
        raise InputError(path, f"emotion code {text[:20]} is outside 0-7")
    return CKPLUS_CODES[int(value)]


def scan_ckplus(root: Path, options: CKPlusOptions, source: str = "ckplus") -> tuple[list[ClipSpec], list[Skipped]]:
    """List the clips of a CK+-layout folder (in folder order: :meth:`SourceKind.listed` sorts them and
    applies the source's ``limit``); unusable sequences are returned as skipped items."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "CK+ folder not found")
    images = _find_dir(root, "cohn-kanade-images")
    if images is not None:
        sequences, skipped = _scan_official(images, _find_dir(root, "Emotion"))
    else:
        sequences, skipped = _scan_per_emotion(root)
        if not sequences and not skipped:
            raise InputError(
                root,
                "no CK+ layout found (expected cohn-kanade-images/ and Emotion/, "
                "or per-emotion folders such as happy/S005_001/)",
            )
    specs: list[ClipSpec] = []
    for name, label, frames in sequences:
        subject = name.split("_")[0]
        base = f"{source}-{name}"
        n = len(frames)
        if n < 2:
            skipped.append(Skipped(str(frames[0].parent if frames else name), f"only {n} frame(s); need >= 2"))
            continue
        specs.append(ClipSpec(base, source, subject, label, [str(f) for f in frames], fps=options.fps))
        if options.neutral_from_onset and label != "neutral":
            k = min(options.onset_frames, n)
            if k >= 2:
                specs.append(ClipSpec(f"{base}-onset", source, subject, "neutral", [str(f) for f in frames[:k]],
                                      fps=options.fps))
    return specs, skipped


def _scan_official(images: Path, emotion: Path | None):
    sequences, skipped = [], []
    unlabelled = 0
    for subject_dir in sorted(p for p in images.iterdir() if p.is_dir()):
        for seq_dir in sorted(p for p in subject_dir.iterdir() if p.is_dir()):
            name = f"{subject_dir.name}_{seq_dir.name}"
            try:
                frames = images_in(seq_dir)
            except InputError as exc:
                skipped.append(Skipped(exc.source or str(seq_dir), exc.problem))
                continue
            if not frames:
                skipped.append(Skipped(str(seq_dir), "empty sequence (no images)"))
                continue
            label_dir = None if emotion is None else emotion / subject_dir.name / seq_dir.name
            label_files = sorted(label_dir.glob("*_emotion.txt")) if label_dir and label_dir.is_dir() else []
            if not label_files:
                unlabelled += 1
                continue
            if len(label_files) > 1:
                skipped.append(Skipped(str(label_dir), f"{len(label_files)} emotion files; expected one"))
                continue
            try:
                label = parse_emotion_file(label_files[0])
            except InputError as exc:
                skipped.append(Skipped(str(label_files[0]), exc.problem))
                continue
            sequences.append((name, label, frames))
    if unlabelled:
        skipped.append(Skipped(str(images), f"{unlabelled} unlabelled sequence(s) (no emotion file)"))
    return sequences, skipped


def _scan_per_emotion(root: Path):
    sequences, skipped = [], []
    for emo_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        label = normalize_original(emo_dir.name)
        if label not in _EMOTIONS:
            continue
        groups: dict[str, list[Path]] = defaultdict(list)
        for child in sorted(emo_dir.iterdir()):
            m = _SEQ_RE.match(child.name)
            if child.is_dir() and m:
                try:
                    groups[f"{m[1]}_{m[2]}"].extend(images_in(child))
                except InputError as exc:
                    skipped.append(Skipped(exc.source or str(child), exc.problem))
            elif child.name.startswith("."):
                continue
            elif child.suffix.lower() in IMAGE_SUFFIXES and m:
                groups[f"{m[1]}_{m[2]}"].append(child)
            elif not child.name.startswith("."):
                skipped.append(Skipped(str(child), "not a CK+ sequence name (S###_###)"))
        for name, frames in sorted(groups.items()):
            if not frames:
                skipped.append(Skipped(str(emo_dir / name), "empty sequence (no images)"))
                continue
            sequences.append((name, label, sorted(frames, key=lambda f: natural_key(f.name))))
    return sequences, skipped
