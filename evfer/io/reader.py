"""What every format reader is: :class:`EventReader`, the :class:`FileInfo` it knows before decoding,
and the :class:`EventStats` a full decode finds."""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..events import EVENT_DTYPE


@dataclass
class FileInfo:
    """What a reader knows about a file before decoding its events.

    Attributes:
        format: short format id ("evt3", "evt2", "evt2.1", "dat", "aedat4", "evfer-h5", "v2e-h5", "npz").
        description: human-readable format name.
        geometry: (width, height) in pixels stored in the file, or None.
        plugin_geometry: (width, height) from the camera plugin name (Prophesee only), or None.
        geometry_detail: where ``geometry``/``plugin_geometry`` came from, for messages.
        meta: free metadata stored in the file.
        header: other format facts (Prophesee header fields, AEDAT tracks, ...).
    """

    format: str
    description: str
    geometry: tuple[int, int] | None = None
    plugin_geometry: tuple[int, int] | None = None
    geometry_detail: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    header: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EventStats:
    """What decoding a whole file found: event count, ON events, first and last timestamp (µs)."""

    n_events: int
    n_on: int
    t_first: int | None
    t_last: int | None


class Tally:
    """:class:`EventStats` gathered packet by packet from time-ordered event arrays."""

    def __init__(self) -> None:
        self.n_events = self.n_on = 0
        self.t_first: int | None = None
        self.t_last: int | None = None

    def add(self, a: np.ndarray) -> None:
        if len(a) == 0:
            return
        self.n_events += len(a)
        self.n_on += int(np.count_nonzero(a["p"] > 0))
        if self.t_first is None:
            self.t_first = int(a["t"][0])
        self.t_last = int(a["t"][-1])

    @property
    def stats(self) -> EventStats:
        return EventStats(self.n_events, self.n_on, self.t_first, self.t_last)


class EventReader(abc.ABC):
    """An opened event file of one format.

    The constructor checks what can be checked without decoding events (header, layout, sizes) and
    sets :attr:`info`; bad files raise a one-line InputError there. :meth:`packets` decodes.
    """

    path: Path
    info: FileInfo

    @abc.abstractmethod
    def packets(
        self, t_start: int | None = None, t_end: int | None = None, whole: bool = False
    ) -> Iterator[np.ndarray]:
        """Decoded events as :data:`EVENT_DTYPE` arrays in file order.

        They cover at least the window ``[t_start, t_end)`` (µs); readers without a time index
        decode from the start and leave the cutting to the caller, who stops reading after
        ``t_end``. ``whole``: the caller keeps every event, so fewer, larger packets are better.
        Damaged data raises InputError when it is reached.
        """

    def check_stats(self, stats: EventStats) -> None:
        """Raise InputError if ``stats`` (found by decoding the whole file, after the events passed
        the reading checks) contradict what the file states about its events. By default a file
        states nothing, so there is nothing to check."""

    def checks(self) -> list[str]:
        """What opening and a whole pass of :meth:`packets` (with :meth:`check_stats`) check about
        this file, short phrases for ``evfer info`` (the reading pipeline adds its own checks of
        time order and addresses)."""
        return []

    def undetectable(self) -> str:
        """The damage those checks cannot see, as a phrase for ``evfer info`` ("" if none known)."""
        return ""

    def data_warnings(self) -> list[str]:
        """Problems found in the data by the last pass of :meth:`packets` that leave it usable."""
        return []


def event_array(t: Any, x: Any, y: Any, on: Any) -> np.ndarray:
    """A structured :data:`EVENT_DTYPE` array from columns; ``on`` is bool or 0/1 (1 = ON)."""
    a = np.empty(len(t), EVENT_DTYPE)
    a["t"] = t
    a["x"] = x
    a["y"] = y
    a["p"] = np.where(np.asarray(on) != 0, 1, -1)
    return a
