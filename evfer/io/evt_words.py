"""Words of reserved types in Prophesee EVT 2.0 / 3.0 data: corruption the decoders pass over.

The 4 most significant bits of each EVT word give its type, and the specifications define only
some of the 16 ("Other event types are reserved": EVT 3.0 defines 0x0, 0x2–0x8, 0xA, 0xE, 0xF;
EVT 2.0 0x0, 0x1, 0x8, 0xA, 0xE, 0xF). Camera data holds none of the others, but the decoders
(evt3, faery, Metavision) skip such words without a word, and one flipped type bit makes one:
in the shared EVT 3.0 sample a flip turns an ADDR_Y word into type 0x1, and the events of that
row silently take the previous row's y. :class:`ReservedWords` reads the data alongside the
decoder and counts them; a file that holds any gets a warning (the rest of its data can still be
used), which ``evfer info`` shows. EVT 2.1 (64-bit words) is not scanned.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Self

import numpy as np

#: version -> (word bytes, defined word types).
DEFINED_TYPES: dict[str, tuple[int, frozenset[int]]] = {
    "evt3": (2, frozenset({0x0, 0x2, 0x3, 0x4, 0x5, 0x6, 0x7, 0x8, 0xA, 0xE, 0xF})),
    "evt2": (4, frozenset({0x0, 0x1, 0x8, 0xA, 0xE, 0xF})),
}
VERSION_NAMES = {"evt2": "EVT 2.0", "evt3": "EVT 3.0"}
#: Bytes read per step (a multiple of every word size).
STEP_BYTES = 16 << 20


def _runs(values: list[int]) -> list[tuple[int, int]]:
    """Sorted integers as runs (first, last): [1, 9, 11, 12, 13] -> [(1, 1), (9, 9), (11, 13)]."""
    runs: list[tuple[int, int]] = []
    for v in values:
        if runs and runs[-1][1] == v - 1:
            runs[-1] = (runs[-1][0], v)
        else:
            runs.append((v, v))
    return runs


class ReservedWords:
    """Counts the words of reserved types in the data of ``path`` (from byte ``start``), read in
    steps alongside a decoder: :meth:`advance` after each decoded batch, :meth:`finish` at the end.
    Use as a context manager; :attr:`warning` is the message, or None."""

    def __init__(self, path: str | os.PathLike, start: int, version: str):
        self.path = Path(path)
        self.version = version
        self.word, defined = DEFINED_TYPES[version]
        self.dtype = np.dtype(f"<u{self.word}")
        self.shift = 8 * self.word - 4
        self.reserved = np.array([k not in defined for k in range(16)])
        word = self.dtype.type
        runs = _runs(np.flatnonzero(self.reserved).tolist())
        self.bounds = [(word(lo << self.shift), word((hi - lo + 1) << self.shift)) for lo, hi in runs]
        self.pos = start
        self.count = 0
        self.first: tuple[int, int] | None = None  # (byte offset, type) of the first one
        self.done = False
        self._file = None

    def __enter__(self) -> Self:
        self._file = open(self.path, "rb")
        return self

    def __exit__(self, *exc) -> None:
        self._file.close()

    def advance(self, nbytes: int = STEP_BYTES) -> None:
        """Scan the next ``nbytes`` (rounded down to whole words) of data."""
        nbytes -= nbytes % self.word
        while nbytes > 0 and not self.done:
            self._file.seek(self.pos)
            data = self._file.read(min(nbytes, STEP_BYTES))
            data = data[: len(data) - len(data) % self.word]
            if not data:
                self.done = True
                return
            self._scan(data)
            self.pos += len(data)
            nbytes -= len(data)

    def finish(self) -> None:
        """Scan the rest of the file."""
        while not self.done:
            self.advance()

    def _scan(self, data: bytes) -> None:
        words = np.frombuffer(data, self.dtype)
        # words of types lo..hi are those with (word - (lo << shift)) < ((hi - lo + 1) << shift), unsigned:
        # two cheap passes per run of reserved types (a table lookup per word costs 3x more)
        n = sum(int(np.count_nonzero(words - start < width)) for start, width in self.bounds)
        if n and self.first is None:
            kinds = words >> self.shift
            i = int(np.argmax(self.reserved[kinds]))
            self.first = (self.pos + i * self.word, int(kinds[i]))
        self.count += n

    @property
    def warning(self) -> str | None:
        if not self.count:
            return None
        at, kind = self.first
        scope = "" if self.done else " in the part read"
        return (
            f"{self.count:,} {VERSION_NAMES[self.version]} word(s) of reserved types{scope} (the first, "
            f"type 0x{kind:X}, at byte {at:,}) were skipped by the decoder: corrupt data? Events next "
            "to them may be lost or misplaced"
        )
