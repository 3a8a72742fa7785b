"""Values checked against type hints: the one coercion of configs and of the emulator's parameters.

:func:`coerce` accepts a value (as YAML or a ``key=value`` override gives it) for a hint such as
``int``, ``float | None``, ``list[int]``, ``Literal["a", "b"]`` or ``dict[str, Any]`` and returns it
typed, or raises a one-line :class:`~evfer.errors.ConfigError` naming the key. Integers are accepted
for floats (as YAML writes ``1`` for ``1.0``), numbers for strings; nothing else is converted.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, Union

from .errors import ConfigError


def describe(value: Any, limit: int = 60) -> str:
    """``type value`` for messages, the value cut to ``limit`` characters (a message is one line)."""
    return f"{type(value).__name__} {shorten(value, limit)}"


def shorten(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters (``...`` marks the cut), without building a huge
    string first for huge containers."""
    if isinstance(value, (list, tuple, dict)) and len(value) > limit:
        value = type(value)(list(value.items())[:limit]) if isinstance(value, dict) else type(value)(list(value)[:limit])
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def coerce(tp: Any, value: Any, path: str, *, build: Callable[[type, Any, str], Any] | None = None) -> Any:
    """``value`` as type ``tp`` (see the module doc); ``build(cls, value, path)`` makes a nested
    dataclass ``cls`` (configs' groups). ConfigError naming ``path`` when it does not fit."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    again = lambda t, v, p: coerce(t, v, p, build=build)  # noqa: E731
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return again(arg, value, path)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{path}: {shorten(value)} is not {type_name(tp)}")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{path}: {shorten(value)} is not a valid choice (valid: {', '.join(map(str, args))})")
        return value
    if dataclasses.is_dataclass(tp):
        if build is None:
            raise ConfigError(f"{path}: a group of settings cannot be given here")
        return build(tp, value, path)
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: expected a list, got {describe(value)}")
        return [again(args[0], v, f"{path}.{i}") for i, v in enumerate(value)] if args else list(value)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping, got {describe(value)}")
        return {str(k): again(args[1], v, f"{path}.{k}") for k, v in value.items()} if args else dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{path}: expected true or false, got {describe(value)}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{path}: expected an integer, got {describe(value)}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{path}: expected a number, got {describe(value)}")
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{path}: expected a string, got {describe(value)}")
    raise ConfigError(f"{path}: unsupported type {tp}")  # pragma: no cover


_UNITS = {"": 1, "us": 1, "µs": 1, "ms": 1_000, "s": 1_000_000}
_TIME = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*(us|µs|ms|s)?\s*$")


def parse_time(text: str) -> int:
    """``1500``, ``1500us``, ``200ms``, ``1.5s`` -> whole µs (ValueError otherwise)."""
    m = _TIME.match(text)
    if not m:
        raise ValueError(f"'{text}' is not a time (e.g. 1500, 1500us, 200ms, 1.5s)")
    try:
        value = Decimal(m.group(1)) * _UNITS[m.group(2) or ""]
    except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
        raise ValueError(f"'{text}' is not a time") from None
    if value != value.to_integral_value():
        raise ValueError(f"'{text}' is not a whole number of microseconds")
    return int(value)
