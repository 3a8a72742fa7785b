"""Bad input to evfer.io: one clear InputError line naming the file and the problem, never garbage."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from evfer.errors import InputError
from evfer.io import SUPPORTED_SUFFIXES, iter_events, probe, read_events, write_events
from evfer.io.header import read_header
from evfer.testing import random_events


def _fails(path, match, **kw):
    """read_events and probe both raise one InputError line that names ``path`` and matches ``match``."""
    for call in (read_events, probe):
        with pytest.raises(InputError, match=match) as info:
            call(path, **kw)
        message = str(info.value)
        assert "\n" not in message and message.startswith(str(path))
    return message


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    d = tmp_path_factory.mktemp("good")
    ev = random_events(20_000, 200, 150, duration=3_000_000, seed=1)
    return {n: write_events(d / n, ev) for n in ("g.raw", "g2.raw", "g.dat", "g.aedat4", "g.h5", "g.npz")} | {
        "g2.raw": write_events(d / "g2.raw", ev, version="evt2")
    }


def _copy(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------- file level
def test_missing_file(tmp_path):
    _fails(tmp_path / "nope.raw", "no such file")


def test_directory(tmp_path):
    (tmp_path / "dir.h5").mkdir()
    _fails(tmp_path / "dir.h5", "is a directory")
    _fails(tmp_path, "is a directory")


def test_unknown_extension_lists_supported_ones(tmp_path):
    paths = (_copy(tmp_path, "x.xyz", b"abc"), tmp_path / "missing.xyz", _copy(tmp_path, "noext", b"abc"))
    for path in paths:
        message = _fails(path, "unknown file type")
        assert all(s in message for s in SUPPORTED_SUFFIXES)


@pytest.mark.parametrize("suffix", SUPPORTED_SUFFIXES)
def test_empty_file(tmp_path, suffix):
    _fails(_copy(tmp_path, "empty" + suffix, b""), "empty file")


def test_iter_events_raises_file_problems_immediately(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        iter_events(tmp_path / "nope.h5")  # not only when the first chunk is requested


# ---------------------------------------------------------------- Prophesee .raw
@pytest.mark.parametrize("name, cut", [("g.raw", 1), ("g2.raw", 1), ("g2.raw", 3)])
def test_raw_cut_mid_word(tmp_path, good, name, cut):
    data = good[name].read_bytes()
    _fails(_copy(tmp_path, "cut.raw", data[:-cut]), "truncated: .* after the last complete")


@pytest.mark.shared_data
@pytest.mark.parametrize("name, word", [("evt3_sample.raw", 2), ("evt2_sample.raw", 4)])
def test_shared_sample_cut_mid_word(tmp_path, shared, name, word):
    data = shared("event-samples", name).read_bytes()
    header = read_header(shared("event-samples", name)).length
    body = len(data) - header
    cut = header + (body // 2) // word * word + 1  # half way, one byte into a word
    _fails(_copy(tmp_path, "half.raw", data[:cut]), f"{word}-byte .* word")


@pytest.mark.parametrize("name", ["g.raw", "g2.raw"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_raw_random_bytes_after_a_valid_header(tmp_path, good, name, seed):
    header = good[name].read_bytes()[: read_header(good[name]).length]
    noise = np.random.default_rng(seed).integers(0, 256, 40_000, dtype=np.uint8).tobytes()
    _fails(_copy(tmp_path, "noise.raw", header + noise), "outside the 200x150 sensor|jump back|cannot decode")


def test_raw_without_header_or_version(tmp_path, good):
    body = good["g.raw"].read_bytes()[read_header(good["g.raw"]).length :]
    _fails(_copy(tmp_path, "nohdr.raw", body), "no Prophesee '%' header")
    _fails(_copy(tmp_path, "nover.raw", b"% geometry 200x150\n" + body), "does not state the EVT version")


def test_raw_header_only_is_an_empty_recording(tmp_path):
    path = _copy(tmp_path, "h.raw", b"% evt 3.0\n% plugin_name hal_plugin_gen41_evk3\n")
    ev = read_events(path)
    assert len(ev) == 0 and ev.sensor_size == (1280, 720)
    _fails(_copy(tmp_path, "h2.raw", b"% evt 3.0\n"), "no events to infer it from")


# ---------------------------------------------------------------- .dat, .aedat4
def test_dat_truncated(tmp_path, good):
    data = good["g.dat"].read_bytes()
    _fails(_copy(tmp_path, "cut.dat", data[:-3]), "truncated: 5 byte")
    header = read_header(good["g.dat"]).length
    _fails(_copy(tmp_path, "hdr.dat", data[:header]), "not followed by the event type")


def test_dat_random_bytes(tmp_path, good):
    data = good["g.dat"].read_bytes()
    header = read_header(good["g.dat"]).length + 2
    noise = np.random.default_rng(3).integers(0, 256, 8_000, dtype=np.uint8).tobytes()
    _fails(_copy(tmp_path, "noise.dat", data[:header] + noise), "x overflow|outside|jump back|polarity")


@pytest.mark.parametrize("keep", [0.5, 0.9, 100 / 1e9])
def test_aedat_truncated(tmp_path, good, keep):
    data = good["g.aedat4"].read_bytes()
    _fails(_copy(tmp_path, "cut.aedat4", data[: max(20, int(len(data) * keep))]), "cannot decode AEDAT 4.0|truncated AEDAT 4.0 header")


def test_aedat_wrong_magic(tmp_path):
    _fails(_copy(tmp_path, "x.aedat4", b"#!AER-DAT2.0\r\n" + bytes(100)), "not an AEDAT 4.0 file")


# ---------------------------------------------------------------- HDF5, npz
def test_h5_not_hdf5_or_truncated(tmp_path, good):
    _fails(_copy(tmp_path, "junk.h5", b"hello world" * 100), "not a readable HDF5 file")
    data = good["g.h5"].read_bytes()
    _fails(_copy(tmp_path, "cut.h5", data[: len(data) // 2]), "HDF5|corrupt|cannot")


def test_store_missing_a_dataset(tmp_path, good):
    path = _copy(tmp_path, "s.h5", good["g.h5"].read_bytes())
    with h5py.File(path, "a") as f:
        del f["events/p"]
    _fails(path, "lacks dataset\\(s\\) events/p")


def test_store_with_inconsistent_lengths(tmp_path, good):
    path = _copy(tmp_path, "s.h5", good["g.h5"].read_bytes())
    with h5py.File(path, "a") as f:
        f["events/x"].resize((10,))
    _fails(path, "differ in length")


def test_unrelated_hdf5(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["images"] = np.zeros((2, 3))
    _fails(path, "neither an evfer event store .* it holds: images")


def test_v2e_with_bad_polarity(tmp_path):
    path = tmp_path / "v.h5"
    with h5py.File(path, "w") as f:
        f["events"] = np.array([[1, 0, 0, 0], [2, 1, 1, 1], [3, 1, 1, 7]], np.uint32)
    _fails(path, "polarity", sensor_size=(4, 4))


def test_npz_missing_field_or_corrupt(tmp_path, good):
    path = tmp_path / "m.npz"
    np.savez(path, t=np.arange(3), x=np.zeros(3), y=np.zeros(3))
    _fails(path, r"missing array\(s\) p \(it has: t, x, y\)")
    data = good["g.npz"].read_bytes()
    _fails(_copy(tmp_path, "cut.npz", data[: len(data) // 2]), "not a readable .npz")
    np.savez(path, t=np.array([0.5, 1]), x=np.zeros(2), y=np.zeros(2), p=np.ones(2))
    _fails(path, "whole microseconds", sensor_size=(2, 2))


# ---------------------------------------------------------------- writing
def test_write_errors_leave_no_file(tmp_path):
    ev = random_events(10, 4000, 10)
    with pytest.raises(ValueError, match="below 2048"):
        write_events(tmp_path / "wide.raw", ev)
    with pytest.raises(ValueError, match="uint32"):
        write_events(tmp_path / "neg.v2e.h5", random_events(10).shift_time(-10_000_000))
    assert not list(tmp_path.iterdir())
