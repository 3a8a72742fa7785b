"""Is a Prophesee file (.raw, .dat) complete? What can be told from its bytes, and what cannot.

A Prophesee file is a ``%`` text header and binary data: EVT 3.0 16-bit words, EVT 2.0 32-bit
words, EVT 2.1 64-bit words, or (.dat) two bytes of event type and size and then fixed-size
records (8 bytes for CD events). Neither states its length, so a cut is found only where it leaves
a trace:

* **inside the header**: the header ends at an explicit ``% end`` line (Metavision writes one) or
  else, as Metavision's own parser decides, at the first line that does not start with ``"% "``.
  A file that ends inside a header line, or right after its header with no event data at all, is
  refused (:mod:`evfer.io.header`, :func:`check_has_data`). Headers without ``% end`` (older
  recordings, faery, the shared samples) cannot say whether lines are missing at their end, but
  such a cut also removes all the data, which is refused.
* **inside a word or record**: the data is not a whole number of words / records (refused).
* **EVT 3.0, on a word boundary** (:func:`evt3_end_problem`): a stream that ends with an ADDR_Y or
  VECT_BASE_X word lost the events they address; a stream that ends inside a vector group lost
  pixels of it. The last rule is applied only to streams whose own complete vector groups all
  cover a multiple of 32 pixels (a Gen4 sensor sends VECT_12, VECT_12, VECT_8 = 32 pixels per
  group), learnt from the file's last :data:`TAIL_BYTES`.
* **everything else on a word / record boundary cannot be detected**: an EVT 3.0 stream cut after
  an ADDR_X, a complete vector group or a time word (measured on the shared EVT 3.0 sample: about
  70 % of its word boundaries), any EVT 2.x word boundary, any DAT record boundary. Such a file
  reads as a shorter, valid recording.
* **files evfer wrote** state their event count in a ``% evfer_events N`` header line
  (:data:`COUNT_KEY`); a complete decode must find exactly that many events, which catches every
  cut. A file without the line whose data decodes to no event at all is refused too: it cannot be
  told from one cut after its first words (a real camera recording holds events).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import InputError

#: Header key under which evfer's writers state the number of events in the file.
COUNT_KEY = "evfer_events"

#: Bytes at the end of an EVT 3.0 file examined for a cut (2,048 vector groups and more).
TAIL_BYTES = 1 << 16
#: Complete vector groups the tail must hold before their 32-pixel rule is trusted.
MIN_VECTOR_GROUPS = 8

_ADDR_Y, _VECT_BASE_X, _VECT_12, _VECT_8 = 0x0, 0x3, 0x4, 0x5


def stated_count(fields: dict[str, str], path: str | os.PathLike) -> int | None:
    """The event count a ``% evfer_events N`` header line states, or None without one."""
    if COUNT_KEY not in fields:
        return None
    text = fields[COUNT_KEY]
    if not text.isdigit():
        raise InputError(path, f"header line '% {COUNT_KEY} {text}' is not an event count")
    return int(text)


def check_has_data(path: Path, body: int, stated: int | None) -> None:
    """InputError if there are no bytes of data after the header (``body`` = 0), unless the header
    states an empty recording."""
    if body == 0 and stated != 0:
        raise InputError(path, "holds a '%' header but no event data after it (file cut after its header?)")


def check_whole_units(path: Path, body: int, unit: int, what: str) -> None:
    """InputError unless ``body`` bytes of data are whole ``unit``-byte ``what``s."""
    if body % unit:
        extra = f"{body % unit} byte(s) after the last complete {unit}-byte {what}"
        raise InputError(path, f"truncated: {extra} (file cut mid-word?)")


def evt3_end_problem(words: np.ndarray) -> str | None:
    """Why the EVT 3.0 stream ending with ``words`` (its last words, uint16) was cut, or None when
    its end looks complete."""
    if len(words) == 0:
        return None
    kinds = words >> 12
    last = int(kinds[-1])
    if last == _ADDR_Y:
        return "it ends with an ADDR_Y word, before the events on that row"
    if last == _VECT_BASE_X:
        return "it ends with a VECT_BASE_X word, before the vector it starts"
    if last not in (_VECT_12, _VECT_8):
        return None
    pixels = np.where(kinds == _VECT_12, 12, 0) + np.where(kinds == _VECT_8, 8, 0)
    is_vector = pixels > 0
    starts = np.flatnonzero(is_vector & ~np.concatenate([[False], is_vector[:-1]]))
    runs = np.add.reduceat(pixels, starts)  # pixels of each run of vector words
    complete = runs[1:-1] if starts[0] == 0 else runs[:-1]  # the first run may have begun earlier
    if len(complete) < MIN_VECTOR_GROUPS or np.any(complete % 32):
        return None
    if runs[-1] % 32:
        return f"it ends inside a vector group ({int(runs[-1])} of its pixels, all other groups cover 32)"
    return None


def check_evt3_end(path: Path, data_start: int) -> None:
    """InputError if the EVT 3.0 data of ``path`` (from byte ``data_start``) was visibly cut."""
    size = path.stat().st_size
    start = max(data_start, size - TAIL_BYTES)
    start += (start - data_start) % 2  # on a word boundary
    with open(path, "rb") as f:
        f.seek(start)
        words = np.frombuffer(f.read(), "<u2")
    problem = evt3_end_problem(words)
    if problem:
        raise InputError(path, f"truncated EVT 3.0 data: {problem}")


def check_count(path: Path, n_events: int, stated: int | None, body: int) -> None:
    """After a whole file was decoded: InputError if its ``n_events`` differ from the ``stated``
    count, or, with no stated count, are zero."""
    if stated is not None and n_events != stated:
        raise InputError(
            path, f"holds {n_events:,} events but its header says {stated:,} (file cut short or damaged?)"
        )
    if stated is None and n_events == 0:
        raise InputError(
            path, f"its {body:,} bytes of data decode to no event at all (file cut after its first words?)"
        )
