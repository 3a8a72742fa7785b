"""Damage the readers refuse up front (absurd sensor sizes, arrays larger than the file), damage
found while decoding (EVT 3.0 timestamps that jump back, words of reserved types), and what
``evfer info`` says was and was not checked. Expected values are computed by hand or from the
EVT 3.0 specification, and the shared samples' damage is confirmed with the independent ``evt3``
decoder."""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib

import h5py
import numpy as np
import pytest
from conftest import shared_path

from evfer.cli import main
from evfer.errors import InputError
from evfer.events import EVENT_DTYPE
from evfer.io import iter_events, parse_size, probe, read_events, write_events
from evfer.io.geometry import as_size
from evfer.io.header import read_header
from evfer.io.stream import ordered
from evfer.testing import random_events

# EVT 3.0 word types (Prophesee "EVT 3.0 format")
ADDR_Y, ADDR_X, VECT_BASE_X, VECT_12, VECT_8, TIME_LOW, TIME_HIGH = 0x0, 0x2, 0x3, 0x4, 0x5, 0x6, 0x8
#: The shared EVT 3.0 sample: 219,596 events (also what evt3 decodes), 166 header bytes.
SAMPLE_EVENTS = 219_596
SAMPLE_HEADER = 166


def _refused(path, match):
    """read_events, probe and a consumed iter_events all raise one InputError line naming ``path``."""
    for call in (read_events, probe, lambda p: list(iter_events(p, chunk_events=5000))):
        with pytest.raises(InputError, match=match) as info:
            call(path)
        assert "\n" not in str(info.value) and str(info.value).startswith(f"{path}: ")


def _info_line(capsys, path):
    """``evfer info path``: exit code 2 and the one error line."""
    assert main(["info", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    return captured.err.rstrip("\n")


def _info_table(capsys, path, *options):
    assert main(["info", str(path), *options]) == 0
    lines = capsys.readouterr().out.splitlines()
    return dict(line.split(None, 1) if " " in line else (line, "") for line in lines)


# ---------------------------------------------------------------- absurd sensor sizes
def test_store_with_an_absurd_sensor_size_is_refused_at_the_reader(tmp_path, capsys):
    """N8: width = height = 10^9 in the store attributes (before: info exit 0, render 10 GB)."""
    path = write_events(tmp_path / "big.h5", random_events(3000, 346, 260, seed=1))
    with h5py.File(path, "a") as f:
        f.attrs["width"] = 10**9
        f.attrs["height"] = 10**9
    expected = ("sensor size 1000000000x1000000000 stated in the file (store attributes) is not plausible "
                "(max 65536 x 65536: x/y are uint16)")  # fmt: skip
    _refused(path, expected.replace("(", "\\(").replace(")", "\\)"))
    assert _info_line(capsys, path) == f"evfer: error: {path}: {expected}: corrupt file?"


@pytest.mark.parametrize("w, h, ok", [(65536, 65536, True), (65537, 10, False), (10, 65537, False)])
def test_store_size_limit_is_the_uint16_range(tmp_path, w, h, ok):
    ev = random_events(100, 40, 30, seed=2)
    path = write_events(tmp_path / "s.h5", ev)
    with h5py.File(path, "a") as f:
        f.attrs["width"], f.attrs["height"] = w, h
    if ok:
        assert (read_events(path).width, read_events(path).height) == (w, h)
    else:
        _refused(path, f"sensor size {w}x{h} stated in the file")


def _evt3_file(path, header: bytes, words: list[int]):
    path.write_bytes(header + np.array(words, "<u2").tobytes())
    return path


def test_evt3_header_size_beyond_11_bit_addresses_is_refused(tmp_path):
    """EVT 3.0 addresses are 11 bits: a header may state at most 2048 x 2048."""
    words = [0x8000 | 1, 0x6000 | 5, ADDR_Y << 12 | 3, ADDR_X << 12 | 7]  # one event: x=7, y=3, t=4101
    ok = _evt3_file(tmp_path / "ok.raw", b"% evt 3.0\n% geometry 2048x2048\n", words)
    ev = read_events(ok)
    assert (ev.width, ev.height) == (2048, 2048)
    assert (ev.x.tolist(), ev.y.tolist(), ev.t.tolist()) == ([7], [3], [4101])
    bad = _evt3_file(tmp_path / "bad.raw", b"% evt 3.0\n% geometry 4096x2048\n", words)
    _refused(bad, r"sensor size 4096x2048 stated in the file \('% geometry' header line\) is not plausible "
                  r"\(max 2048 x 2048: EVT 3.0 addresses are 11 bits\)")  # fmt: skip


def test_callers_sensor_size_is_bounded_too(tmp_path):
    with pytest.raises(ValueError, match="too large \\(max 65536 x 65536"):
        parse_size("70000x480")
    with pytest.raises(ValueError, match="too large"):
        as_size((640, 10**9))
    assert parse_size("65536x65536") == (65536, 65536)


# ---------------------------------------------------------------- arrays larger than the file
def _npy(array_header: dict, payload: bytes) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, array_header)
    return buf.getvalue() + payload


def test_npz_header_declaring_10_to_the_12_events_is_refused_before_loading(tmp_path, capsys):
    """N8: before, numpy tried to allocate 7.28 TiB (MemoryError)."""
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w") as z:  # stored, not compressed: entry sizes are plain
        z.writestr("t.npy", _npy({"descr": "<i8", "fortran_order": False, "shape": (10**12,)}, bytes(8000)))
        small = {"descr": "<u2", "fortran_order": False, "shape": (1000,)}
        for k in "xyp":
            z.writestr(f"{k}.npy", _npy(small, bytes(2000)))
    size = path.stat().st_size
    expected = (f"the npz header of array 't' declares 1,000,000,000,000 events of int64 "
                f"(8,000,000,000,000 bytes) but the file holds only 8,000 bytes of it ({size:,} in all): "
                "truncated or corrupt")  # fmt: skip
    _refused(path, expected.replace("(", "\\(").replace(")", "\\)"))
    assert _info_line(capsys, path) == f"evfer: error: {path}: {expected}"


def test_npz_member_one_value_short_is_refused(tmp_path):
    """The check is exact: 1000 int64 values need 8000 bytes after the .npy header."""
    path = tmp_path / "short.npz"
    head = {"descr": "<i8", "fortran_order": False, "shape": (1000,)}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("t.npy", _npy(head, bytes(7992)))
        for k in "xyp":
            z.writestr(f"{k}.npy", _npy(head, bytes(8000)))
    _refused(path, "array 't' declares 1,000 events of int64 \\(8,000 bytes\\) but the file holds only 7,992")


def test_single_npy_file_is_refused_without_loading_it(tmp_path):
    path = tmp_path / "one.npz"
    path.write_bytes(_npy({"descr": "<i8", "fortran_order": False, "shape": (10**12,)}, bytes(64)))
    _refused(path, "holds a single array \\(.npy data\\), not an .npz archive")


def test_store_datasets_resized_to_10_to_the_12_are_refused(tmp_path, capsys):
    """Datasets whose shape says 10^12 events while only their first chunk exists: 10^12 / 65,536
    events per chunk = 15,258,790 chunks (rounded up)."""
    path = write_events(tmp_path / "resized.h5", random_events(3000, 64, 48, seed=3))
    with h5py.File(path, "a") as f:
        for k in "txyp":
            f["events/" + k].resize((10**12,))
        f.attrs["n_events"] = 10**12
    line = _info_line(capsys, path)
    assert line == (f"evfer: error: {path}: dataset 'events/t' declares shape (1000000000000,) of int64 "
                    f"(8,000,000,000,000 bytes) in 15,258,790 chunks, but only 1 are stored (the file holds "
                    f"{path.stat().st_size:,} bytes): truncated or corrupt")  # fmt: skip


def test_v2e_contiguous_dataset_without_data_is_refused(tmp_path):
    path = tmp_path / "empty.v2e.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("events", shape=(10**9, 4), dtype=np.uint32)  # never written: 0 bytes stored
    _refused(path, r"dataset 'events' declares shape \(1000000000, 4\) of uint32 \(16,000,000,000 bytes\), "
                   r"but the file stores only 0 bytes of it")  # fmt: skip


def test_deflated_chunks_cannot_expand_more_than_1032_times(tmp_path):
    """4 chunks of 65,536 x 4 uint32 (4,194,304 bytes) stored as 8-byte zlib streams (of nothing):
    deflate cannot expand 32 bytes into 4 MB."""
    path = tmp_path / "tiny.v2e.h5"
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("events", shape=(4 * 65536, 4), dtype=np.uint32, chunks=(65536, 4),
                              compression="gzip")  # fmt: skip
        empty = zlib.compress(b"")
        assert len(empty) == 8
        for i in range(4):
            ds.id.write_direct_chunk((i * 65536, 0), empty)
    _refused(path, r"declares shape \(262144, 4\) of uint32 \(4,194,304 bytes\), but the file stores only "
                   r"32 bytes")  # fmt: skip


def test_sound_files_pass_the_size_checks(tmp_path):
    ev = random_events(70_000, 64, 48, seed=4)  # two chunks of the store
    for name in ("a.h5", "a.v2e.h5", "a.npz"):
        assert read_events(write_events(tmp_path / name, ev)) == ev


# ---------------------------------------------------------------- time order within a packet
def _array(t_values):
    a = np.zeros(len(t_values), EVENT_DTYPE)
    a["t"] = t_values
    a["p"] = 1
    return a


@pytest.mark.parametrize("cuts", [[], [1], [2], [3], [1, 2, 3]])
def test_a_jump_back_is_refused_wherever_the_packets_are_cut(cuts):
    """Event 4 (t=100) is 4,900 µs older than event 3 (5000). Before, it was sorted into place
    silently when both lay in one packet, and refused only across packets."""
    packets = np.split(_array([0, 10, 5000, 100, 5100]), cuts)
    with pytest.raises(InputError, match="jump back by 4900 µs around event 4 "):
        list(ordered(packets, "mem.raw", slack_us=1000))


def test_steps_back_within_the_slack_are_still_reordered():
    out = np.concatenate(list(ordered([_array([0, 10, 5000, 4001, 5100])], "mem", slack_us=1000)))
    assert out["t"].tolist() == [0, 10, 4001, 5000, 5100]


# ---------------------------------------------------------------- the shared EVT 3.0 sample, damaged
def _spec_events(words: np.ndarray):
    """(t, x, y, on) of every event EVT 3.0 ``words`` encode, decoded by hand from the spec: a
    TIME_HIGH sets the time to its value << 12 (as OpenEB and evt3 do, TIME_LOW starts over), a
    TIME_LOW sets the low 12 bits; no time wrap; events before the first TIME_HIGH are dropped."""
    th = tl = y = base = on = None
    out = []
    for w in words.tolist():
        kind, v = w >> 12, w & 0xFFF
        if kind == TIME_HIGH:
            th, tl = v, 0
        elif kind == TIME_LOW:
            tl = v
        elif kind == ADDR_Y:
            y = v & 0x7FF
        elif th is None:
            continue
        elif kind == ADDR_X:
            out.append((th << 12 | tl, v & 0x7FF, y, v >> 11))
        elif kind == VECT_BASE_X:
            base, on = v & 0x7FF, v >> 11
        elif kind in (VECT_12, VECT_8):
            n = 12 if kind == VECT_12 else 8
            out += [(th << 12 | tl, base + b, y, on) for b in range(n) if v >> b & 1]
            base += n
    return out


@pytest.fixture(scope="module")
def sample():
    path = shared_path("event-samples", "evt3_sample.raw")
    data = path.read_bytes()
    assert read_header(path).length == SAMPLE_HEADER
    return path, data, np.frombuffer(data[SAMPLE_HEADER:], "<u2")


def _damaged(tmp_path, data, at, xor, name):
    out = bytearray(data)
    out[at] ^= xor
    path = tmp_path / name
    path.write_bytes(bytes(out))
    return path


@pytest.mark.shared_data
def test_sample_decodes_as_the_spec_says(sample):
    path, _, words = sample
    ev = read_events(path)
    spec = np.array(_spec_events(words), np.int64)
    assert len(ev) == len(spec) == SAMPLE_EVENTS
    assert bool(np.all(np.diff(spec[:, 0]) >= 0))  # in time order as written: no re-ordering
    np.testing.assert_array_equal(np.stack([ev.t, ev.x, ev.y, ev.p > 0], 1), spec)


@pytest.mark.shared_data
def test_addr_y_turned_time_high_is_refused(tmp_path, sample):
    """A flipped type bit makes ADDR_Y 370 (word 4883) a TIME_HIGH 0x172: the events up to the
    next TIME_HIGH go 10 s back. Before, one packet held them all and they were sorted in silently
    (info said 1.5 s .. 11.7 s); evt3 decodes the same backward times."""
    import evt3

    _, data, words = sample
    i = 4883
    assert words[i] == ADDR_Y << 12 | 370
    bad = _damaged(tmp_path, data, SAMPLE_HEADER + 2 * i + 1, 0x80, "th.raw")
    before = _spec_events(words[:i])
    flipped = words.copy()
    flipped[i] = TIME_HIGH << 12 | 370
    after = _spec_events(flipped)[len(before)]  # the first event after the flipped word
    jump = max(e[0] for e in before) - after[0]
    assert jump == 10_203_283
    _refused(bad, f"timestamps jump back by {jump} µs around event {len(before) + 1:,} ")
    t = np.asarray(evt3.decode_file(str(bad)).t, np.int64)  # the second decoder agrees
    assert int(np.max(np.maximum.accumulate(t) - t)) == jump


@pytest.mark.shared_data
def test_reserved_word_type_gives_a_warning_that_info_shows(tmp_path, sample, capsys):
    """The same ADDR_Y with its lowest type bit flipped is of reserved type 0x1: evt3 skips it, and
    the events of row 370 take the previous row's y. The data stays usable: a warning."""
    path, data, words = sample
    i = 4883
    bad = _damaged(tmp_path, data, SAMPLE_HEADER + 2 * i + 1, 0x10, "reserved.raw")
    flipped = words.copy()
    flipped[i] = 0x1000 | 370
    assert len(read_events(bad)) == len(_spec_events(flipped)) == SAMPLE_EVENTS
    table = _info_table(capsys, bad)
    assert table["WARNING"] == (
        f"1 EVT 3.0 word(s) of reserved types (the first, type 0x1, at byte {SAMPLE_HEADER + 2 * i:,}) "
        "were skipped by the decoder: corrupt data? Events next to them may be lost or misplaced"
    )
    assert "no words of reserved types" not in table["checks"]
    clean = _info_table(capsys, path)
    assert "WARNING" not in clean and "no words of reserved types" in clean["checks"]


@pytest.mark.shared_data
def test_cut_at_a_word_boundary_reads_as_a_shorter_recording_and_info_says_so(tmp_path, sample, capsys):
    """F4: `head -c 100000`: 49,917 words ending with an ADDR_X, a complete event. The format cannot
    tell; info reads it (35,563 events, as the spec counts them) and says what it could not check."""
    _, data, words = sample
    cut = tmp_path / "cut.raw"
    cut.write_bytes(data[:100_000])
    kept = words[: (100_000 - SAMPLE_HEADER) // 2]
    assert len(kept) == 49_917 and kept[-1] >> 12 == ADDR_X
    assert len(read_events(cut)) == len(_spec_events(kept)) == 35_563
    table = _info_table(capsys, cut)
    assert table["events"] == "35,563"
    assert table["checks"] == (
        "header complete; whole 16-bit words; last event complete; no words of reserved types; "
        "timestamps in order (steps back of up to 1000 µs re-ordered); addresses inside 1280x720 "
        "(a file cut at a word boundary or a flipped bit that gives valid words (an ADDR_X turned into a "
        "VECT_8, ...) cannot be detected)"
    )


@pytest.mark.shared_data
def test_flip_that_gives_valid_words_reads_as_other_valid_events(tmp_path, sample, capsys):
    """F6: byte 556,907 XOR 0x70 turns ADDR_X 446 (OFF, word 278,370) into a VECT_8 with mask 0xBE.
    The vector base is then 544 (VECT_BASE_X 512 ON at word 278,354, then 12 + 12 + 8 pixels), so
    the one OFF event at x=446 becomes six ON events at x = 545..549, 551 on row 698, at
    t = 11,726,554: 219,601 events, each valid. evt3, decoding independently, gives the same."""
    import evt3

    path, data, words = sample
    i = (556_907 - SAMPLE_HEADER) // 2
    assert i == 278_370 and words[i] == ADDR_X << 12 | 446
    assert words[278_354] == VECT_BASE_X << 12 | 0x800 | 512
    bad = _damaged(tmp_path, data, 556_907, 0x70, "flip.raw")
    t0 = 11_726_554
    removed = {(t0, 446, 698, 0)}
    added = {(t0, x, 698, 1) for x in (545, 546, 547, 548, 549, 551)}

    def events(p):
        ev = read_events(p)
        return {(int(t), int(x), int(y), int(on > 0)) for t, x, y, on in zip(ev.t, ev.x, ev.y, ev.p)}, len(ev)

    (clean, n_clean), (damaged, n_damaged) = events(path), events(bad)
    assert (n_clean, n_damaged) == (SAMPLE_EVENTS, SAMPLE_EVENTS + 5)
    assert clean - damaged == removed and damaged - clean == added
    e = evt3.decode_file(str(bad))
    second = set(zip(np.asarray(e.t).tolist(), e.x.tolist(), e.y.tolist(), np.asarray(e.p).tolist()))
    assert second == damaged
    table = _info_table(capsys, bad)
    assert table["events"] == "219,601" and "a flipped bit that gives valid words" in table["checks"]


# ---------------------------------------------------------------- what info says it checked
def test_info_checks_of_a_written_raw_file_include_its_stated_count(tmp_path, capsys):
    path = write_events(tmp_path / "w.raw", random_events(5000, 64, 48, seed=5))
    table = _info_table(capsys, path)
    assert table["checks"] == (
        "header complete; whole 16-bit words; last event complete; no words of reserved types; "
        "event count = the header's 5,000; timestamps in order (steps back of up to 1000 µs re-ordered); "
        "addresses inside 64x48 (a flipped bit that gives valid words (an ADDR_X turned into a VECT_8, ...) "
        "cannot be detected)"
    )


def test_info_json_has_checks_and_warnings(tmp_path, capsys):
    ev = random_events(100, 40, 30, seed=6)
    path = write_events(tmp_path / "v.v2e.h5", ev)
    with h5py.File(path, "a") as f:
        del f.attrs["width"], f.attrs["height"]
    assert main(["info", str(path), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    size = f"{ev.x.max() + 1}x{ev.y.max() + 1}"
    assert d["warnings"] == []
    assert d["checks"] == ["layout", "sizes fit the file", "polarity 0/1",
                           "timestamps in order (steps back of up to 1000 µs re-ordered)",
                           f"addresses not checked (sensor size inferred from them: {size})"]  # fmt: skip
    assert d["undetectable"].endswith("cannot be detected (no stated count)")


def test_evt2_reserved_word_type_gives_a_warning(tmp_path, capsys):
    """EVT 2.0 defines types 0x0, 0x1, 0x8, 0xA, 0xE, 0xF; faery skips a word of type 0x5. Without
    evfer's count line only the warning tells."""
    path = write_events(tmp_path / "w2.raw", random_events(2000, 64, 48, seed=7), version="evt2")
    data = path.read_bytes().replace(b"% evfer_events 2000\n", b"")
    header = read_header(path).length - len(b"% evfer_events 2000\n")
    words = np.frombuffer(data[header:], "<u4").copy()
    k = int(np.flatnonzero(words >> 28 == 1)[10])  # a CD_ON word
    words[k] = (words[k] & 0x0FFFFFFF) | 0x5 << 28
    bad = tmp_path / "bad2.raw"
    bad.write_bytes(data[:header] + words.tobytes())
    assert len(read_events(bad)) == 1999
    table = _info_table(capsys, bad)
    assert table["WARNING"].startswith(f"1 EVT 2.0 word(s) of reserved types (the first, type 0x5, at byte "
                                       f"{header + 4 * k:,})")  # fmt: skip


def test_aedat_cut_before_the_stated_end_of_its_packets(tmp_path):
    """The IOHeader's dataTablePosition is where the packets end; a file shorter than that lost
    packets (before: faery's "failed to fill whole buffer")."""
    path = write_events(tmp_path / "a.aedat4", random_events(20_000, 64, 48, seed=8))
    data = path.read_bytes()
    ends = _aedat_packet_ends(data)
    packets_end = ends[-1]
    cut = tmp_path / "cut.aedat4"
    cut.write_bytes(data[: ends[1]])  # exactly between two packets
    _refused(cut, f"truncated AEDAT 4.0 file: its header says the packets end at byte {packets_end:,}, "
                  f"but the file has {ends[1]:,} bytes \\(packets lost\\)")  # fmt: skip
    whole = tmp_path / "table_lost.aedat4"
    whole.write_bytes(data[:packets_end])  # only the packet index lost
    assert len(read_events(whole)) == 20_000


@pytest.mark.parametrize("version, word, reserved", [("evt3", 2, [1, 9, 11, 12, 13]),
                                                     ("evt2", 4, [2, 3, 4, 5, 6, 7, 9, 11, 12, 13])])  # fmt: skip
def test_reserved_word_count_over_every_type_and_step(tmp_path, version, word, reserved):
    """One word of each of the 16 types, twice, after a 7-byte header: the spec's reserved types are
    counted wherever the steps of the scan cut the data; the first lies at byte 7 + type * word."""
    from evfer.io.evt_words import ReservedWords

    shift = 8 * word - 4
    words = np.array([k << shift | 5 for k in range(16)] * 2, f"<u{word}")
    path = tmp_path / "w.raw"
    path.write_bytes(b"% x y\n\n" + words.tobytes())
    for step in (word, 3 * word, 10**6):
        with ReservedWords(path, 7, version) as scan:
            while not scan.done:
                scan.advance(step)
        assert scan.count == 2 * len(reserved)
        assert scan.first == (7 + reserved[0] * word, reserved[0])


def _aedat_packet_ends(data: bytes) -> list[int]:
    """Where each packet of an AEDAT 4.0 file ends, parsed by the spec: after the 14-byte version
    line, the uint32 IOHeader size and the IOHeader, packets of (int32 stream id, uint32 size, data),
    then the FileDataTable, LZ4-compressed like the packets (an LZ4 frame)."""
    ends, pos = [], 18 + struct.unpack_from("<I", data, 14)[0]
    while data[pos : pos + 4] != struct.pack("<I", 0x184D2204):
        pos += 8 + struct.unpack_from("<I", data, pos + 4)[0]
        ends.append(pos)
    return ends


def test_aedat_packet_claiming_4_gb_is_refused_before_faery_allocates_it(tmp_path):
    """The first packet's size field set to 4,294,967,280: faery allocated 4 GB before failing with
    "failed to fill whole buffer". The packets must end exactly where the header says."""
    path = write_events(tmp_path / "p.aedat4", random_events(20_000, 64, 48, seed=9))
    data = bytearray(path.read_bytes())
    packets_end = _aedat_packet_ends(bytes(data))[-1]
    first = 18 + struct.unpack_from("<I", data, 14)[0]
    struct.pack_into("<I", data, first + 4, 0xFFFFFFF0)
    bad = tmp_path / "bad.aedat4"
    bad.write_bytes(bytes(data))
    _refused(bad, f"corrupt or truncated AEDAT 4.0 file: packet 1 claims 4,294,967,280 bytes, but only "
                  f"{packets_end - first - 8:,} follow it before the packet index")  # fmt: skip
