"""A config file and ``key=value`` overrides -> one fully typed, fully checked :class:`~evfer.config.Config`.

:mod:`evfer.config` is the schema (its dataclasses) and its parser; it cannot know what the later
stages register. This module completes a parsed config in one step, before any work starts:

- every source's options typed with its kind's ``Options`` dataclass (:mod:`evfer.datasets.kinds`);
- the emulator's preset and parameter overrides (:mod:`evfer.emulator`);
- the representation (:mod:`evfer.voxel`) and the backbone with its ImageNet weights
  (:mod:`evfer.models`).

Every registry name gets a "did you mean"; errors are one line naming the key. A Config from here
is valid for every stage: nothing downstream re-checks it or changes its types.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from .config import Config, from_dict, parse_config
from .datasets.kinds import clip_context, typed_source
from .models import check_model_config
from .voxel import representation_for


def load_config(path: str | os.PathLike | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read a YAML config (or start from the defaults), apply ``key=value`` overrides, check everything."""
    return complete(parse_config(path, overrides))


def config_from_dict(raw: Any, where: str = "") -> Config:
    """A checked Config from its plain form (:func:`evfer.config.to_dict`, e.g. a checkpoint's)."""
    return complete(from_dict(Config, raw, where))


def complete(cfg: Config) -> Config:
    """Type and check the parts of a parsed ``cfg`` that belong to the later stages (see the module
    doc); returns the completed config (a new object)."""
    cfg = dataclasses.replace(cfg, data=dataclasses.replace(
        cfg.data, sources=[typed_source(s, f"data.sources.{i}.") for i, s in enumerate(cfg.data.sources)]))
    clip_context(cfg)  # the emulator's preset and parameters
    representation_for(cfg.voxel)
    check_model_config(cfg.model)
    return cfg
