"""Inferred sensor sizes: sound guesses pass, doubtful ones are flagged (meta, probe, evfer info)
and refused on request (see evfer.io.geometry)."""

from __future__ import annotations

import json
import logging

import h5py
import numpy as np
import pytest

from evfer.cli import main
from evfer.errors import InputError
from evfer.events import EVENT_DTYPE
from evfer.io import iter_events, probe, read_events
from evfer.io.geometry import Extent, doubt
from evfer.io.header import read_header


def _v2e(path, x, y):
    """A plain v2e file (no sensor size) with events at ``x``, ``y``, 1 µs apart."""
    n = len(x)
    rows = np.stack([np.arange(n), x, y, np.arange(n) % 2], 1).astype(np.uint32)
    with h5py.File(path, "w") as f:
        f["events"] = rows
    return path


def _extent(x, y):
    a = np.zeros(len(x), EVENT_DTYPE)
    a["x"], a["y"] = x, y
    extent = Extent()
    extent.add(a[: len(a) // 2])  # gathered over two packets, as readers do
    extent.add(a[len(a) // 2 :])
    return extent


def _flipped_ncars(tmp_path, shared):
    """The N-CARS sample with one flipped byte: record 5 (x = 68) gets x bits 11-13 set, so its
    x becomes 68 + 14,336 = 14,404 (the issue's "14405 x 42 sensor")."""
    source = shared("event-samples", "sample_ncars.dat")
    data = bytearray(source.read_bytes())
    records = read_header(source).length + 2  # after the header and the type / size bytes
    assert int.from_bytes(data[records + 5 * 8 + 4 : records + 5 * 8 + 8], "little") & 0x3FFF == 68
    data[records + 5 * 8 + 5] ^= 0x38
    path = tmp_path / "flipped.dat"
    path.write_bytes(bytes(data))
    return path


# ---------------------------------------------------------------- the shared N-CARS sample
@pytest.mark.shared_data
def test_genuine_ncars_sample_is_not_doubted(shared):
    """It states no size; its events span 78x42, inside known sensors (the ATIS is 304x240) and
    without outliers (all x up to 77 are used by more than a handful of events)."""
    path = shared("event-samples", "sample_ncars.dat")
    ev = read_events(path, require_geometry=True)
    assert ev.sensor_size == (78, 42) and ev.meta["geometry_source"] == "inferred"
    assert "geometry_warning" not in ev.meta
    assert probe(path).geometry_warning is None


@pytest.mark.shared_data
def test_one_flipped_byte_in_a_dat_is_flagged(tmp_path, shared, capsys, caplog):
    path = _flipped_ncars(tmp_path, shared)
    expected = ("inferred sensor size 14405x42 is doubtful: 1 event(s) reach x=14,404 while all 2,008 "
                "others have x <= 77; no known sensor is as large as 14405x42 (corrupt data?)")  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="evfer.io"):
        ev = read_events(path)
    assert ev.sensor_size == (14405, 42) and ev.meta["geometry_warning"] == expected
    assert expected in caplog.text
    assert probe(path).geometry_warning == expected
    for call in (read_events, iter_events):
        with pytest.raises(InputError, match="is doubtful: .*; pass the sensor size") as info:
            call(path, require_geometry=True)
        assert str(info.value).startswith(f"{path}: inferred sensor size 14405x42")
    with pytest.raises(InputError, match="x=14404, y=.* outside the 304x240 sensor"):
        read_events(path, sensor_size=(304, 240), require_geometry=True)  # given: no guess to doubt

    assert main(["info", str(path)]) == 0
    assert f"WARNING    {expected}; pass --sensor-size WxH" in capsys.readouterr().out
    assert main(["info", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["geometry_warning"] == expected


# ---------------------------------------------------------------- the rules
def test_outliers_in_y_inside_a_known_size_are_flagged(tmp_path):
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 100, 5000), rng.integers(0, 80, 5000)
    y[[10, 20]] = 700  # 701 rows fit a 1280x720 sensor, but two events make them
    warning = read_events(_v2e(tmp_path / "y.h5", x, y)).meta["geometry_warning"]
    assert warning == ("inferred sensor size 100x701 is doubtful: 2 event(s) reach y=700 while all "
                       "4,998 others have y <= 79 (corrupt data?)")  # fmt: skip


def test_dense_recordings_are_not_flagged(tmp_path):
    rng = np.random.default_rng(2)
    fits = read_events(_v2e(tmp_path / "a.h5", rng.integers(0, 640, 20_000), rng.integers(0, 480, 20_000)))
    assert fits.sensor_size == (640, 480) and "geometry_warning" not in fits.meta
    wide = read_events(_v2e(tmp_path / "b.h5", rng.integers(0, 2000, 20_000), rng.integers(0, 100, 20_000)))
    assert wide.meta["geometry_warning"] == (
        "inferred sensor size 2000x100 is doubtful: no known sensor is as large as 2000x100 (corrupt data?)"
    )


@pytest.mark.parametrize(
    "top, flagged",
    [(99 + 50, False), (99 + 51, True)],  # the handful may stretch 100 columns by 50 %, not more
)
def test_stretch_limit(top, flagged):
    x = np.concatenate([np.arange(10_000) % 100, [top] * 10])  # the handful of 10,010 events is 11
    assert (doubt(_extent(x, np.zeros(len(x), int))) is not None) == flagged


@pytest.mark.parametrize("top, flagged", [(9 + 16, False), (9 + 17, True)])
def test_small_ranges_need_a_gap_of_16_pixels(top, flagged):
    x = np.concatenate([np.arange(1000) % 10, [top] * 3])
    assert (doubt(_extent(x, np.zeros(len(x), int))) is not None) == flagged


def test_more_than_a_handful_is_not_an_outlier():
    x = np.concatenate([np.arange(1000) % 10, [500] * 4])  # 4 events: more than the 3 set aside
    assert doubt(_extent(x, np.zeros(len(x), int))) is None
    assert doubt(_extent([0, 500, 900], [0, 1, 2])) is None  # too few events to judge
