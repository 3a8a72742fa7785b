"""Turning a decoder's packets into time-ordered, windowed, fixed-size event chunks.

Decoders yield packets in file order. Prophesee streams can step back in time by a few µs (the
EVT 3.0 sample has a TIME_LOW that goes back by 11 µs), so packets are merged through a small
reorder buffer: each packet is stably sorted, and the events in its last :data:`REORDER_SLACK_US` µs
are held back and merged with the next packet. An event more than the slack older than an event
before it in the file (a jump back of more than the slack) is reported as corrupt data, wherever
the packets happen to be cut: it never silently comes out unsorted, and is not sorted into place
either when both lie in one packet (one flipped bit that turns an EVT 3.0 ADDR_Y word into a
TIME_HIGH word sends the events up to the next TIME_HIGH word 10 s back).
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Iterable, Iterator

import numpy as np

from ..errors import InputError
from ..events import EVENT_DTYPE, is_sorted

#: Events within this many µs of the newest event seen are held back for re-ordering.
REORDER_SLACK_US = 1000

#: Decoder packets are merged until at least this many events before re-ordering (fewer copies).
MIN_PACKET_EVENTS = 1 << 18


def coalesce(packets: Iterable[np.ndarray], min_events: int | None = None) -> Iterator[np.ndarray]:
    """Merge small consecutive packets into arrays of at least ``min_events`` (default
    :data:`MIN_PACKET_EVENTS`; the last may be smaller)."""
    min_events = MIN_PACKET_EVENTS if min_events is None else min_events
    parts: list[np.ndarray] = []
    n = 0
    for a in packets:
        if len(a) == 0:
            continue
        parts.append(a)
        n += len(a)
        if n >= min_events:
            yield parts[0] if len(parts) == 1 else np.concatenate(parts)
            parts, n = [], 0
    if parts:
        yield parts[0] if len(parts) == 1 else np.concatenate(parts)


def first_at_or_after(t: np.ndarray, value: int) -> int:
    """Index of the first element of sorted ``t`` that is >= ``value`` (binary search).

    Unlike np.searchsorted, it does not copy ``t`` when it is a strided field of an event array.
    """
    return bisect.bisect_left(t, value)


def ordered(
    packets: Iterable[np.ndarray], source: str | os.PathLike, slack_us: int = REORDER_SLACK_US
) -> Iterator[np.ndarray]:
    """Yield the events of ``packets`` (EVENT_DTYPE arrays, file order) in non-decreasing ``t``.

    Equal timestamps keep their file order. Raises InputError if an event is more than
    ``slack_us`` older than an event before it (:func:`check_steps_back`), in the same packet or
    not; so no event older than one already emitted ever arrives.
    """
    held = np.empty(0, EVENT_DTYPE)
    newest = None  # newest timestamp consumed
    seen = 0  # events consumed, for messages
    for a in packets:
        if len(a) == 0:
            continue
        fresh = len(a)
        t = a["t"]
        in_order = is_sorted(t)
        newest = check_steps_back(t, newest, in_order, slack_us, source, seen)
        if not in_order:
            a = a[np.argsort(t, kind="stable")]
            t = a["t"]
        if len(held) and held["t"][-1] > t[0]:  # interleaves with the held events: merge them
            a = np.concatenate([held, a])
            a = a[np.argsort(a["t"], kind="stable")]
            t = a["t"]
        elif len(held):  # the usual case: held events all come first
            k = first_at_or_after(held["t"], t[-1] - slack_us)
            if k:  # older than the slack before the newest event: final
                yield held[:k]
            if k < len(held):  # within the slack: held on, ahead of this packet
                a = np.concatenate([held[k:], a])
                t = a["t"]
        held = held[:0]  # nothing emitted is newer than t[0]: check_steps_back saw to it
        seen += fresh
        cut = first_at_or_after(t, t[-1] - slack_us)
        if cut:
            yield a[:cut]
        held = a[cut:]
    if len(held):
        yield held


def check_steps_back(
    t: np.ndarray, newest: int | None, in_order: bool, slack_us: int, source: str | os.PathLike, seen: int
) -> int:
    """InputError if a timestamp of ``t`` (a packet, file order; ``in_order``: non-decreasing) is
    more than ``slack_us`` older than an earlier one (``newest``: the newest of earlier packets,
    ``seen`` their event count). Returns the newest timestamp so far."""
    if in_order and (newest is None or t[0] >= newest - slack_us):
        return int(t[-1]) if newest is None else max(newest, int(t[-1]))
    running = np.maximum.accumulate(t)
    if newest is not None:
        np.maximum(running, newest, out=running)
    back = running - t
    bad = np.flatnonzero(back > slack_us)
    if len(bad):
        i = int(bad[0])
        raise InputError(
            source,
            f"timestamps jump back by {int(back[i])} µs around event {seen + i + 1:,} "
            f"(more than the {slack_us} µs that can be re-ordered): corrupt data?",
        )
    return int(running[-1])


def windowed(arrays: Iterable[np.ndarray], t_start: int | None, t_end: int | None) -> Iterator[np.ndarray]:
    """Events of time-ordered ``arrays`` with ``t_start <= t < t_end``; stops reading after ``t_end``."""
    for a in arrays:
        t = a["t"]
        i0 = 0 if t_start is None else first_at_or_after(t, t_start)
        i1 = len(t) if t_end is None else first_at_or_after(t, t_end)
        if i1 > i0:
            yield a[i0:i1]
        if t_end is not None and len(t) and t[-1] >= t_end:
            return


def rebatch(arrays: Iterable[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """Re-cut a stream of arrays into arrays of exactly ``size`` events (the last may be shorter)."""
    if size <= 0:
        raise ValueError(f"chunk size must be positive, got {size}")
    parts: list[np.ndarray] = []
    n = 0
    for a in arrays:
        while len(a):
            take = min(size - n, len(a))
            parts.append(a[:take])
            n += take
            a = a[take:]
            if n == size:
                yield parts[0].copy() if len(parts) == 1 else np.concatenate(parts)
                parts, n = [], 0
    if parts:
        yield parts[0].copy() if len(parts) == 1 else np.concatenate(parts)


def check_coordinates(a: np.ndarray, width: int, height: int, source: str | os.PathLike, origin: str) -> None:
    """InputError if an event lies outside the ``width`` x ``height`` sensor (``origin``: why that size)."""
    if len(a) == 0:
        return
    xmax, ymax = int(a["x"].max()), int(a["y"].max())
    if xmax >= width or ymax >= height:
        raise InputError(
            source,
            f"events reach x={xmax}, y={ymax}, outside the {width}x{height} sensor ({origin}): "
            "corrupt data or wrong sensor size",
        )
