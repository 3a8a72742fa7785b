"""The config reference: every key with its type, default, allowed values and meaning, generated
from the schema's own dataclasses (:mod:`evfer.config` and each source kind's ``Options``).

A key's meaning is the comment on its line in the dataclass (or the comment lines right above it);
a group's is its class docstring's first paragraph. ``evfer config [KEY]`` prints it and
``docs/config.md`` is :func:`markdown` (a test keeps the file current), so nothing is written twice.
"""

from __future__ import annotations

import dataclasses
import inspect
import io
import tokenize
import types
import typing
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, Union

from .config import (
    AugmentConfig,
    BalanceConfig,
    Config,
    DataConfig,
    DenoiseConfig,
    EmulatorConfig,
    ModelConfig,
    SourceConfig,
    SplitConfig,
    TrainConfig,
    VoxelConfig,
)
from .datasets.kinds import KINDS
from .emulator.params import PRESETS
from .errors import ConfigError, did_you_mean
from .models import BACKBONES
from .voxel import REPRESENTATIONS

#: keys whose values are names in a registry (the allowed values are the registry's)
REGISTRY_VALUES = {"voxel.representation": lambda: list(REPRESENTATIONS), "model.backbone": lambda: list(BACKBONES),
                   "data.sources.*.kind": lambda: list(KINDS), "emulator.preset": lambda: _presets()}


@dataclass(frozen=True)
class Key:
    """One config key: dotted name, type, default, allowed values (None: any of the type), meaning."""

    name: str
    type: str
    default: Any
    allowed: list[str] | None
    doc: str


def _presets() -> list[str]:
    return list(PRESETS)


def keys() -> list[Key]:
    """Every key of a config, source kinds' options included (``data.sources.<kind>.<option>``)."""
    out: list[Key] = []
    _walk(Config, "", out)
    for name, kind in KINDS.items():
        _walk(kind.Options, f"data.sources.{name}.", out)
    return out


def _walk(cls: type, prefix: str, out: list[Key]) -> None:
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    for f in dataclasses.fields(cls):
        name, tp = prefix + f.name, hints[f.name]
        if dataclasses.is_dataclass(tp):
            _walk(tp, name + ".", out)
            continue
        if cls is SourceConfig and f.name == "options":  # the kind's own options: data.sources.<kind>.*
            continue
        default = (f.default if f.default is not dataclasses.MISSING
                   else f.default_factory() if f.default_factory is not dataclasses.MISSING else "(required)")
        registry = REGISTRY_VALUES.get(name) or REGISTRY_VALUES.get(_generic(name))
        allowed = registry() if registry else _literal_values(tp)
        if typing.get_args(tp) == (SourceConfig,):  # data.sources: a list of sources, each a group of its own
            out.append(Key(name, "list of sources", [], None, docs.get(f.name, "")))
            _walk(SourceConfig, name + ".*.", out)
            continue
        out.append(Key(name, type_name(tp), default, allowed, docs.get(f.name, "")))


def _generic(name: str) -> str:
    parts = name.split(".")
    return ".".join("*" if p.isdigit() else p for p in parts)


def _literal_values(tp: Any) -> list[str] | None:
    args = typing.get_args(tp)
    if typing.get_origin(tp) is Literal:
        return [str(a) for a in args]
    if typing.get_origin(tp) in (Union, types.UnionType):
        for a in args:
            if typing.get_origin(a) is Literal:
                return [str(v) for v in typing.get_args(a)] + (["null"] if type(None) in args else [])
    return None


def type_name(tp: Any) -> str:
    """A short readable name of a type hint: ``int``, ``float or null``, ``list of int``, ``one of ...``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return "any"
    if origin is Literal:
        return "choice"
    if origin in (Union, types.UnionType):
        names = [type_name(a) for a in args if a is not type(None)]
        return " or ".join(names) + (" or null" if type(None) in args else "")
    if origin is list:
        return f"list of {type_name(args[0])}" if args else "list"
    if origin is dict:
        return "mapping"
    return getattr(tp, "__name__", str(tp))


@lru_cache(maxsize=None)
def field_docs(cls: type) -> dict[str, str]:
    """Field name -> the comment on its line, else the comment lines right above it, in ``cls``'s
    source (its base classes' fields included)."""
    docs: dict[str, str] = {}
    for base in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(base):
            continue
        try:
            source = inspect.getsource(base)
        except (OSError, TypeError):  # pragma: no cover - no source (frozen app)
            continue
        docs.update(_comments(source, {f.name for f in dataclasses.fields(base)}))
    return docs


def _comments(source: str, names: set[str]) -> dict[str, str]:
    lines = source.splitlines()
    comment_at: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            comment_at[tok.start[0]] = tok.string.lstrip("#").strip()
    out = {}
    for i, line in enumerate(lines, start=1):
        stripped = line.strip()
        name = stripped.split(":", 1)[0].strip()
        if name not in names or not stripped.startswith(name + ":"):
            continue
        if i in comment_at and not stripped.startswith("#"):
            out[name] = comment_at[i]
            continue
        above, j = [], i - 1
        while j >= 1 and lines[j - 1].strip().startswith("#"):
            above.insert(0, comment_at.get(j, ""))
            j -= 1
        if above:
            out[name] = " ".join(above)
    return out


def group_doc(cls: type) -> str:
    """The first paragraph of a group's docstring, on one line."""
    doc = inspect.getdoc(cls) or ""
    return " ".join(doc.split("\n\n")[0].split())


def find(key: str) -> list[Key]:
    """The keys named ``key`` or below it (``train`` -> every train key); ConfigError with a
    suggestion when there is none."""
    everything = keys()
    want = _generic(key.strip("."))
    hits = [k for k in everything if k.name == want or k.name.startswith(want + ".")]
    if not hits:
        names = sorted({k.name for k in everything} | {k.name.rsplit(".", 1)[0] for k in everything})
        raise ConfigError(f"{key}: no such config key{did_you_mean(want, names)} (try `evfer config` for all)")
    return hits


def _value(v: Any) -> str:
    if isinstance(v, str):
        return v if v else '""'
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def text(key: str | None = None) -> str:
    """The reference as plain text (one block per key), for ``evfer config [KEY]``."""
    chosen = find(key) if key else keys()
    out = []
    for k in chosen:
        allowed = f"; one of {', '.join(k.allowed)}" if k.allowed else ""
        out.append(f"{k.name}: {k.type}, default {_value(k.default)}{allowed}")
        if k.doc:
            out.append(f"    {k.doc}")
    return "\n".join(out)


def markdown() -> str:
    """The whole reference as Markdown (``docs/config.md``)."""
    lines = ["# Config reference", "",
             "Generated by `evfer config --markdown` from the config dataclasses (`evfer/config.py` and each "
             "source kind's `Options`); `tests/test_cli_config.py` keeps this file current. Any key can be "
             "given in the YAML file or as `key=value` on the command line; a source kind's options sit "
             "beside `kind:` in its entry of `data.sources`.", ""]
    groups = [("", Config), ("data", DataConfig), ("data.split", SplitConfig),
              ("data.balance", BalanceConfig), ("data.denoise", DenoiseConfig),
              ("data.sources.*", SourceConfig), ("emulator", EmulatorConfig), ("voxel", VoxelConfig),
              ("model", ModelConfig), ("train", TrainConfig), ("train.augment", AugmentConfig)]
    groups += [(f"data.sources.{name}", kind.Options) for name, kind in KINDS.items()]
    everything = keys()
    for prefix, cls in groups:
        own = [k for k in everything if k.name.rsplit(".", 1)[0] == prefix or (not prefix and "." not in k.name)]
        if not own:
            continue
        title = f"`{prefix}`" if prefix else "top level"
        if prefix.startswith("data.sources.") and prefix != "data.sources.*":
            title = f"`kind: {prefix.rsplit('.', 1)[1]}` source options"
        lines += [f"## {title}", ""]
        doc = group_doc(cls)
        if doc and not doc.startswith(cls.__name__ + "("):
            lines += [doc, ""]
        lines += ["| key | type | default | allowed | meaning |", "|---|---|---|---|---|"]
        for k in own:
            allowed = ", ".join(k.allowed) if k.allowed else ""
            lines.append(f"| `{k.name}` | {k.type} | `{_value(k.default)}` | {allowed} | {k.doc.replace('|', '/')} |")
        lines.append("")
    return "\n".join(lines)
