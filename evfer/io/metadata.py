"""Free metadata in event files: which keys a reader sets, and the JSON text some formats store it as."""

from __future__ import annotations

import json
import os
from typing import Any

from ..atomic import json_default
from ..errors import InputError

#: Keys that readers put into ``Events.meta``; they describe the file, so writers leave them out.
READER_META_KEYS = ("file", "file_format", "geometry_source", "geometry_detail", "geometry_warning")

#: Metadata of Prophesee/AEDAT files is stored as one JSON text under this name.
META_KEY = "evfer_meta"


def clean_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """Metadata to store: everything except the keys a reader sets (:data:`READER_META_KEYS`)."""
    return {k: v for k, v in meta.items() if k not in READER_META_KEYS}


def meta_to_json(meta: dict[str, Any]) -> str:
    """One-line JSON text of ``meta`` (numpy values become plain numbers / lists)."""
    for key in meta:
        if not isinstance(key, str):
            raise TypeError(f"metadata keys must be strings, got {key!r}")
    return json.dumps(meta, default=json_default, ensure_ascii=True, separators=(",", ":"))


def meta_from_json(text: str, source: str | os.PathLike) -> dict[str, Any]:
    """The metadata dict stored as JSON ``text``; InputError naming ``source`` if it is not one."""
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(source, f"stored metadata is not valid JSON ({exc.msg})") from None
    if not isinstance(meta, dict):
        raise InputError(source, "stored metadata is not a JSON object")
    return meta
