"""The registry of source kinds: the one place that maps a config's ``kind:`` to its module.

Adding a kind: write a module with a :class:`~evfer.datasets.source.SourceKind` subclass (its
``Options`` dataclass is its config schema) and add one line to :data:`KINDS`.
"""

from __future__ import annotations

import dataclasses

from ..config import Config, SourceConfig, from_dict
from ..emulator import EmulatorSettings
from ..errors import ConfigError, did_you_mean
from ..typed import shorten
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
        raise ConfigError(f"{path}: unknown source kind {shorten(name)}{did_you_mean(name, KINDS)} (valid: {', '.join(KINDS)})")
    return KINDS[name]


def typed_source(src: SourceConfig, path: str = "source.") -> SourceConfig:
    """``src`` with its options typed by its kind's ``Options`` (a new object; ``src`` is not
    changed). Unknown options and wrong values are a ConfigError naming the key
    (``data.sources.0.fps``) and the valid keys. Called once per source by
    :func:`evfer.configure.load_config`."""
    cls = kind_class(src.kind, f"{path}kind")
    if isinstance(src.options, cls.Options):
        return src
    valid = [f.name for f in dataclasses.fields(cls.Options)]
    for key in src.options or {}:
        if key not in valid:
            raise ConfigError(f"{path}{key}: not an option of sources of kind '{src.kind}'{did_you_mean(key, valid)} "
                              f"(valid: {', '.join(['kind', 'name', 'root', 'limit', *valid])})")
    return dataclasses.replace(src, options=from_dict(cls.Options, dict(src.options or {}), path))


def clip_context(cfg: Config) -> ClipContext:
    """The run-wide settings every clip of ``cfg`` is made with (the emulator's resolved parameters,
    the event filter); ``cfg`` comes checked from :func:`evfer.configure.load_config`."""
    e = cfg.emulator
    try:
        emulator = EmulatorSettings.resolve(e.preset, e.params, e.seed, e.torch_device())
    except ConfigError as exc:
        raise ConfigError(f"emulator: {exc}") from None
    return ClipContext(emulator, dataclasses.replace(cfg.data.denoise))


def make_source(src: SourceConfig, context: ClipContext | None = None) -> SourceKind:
    """The kind object of a configured source (its options typed: a config from
    :func:`evfer.configure.load_config`, or :func:`source_config`)."""
    cls = kind_class(src.kind)
    if not isinstance(src.options, cls.Options):
        raise TypeError(f"source {src.label!r}: options are not typed; load configs with evfer.configure.load_config")
    return cls(src, context)


def source_config(kind: str, root: str = "", limit: int | None = None, name: str | None = None,
                  **options) -> SourceConfig:
    """A typed :class:`SourceConfig` from keyword options (tests, scripts)."""
    return typed_source(SourceConfig(kind=kind, root=str(root), limit=limit, name=name, options=options))


def absolute_paths(cfg: Config) -> Config:
    """A copy of ``cfg`` with every data path absolute, so a run's config works from any directory:
    ``data.out`` and each source's root against the working directory, a source's path options
    (``csv``, ...) against its root — where ``prepare`` reads them."""
    import copy
    from pathlib import Path

    cfg = copy.deepcopy(cfg)
    cfg.data.out = str(Path(cfg.data.out).resolve())
    for src in cfg.data.sources:
        src.root = str(Path(src.root).resolve())
        for name in kind_class(src.kind).path_options:
            value = getattr(src.options, name)
            if value:
                setattr(src.options, name, str((Path(src.root) / Path(value).expanduser()).resolve()))
    return cfg
