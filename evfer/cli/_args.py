"""Argument types shared by the sub-commands (argparse ``type=`` callables)."""

from __future__ import annotations

import argparse


def size(text: str) -> tuple[int, int]:
    """``WxH`` in pixels, e.g. ``640x480`` -> (640, 480)."""
    from ..io import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
