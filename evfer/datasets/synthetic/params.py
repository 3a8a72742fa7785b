"""Random parameters of synthetic faces: who (identity) and what happens in one sequence.

Geometry is in *face units*: origin near the nose, x to the viewer's right, y down, 1 unit = the
face's half-width. Every draw comes from a NumPy ``Generator`` seeded from (seed, identity[, class]),
so a sequence never depends on generation order or worker count. Draws are made in a fixed order that
does not depend on the frame count, so rendering more frames samples the same continuous motion.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from ..labels import SIX

#: The six classes, in the project's order.
CLASSES = SIX  # the generator renders the six classes of evfer's default label set

#: CK+ emotion code written for each class (0 neutral, 1 anger, 2 contempt, 5 happy, 6 sadness,
#: 7 surprise). Contempt's hallmark is a one-sided lip pull, hence confused -> 2.
CKPLUS_CODE = {"happy": 5, "sad": 6, "angry": 1, "confused": 2, "shocked": 7, "neutral": 0}

_STREAM_IDENTITY, _STREAM_SEQUENCE, _STREAM_NOISE, _STREAM_ORDER = 1, 2, 3, 4


def rng_for(seed: int, identity: int, *key: int | str) -> np.random.Generator:
    """Independent generator for (seed, identity, *key); strings are hashed with CRC32 (stable)."""
    words = [int(seed), int(identity)]
    words += [zlib.crc32(k.encode()) if isinstance(k, str) else int(k) for k in key]
    if min(words) < 0:
        raise ValueError(f"seed, identity and keys must be >= 0, got {words}")
    return np.random.default_rng(words)


@dataclass(frozen=True)
class IdentityParams:
    """One synthetic person and their recording set-up (static over all their sequences)."""

    texture_seed: int
    # placement in the image (fractions of the image size / of its shorter side)
    center: tuple[float, float]  # face-unit origin, (x, y) as fractions of (W, H)
    scale: float  # face half-width as a fraction of min(W, H)
    roll_deg: float  # resting head roll
    # face outline
    face_cy: float  # centre of the face ellipse (face units)
    face_b: float  # half-height of the face ellipse
    jaw_taper: float  # 0 = ellipse, larger = narrower chin
    skin: float  # skin grey level (0..255)
    shading: float  # darkening towards the face rim (0..1)
    # eyes
    eye_x: float
    eye_y: float
    eye_w: float
    eye_up: float  # upper opening above the eye line
    eye_dn: float  # lower opening below it
    eye_tilt: float  # outer corner up (> 0)
    iris: float
    iris_r: float
    sclera: float
    # brows
    brow_gap: float  # brow height above the eye line
    brow_len: float  # half-length
    brow_thick: float
    brow_arch: float
    brow_dark: float  # brow grey = skin * brow_dark
    # nose
    nose_y: float
    nostril_x: float
    # mouth
    mouth_y: float
    mouth_w: float  # half-width
    lip_up: float
    lip_dn: float
    lip_dark: float  # lip grey = skin * lip_dark
    mouth_rest: float  # resting corner lift (< 0 up)
    # hair, ears, neck, clothes
    hair: float
    hairline: float  # y of the hairline at the centre
    hairline_curve: float
    long_hair: bool
    hair_texture: float
    ear_size: float
    shirt: float
    # scene
    background: float
    background_texture: float
    light_angle: float  # radians, direction of the brightness gradient
    light_strength: float  # relative brightness change across half the image


@dataclass(frozen=True)
class Timing:
    """Expression ramp of one facial region, as fractions of the clip duration (0 = first frame)."""

    onset: float
    ramp: float

    def weight(self, tau: np.ndarray | float) -> np.ndarray:
        """0 before onset, smoothstep up to 1 at onset+ramp (<= 1, so the last frame is at peak)."""
        x = np.clip((np.asarray(tau, np.float64) - self.onset) / self.ramp, 0.0, 1.0)
        return x * x * (3.0 - 2.0 * x)


@dataclass(frozen=True)
class SequenceParams:
    """What happens in one sequence: expression, timing, distractor motion, noise."""

    expression: str
    n_frames: int
    intensity: float  # 0..1 scale of the expression's peak
    side: int  # +1 / -1: which side an asymmetric expression favours
    timing: dict[str, Timing]  # per region: "brows", "eyes", "mouth", "head"
    blinks: tuple[tuple[float, float, float], ...]  # (centre s, duration s, depth 0..1)
    # head motion: sum of sinusoids, value at t=0 subtracted (so every sequence starts at rest)
    motion_amp: tuple[float, float, float, float]  # dx, dy (fractions of min(W,H)), roll (deg), scale (rel)
    motion_freq: tuple[tuple[float, float], ...] = field(default=())  # per channel: two frequencies, Hz
    motion_phase: tuple[tuple[float, float], ...] = field(default=())  # per channel: two phases, rad
    light_drift: float = 0.0  # relative brightness change from first to last frame
    noise: float = 1.0  # sensor noise std, grey levels
    timecode_start: int = 0  # frames since midnight of the first frame (for --timecode)


def sample_identity(seed: int, identity: int) -> IdentityParams:
    """Random face and scene for ``identity`` (0-based) under ``seed``."""
    r = rng_for(seed, identity, _STREAM_IDENTITY)
    u = r.uniform
    skin = u(95, 200)
    hair = u(28, 190) if r.random() < 0.85 else u(28, 60)
    bald = r.random() < 0.08
    eye_x = u(0.36, 0.46)
    return IdentityParams(
        texture_seed=int(r.integers(0, 2**31)),
        center=(0.5 + u(-0.03, 0.03), 0.5 + u(-0.02, 0.04)),
        scale=u(0.25, 0.29),
        roll_deg=u(-4, 4),
        face_cy=u(0.0, 0.1),
        face_b=u(1.25, 1.42),
        jaw_taper=u(0.0, 0.3),
        skin=skin,
        shading=u(0.12, 0.3),
        eye_x=eye_x,
        eye_y=u(-0.3, -0.2),
        eye_w=u(0.15, min(0.2, eye_x - 0.17)),
        eye_up=u(0.065, 0.085),
        eye_dn=u(0.035, 0.05),
        eye_tilt=u(-0.03, 0.1),
        iris=u(30, 110),
        iris_r=u(0.06, 0.075),
        sclera=min(235.0, skin * u(1.15, 1.4) + 20),
        brow_gap=u(0.17, 0.23),
        brow_len=u(0.17, 0.23),
        brow_thick=u(0.045, 0.075),
        brow_arch=u(0.0, 0.06),
        brow_dark=u(0.35, 0.6),
        nose_y=u(0.2, 0.3),
        nostril_x=u(0.075, 0.11),
        mouth_y=u(0.58, 0.68),
        mouth_w=u(0.26, 0.35),
        lip_up=u(0.03, 0.05),
        lip_dn=u(0.04, 0.07),
        lip_dark=u(0.6, 0.8),
        mouth_rest=u(-0.02, 0.02),
        hair=hair,
        hairline=u(-1.6, -1.45) if bald else u(-0.95, -0.62),
        hairline_curve=u(0.1, 0.45),
        long_hair=bool(r.random() < 0.45),
        hair_texture=u(0.05, 0.2),
        ear_size=u(0.85, 1.15),
        shirt=u(25, 225),
        background=u(45, 205),
        background_texture=u(4, 28),
        light_angle=u(0, 2 * np.pi),
        light_strength=u(0.0, 0.3),
    )


FRAMES_DEFAULT = (12, 24)


def sample_sequence(
    seed: int, identity: int, expression: str, frames: tuple[int, int] | int = FRAMES_DEFAULT
) -> SequenceParams:
    """Random timing, intensity and distractors of ``expression`` for ``identity`` under ``seed``.

    Every class draws the same quantities from the same distributions (only the expression differs),
    so clip length, blinks, head motion and noise carry no information about the class.
    """
    if expression not in CLASSES:
        raise ValueError(f"unknown expression {expression!r} (valid: {', '.join(CLASSES)})")
    r = rng_for(seed, identity, _STREAM_SEQUENCE, expression)
    u = r.uniform
    lo, hi = (frames, frames) if isinstance(frames, int) else frames
    if not 2 <= lo <= hi:
        raise ValueError(f"frames per sequence must satisfy 2 <= min <= max, got {lo}..{hi}")
    n_frames = lo + min(int(u(0, 1) * (hi - lo + 1)), hi - lo)
    # one shared onset/ramp, jittered per region; every region reaches its peak by the last frame
    onset, ramp = u(0.05, 0.35), u(0.35, 0.6)
    timing = {}
    for region in ("brows", "eyes", "mouth", "head"):
        o = float(np.clip(onset + u(-0.06, 0.06), 0.0, 0.4))
        rr = float(np.clip(ramp * u(0.85, 1.15), 0.25, 0.98 - o))
        timing[region] = Timing(o, rr)
    n_blinks = int(r.choice([0, 1, 1, 2]))
    blink_draws = [(u(0.0, 1.0), u(0.12, 0.3), u(0.8, 1.0)) for _ in range(2)]
    amp = (10 ** u(-2.9, -1.85), 10 ** u(-2.9, -1.85), 10 ** u(-1.0, 0.0), 10 ** u(-3.2, -2.2))
    freq = tuple((u(0.3, 1.5), u(0.3, 1.5)) for _ in range(4))
    phase = tuple((u(0, 2 * np.pi), u(0, 2 * np.pi)) for _ in range(4))
    return SequenceParams(
        expression=expression,
        n_frames=n_frames,
        intensity=u(0.7, 1.0),
        side=1 if r.random() < 0.5 else -1,
        timing=timing,
        blinks=tuple(blink_draws[:n_blinks]),  # centres are fractions here; see blink_schedule
        motion_amp=amp,
        motion_freq=freq,
        motion_phase=phase,
        light_drift=u(-0.015, 0.015),
        noise=u(0.4, 1.6),
        timecode_start=int(r.integers(8 * 3600 * 30, 18 * 3600 * 30)),
    )


def sequence_numbers(seed: int, identity: int) -> dict[str, int]:
    """Per identity, the CK+ sequence number (1..6) of each class: a seeded shuffle, so that neither
    the folder order nor the number reveals the class."""
    order = rng_for(seed, identity, _STREAM_ORDER).permutation(len(CLASSES))
    return {c: int(k) + 1 for c, k in zip(CLASSES, order)}


def noise_rng(seed: int, identity: int, expression: str) -> np.random.Generator:
    """Generator for the per-frame sensor noise of one sequence."""
    return rng_for(seed, identity, _STREAM_NOISE, expression)
