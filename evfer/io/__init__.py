"""Reading and writing event files: one API for every format, chosen by the file name.

The formats are one table, :data:`evfer.io.formats.FORMATS`:

* ``.raw``: Prophesee EVT 3.0 (decoded by the ``evt3`` package), EVT 2.0 / 2.1 (faery); version and
  geometry from the ``%`` header. Written through faery (EVT 3.0 by default, or EVT 2.0).
* ``.dat``: Prophesee DAT with CD events or the older, identical Event2d type (faery).
* ``.aedat4``: AEDAT 4.0, first event track (faery).
* ``.h5`` / ``.hdf5``: the evfer event store (see :mod:`evfer.io.hdf5`) or v2e's output, told apart
  by content (h5py).
* ``.npz``: arrays t, x, y, p (+ width, height, meta_json) (numpy).

Writing picks the format the same way; ``*.v2e.h5`` (or ``format="v2e"``) writes v2e's layout and
``.raw`` is EVT 3.0 unless ``version="evt2"``. A file whose first bytes clearly hold another format
than its suffix says is refused with a message that says so (:mod:`evfer.io.sniff`).

Time windows are ``[t_start, t_end)`` in µs on the file's own clock. Reading is streamed: decoders
deliver packets, which are put in time order (a small reorder buffer absorbs the few-µs steps back
some cameras produce), cut to the window and checked against the sensor size; reading stops after
``t_end``. The HDF5 store and v2e files jump straight to the window (time index / bisection);
``.raw``, ``.dat`` and ``.aedat4`` have no index and are decoded from the start, in bounded memory.

The sensor size comes from the file, the caller's ``sensor_size``, a Prophesee plugin name, or is
inferred from the events and judged; see :mod:`evfer.io.geometry`. Its source is recorded in
``events.meta["geometry_source"]``.

Damaged files: every problem is one :class:`evfer.errors.InputError` line naming the file. What
truncation can and cannot be detected is written in each format's module. Sizes a file states are
checked before anything is allocated by them: a sensor size beyond what the format's coordinates
address (:func:`evfer.io.geometry.check_plausible`), npz arrays and HDF5 datasets that declare
more data than the file holds. Data that can still be used but looks damaged (EVT words of
reserved types) gives a warning. :func:`probe` (``evfer info``) lists what was checked and what
the format cannot reveal (``Probe.checks``, ``Probe.undetectable``).
"""

from __future__ import annotations

from .formats import FORMATS, SUPPORTED_SUFFIXES, WRITE_FORMATS, Format
from .geometry import KNOWN_SENSORS, SensorSize, parse_size
from .probing import Probe, probe
from .reader import EventReader, EventStats, FileInfo
from .reading import iter_events, read_events
from .writing import write_events

__all__ = [
    "FORMATS",
    "KNOWN_SENSORS",
    "SUPPORTED_SUFFIXES",
    "WRITE_FORMATS",
    "EventReader",
    "EventStats",
    "FileInfo",
    "Format",
    "Probe",
    "SensorSize",
    "iter_events",
    "parse_size",
    "probe",
    "read_events",
    "write_events",
]
