"""Parameters of the DVS pixel model: one typed dataclass, three presets, strict validation.

Names follow v2e's command-line options where v2e has them (``pos_thres``, ``sigma_thres``,
``cutoff_hz``, ...). Units: thresholds in ln-intensity units, rates in Hz, times in seconds
(``refractory_period_s``), intensities on a 0-255 scale (DN).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError, did_you_mean
from ..typed import coerce

TIMESTAMP_MODES = ("interpolate", "v2e")


@dataclass(frozen=True)
class EmulatorParams:
    """Resolved pixel-model parameters (see docs in :mod:`evfer.emulator.model`).

    Attributes:
        pos_thres, neg_thres: nominal ON/OFF contrast thresholds (ln units).
        sigma_thres: std-dev of the per-pixel threshold mismatch (ln units); 0 = identical pixels.
        cutoff_hz: photoreceptor low-pass 3 dB cutoff at full brightness (Hz); 0 disables the filter.
        leak_rate_hz: leak (ON) event rate per pixel (Hz); 0 disables the leak.
        leak_jitter_fraction: relative per-step jitter of the leak current.
        noise_rate_cov_decades: spread of the per-pixel leak rate (std of log10 of its multiplier).
        shot_noise_rate_hz: shot-noise event rate per pixel, ON+OFF, in the dark (Hz); 0 disables.
        shot_noise_inten_factor: shot-noise rate at full brightness relative to the dark rate.
        refractory_period_s: per-pixel refractory period (s); 0 disables.
        linlog_threshold: intensity (DN) below which the log mapping is linear (>= 1; 1 = plain
            log clipped at 1 DN).
        timestamps: "interpolate" (each threshold crossing placed by linear interpolation of log
            intensity between frames) or "v2e" (v2e's evenly spread k-th event).
        upsample: insert ``upsample - 1`` frames between input frames, linearly in log space.
    """

    pos_thres: float = 0.2
    neg_thres: float = 0.2
    sigma_thres: float = 0.02
    cutoff_hz: float = 0.0
    leak_rate_hz: float = 0.0
    leak_jitter_fraction: float = 0.0
    noise_rate_cov_decades: float = 0.0
    shot_noise_rate_hz: float = 0.0
    shot_noise_inten_factor: float = 0.25
    refractory_period_s: float = 0.0
    linlog_threshold: float = 20.0
    timestamps: str = "interpolate"
    upsample: int = 1

    def __post_init__(self) -> None:
        _validate(self)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> EmulatorParams:
        return resolve_params(None, base=self, **changes)


PARAM_NAMES = tuple(f.name for f in dataclasses.fields(EmulatorParams))


@dataclass(frozen=True)
class EmulatorSettings:
    """Everything besides the frames that decides a clip's events, resolved once: the parameters,
    the preset they start from and its overrides (as given, for fingerprints), and the seed.
    ``device`` (None = CPU) says where to run; it does not change the events."""

    params: EmulatorParams
    preset: str = "clean"
    overrides: tuple[tuple[str, Any], ...] = ()
    seed: int = 0
    device: str | None = None

    @classmethod
    def resolve(cls, preset: str = "clean", overrides: dict[str, Any] | None = None, seed: int = 0,
                device: str | None = None) -> EmulatorSettings:
        """Check ``preset`` and ``overrides`` (ConfigError naming the bad one) and resolve them."""
        overrides = dict(overrides or {})
        return cls(resolve_params(preset, **overrides), preset, tuple(overrides.items()), int(seed), device)

    def config(self) -> dict[str, Any]:
        """The settings as written in a config's ``emulator:`` group (preset, overrides, seed)."""
        return {"preset": self.preset, "params": dict(self.overrides), "seed": self.seed}


def resolve_params(preset: str | None = "clean", *, base: EmulatorParams | None = None,
                   **overrides: Any) -> EmulatorParams:
    """The preset's parameters with ``overrides`` applied (values may be strings, as from a CLI).

    An unknown preset or parameter name is a :class:`ConfigError` naming the valid ones.
    """
    if base is None:
        if preset not in PRESETS:
            raise ConfigError(f"unknown emulator preset {preset!r}{did_you_mean(preset, PRESETS)} "
                              f"(valid: {', '.join(PRESETS)})")
        base = PRESETS[preset]
    values = base.to_dict()
    for name, value in overrides.items():
        if name not in values:
            raise ConfigError(f"unknown emulator parameter {name!r}{did_you_mean(name, PARAM_NAMES)} "
                              f"(valid: {', '.join(PARAM_NAMES)})")
        values[name] = coerce(type(values[name]), value, f"emulator parameter {name}")
    return EmulatorParams(**values)


def parse_assignments(items: list[str] | None) -> dict[str, Any]:
    """``["key=value", ...]`` (CLI ``--param``) to a dict, each value read as YAML reads it (numbers,
    true/false); malformed items are a ConfigError."""
    import yaml

    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--param {item!r}: expected key=value (valid keys: {', '.join(PARAM_NAMES)})")
        try:
            out[key.strip()] = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError:
            out[key.strip()] = value.strip()
    return out


def _validate(p: EmulatorParams) -> None:
    def bad(name: str, rule: str) -> ConfigError:
        return ConfigError(f"emulator parameter {name}={getattr(p, name)!r}: {rule}")

    for name in PARAM_NAMES:
        v = getattr(p, name)
        if isinstance(v, float) and not math.isfinite(v):
            raise bad(name, "must be finite")
    for name in ("pos_thres", "neg_thres"):
        if getattr(p, name) < 0.01:
            raise bad(name, "must be >= 0.01 (ln units)")
    for name in ("sigma_thres", "cutoff_hz", "leak_rate_hz", "leak_jitter_fraction",
                 "noise_rate_cov_decades", "shot_noise_rate_hz", "shot_noise_inten_factor",
                 "refractory_period_s"):
        if getattr(p, name) < 0:
            raise bad(name, "must be >= 0")
    if p.linlog_threshold < 1:
        raise bad("linlog_threshold", "must be >= 1 DN (1 = plain log clipped at 1 DN)")
    if p.timestamps not in TIMESTAMP_MODES:
        raise bad("timestamps", f"must be one of {', '.join(TIMESTAMP_MODES)}")
    if p.upsample < 1:
        raise bad("upsample", "must be an integer >= 1")


#: The presets. ``clean`` and ``noisy`` are v2e's ``--dvs_params`` presets, ``v2e`` its command-line
#: defaults (v2e 1.5.1, ``v2e_args.py``).
PRESETS: dict[str, EmulatorParams] = {
    "clean": EmulatorParams(
        pos_thres=0.2, neg_thres=0.2, sigma_thres=0.02, cutoff_hz=0.0, leak_rate_hz=0.0,
        leak_jitter_fraction=0.0, noise_rate_cov_decades=0.0, shot_noise_rate_hz=0.0,
        refractory_period_s=0.0,
    ),
    "noisy": EmulatorParams(
        pos_thres=0.2, neg_thres=0.2, sigma_thres=0.05, cutoff_hz=30.0, leak_rate_hz=0.1,
        leak_jitter_fraction=0.1, noise_rate_cov_decades=0.1, shot_noise_rate_hz=5.0,
        refractory_period_s=0.0,
    ),
    "v2e": EmulatorParams(
        pos_thres=0.2, neg_thres=0.2, sigma_thres=0.03, cutoff_hz=300.0, leak_rate_hz=0.01,
        leak_jitter_fraction=0.1, noise_rate_cov_decades=0.1, shot_noise_rate_hz=0.001,
        refractory_period_s=0.0005,
    ),
}
