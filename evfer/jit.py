"""numba kernels compiled once and cached on disk — also where the package folder and ``$HOME`` are
read-only (a system-wide install, a container user without a home).

numba keeps compiled kernels next to the source or in ``~/.cache``; where it can write neither, a
``cache=True`` decorator fails at import ("cannot cache function"). :func:`njit` then points
numba's cache at a folder in the temporary directory, and compiles without a cache if even that
fails: slower starts, never a failure.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def temp_cache_folder() -> Path | None:
    """A writable per-user folder for numba's cache in the temporary directory, or None."""
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    folder = Path(tempfile.gettempdir()) / f"evfer-numba-{uid}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
    except OSError:
        return None
    return folder if os.access(folder, os.W_OK) else None


def njit(**options: Any) -> Callable:
    """``numba.njit(cache=True, **options)`` that falls back to a temporary cache folder, then to no
    cache, where numba cannot cache next to the source or in the user's home."""
    import numba

    def decorate(fn: Callable) -> Callable:
        try:
            return numba.njit(cache=True, **options)(fn)
        except RuntimeError as exc:
            if "cannot cache" not in str(exc):
                raise
        folder = temp_cache_folder()
        if folder is not None and not numba.config.CACHE_DIR:
            numba.config.CACHE_DIR = str(folder)
            try:
                return numba.njit(cache=True, **options)(fn)
            except RuntimeError:
                pass
        return numba.njit(cache=False, **options)(fn)

    return decorate
