"""The registry of source kinds: the one place that maps a config's ``kind:`` to its module.

Adding a kind: write a module with a :class:`~evfer.datasets.source.SourceKind` subclass (its
``Options`` dataclass is its config schema) and add one line to :data:`KINDS`.
"""

from __future__ import annotations

import dataclasses
import difflib

from ..config import Config, SourceConfig, from_dict
from ..emulator import EmulatorSettings
from ..errors import ConfigError
from .ckplus import CKPlus
from .nefer import Nefer
from .recordings import Recordings
from .source import ClipContext, SourceKind
from .stills import Stills
from .synthetic.kind import Synthetic
from .videos import Videos

KINDS: dict[str, type[SourceKind]] = {
    "ckplus": CKPlus,
    "synthetic": Synthetic,
    "nefer": Nefer,
    "videos": Videos,
    "recordings": Recordings,
    "stills": Stills,
}


def kind_class(name: str, path: str = "kind") -> type[SourceKind]:
    """The class registered for ``name``; ConfigError naming the valid kinds otherwise."""
    if name not in KINDS:
        close = difflib.get_close_matches(name, list(KINDS), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ConfigError(f"{path}: unknown source kind {name!r}{hint} (valid: {', '.join(KINDS)})")
    return KINDS[name]


def resolve_source(src: SourceConfig, path: str = "source.") -> SourceConfig:
    """Type ``src.options`` with its kind's ``Options`` (in place; idempotent). Unknown options and
    wrong values are a ConfigError naming the key (``data.sources.0.fps``) and the valid keys."""
    cls = kind_class(src.kind, f"{path}kind")
    if not isinstance(src.options, cls.Options):
        valid = [f.name for f in dataclasses.fields(cls.Options)]
        for key in src.options or {}:
            if key not in valid:
                close = difflib.get_close_matches(key, valid, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                raise ConfigError(f"{path}{key}: not an option of sources of kind '{src.kind}'{hint} "
                                  f"(valid: {', '.join(['kind', 'root', 'limit', *valid])})")
        src.options = from_dict(cls.Options, dict(src.options or {}), path)
    return src


def resolve_data(cfg: Config) -> ClipContext:
    """Check the dataset stage's part of ``cfg`` once, up front (source kinds and their options, the
    emulator preset and parameters) and return the context every clip is made with."""
    for i, src in enumerate(cfg.data.sources):
        resolve_source(src, f"data.sources.{i}.")
    e = cfg.emulator
    try:
        emulator = EmulatorSettings.resolve(e.preset, e.params, e.seed, e.torch_device())
    except ConfigError as exc:
        raise ConfigError(f"emulator: {exc}") from None
    return ClipContext(emulator, dataclasses.replace(cfg.data.denoise))


def make_source(src: SourceConfig, context: ClipContext | None = None) -> SourceKind:
    """The kind object of a configured source."""
    return kind_class(src.kind)(resolve_source(src), context)


def source_config(kind: str, root: str = "", limit: int | None = None, **options) -> SourceConfig:
    """A resolved :class:`SourceConfig` from keyword options (tests, scripts)."""
    return resolve_source(SourceConfig(kind=kind, root=str(root), limit=limit, options=options))


def absolute_paths(cfg: Config) -> Config:
    """A copy of ``cfg`` with every data path absolute (``data.out``, each source's root and path
    options), so a run's config works from any directory."""
    import copy
    from pathlib import Path

    cfg = copy.deepcopy(cfg)
    cfg.data.out = str(Path(cfg.data.out).resolve())
    for i, src in enumerate(cfg.data.sources):
        resolve_source(src, f"data.sources.{i}.")
        src.root = str(Path(src.root).resolve())
        for name in kind_class(src.kind).path_options:
            if getattr(src.options, name):
                setattr(src.options, name, str(Path(getattr(src.options, name)).resolve()))
    return cfg
