"""Prophesee files: EVT 2.0 / 2.1 / 3.0 ``.raw`` and ``.dat`` (CD and the older Event2d type).

Decoders: EVT 3.0 with the ``evt3`` package (it follows the format spec event for event; faery 0.7.1
ignores a TIME_LOW word that goes backwards, which moves 1,455 timestamps of the shared sample by
1–11 µs), EVT 2.x and DAT with faery. Writers: faery's encoders; extra metadata goes into one
``% evfer_meta {json}`` header line.

Truncation: the binary part of a ``.raw`` file is a sequence of 2-byte (EVT 3.0) or 4-byte (EVT 2.x)
words, of a ``.dat`` file 8-byte records. A file whose data does not end on a word boundary was cut
mid-word (faery silently drops the partial word, evt3 fails with "Unexpected end of file"); we
refuse it with one clear line rather than return a recording that silently lacks its end.
Data that is corrupt but complete usually decodes to coordinates outside the sensor or
timestamps that jump back, which the reading pipeline reports.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..events import Events
from .metadata import META_KEY, meta_from_json, meta_to_json
from .native import native, native_decoder, native_steps
from .reader import EventReader, FileInfo, event_array
from .header import read_header

EVT_NAMES = {"evt2": "Prophesee EVT 2.0", "evt2.1": "Prophesee EVT 2.1", "evt3": "Prophesee EVT 3.0"}
#: Word size in bytes (EVT 2.1 mixes 32- and 64-bit words; only 4-byte alignment is checked).
WORD_BYTES = {"evt2": 4, "evt2.1": 4, "evt3": 2}
#: Timestamps wrap after this many µs in each format; writers shift the clock (``% t0``) beyond it.
TIME_PERIOD_US = {"evt2": 1 << 34, "evt2.1": 1 << 34, "evt3": 1 << 24, "dat": 1 << 32}
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


class RawReader(EventReader):
    """EVT 2.0 / 2.1 / 3.0 ``.raw`` file."""

    def __init__(self, path: Path):
        self.path = path
        hdr = read_header(path, "raw")
        if hdr.length == 0:
            raise InputError(path, "no Prophesee '%' header: not an EVT .raw file")
        if hdr.version is None:
            raise InputError(
                path, "the '%' header does not state the EVT version (no '% evt' or '% format' line)"
            )
        self.hdr = hdr
        body = path.stat().st_size - hdr.length
        word = WORD_BYTES[hdr.version]
        if body % word:
            raise InputError(
                path,
                f"truncated: {body % word} byte(s) after the last complete {word}-byte "
                f"{EVT_NAMES[hdr.version]} word (file cut mid-word?)",
            )
        self.info = _file_info(hdr, path, hdr.version, f"{EVT_NAMES[hdr.version]} (.raw)")

    def packets(
        self, t_start: int | None = None, t_end: int | None = None, whole: bool = False
    ) -> Iterator[np.ndarray]:
        """Decoded events in file order (EVENT_DTYPE arrays). No index: always from the start."""
        what = EVT_NAMES[self.hdr.version]
        if self.hdr.version == "evt3":
            import evt3

            t0 = self.hdr.t0  # evt3 ignores '% t0' (faery adds it itself)
            batch = EVT3_WHOLE_BATCH_BYTES if whole else EVT3_BATCH_BYTES
            batches = native(self.path, what, evt3.decode_file_batches, os.fspath(self.path), batch)
            for b in native_steps(batches, self.path, what):
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
                    ev = packet.get("events")
                    if ev is not None and len(ev):
                        yield event_array(ev["t"], ev["x"], ev["y"], ev["on"])


class DatReader(EventReader):
    """Prophesee ``.dat`` file holding CD events (or the older, identical ``Event2d`` type)."""

    def __init__(self, path: Path):
        self.path = path
        hdr = read_header(path, "dat")
        self.hdr = hdr
        self.version = "dat1" if hdr.fields.get("version", "2").strip() == "1" else "dat2"
        size = path.stat().st_size
        if self.version == "dat2":
            if size < hdr.length + 2:
                raise InputError(
                    path, "truncated: the header is not followed by the event type and size bytes"
                )
            with open(path, "rb") as f:
                f.seek(hdr.length)
                type_size = f.read(2)
            record = type_size[1]
            if record == 0:
                raise InputError(path, "corrupt header: event size 0")
            body = size - hdr.length - 2
            if body % record:
                raise InputError(
                    path,
                    f"truncated: {body % record} byte(s) after the last complete {record}-byte event record",
                )
        self.info = _file_info(hdr, path, "dat", "Prophesee DAT (.dat)")

    def packets(
        self, t_start: int | None = None, t_end: int | None = None, whole: bool = False
    ) -> Iterator[np.ndarray]:
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


# ---------------------------------------------------------------- writers
def _faery_packets(chunks: Iterable[Events], fields: tuple[str, str]) -> Iterator[tuple[np.ndarray, int]]:
    """Events chunks as faery arrays (t u8, x u2, y u2, <pol> bool/u1) with their first timestamp."""
    pol_name, pol_type = fields
    dtype = np.dtype([("t", "<u8"), ("x", "<u2"), ("y", "<u2"), (pol_name, pol_type)])
    for ev in chunks:
        if len(ev) == 0:
            continue
        if ev.t[0] < 0:
            raise ValueError(f"negative timestamps ({ev.t[0]} µs) cannot be written to Prophesee files")
        a = np.empty(len(ev), dtype)
        a["t"] = ev.t
        a["x"] = ev.x
        a["y"] = ev.y
        a[pol_name] = ev.p > 0
        yield a, int(ev.t[0])


def write_raw(
    tmp: Path, chunks: Iterable[Events], width: int, height: int, meta: dict[str, Any], version: str
) -> None:
    """EVT .raw through faery's encoder (version "evt3" or "evt2"; faery cannot write EVT 2.1).

    The clock is kept as is when the first timestamp is within the format's time period
    (:data:`TIME_PERIOD_US`), so every reader sees the same times; later starts are written
    relative to it with a ``% t0`` header line (read back by faery and by us).

    EVT 3.0 timestamps are 24 bits (TIME_HIGH: 12 bits of 4096 µs). A camera writes a TIME_HIGH word
    every 4096 µs, and decoders (Metavision, evt3) count a wrap-around only when TIME_HIGH falls
    back by almost the whole period. faery's encoder writes TIME_HIGH only when an event needs it
    (and every 1024 steps in longer gaps), so a gap of more than ~40 ms without events at a
    wrap-around makes those decoders, and faery's own, lose 16.8 s. We therefore add the missing
    TIME_HIGH words (no events between them), as a camera would.
    """
    from faery.extension import evt

    if max(width, height) > 2048:
        raise ValueError(f"EVT formats hold coordinates below 2048; cannot write a {width}x{height} sensor")
    encoder = None
    t0 = 0
    last_high = None  # EVT 3.0: TIME_HIGH of the last event, in 4096 µs since t0
    need_fill = False  # some consecutive events are more than one TIME_HIGH step apart
    try:
        for a, t_first in _faery_packets(chunks, ("on", "?")):
            if encoder is None:
                zero_t0 = t_first >= TIME_PERIOD_US[version]
                t0 = t_first if zero_t0 else 0
                encoder = evt.Encoder(tmp, version, zero_t0, (width, height), True).__enter__()
            encoder.write({"events": a})
            if version == "evt3":
                high = ((a["t"] - np.uint64(t0)) >> np.uint64(12)).astype(np.int64)
                jumps = np.diff(high) if last_high is None else np.diff(high, prepend=last_high)
                need_fill |= bool(len(jumps) and jumps.max() > 1)
                last_high = int(high[-1])
        if encoder is None:
            encoder = evt.Encoder(tmp, version, False, (width, height), True).__enter__()
        elif t0 and encoder.t0() != t0:
            raise RuntimeError(f"faery wrote t0={encoder.t0()}, expected {t0}")  # pragma: no cover
    finally:
        if encoder is not None:
            encoder.__exit__(None, None, None)
    if meta or need_fill:
        meta_line = f"% {META_KEY} {meta_to_json(meta)}\n" if meta else ""
        _rewrite(tmp, meta_line, last_high if need_fill else None)


def write_evt3(tmp: Path, chunks: Iterable[Events], width: int, height: int, meta: dict[str, Any]) -> None:
    """EVT 3.0 .raw (see :func:`write_raw`)."""
    write_raw(tmp, chunks, width, height, meta, "evt3")


def write_evt2(tmp: Path, chunks: Iterable[Events], width: int, height: int, meta: dict[str, Any]) -> None:
    """EVT 2.0 .raw (see :func:`write_raw`)."""
    write_raw(tmp, chunks, width, height, meta, "evt2")


#: EVT 3.0 words per block when adding TIME_HIGH words (8 MB).
_REWRITE_WORDS = 1 << 22
#: At most this many TIME_HIGH words are added per block (a gap of about 9 days).
MAX_FILL_WORDS = 1 << 28


def _fill_time_high(words: np.ndarray, previous: int | None) -> tuple[np.ndarray, int | None]:
    """``words`` with TIME_HIGH words added so that consecutive TIME_HIGH values step by one.

    ``previous`` is the absolute value (4096-µs units since the start of the clock) of the last
    TIME_HIGH before this block, None at the start. faery's steps between TIME_HIGH words are at
    most 1024 (a quarter of the 12-bit range), so unwrapping them is unambiguous; the caller checks
    the final value against the last event. Returns the new words and the last absolute value.
    """
    where = np.flatnonzero((words >> 12) == 0x8)
    if len(where) == 0:
        return words, previous
    value = (words[where] & 0xFFF).astype(np.int64)
    first = value[0] if previous is None else previous + (value[0] - previous) % 4096
    absolute = np.concatenate([[first], first + np.cumsum((value[1:] - value[:-1]) % 4096)])
    before = np.concatenate([[first if previous is None else previous], absolute[:-1]])
    gaps = np.maximum(absolute - before - 1, 0)
    total = int(gaps.sum())
    if total > MAX_FILL_WORDS:
        raise ValueError("the events have a gap too long for EVT 3.0 (use the .h5 store)")
    if total:
        offsets = np.arange(total) - np.repeat(np.cumsum(gaps) - gaps, gaps)
        fill = ((np.repeat(before + 1, gaps) + offsets) % 4096 | 0x8000).astype(np.uint16)
        words = np.insert(words, np.repeat(where, gaps), fill)
    return words, int(absolute[-1])


def _rewrite(path: Path, header_line: str, last_high: int | None) -> None:
    """Rewrite ``path`` once: append ``header_line`` to its ``%`` header and, for EVT 3.0 when
    ``last_high`` (TIME_HIGH of the last event) is given, add the missing TIME_HIGH words."""
    hdr = read_header(path)
    staged = path.with_name(path.name + ".rewrite")
    try:
        with open(path, "rb") as src, open(staged, "wb") as dst:
            dst.write(src.read(hdr.length))
            dst.write(header_line.encode("ascii"))
            if last_high is None:
                shutil.copyfileobj(src, dst, 16 << 20)
            else:
                previous = None
                while block := src.read(2 * _REWRITE_WORDS):
                    words, previous = _fill_time_high(np.frombuffer(block, "<u2"), previous)
                    dst.write(words.tobytes())
                if previous != last_high:
                    raise RuntimeError(  # pragma: no cover - would mean faery changed its output
                        f"EVT 3.0 TIME_HIGH sequence ends at {previous}, expected {last_high}"
                    )
        os.replace(staged, path)
    finally:
        staged.unlink(missing_ok=True)


def write_dat(tmp: Path, chunks: Iterable[Events], width: int, height: int, meta: dict[str, Any]) -> None:
    """DAT (version 2, CD events) through faery's encoder; same clock rule as :func:`write_raw`."""
    from faery.extension import dat

    encoder = None
    try:
        for a, t_first in _faery_packets(chunks, ("payload", "u1")):
            if encoder is None:
                zero_t0 = t_first >= TIME_PERIOD_US["dat"]
                encoder = dat.Encoder(tmp, "dat2", "cd", zero_t0, (width, height)).__enter__()
            encoder.write(a)
        if encoder is None:
            encoder = dat.Encoder(tmp, "dat2", "cd", False, (width, height)).__enter__()
    finally:
        if encoder is not None:
            encoder.__exit__(None, None, None)
    if meta:
        _rewrite(tmp, f"% {META_KEY} {meta_to_json(meta)}\n", None)
