"""evfer info: the numbers it prints, and one error line (exit code 2) for bad input."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys

import h5py
import numpy as np
import pytest

from conftest import flip_in_chunk
from evfer.cli import main
from evfer.io import write_events
from evfer.testing import random_events


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    ev = random_events(4000, 346, 260, t_start=1_000_000, duration=2_000_000, seed=5, on_fraction=0.25)
    path = write_events(tmp_path_factory.mktemp("info") / "rec.h5", ev, subject="user_03", label="surprise")
    return path, ev


def _json(capsys, *argv):
    assert main(["info", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_numbers_match_the_events(store, capsys):
    path, ev = store
    d = _json(capsys, str(path))
    n_on = int(np.count_nonzero(ev.p > 0))
    assert (d["format"], d["width"], d["height"], d["geometry_source"]) == ("evfer-h5", 346, 260, "header")
    assert (d["n_events"], d["n_on"], d["t_first"], d["t_last"]) == (4000, n_on, ev.t[0], ev.t[-1])
    assert d["duration_us"] == ev.t[-1] - ev.t[0]
    assert d["event_rate"] == pytest.approx(4000 / ((ev.t[-1] - ev.t[0]) * 1e-6))
    assert d["on_fraction"] == pytest.approx(n_on / 4000)
    assert d["meta"] == {"source": "random_events", "seed": 5, "subject": "user_03", "label": "surprise"}


def test_table_output(store, capsys):
    path, ev = store
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    on = np.count_nonzero(ev.p > 0) / len(ev)
    assert "346 x 260 px (from header" in out
    assert "4,000" in out
    assert f"ON {on:.1%} / OFF {1 - on:.1%}" in out
    assert "meta.subject  user_03" in out


def test_sensor_size_option_for_a_file_without_one(tmp_path, capsys):
    ev = random_events(100, 40, 30, seed=1)
    path = write_events(tmp_path / "v.v2e.h5", ev)
    import h5py

    with h5py.File(path, "a") as f:  # a plain v2e file states no size
        del f.attrs["width"], f.attrs["height"]
    d = _json(capsys, str(path), "--sensor-size", "64x48")
    assert (d["width"], d["height"], d["geometry_source"]) == (64, 48, "argument")
    d = _json(capsys, str(path))
    assert d["geometry_source"] == "inferred" and d["width"] == ev.x.max() + 1


@pytest.mark.shared_data
def test_shared_evt3_sample(shared, capsys):
    d = _json(capsys, str(shared("event-samples", "evt3_sample.raw")))
    assert (d["format"], d["n_events"], d["width"], d["height"]) == ("evt3", 219_596, 1280, 720)
    assert (d["geometry_source"], d["geometry_detail"]) == ("plugin_name", "hal_plugin_gen41_evk3")
    assert d["header"]["plugin_name"] == "hal_plugin_gen41_evk3"


def _bad_inputs(tmp_path):
    good = write_events(tmp_path / "good.raw", random_events(5000, 64, 48, seed=2))
    (tmp_path / "cut.raw").write_bytes(good.read_bytes()[:-1])
    (tmp_path / "empty.dat").write_bytes(b"")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5" * 50)
    (tmp_path / "thing.xyz").write_bytes(b"abc")
    (tmp_path / "dir.raw").mkdir()
    return {
        "bad.xyz": "unknown file type '.xyz'; supported: .raw, .dat, .aedat4, .h5, .hdf5, .npz",
        "thing.xyz": "unknown file type",
        "missing.raw": "no such file",
        "cut.raw": "truncated",
        "empty.dat": "empty file",
        "junk.h5": "not a readable HDF5 file",
        "dir.raw": "is a directory",
    }


def test_bad_input_in_process(tmp_path, capsys):
    for name, expected in _bad_inputs(tmp_path).items():
        assert main(["info", str(tmp_path / name)]) == 2, name
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1, captured.err
        assert lines[0].startswith("evfer: error: ") and expected in lines[0], captured.err
        assert str(tmp_path / name) in lines[0]
        assert captured.out == ""


def test_bad_input_in_a_real_process(tmp_path):
    """The real command line: exit code 2, one stderr line, no traceback and no Rust panic text."""
    bad = _bad_inputs(tmp_path)
    for name in ("bad.xyz", "cut.raw"):
        proc = subprocess.run(
            [sys.executable, "-m", "evfer", "info", str(tmp_path / name)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 2
        assert proc.stderr.count("\n") == 1 and bad[name] in proc.stderr
        assert "Traceback" not in proc.stderr and "panicked" not in proc.stderr


def test_bad_sensor_size_option(store, capsys):
    with pytest.raises(SystemExit) as info:
        main(["info", str(store[0]), "--sensor-size", "64by48"])
    assert info.value.code == 2
    assert "WIDTHxHEIGHT" in capsys.readouterr().err


# ---------------------------------------------------------------- damaged files, in a real process
def _info_process(path):
    """``python -m evfer info path`` with Rust backtraces on, as a user's shell might have them."""
    env = {**os.environ, "RUST_BACKTRACE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "evfer", "info", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def _one_error_line(path, expected):
    proc = _info_process(path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stdout == ""
    assert proc.stderr.endswith("\n") and proc.stderr.count("\n") == 1, proc.stderr[-2000:]
    line = proc.stderr.rstrip("\n")
    assert line.startswith(f"evfer: error: {path}: ") and expected in line, line
    assert "panicked" not in line and "Traceback" not in line


def _aedat_damage(data: bytes) -> dict[str, bytes]:
    """The AEDAT 4.0 damage of test_io_errors.aedat_damage: faery 0.7.1 panics on each, and on
    "xml_abort" aborts the process (SIGABRT, exit code 134, its whole stderr a Rust report)."""
    header_size = struct.unpack_from("<I", data, 14)[0]
    xml = data.index(b"<dv")
    root, abort, packet = bytearray(data), bytearray(data), bytearray(data)
    struct.pack_into("<I", root, 18, 0x7FFF0000)
    abort[xml + 184] ^= 0xFF
    struct.pack_into("<I", packet, 18 + header_size + 4, 2)
    return {"root_offset": bytes(root), "xml_abort": bytes(abort), "packet_size": bytes(packet)}


AEDAT_EXPECTED = {
    "root_offset": "corrupt AEDAT 4.0 header: the root table lies outside the header",
    "xml_abort": "corrupt AEDAT 4.0 header: the XML description is not UTF-8 text (byte 184 of it)",
    "packet_size": "corrupt or truncated AEDAT 4.0 file: packet 2 claims",  # refused before faery panics
}


def _damaged_aedat_files(tmp_path, source: bytes):
    for name, data in _aedat_damage(source).items():
        path = tmp_path / f"{name}.aedat4"
        path.write_bytes(data)
        yield path, AEDAT_EXPECTED[name]


def test_damaged_aedat_gives_one_line_not_a_rust_panic(tmp_path):
    ev = random_events(20_000, 64, 48, seed=8)
    source = write_events(tmp_path / "good.aedat4", ev).read_bytes()
    for path, expected in _damaged_aedat_files(tmp_path, source):
        _one_error_line(path, expected)


@pytest.mark.shared_data
def test_damaged_shared_aedat_sample_gives_one_line(tmp_path, shared):
    source = shared("event-samples", "sample.aedat4").read_bytes()
    for path, expected in _damaged_aedat_files(tmp_path, source):
        _one_error_line(path, expected)


def test_damaged_stores_are_reported_not_described(tmp_path):
    """info decodes the data: a damaged chunk or attributes that contradict the data are errors,
    not a table of plausible numbers read from the attributes."""
    ev = random_events(150_000, 64, 48, seed=9)
    store = write_events(tmp_path / "chunk.h5", ev)
    flip_in_chunk(store, "events/t")
    _one_error_line(store, "corrupt HDF5 file: cannot read the evfer store's events")
    v2e = write_events(tmp_path / "chunk.v2e.h5", ev)
    flip_in_chunk(v2e, "events")
    _one_error_line(v2e, "corrupt HDF5 file: cannot read the v2e events")
    attrs = write_events(tmp_path / "attrs.h5", ev)
    with h5py.File(attrs, "a") as f:
        f.attrs["t_last"] = int(ev.t[-1]) + 5
    _one_error_line(attrs, f"evfer store attributes contradict its data: t_last={ev.t[-1] + 5}")
    with h5py.File(attrs, "a") as f:
        f.attrs["width"] = "wide"
    _one_error_line(attrs, "corrupt HDF5 file: cannot read the evfer store's layout and attributes")


def test_damaged_npz_gives_one_line(tmp_path):
    path = write_events(tmp_path / "z.npz", random_events(5000, 64, 48, seed=10))
    data = bytearray(path.read_bytes())
    at = len(data) // 2
    data[at : at + 16] = bytes(b ^ 0x5A for b in data[at : at + 16])
    path.write_bytes(bytes(data))
    _one_error_line(path, "npz archive (truncated or corrupt?)")


@pytest.mark.shared_data
def test_cut_recordings_give_one_line(tmp_path, shared):
    """The issue's examples: the 21,258-byte head of the EVT 3.0 sample, and a cut inside its header."""
    data = shared("event-samples", "evt3_sample.raw").read_bytes()
    head = tmp_path / "head.raw"
    head.write_bytes(data[:21_258])
    _one_error_line(head, "truncated EVT 3.0 data: it ends inside a vector group")
    header = tmp_path / "header.raw"
    header.write_bytes(data[:100])
    _one_error_line(header, "truncated inside its '%' header: the file ends in the line '% plugin_n'")


def test_mislabelled_files_give_one_line_without_pickle_advice(tmp_path, store):
    """An HDF5 file renamed .dat (before: "truncated: 65 bytes after the last record") and random
    bytes named .npz (before: numpy's advice to load the file as a pickle)."""
    h5 = tmp_path / "store.dat"
    h5.write_bytes(store[0].read_bytes())
    _one_error_line(h5, "has the extension .dat but holds an HDF5 file; rename it to .h5")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(bytes(range(256)) * 4)
    _one_error_line(junk, "not an .npz archive")
    assert "pickle" not in _info_process(junk).stderr


def test_every_command_help_renders_its_text_verbatim(capsys):
    """Each sub-command's --help is its module docstring; a '%' in it is printed as written."""
    from evfer.cli import build_parser

    commands = build_parser()._subparsers._group_actions[0].choices
    for name in commands:
        with pytest.raises(SystemExit) as exit_:
            main([name, "--help"])
        assert exit_.value.code == 0
        text = capsys.readouterr().out
        assert "%%" not in text and f"evfer {name}" in text, name
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    assert "92% test accuracy" in " ".join(capsys.readouterr().out.split())
