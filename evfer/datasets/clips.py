"""What a dataset reader produces: clip specs (cheap, picklable) and skipped items with reasons.

Readers only *list* clips; turning a spec into events (emulating frames, decoding a recording) is a
separate function run by ``prepare``'s workers, so listing a large dataset is fast and the expensive
part is parallel and resumable.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ClipSpec:
    """One clip to prepare.

    Attributes:
        id: unique, filesystem-safe id, e.g. ``ckplus-S005_001`` (used for the events file name).
        source: reader kind ("ckplus", "nefer", "synthetic").
        subject: subject id (``S005``, ``user_03``): the unit of subject-disjoint splitting.
        original_label: the dataset's own label, normalised noun (``happiness``).
        paths: frame image paths (frame sequences) or the single recording path.
        info: reader-specific details (frame range, fps, crop box, ...), JSON-serialisable.
    """

    id: str
    source: str
    subject: str
    original_label: str
    paths: list[str]
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Skipped:
    """An item a reader could not use, and why (reported in the prepare summary)."""

    item: str
    reason: str


def clip_seed(seed: int, clip_id: str) -> int:
    """A per-clip seed that depends only on the run seed and the clip id (not on order or workers)."""
    return (seed * 1_000_003 + zlib.crc32(clip_id.encode())) % (2**31 - 1)
