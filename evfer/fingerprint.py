"""One fingerprint for every "recompute or reuse" decision.

A stage that caches its output (prepare's events files, convert's outputs, the voxel cache, a DDP
run's data marker) stores the fingerprint of everything that shaped the output and compares it on
the next run: equal fingerprints mean the output can be reused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

#: Hex digits kept; 64 bits make an accidental match between two settings vanishingly unlikely.
LENGTH = 16


def canonical(obj: Any) -> str:
    """Canonical JSON text of ``obj`` (dataclasses as dicts, keys sorted, other values as ``str``)."""
    return json.dumps(_plain(obj), sort_keys=True, default=str)


def fingerprint(obj: Any, length: int = LENGTH) -> str:
    """Hex SHA-1 prefix of :func:`canonical` ``(obj)``: equal for equal settings, whatever their order."""
    return hashlib.sha1(canonical(obj).encode()).hexdigest()[:length]


def _plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj
