"""Reading Prophesee files: EVT 2.0 / 2.1 / 3.0 ``.raw`` and ``.dat`` (CD and the older Event2d type).

Decoders: EVT 3.0 with the ``evt3`` package (it follows the format spec event for event; faery 0.7.1
ignores a TIME_LOW word that goes backwards, which moves 1,455 timestamps of the shared sample by
1–11 µs), EVT 2.x and DAT with faery. Writers are in :mod:`evfer.io.prophesee_write`.

Truncation: what can and cannot be detected is in :mod:`evfer.io.truncation`; these readers
apply it (a cut header, no data, a partial word or record, a visibly cut EVT 3.0 stream end, an
event count that differs from the one evfer wrote). faery silently drops a partial word and evt3
fails with "Unexpected end of file", so a cut is refused here with one clear line rather than
returned as a recording that silently lacks its end. Data that is corrupt but complete usually
decodes to coordinates outside the sensor or timestamps that jump back, which the reading
pipeline reports; EVT 2.0 / 3.0 words of reserved types, which the decoders skip, are counted
alongside (:mod:`evfer.io.evt_words`) and give a warning. What stays undetectable is said by
:meth:`RawReader.undetectable` (shown by ``evfer info``).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .evt_words import DEFINED_TYPES, ReservedWords
from .header import read_header
from .metadata import META_KEY, meta_from_json
from .native import native, native_decoder, native_steps
from .reader import EventReader, EventStats, FileInfo, event_array
from .truncation import check_count, check_evt3_end, check_has_data, check_whole_units, stated_count

log = logging.getLogger(__name__)

EVT_NAMES = {"evt2": "Prophesee EVT 2.0", "evt2.1": "Prophesee EVT 2.1", "evt3": "Prophesee EVT 3.0"}
#: Word size in bytes (Prophesee: "EVT 2.1 is a 64-bit data format").
WORD_BYTES = {"evt2": 4, "evt2.1": 8, "evt3": 2}
#: faery needs a size when the header has none; coordinates are validated later, by us.
_NO_SIZE = (1 << 16) - 1, (1 << 16) - 1
#: Bytes of EVT 3.0 data decoded per batch when streaming (≈ 1–2 M events: small peak memory)
#: and when the caller keeps everything (≈ 4–8 M events: arrays above glibc's 32 MB mmap threshold
#: are given back to the system when freed, which kept whole reads near 1.5x the size of their
#: events instead of 2x in benchmarks/io_window.py).
EVT3_BATCH_BYTES = 4 << 20
EVT3_WHOLE_BATCH_BYTES = 16 << 20


def _header_meta(fields: dict[str, str], path: Path) -> dict[str, Any]:
    return meta_from_json(fields[META_KEY], path) if META_KEY in fields else {}


def _file_info(hdr, path, format: str, description: str) -> FileInfo:
    """What a Prophesee header tells about the file (geometry, its source, meta, raw header fields)."""
    return FileInfo(
        format=format,
        description=description,
        geometry=hdr.geometry,
        plugin_geometry=hdr.plugin_geometry,
        geometry_detail=_geometry_detail(hdr),
        meta=_header_meta(hdr.fields, path),
        header={k: v for k, v in hdr.fields.items() if k != META_KEY},
    )


def _geometry_detail(hdr) -> str:
    if hdr.geometry:
        return f"'% {hdr.geometry_key}' header line"
    if hdr.plugin_geometry:
        return hdr.plugin_name
    return ""


class _PropheseeReader(EventReader):
    """What .raw and .dat readers share: the ``%`` header, and the checks of :mod:`.truncation`."""

    def __init__(self, path: Path, kind: str):
        self.path = path
        self.hdr = read_header(path, kind)
        self.stated = stated_count(self.hdr.fields, path)
        self.body = path.stat().st_size - self.hdr.length  # bytes after the header

    def check_stats(self, stats: EventStats) -> None:
        """InputError if the whole file held no event, or not the count evfer's writer stated."""
        check_count(self.path, stats.n_events, self.stated, self.body)

    def _count_check(self) -> list[str]:
        return [] if self.stated is None else [f"event count = the header's {self.stated:,}"]

    def _undetectable(self, unit: str, valid: str) -> str:
        """What cannot be seen: a cut on a ``unit`` boundary (unless the count is stated), a flipped
        bit that gives ``valid`` data."""
        flip = f"a flipped bit that gives {valid}"
        if self.stated is not None:
            return f"{flip} cannot be detected"
        return f"a file cut at a {unit} boundary or {flip} cannot be detected"


class RawReader(_PropheseeReader):
    """EVT 2.0 / 2.1 / 3.0 ``.raw`` file."""

    def __init__(self, path: Path):
        super().__init__(path, "raw")
        hdr = self.hdr
        if hdr.length == 0:
            raise InputError(path, "no Prophesee '%' header: not an EVT .raw file")
        check_has_data(path, self.body, self.stated)
        if hdr.version is None:
            raise InputError(
                path, "the '%' header does not state the EVT version (no '% evt' or '% format' line)"
            )
        check_whole_units(path, self.body, WORD_BYTES[hdr.version], f"{EVT_NAMES[hdr.version]} word")
        if hdr.version == "evt3":
            check_evt3_end(path, hdr.length)
        self.info = _file_info(hdr, path, hdr.version, f"{EVT_NAMES[hdr.version]} (.raw)")
        self.words: ReservedWords | None = None  # the reserved-word count of the last pass
        self._warned: set[str] = set()

    def checks(self) -> list[str]:
        version = self.hdr.version
        out = ["header complete", f"whole {8 * WORD_BYTES[version]}-bit words"]
        if version == "evt3":
            out.append("last event complete")
        if self.words is not None and self.words.done and not self.words.count:
            out.append("no words of reserved types")
        return out + self._count_check()

    def undetectable(self) -> str:
        if self.hdr.version == "evt3":
            return self._undetectable("word", "valid words (an ADDR_X turned into a VECT_8, ...)")
        return self._undetectable("word", "valid words")

    def data_warnings(self) -> list[str]:
        warning = self.words.warning if self.words is not None else None
        return [warning] if warning else []

    def _report(self, words: ReservedWords | None) -> None:
        """Log the reserved-word warning of a pass (once per reader)."""
        warning = words.warning if words is not None else None
        if warning and warning not in self._warned:
            self._warned.add(warning)
            log.warning("%s: %s", self.path, warning)

    def packets(
        self, t_start: int | None = None, t_end: int | None = None, whole: bool = False
    ) -> Iterator[np.ndarray]:
        """Decoded events in file order (EVENT_DTYPE arrays). No index: always from the start."""
        version = self.hdr.version
        words = ReservedWords(self.path, self.hdr.length, version) if version in DEFINED_TYPES else None
        self.words = words
        with words or contextlib.nullcontext():
            try:
                yield from self._decode(words, whole)
                if words is not None:
                    words.finish()
            except GeneratorExit:  # the caller stopped reading: report what was scanned
                self._report(words)
                raise
        self._report(words)

    def _decode(self, words: ReservedWords | None, whole: bool) -> Iterator[np.ndarray]:
        """The decoder's events; ``words`` (the reserved-word scan) advances with it."""
        what = EVT_NAMES[self.hdr.version]
        if self.hdr.version == "evt3":
            import evt3

            t0 = self.hdr.t0  # evt3 ignores '% t0' (faery adds it itself)
            batch = EVT3_WHOLE_BATCH_BYTES if whole else EVT3_BATCH_BYTES
            batches = native(self.path, what, evt3.decode_file_batches, os.fspath(self.path), batch)
            for b in native_steps(batches, self.path, what):
                if words is not None:
                    words.advance(batch)
                t = b.t.astype(np.int64)
                if t0:
                    t += t0
                yield event_array(t, b.x, b.y, b.p)
        else:
            from faery.extension import evt

            size = self.hdr.geometry or _NO_SIZE
            version = self.hdr.version
            with native_decoder(self.path, what, lambda: evt.Decoder(self.path, size, version)) as dec:
                for packet in native_steps(dec, self.path, what):
                    if words is not None:
                        words.advance(EVT3_BATCH_BYTES)
                    ev = packet.get("events")
                    if ev is not None and len(ev):
                        yield event_array(ev["t"], ev["x"], ev["y"], ev["on"])


class DatReader(_PropheseeReader):
    """Prophesee ``.dat`` file holding CD events (or the older, identical ``Event2d`` type)."""

    def __init__(self, path: Path):
        super().__init__(path, "dat")
        hdr = self.hdr
        self.version = "dat1" if hdr.fields.get("version", "2").strip() == "1" else "dat2"
        record = 1  # version 1 (no type and size bytes): the record size is not checked
        if self.version == "dat2":
            if self.body < 2:
                raise InputError(
                    path, "truncated: the header is not followed by the event type and size bytes"
                )
            with open(path, "rb") as f:
                f.seek(hdr.length)
                record = f.read(2)[1]
            if record == 0:
                raise InputError(path, "corrupt header: event size 0")
            self.body -= 2
        check_has_data(path, self.body, self.stated)
        check_whole_units(path, self.body, record, "event record")
        self.record = record
        self.info = _file_info(hdr, path, "dat", "Prophesee DAT (.dat)")

    def checks(self) -> list[str]:
        records = [] if self.version == "dat1" else [f"whole {self.record}-byte records"]  # v1: unknown size
        return ["header complete", *records, "polarity 0/1", *self._count_check()]

    def undetectable(self) -> str:
        return self._undetectable("record", "a valid record")

    def packets(
        self, t_start: int | None = None, t_end: int | None = None, whole: bool = False
    ) -> Iterator[np.ndarray]:
        """Decoded events in file order (EVENT_DTYPE arrays). No index: always from the start."""
        from faery.extension import dat

        size = self.hdr.geometry or _NO_SIZE
        what = "Prophesee DAT"
        with native_decoder(self.path, what, lambda: dat.Decoder(self.path, size, self.version)) as dec:
            event_type = native(self.path, what, getattr, dec, "event_type")
            if event_type not in ("cd", "2d"):
                raise InputError(self.path, f"holds '{event_type}' events, not CD (change detection) events")
            for ev in native_steps(dec, self.path, what):
                if len(ev) == 0:
                    continue
                if int(ev["payload"].max()) > 1:
                    raise InputError(
                        self.path,
                        f"polarity value {int(ev['payload'].max())} in a CD event (expected 0 or 1)",
                    )
                yield event_array(ev["t"], ev["x"], ev["y"], ev["payload"])
