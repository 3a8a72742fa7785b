"""evfer info: the numbers it prints, and one error line (exit code 2) for bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

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
