"""Shared by the sub-commands: argument types (sizes in pixels, times and windows in µs), the
arguments several commands take, and the up-front config check."""

from __future__ import annotations

import argparse

from ..typed import parse_time


def positive_int(text: str) -> int:
    """An integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got '{text}'")
    return value


def positive_float(text: str) -> float:
    """A number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got '{text}'")
    return value


def size(text: str) -> tuple[int, int]:
    """``WxH`` in pixels, e.g. ``640x480`` -> (640, 480)."""
    from ..io import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def duration(text: str) -> int:
    """argparse type of a positive duration (``1s``, ``500ms``, ``250000``) -> µs."""
    try:
        value = parse_time(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive duration, got '{text}'")
    return value


def parse_window(text: str) -> tuple[int | None, int | None, bool]:
    """``T0:T1`` (either side may be empty) -> (t_start, t_end, relative) µs, both inclusive; a
    leading ``+`` (``+0:50ms``) makes both times relative to the file's first event."""
    relative = text.strip().startswith("+")
    body = text.strip()[1:] if relative else text
    if body.count(":") != 1:
        raise ValueError(f"--window '{text}' must look like T0:T1 (e.g. 0:500ms, 1.5s:2s, :200ms, or +0:50ms "
                         "from the first event)")
    a, b = body.split(":")
    t0 = parse_time(a) if a.strip() else None
    t1 = parse_time(b) if b.strip() else None
    if t0 is not None and t1 is not None and t1 < t0:
        raise ValueError(f"--window '{text}' ends before it starts")
    return t0, t1, relative


#: the --window help both commands share
WINDOW_HELP = ("time window, both ends inclusive: on the file's clock (e.g. 0:500ms, 1.5s:2s, :200ms), or, with a "
               "leading +, from the file's first event (e.g. +0:50ms); plain numbers are µs, units us, ms, s")


def window(text: str) -> tuple[int | None, int | None, bool]:
    """argparse type of ``--window T0:T1``: :func:`parse_window`, errors as usage errors."""
    try:
        return parse_window(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# ---------------------------------------------------------------------------------- shared arguments
#: Arguments several sub-commands share: name -> (flags, add_argument options).
COMMON: dict[str, tuple[tuple[str, ...], dict]] = {
    "config": (("config",), {"help": "YAML config file"}),
    "overrides": (("overrides",), {"nargs": "*", "metavar": "key=value",
                                   "help": "config overrides, e.g. train.epochs=5 or data.sources.0.root=DIR"}),
    "quiet": (("--quiet",), {"action": "store_true", "help": "no progress bars"}),
    "json": (("--json",), {"action": "store_true", "help": "print JSON instead of text"}),
    "sensor-size": (("--sensor-size",), {"type": size, "metavar": "WxH",
                                         "help": "sensor size for files that state none"}),
    "workers": (("--workers",), {"type": positive_int, "default": 1, "metavar": "N",
                                 "help": "parallel worker processes (default 1)"}),
    "overwrite": (("--overwrite",), {"action": "store_true", "help": "redo outputs that already exist"}),
    "tta-flip": (("--tta-flip",), {"action": argparse.BooleanOptionalAction, "default": None,
                                   "help": "average each clip's probabilities with its mirror image's "
                                           "(default: the run's train.tta_flip)"}),
}


def formats_epilog() -> str:
    """The formats evfer reads, from the format table (for a command's --help)."""
    from ..io import FORMATS

    return "formats read: " + "; ".join(f"{f.description} ({', '.join(f.suffixes)})" for f in FORMATS)


def add(parser: argparse.ArgumentParser, *names: str, **changes) -> None:
    """Add the shared arguments ``names`` (see :data:`COMMON`); ``changes`` replace options of the
    last one (e.g. its help text)."""
    for i, name in enumerate(names):
        flags, options = COMMON[name]
        parser.add_argument(*flags, **({**options, **changes} if i == len(names) - 1 else options))


def load_run_config(args):
    """The command's config (``args.config`` + ``args.overrides``), every part typed and checked up
    front (:func:`evfer.configure.load_config`), so a wrong key fails in one line before any work starts."""
    from ..configure import load_config

    return load_config(args.config, args.overrides)
