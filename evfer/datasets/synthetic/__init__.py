"""Procedural synthetic face videos: evfer's embedded default dataset (no download needed).

Random identities (face shape, skin, eyes, brows, mouth, hair, ears, clothes, background texture,
lighting gradient), each animated from a neutral first frame to the peak of one of six expressions,
with random timing and intensity, plus distractors shared by all classes (blinks, small head motion,
lighting drift, sensor noise). :func:`synthesize` writes the set in the CK+ folder layout, so it goes
through the CK+ reader like real data. Everything is deterministic given (seed, identity, class).
"""

from __future__ import annotations

import numpy as np

from .faces import render_frames
from .params import (
    CKPLUS_CODE,
    CLASSES,
    FRAMES_DEFAULT,
    IdentityParams,
    SequenceParams,
    sample_identity,
    sample_sequence,
)
from .writer import DEFAULT_SIZE, SynthSummary, ensure_synthetic, synthesize

__all__ = [
    "CKPLUS_CODE",
    "CLASSES",
    "DEFAULT_SIZE",
    "FRAMES_DEFAULT",
    "IdentityParams",
    "SequenceParams",
    "SynthSummary",
    "ensure_synthetic",
    "render_sequence",
    "sample_identity",
    "sample_sequence",
    "synthesize",
]


def render_sequence(
    identity: int | IdentityParams,
    expression: str,
    n_frames: int | tuple[int, int] | None = None,
    size: tuple[int, int] = DEFAULT_SIZE,
    *,
    seed: int = 0,
    fps: float = 30.0,
    sequence: SequenceParams | None = None,
    distractors: bool = True,
    noise: bool = True,
    timecode: bool = False,
) -> np.ndarray:
    """Grey frames (N, H, W) uint8 of one identity showing ``expression``, neutral first, peak last.

    ``identity``: 0-based index (parameters drawn from ``seed``) or explicit :class:`IdentityParams`
    (the sequence and noise are then drawn as for index 0).
    ``n_frames``: a count, a (min, max) range to draw from, or None for :data:`FRAMES_DEFAULT`; with
    a count, the motion is the same continuous trajectory as with any other count (more frames at
    a higher ``fps`` over the same duration sample it more finely). ``size`` = (W, H) pixels.
    ``sequence`` overrides the drawn timing/distractors; ``distractors=False`` drops blinks, head
    motion and lighting drift, ``noise=False`` the sensor noise (both for tests and figures).
    """
    index = 0 if isinstance(identity, IdentityParams) else int(identity)
    idn = identity if isinstance(identity, IdentityParams) else sample_identity(seed, index)
    count = n_frames if isinstance(n_frames, (int, np.integer)) else None
    if sequence is not None and sequence.expression != expression:
        raise ValueError(f"sequence is of {sequence.expression!r}, not {expression!r}")
    if sequence is None:
        frames = FRAMES_DEFAULT if n_frames is None or count is not None else n_frames
        sequence = sample_sequence(seed, index, expression, frames)
    return render_frames(idn, sequence, size, n_frames=count, fps=fps, distractors=distractors,
                         noise=noise, timecode=timecode, noise_seed=(seed, index))
