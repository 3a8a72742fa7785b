"""Cut Prophesee files (.raw EVT 2.0 / 2.1 / 3.0, .dat): refused where the cut leaves a trace,
read as a consistent shorter recording where it cannot (see evfer.io.truncation)."""

from __future__ import annotations

import numpy as np
import pytest

from evfer.errors import InputError
from evfer.io import iter_events, probe, read_events, write_events
from evfer.io.header import read_header
from evfer.testing import random_events

# EVT 3.0 word types (Prophesee "EVT 3.0 format")
ADDR_Y, ADDR_X, VECT_BASE_X, VECT_12, VECT_8, TIME_LOW, TIME_HIGH = 0x0, 0x2, 0x3, 0x4, 0x5, 0x6, 0x8


def _cut(tmp_path, source, n_bytes, name=None):
    path = tmp_path / (name or f"cut{source.suffix}")
    path.write_bytes(source.read_bytes()[:n_bytes])
    return path


def _refused(path, match):
    """Every way of reading the whole file raises one InputError line naming it."""
    for call in (read_events, probe, lambda p: list(iter_events(p, chunk_events=50_000))):
        with pytest.raises(InputError, match=match) as info:
            call(path)
        assert "\n" not in str(info.value) and str(info.value).startswith(str(path))


def _evt3_events_before(words: np.ndarray) -> int:
    """Events encoded by EVT 3.0 ``words`` (counted from the spec: one per ADDR_X, one per set mask
    bit of VECT_12 / VECT_8; nothing before the first TIME_HIGH)."""
    kinds = words >> 12
    timed = np.cumsum(kinds == TIME_HIGH) > 0
    bits = np.unpackbits((words & 0xFFF).astype(">u2").view(np.uint8)).reshape(-1, 16).sum(1)
    mask_bits = np.where(kinds == VECT_12, bits, 0) + np.where(kinds == VECT_8, bits, 0)
    return int(np.sum(timed * ((kinds == ADDR_X) + mask_bits)))


# ---------------------------------------------------------------- cuts inside or right after the header
@pytest.mark.shared_data
@pytest.mark.parametrize("name", ["evt3_sample.raw", "evt2_sample.raw", "sample_ncars.dat"])
def test_header_cuts_are_refused(tmp_path, shared, name):
    source = shared("event-samples", name)
    header = read_header(source).length
    text = source.read_bytes()[:header]
    for n in (5, header // 2, header - 1):  # inside a header line: the last one loses its line end
        _refused(_cut(tmp_path, source, n), "truncated inside its '%' header")
    line_end = text.index(b"\n", header // 3) + 1  # on a line end: the header looks whole, no data
    expected = "not followed by the event type" if name.endswith(".dat") else "no event data after it"
    _refused(_cut(tmp_path, source, line_end), expected)
    _refused(_cut(tmp_path, source, header), expected)


@pytest.mark.shared_data
def test_issue_example_evt3_head_is_refused(tmp_path, shared):
    """The 21,258-byte head of the 618,052-byte EVT 3.0 sample (7,385 events before) ends with a
    VECT_12 word, inside one of the sensor's 32-pixel vector groups."""
    source = shared("event-samples", "evt3_sample.raw")
    assert source.stat().st_size == 618_052
    path = _cut(tmp_path, source, 21_258)
    last = np.frombuffer(path.read_bytes()[-2:], "<u2")[0]
    assert last >> 12 == VECT_12
    _refused(path, "truncated EVT 3.0 data: it ends inside a vector group")


@pytest.mark.shared_data
def test_evt3_word_boundary_cuts(tmp_path, shared):
    """Cuts after each kind of word: ADDR_Y, VECT_BASE_X and a VECT_12 (every group of this sample
    is VECT_12, VECT_12, VECT_8) leave a visible trace; after an ADDR_X, a group's VECT_8 or a time
    word the cut file is a valid, shorter recording with exactly the events its words encode."""
    source = shared("event-samples", "evt3_sample.raw")
    header = read_header(source).length
    words = np.frombuffer(source.read_bytes()[header:], "<u2")
    kinds = words >> 12
    full = len(read_events(source))
    expected = {
        ADDR_Y: "ends with an ADDR_Y word",
        VECT_BASE_X: "ends with a VECT_BASE_X word",
        VECT_12: "ends inside a vector group",
        ADDR_X: None,
        VECT_8: None,
        TIME_LOW: None,
        TIME_HIGH: None,
    }
    for kind, match in expected.items():
        where = np.flatnonzero(kinds == kind)
        for end in where[[len(where) // 2, len(where) * 3 // 4]] + 1:
            path = _cut(tmp_path, source, header + 2 * int(end), name=f"w{kind}_{end}.raw")
            if match:
                _refused(path, f"truncated EVT 3.0 data: it {match}")
            else:
                n = len(read_events(path))
                assert n == _evt3_events_before(words[:end]) and 0 < n < full


def test_evt3_vector_rule_needs_the_streams_own_groups(tmp_path):
    """A stream whose vector groups do not all cover 32 pixels says nothing about where a group
    ends: ending after a VECT_12 is then not called a cut."""
    head = b"% evt 3.0\n% format EVT3;height=8;width=64\n"
    group = [0x0001, 0x3000, 0x4FFF]  # ADDR_Y 1, VECT_BASE_X 0, VECT_12 (12 events)
    stream = [0x8000, 0x6001] + group * 10
    path = tmp_path / "v12.raw"
    path.write_bytes(head + np.array(stream, "<u2").tobytes())
    assert len(read_events(path)) == 120
    thirty_two = [0x0001, 0x3000, 0x4FFF, 0x4FFF, 0x50FF]  # 12 + 12 + 8 pixels
    path.write_bytes(head + np.array([0x8000, 0x6001] + thirty_two * 10 + thirty_two[:3], "<u2").tobytes())
    _refused(path, "ends inside a vector group \\(12 of its pixels")
    path.write_bytes(head + np.array([0x8000, 0x6001] + thirty_two * 10, "<u2").tobytes())
    assert len(read_events(path)) == 320


@pytest.mark.shared_data
@pytest.mark.parametrize("name, unit", [("evt2_sample.raw", 4), ("sample_ncars.dat", 8)])
def test_evt2_and_dat_boundary_cuts_cannot_be_seen(tmp_path, shared, name, unit):
    """EVT 2.0 words and DAT records carry no group structure: a cut on a boundary reads as a
    shorter recording (documented), a cut inside one is refused."""
    source = shared("event-samples", name)
    full = read_events(source, sensor_size=(640, 480))
    start = read_header(source).length + (2 if name.endswith(".dat") else 0)
    keep = start + (source.stat().st_size - start) // unit // 2 * unit
    shorter = read_events(_cut(tmp_path, source, keep), sensor_size=(640, 480))
    assert 0 < len(shorter) < len(full)
    mid = _cut(tmp_path, source, keep + 1, name=f"mid{source.suffix}")
    _refused(mid, f"after the last complete {unit}-byte")


def test_evt21_words_are_64_bit(tmp_path):
    path = tmp_path / "e21.raw"
    path.write_bytes(b"% evt 2.1\n" + bytes(12))
    _refused(path, "truncated: 4 byte\\(s\\) after the last complete 8-byte Prophesee EVT 2.1 word")


def test_data_without_any_event_is_refused(tmp_path):
    path = tmp_path / "time_only.raw"
    path.write_bytes(b"% evt 3.0\n% geometry 64x48\n% end\n" + np.array([0x8000, 0x8001], "<u2").tobytes())
    _refused(path, "its 4 bytes of data decode to no event at all")


def test_explicit_end_line_with_no_data_is_refused(tmp_path):
    path = tmp_path / "end.raw"
    path.write_bytes(b"% evt 3.0\n% geometry 64x48\n% end\n")
    _refused(path, "no event data after it")


# ---------------------------------------------------------------- files evfer wrote: the stated count
@pytest.mark.parametrize("name, options, unit", [("w.raw", {}, 2), ("w2.raw", {"version": "evt2"}, 4),
                                                 ("w.dat", {}, 8)])  # fmt: skip
def test_written_files_state_their_count_and_every_cut_shows(tmp_path, name, options, unit):
    ev = random_events(3000, 64, 48, duration=1_000_000, seed=3)
    path = write_events(tmp_path / name, ev, **options)
    assert read_header(path).fields["evfer_events"] == "3000"
    assert read_events(path) == ev
    for words in (1, 5, 60):  # cuts on a word / record boundary, near the end
        cut = _cut(tmp_path, path, path.stat().st_size - words * unit, name=f"c{words}{path.suffix}")
        try:
            n = len(read_events(cut))
        except InputError as exc:
            assert "truncated EVT 3.0 data" in str(exc) or "events but its header says 3,000" in str(exc)
            if "header says" in str(exc):  # found only by decoding all: a window ending early reads
                early = read_events(cut, t_end=int(ev.t[100]))
                np.testing.assert_array_equal(early.array, ev.array[ev.t < ev.t[100]])
        else:
            pytest.fail(f"{words} word(s) cut off {name} read as {n} events")


def test_written_empty_recordings_are_valid(tmp_path):
    for name in ("e.raw", "e.dat"):
        path = write_events(tmp_path / name, random_events(0, 64, 48))
        assert read_header(path).fields["evfer_events"] == "0"
        assert len(read_events(path)) == 0 and probe(path).n_events == 0


def test_wrong_stated_count(tmp_path):
    path = write_events(tmp_path / "w.raw", random_events(100, 64, 48, seed=1))
    path.write_bytes(path.read_bytes().replace(b"% evfer_events 100\n", b"% evfer_events 101\n"))
    _refused(path, "holds 100 events but its header says 101")
    path.write_bytes(path.read_bytes().replace(b"% evfer_events 101\n", b"% evfer_events lots\n"))
    _refused(path, "header line '% evfer_events lots' is not an event count")
