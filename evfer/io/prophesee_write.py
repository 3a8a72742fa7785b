"""Writing Prophesee files (EVT 3.0 / 2.0 ``.raw``, ``.dat``) through faery's encoders.

Extra header lines: ``% evfer_events N`` (the event count, which lets readers detect any cut, see
:mod:`evfer.io.truncation`) and, with metadata, ``% evfer_meta {json}``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ..events import Events
from .header import read_header
from .metadata import META_KEY, meta_to_json
from .native import faery_packets
from .truncation import COUNT_KEY

#: Timestamps wrap after this many µs in each format; writers shift the clock (``% t0``) beyond it.
TIME_PERIOD_US = {"evt2": 1 << 34, "evt3": 1 << 24, "dat": 1 << 32}


def _extra_header(n_events: int, meta: dict[str, Any]) -> str:
    """The header lines evfer adds: the event count, the metadata when there is some, and ``% end``
    (as Metavision writes): without it a reader that takes every line starting with ``%`` as header
    text (faery) misreads data whose first byte is 0x25 — an EVT 3.0 file whose first TIME_HIGH is 37."""
    count = f"% {COUNT_KEY} {n_events}\n"
    return count + (f"% {META_KEY} {meta_to_json(meta)}\n" if meta else "") + "% end\n"


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
    n = 0
    try:
        for a, t_first in faery_packets(chunks, ("on", "?"), "Prophesee files"):
            n += len(a)
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
    _rewrite(tmp, _extra_header(n, meta), last_high if need_fill else None)


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
    n = 0
    try:
        for a, t_first in faery_packets(chunks, ("payload", "u1"), "Prophesee files"):
            n += len(a)
            if encoder is None:
                zero_t0 = t_first >= TIME_PERIOD_US["dat"]
                encoder = dat.Encoder(tmp, "dat2", "cd", zero_t0, (width, height)).__enter__()
            encoder.write(a)
        if encoder is None:
            encoder = dat.Encoder(tmp, "dat2", "cd", False, (width, height)).__enter__()
    finally:
        if encoder is not None:
            encoder.__exit__(None, None, None)
    _rewrite(tmp, _extra_header(n, meta), None)
