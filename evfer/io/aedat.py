"""AEDAT 4.0 (iniVation DV) files through faery: the first event track is read.

Timestamps are Unix-epoch µs (about 1.6e15) and stay as they are (int64). The sensor size comes
from the track description (``sizeX``/``sizeY``). Written files carry the metadata as a JSON string
attribute ``evfer_meta`` next to ``sizeX``/``sizeY``.

Truncation: faery raises on a packet cut short ("failed to fill whole buffer"), which becomes a
one-line InputError. A file that only lost the end of its trailing packet index (the
FileDataTable) still holds every packet and is read completely (the shared sample minus its last
byte gives all 111,954 events).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..events import Events
from ._common import META_KEY, FileInfo, event_array, library_errors, meta_from_json, meta_to_json

_WHAT = "AEDAT 4.0"
MAGIC = b"#!AER-DAT4.0"


class AedatReader:
    def __init__(self, path: Path):
        from faery.extension import aedat

        self.path = path
        with open(path, "rb") as f:
            if f.read(len(MAGIC)) != MAGIC:
                raise InputError(path, f"not an AEDAT 4.0 file (does not start with {MAGIC.decode()})")
        with library_errors(path, _WHAT), aedat.Decoder(path) as dec:
            tracks = dec.tracks()
            description = dec.description()
        event_tracks = [t for t in tracks if t.data_type == "events"]
        if not event_tracks:
            kinds = ", ".join(t.data_type for t in tracks) or "none"
            raise InputError(path, f"has no event track (tracks: {kinds})")
        self.track = event_tracks[0]
        meta_text = _find_attribute(description, META_KEY)
        self.info = FileInfo(
            format="aedat4",
            description="AEDAT 4.0 (.aedat4)",
            geometry=tuple(self.track.dimensions) if self.track.dimensions else None,
            geometry_detail=f"track {self.track.id} description",
            meta=meta_from_json(meta_text, path) if meta_text else {},
            header={"tracks": [f"{t.id}:{t.data_type}" for t in tracks], "event_track": self.track.id},
        )

    def packets(
        self, t_start: int | None = None, t_end: int | None = None, whole: bool = False
    ) -> Iterator[np.ndarray]:
        from faery.extension import aedat

        with library_errors(self.path, _WHAT), aedat.Decoder(self.path) as dec:
            for track, packet in dec:
                if track.id == self.track.id and len(packet):
                    yield event_array(packet["t"], packet["x"], packet["y"], packet["on"])


def _find_attribute(nodes: list, name: str) -> str | None:
    for node in nodes:
        if name in node.attributes:
            return str(node.attributes[name].value)
        found = _find_attribute(node.nodes, name)
        if found is not None:
            return found
    return None


def write_aedat(tmp: Path, chunks: Iterable[Events], width: int, height: int, meta: dict[str, Any]) -> None:
    """One event track (id 0), LZ4-compressed, the way faery and DV write it."""
    from faery.extension import aedat

    node, attr = aedat.DescriptionNode, aedat.DescriptionAttribute
    info = {
        "sizeX": attr("int", int(width)),
        "sizeY": attr("int", int(height)),
        "source": attr("string", "evfer"),
    }
    if meta:
        info[META_KEY] = attr("string", meta_to_json(meta))
    root = "/mainloop/Recorder/outInfo/"
    description = [
        node("outInfo", root, {}, [
            node("0", root + "0/", {
                "compression": attr("string", "LZ4"),
                "originalOutputName": attr("string", "events"),
                "typeIdentifier": attr("string", "EVTS"),
            }, [node("info", root + "0/info/", info, [])]),
        ])
    ]  # fmt: skip
    dtype = np.dtype([("t", "<u8"), ("x", "<u2"), ("y", "<u2"), ("on", "?")])
    with aedat.Encoder(tmp, description, aedat.LZ4_DEFAULT) as enc:
        for ev in chunks:
            if len(ev) == 0:
                continue
            if ev.t[0] < 0:
                raise ValueError(f"negative timestamps ({ev.t[0]} µs) cannot be written to AEDAT 4.0")
            a = np.empty(len(ev), dtype)
            a["t"], a["x"], a["y"], a["on"] = ev.t, ev.x, ev.y, ev.p > 0
            enc.write(0, a)
