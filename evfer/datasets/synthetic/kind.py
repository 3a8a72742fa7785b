"""The ``synthetic`` source kind: procedural faces generated into ``root`` (CK+ layout) by
:meth:`Synthetic.materialize` — ``prepare`` calls it before listing — then read as CK+
(:mod:`evfer.datasets.ckplus`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...errors import ConfigError, InputError
from ..ckplus import CKPlusOptions, scan_ckplus
from ..frame_clips import FrameSource
from ..source import Scan
from .params import FRAMES_DEFAULT
from .writer import DEFAULT_SIZE, ensure_synthetic


@dataclass
class SyntheticOptions(CKPlusOptions):
    """Options of a ``synthetic`` source: the generator's settings besides the frame options. The
    faces have true neutral sequences, so no neutral clips are cut from onsets by default."""

    neutral_from_onset: bool = False
    identities: int = 24  # people generated (S001, S002, ...)
    seed: int = 0  # seed of the generated faces and expressions
    frames: list[int] = field(default_factory=lambda: list(FRAMES_DEFAULT))  # [min, max] frames per sequence
    synth_size: list[int] = field(default_factory=lambda: list(DEFAULT_SIZE))  # [W, H] rendered frames

    def validate(self, path: str) -> None:
        super().validate(path)

        def need(key: str, ok: bool, what: str) -> None:
            if not ok:
                raise ConfigError(f"{path}{key}: must be {what}")

        need("synth_size", len(self.synth_size) == 2 and min(self.synth_size) >= 32, "[W, H], each >= 32")
        need("frames", len(self.frames) == 2 and 2 <= self.frames[0] <= self.frames[1],
             "[min, max] frames per sequence, 2 <= min <= max")
        need("identities", self.identities >= 1, "at least 1")


class Synthetic(FrameSource):
    """Synthetic faces, generated (or completed) in ``root`` when the source is scanned."""

    name = "synthetic"
    Options = SyntheticOptions
    listing_options = frozenset({"neutral_from_onset"})

    def materialize(self, progress: bool = True) -> None:
        """Generate the faces that are missing in ``root`` (a set made by ``evfer synth`` is never grown)."""
        ensure_synthetic(self.root, self.options, progress=progress)

    def scan(self, progress: bool = True) -> Scan:
        """List the first ``identities`` identities (a folder may hold more, from a run that asked for
        more); :meth:`materialize` generates them."""
        if not (self.root / "cohn-kanade-images").is_dir():
            raise InputError(self.root, "no synthetic faces here yet (`evfer prepare` generates them, or `evfer synth`)")
        specs, skipped = scan_ckplus(self.root, self.options, self.source_name)
        return self.listed([s for s in specs if int(s.subject.lstrip("S")) <= self.options.identities], skipped)
