"""Bad input to evfer.io: one clear InputError line naming the file and the problem, never garbage."""

from __future__ import annotations

import os
import struct
import threading

import h5py
import numpy as np
import pytest

from conftest import flip_in_chunk
from evfer.errors import InputError
from evfer.io import SUPPORTED_SUFFIXES, iter_events, probe, read_events, write_events
from evfer.io.header import read_header
from evfer.io.native import native, native_steps, panic_message
from evfer.testing import random_events


def _fails(path, match, **kw):
    """read_events, probe and iter_events (when consumed) all raise one InputError line that names
    ``path`` and matches ``match``."""
    for call in (read_events, probe, lambda p, **k: list(iter_events(p, chunk_events=3000, **k))):
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


def test_raw_header_only_is_an_error(tmp_path):
    """A header and no data is what a file cut at the end of (or inside) its header looks like;
    only a header that states an empty recording (evfer's writer) makes it valid."""
    header = b"% evt 3.0\n% plugin_name hal_plugin_gen41_evk3\n"
    _fails(_copy(tmp_path, "h.raw", header), "holds a '%' header but no event data after it")
    _fails(_copy(tmp_path, "h2.raw", b"% evt 3.0\n"), "holds a '%' header but no event data after it")
    cut_line = "truncated inside its '%' header: the file ends in the line '% plugin_name hal_plugin_gen41_'"
    _fails(_copy(tmp_path, "h3.raw", header[:-5]), cut_line)
    ev = read_events(_copy(tmp_path, "h4.raw", header + b"% evfer_events 0\n"))
    assert len(ev) == 0 and ev.sensor_size == (1280, 720)


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
    """A cut before the end of the packets the IOHeader states (dataTablePosition) is refused by
    that, before faery sees the file; a cut inside the header by the header check."""
    data = good["g.aedat4"].read_bytes()
    n = max(20, int(len(data) * keep))
    cut = _copy(tmp_path, "cut.aedat4", data[:n])
    expected = "truncated AEDAT 4.0 header" if n == 20 else f"file has {n:,} bytes \\(packets lost\\)"
    _fails(cut, expected)


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


# ---------------------------------------------------------------- native libraries: stderr and panics
class PanicException(BaseException):
    """Stands in for pyo3's PanicException (a BaseException, matched by name)."""


RUST_REPORT = (
    b"\nthread '<unnamed>' (4242) panicked at /root/.cargo/registry/src/x/src/lib.rs:9:5:\n"
    b"index 7 out of range for slice of length 3\nstack backtrace:\n   0: rust_begin_unwind\n"
    b"             at /rustc/abc/library/std/src/panicking.rs:1:1\n"
    b"note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.\n"
)


def _fd2():
    st = os.fstat(2)
    return st.st_dev, st.st_ino


def _panicking(exc_text="index 7 out of range for slice of length 3"):
    os.write(2, RUST_REPORT)  # what Rust's panic hook writes, around Python's sys.stderr
    raise PanicException(exc_text)


def test_panic_report_is_folded_into_one_error_line(capfd):
    before = _fd2()
    with pytest.raises(InputError) as info:
        native("f.aedat4", "AEDAT 4.0", _panicking)
    assert str(info.value) == (
        "f.aedat4: cannot decode AEDAT 4.0 (corrupt or truncated?): "
        "decoder panic: index 7 out of range for slice of length 3"
    )
    assert capfd.readouterr().err == ""
    assert _fd2() == before
    with pytest.raises(InputError) as info:  # a panic whose exception carries no text
        native("f.aedat4", "AEDAT 4.0", _panicking, "")
    assert str(info.value).endswith("decoder panic: index 7 out of range for slice of length 3")
    assert capfd.readouterr().err == ""


def test_panic_message_formats():
    assert panic_message(RUST_REPORT.decode()) == "index 7 out of range for slice of length 3"
    old = "thread 'main' panicked at 'boom: x', src/main.rs:2:5\nnote: run with `RUST_BACKTRACE=1`\n"
    assert panic_message(old) == "boom: x"
    two_lines = "thread '<unnamed>' panicked at a.rs:1:2:\nfirst\nsecond\nnote: x\n"
    assert panic_message(two_lines) == "first second"
    assert panic_message("just a warning\n") is None


def test_library_text_on_success_is_written_back_and_on_failure_folded(capfd):
    before = _fd2()
    assert native("f.raw", "X", lambda: os.write(2, b"faery: warning: odd header\n") and 7) == 7
    assert capfd.readouterr().err == "faery: warning: odd header\n"

    def failing():
        os.write(2, b"\n  HDF5-DIAG: error detected\n  more detail\n")
        raise RuntimeError("bad data")

    with pytest.raises(InputError) as info:
        native("f.raw", "X", failing)
    assert str(info.value) == (
        "f.raw: cannot decode X (corrupt or truncated?): bad data (library said: HDF5-DIAG: error detected)"
    )
    assert capfd.readouterr().err == "" and _fd2() == before


def test_interrupts_pass_through_with_stderr_restored(capfd):
    before = _fd2()

    def interrupted():
        os.write(2, b"partial output\n")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        native("f.raw", "X", interrupted)
    assert _fd2() == before
    assert capfd.readouterr().err == "partial output\n"


def test_native_steps_do_not_capture_the_callers_stderr(capfd):
    """Each next() is redirected on its own: the caller's writes between items reach stderr, in order."""
    before = _fd2()

    def decoder():
        for i in range(3):
            os.write(2, f"decoder {i}\n".encode())
            yield i

    during = []
    for i in native_steps(decoder(), "f.raw", "X"):
        during.append(_fd2())
        os.write(2, f"caller {i}\n".encode())
    assert capfd.readouterr().err == "".join(f"decoder {i}\ncaller {i}\n" for i in range(3))
    assert set(during) == {before} and _fd2() == before


def test_native_calls_from_threads_keep_stderr_intact(capfd):
    before = _fd2()
    errors = []

    def work(k):
        for i in range(40):
            native("f.raw", "X", os.write, 2, f"thread {k} line {i}\n".encode())
        try:
            native("f.raw", "X", _panicking)
        except InputError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = capfd.readouterr().err.splitlines()
    assert sorted(lines) == sorted(f"thread {k} line {i}" for k in range(4) for i in range(40))
    assert len(errors) == 4 and all("decoder panic: index 7" in e for e in errors)
    assert _fd2() == before


class _PanickingDecoder:
    """A faery-like decoder (context manager + iterator) that panics on its second packet."""

    event_type = "cd"

    def __init__(self, *args):
        self.calls = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __iter__(self):
        return self

    def __next__(self):
        self.calls += 1
        if self.calls > 1:
            _panicking()
        raise StopIteration  # pragma: no cover


@pytest.mark.parametrize("name", ["g2.raw", "g.dat", "g.raw"])
def test_raw_and_dat_decoders_run_under_the_guard(monkeypatch, capfd, good, name):
    """faery (EVT 2.0, DAT) and evt3 (EVT 3.0) panics become one error line, no Rust text.
    (No real .raw/.dat corruption that panics was found: ~1,000 corrupted files gave errors only.)"""
    from faery.extension import dat, evt

    def first_ok_then_panic(*args, **kw):
        yield from ()
        _panicking()

    class Decoder(_PanickingDecoder):
        def __next__(self):
            _panicking()

    monkeypatch.setattr(evt, "Decoder", Decoder)
    monkeypatch.setattr(dat, "Decoder", Decoder)
    monkeypatch.setattr("evt3.decode_file_batches", first_ok_then_panic)
    capfd.readouterr()
    message = _fails(good[name], "decoder panic: index 7 out of range for slice of length 3")
    assert "cannot decode Prophesee" in message
    assert capfd.readouterr().err == ""


# ---------------------------------------------------------------- AEDAT 4.0 damage faery cannot survive
def aedat_damage(data: bytes) -> dict[str, bytes]:
    """Damaged copies of an AEDAT 4.0 file that make faery 0.7.1 panic (or, "xml_abort", abort the
    process with SIGABRT), found by fuzzing and located by structure: the IOHeader flatbuffer
    follows the 14-byte version line and its uint32 size, the XML description starts with "<dv",
    the first packet (int32 stream id, uint32 size) follows the header."""
    header_size = struct.unpack_from("<I", data, 14)[0]
    xml = data.index(b"<dv")
    out = {}
    d = bytearray(data)
    struct.pack_into("<I", d, 18, 0x7FFF0000)  # flatbuffer root offset far outside the header
    out["root_offset"] = bytes(d)
    for name, at in (("xml_panic", xml + 4), ("xml_abort", xml + 184)):
        d = bytearray(data)
        d[at] ^= 0xFF  # no longer UTF-8
        out[name] = bytes(d)
    d = bytearray(data)
    struct.pack_into("<I", d, 18 + header_size + 4, 2)  # first packet: 2 bytes long
    out["packet_size"] = bytes(d)
    return out


AEDAT_DAMAGE_MESSAGES = {
    "root_offset": "corrupt AEDAT 4.0 header: the root table lies outside the header",
    "xml_panic": r"corrupt AEDAT 4.0 header: the XML description is not UTF-8 text \(byte 4 of it\)",
    # faery panics on it ("assertion failed"); the packet walk now refuses it first: after the
    # 2-byte packet 1, "packet 2" is read from packet 1's old data and claims far too much
    "packet_size": r"corrupt or truncated AEDAT 4.0 file: packet 2 claims [\d,]+ bytes, but only [\d,]+ "
    "follow it before the packet index",
}


@pytest.mark.parametrize("damage", list(AEDAT_DAMAGE_MESSAGES))
def test_aedat_damage_gives_one_line(tmp_path, good, capfd, damage):
    data = aedat_damage(good["g.aedat4"].read_bytes())[damage]
    capfd.readouterr()
    _fails(_copy(tmp_path, "bad.aedat4", data), AEDAT_DAMAGE_MESSAGES[damage])
    err = capfd.readouterr().err
    assert "panicked" not in err and err == ""


@pytest.mark.shared_data
@pytest.mark.parametrize("damage", list(AEDAT_DAMAGE_MESSAGES))
def test_shared_aedat_damage_gives_one_line(tmp_path, shared, capfd, damage):
    data = aedat_damage(shared("event-samples", "sample.aedat4").read_bytes())[damage]
    capfd.readouterr()
    _fails(_copy(tmp_path, "bad.aedat4", data), AEDAT_DAMAGE_MESSAGES[damage])
    assert capfd.readouterr().err == ""


# ---------------------------------------------------------------- HDF5 damage
@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """Stores with several chunks (the store's and v2e's chunks hold 65,536 events)."""
    d = tmp_path_factory.mktemp("big")
    ev = random_events(200_000, 200, 150, duration=3_000_000, seed=4)
    return ev, {n: write_events(d / n, ev) for n in ("s.h5", "v.v2e.h5")}


@pytest.mark.parametrize(
    "name, dataset", [("s.h5", "events/t"), ("s.h5", "events/x"), ("v.v2e.h5", "events")]
)
def test_hdf5_damaged_chunk_is_reported_by_every_reader(tmp_path, big, name, dataset):
    ev, paths = big
    path = _copy(tmp_path, name, paths[name].read_bytes())
    assert flip_in_chunk(path, dataset, chunk=2) == (131_072, 196_608)
    _fails(path, "corrupt HDF5 file: cannot read the .* events")
    # a window that does not touch the damaged chunk still reads, and right
    t_end = int(ev.t[60_000])
    got = read_events(path, t_end=t_end)
    np.testing.assert_array_equal(got.array, ev.array[ev.t < t_end])


def _store_copy(tmp_path, good):
    return _copy(tmp_path, "s.h5", good["g.h5"].read_bytes())


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda f: f.attrs.__setitem__("width", "wide"), "cannot read the evfer store's layout .*wide"),
        (lambda f: f.attrs.__setitem__("width", np.array([200, 3])), "cannot read the evfer store's layout"),
        (lambda f: f.attrs.__setitem__("height", -150), "invalid sensor size 200x-150"),
        (lambda f: f.attrs.__delitem__("height"), "lacks the height attribute"),
        (lambda f: f.attrs.__setitem__("evfer_format_version", "one"), "cannot read the evfer store's"),
        (lambda f: f.attrs.__setitem__("index_stride", 0), "index_stride 0"),
        (lambda f: f.attrs.__setitem__("meta_json_keys", "{not json"), "meta_json_keys is not a JSON list"),
        (lambda f: f.attrs.__setitem__("n_events", "many"), "cannot read the evfer store's layout"),
        (lambda f: f["meta"].attrs.__setitem__("source", np.void(b"\x00\x01")), None),
    ],
)
def test_store_odd_attributes(tmp_path, good, change, match):
    path = _store_copy(tmp_path, good)
    with h5py.File(path, "a") as f:
        change(f)
    if match is None:  # an opaque attribute value is kept as it is, not an error
        assert len(read_events(path)) == 20_000
    else:
        _fails(path, match)


def test_store_odd_datasets(tmp_path, good):
    path = _store_copy(tmp_path, good)
    with h5py.File(path, "a") as f:
        del f["events/x"]
        f["events/x"] = np.zeros(20_000, np.float32)
    _fails(path, r"datasets are not integers: \{'x': 'float32'\}")
    with h5py.File(path, "a") as f:
        del f["events/x"]
        f["events/x"] = np.zeros((20_000, 1), np.uint16)
    _fails(path, "not one-dimensional")
    with h5py.File(path, "a") as f:
        del f["events"]
        f["events"] = np.zeros(3)  # a dataset where the group should be
    _fails(path, "evfer store lacks dataset|cannot read the evfer store")


def test_store_attributes_must_match_the_data(tmp_path, good):
    """probe decodes the data (it does not trust n_on / t_first / t_last) and cross-checks them."""
    path = _store_copy(tmp_path, good)
    with h5py.File(path, "a") as f:
        n_on = int(f.attrs["n_on"])
        f.attrs["n_on"] = n_on + 1
    with pytest.raises(InputError, match=f"contradict its data: n_on={n_on + 1} \\(data: {n_on}\\)"):
        probe(path)


def test_store_time_index_is_checked_against_the_timestamps(tmp_path, big):
    ev, paths = big
    path = _copy(tmp_path, "s.h5", paths["s.h5"].read_bytes())
    with h5py.File(path, "a") as f:
        index = f["events/index_t"][:]
        index[2] = index[1] + 1  # still sorted, but wrong: a window read would skip events
        f["events/index_t"][:] = index
    _fails(path, "time index disagrees with the timestamps")
    with pytest.raises(InputError, match="time index disagrees"):
        read_events(path, t_start=int(ev.t[140_000]), t_end=int(ev.t[150_000]))
    with h5py.File(path, "a") as f:
        del f["events/index_t"]
        f["events/index_t"] = index[:2]
    _fails(path, r"time index has shape \(2,\), expected \(4,\)")


@pytest.mark.parametrize("seed", range(3))
def test_store_metadata_bytes_damaged(tmp_path, good, seed):
    """Random damage to the HDF5 metadata (first 4 KiB): every read either fails with an InputError
    or returns exactly the original events — never another exception, never different events."""
    data = good["g.h5"].read_bytes()
    reference = read_events(good["g.h5"]).array
    rng = np.random.default_rng(seed)
    outcomes = set()
    for trial in range(12):
        d = bytearray(data)
        for i in rng.integers(0, 4096, int(rng.choice([1, 4, 16]))):
            d[i] ^= int(rng.integers(1, 256))
        path = _copy(tmp_path, f"m{trial}.h5", bytes(d))
        calls = (
            lambda p: read_events(p).array,
            lambda p: np.concatenate([c.array for c in iter_events(p, chunk_events=7000)]),
            lambda p: probe(p).n_events,
        )
        for call in calls:
            try:
                got = call(path)
            except InputError as exc:
                assert "\n" not in str(exc) and str(exc).startswith(str(path))
                outcomes.add("error")
                continue
            if isinstance(got, int):
                assert got == len(reference)
            else:
                np.testing.assert_array_equal(got, reference)
            outcomes.add("read")
    assert "error" in outcomes


def test_v2e_odd_attributes_and_data(tmp_path):
    path = tmp_path / "v.h5"
    with h5py.File(path, "w") as f:
        f["events"] = np.array([[1, 0, 0, 0], [2, 1, 1, 1]], np.uint32)
        f.attrs["width"] = "wide"
        f.attrs["height"] = 4
    _fails(path, "cannot read the v2e file's layout")
    with h5py.File(path, "w") as f:
        f["events"] = np.array([[1, 0, 0, 0], [2, 1, 1, 1]], np.float64)
    _fails(path, "has dtype float64, expected integers")


# ---------------------------------------------------------------- npz damage and odd arrays
_Z = np.zeros(3, np.int64)
_T = np.arange(3)


@pytest.mark.parametrize(
    "arrays, match",
    [
        (dict(t=np.array(["a", "b", "c"]), x=_Z, y=_Z, p=_Z), r"array 't' has dtype <U1, expected numbers"),
        (dict(t=_T, x=np.zeros(3, complex), y=_Z, p=_Z), "array 'x' has dtype complex128"),
        (dict(t=np.int64(1), x=_Z, y=_Z, p=_Z), r"array 't' has shape \(\), expected one dimension"),
        (dict(t=_T, x=_Z[:2], y=_Z, p=_Z), "differ in length: {'t': 3, 'x': 2, 'y': 3, 'p': 3}"),
        (dict(t=_T, x=_Z, y=_Z, p=_Z, width=np.array([3, 4]), height=np.int64(3)), "'width' must be one int"),
        (dict(t=_T, x=_Z, y=_Z, p=_Z, width=np.float64(3.5), height=np.int64(3)), "'width' must be one int"),
        (dict(t=_T, x=_Z, y=_Z, p=_Z, width=np.int64(0), height=np.int64(3)), "sensor size must be positive"),
        (dict(t=_T, x=_Z, y=_Z, p=_Z, meta_json=np.int64(3)), "'meta_json' must be one string"),
        (dict(t=np.array([1, 2**64 - 1], np.uint64), x=_Z[:2], y=_Z[:2], p=_Z[:2]), "out of range"),
        (dict(t=np.array([1.0, np.inf]), x=_Z[:2], y=_Z[:2], p=_Z[:2]), "NaN or inf"),
        (dict(t=np.array([1, "a", None], dtype=object), x=_Z, y=_Z, p=_Z), "cannot load an array.*pickle"),
    ],
)
def test_npz_odd_arrays(tmp_path, arrays, match):
    path = tmp_path / "odd.npz"
    np.savez(path, **arrays)
    _fails(path, match, sensor_size=(4, 4))


def test_npz_damaged_member_or_single_array(tmp_path, good):
    data = bytearray(good["g.npz"].read_bytes())
    middle = len(data) // 2
    data[middle : middle + 32] = bytes(b ^ 0x5A for b in data[middle : middle + 32])
    _fails(_copy(tmp_path, "flip.npz", bytes(data)), "npz archive \\(truncated or corrupt\\?\\)")
    np.save(tmp_path / "one.npy", np.arange(3))
    _fails(_copy(tmp_path, "one.npz", (tmp_path / "one.npy").read_bytes()), "single array")
