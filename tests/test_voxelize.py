"""`evfer voxelize`: hand-computed grids in every output format with their metadata, folder
mirroring, resume, bad inputs and outputs, equality with the dataset cache row, a real recording."""

import json
import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from evfer.cli import main
from evfer.events import Events
from evfer.io import read_events, write_events

from conftest import damaged, shared_path, tiny_config_path

W, H = 4, 3
# (t µs, x, y, p) on a 4x3 sensor, first event at 0 and last at 100 µs
EVENTS = [(0, 0, 0, 1), (25, 1, 0, -1), (50, 2, 1, 1), (100, 3, 2, 1)]


def events_file(path: Path, rows=EVENTS, **meta) -> Path:
    t, x, y, p = zip(*rows)
    return write_events(path, Events.from_arrays(t, x, y, p, W, H), **meta)


def hand_grid_one_window() -> np.ndarray:
    """3 bins over 0..100 µs: t* = 2 t / 100, each event split between the two nearest bins."""
    v = np.zeros((3, H, W), np.float32)
    v[0, 0, 0] = 1  # t=0: t*=0
    v[0, 0, 1] = v[1, 0, 1] = -0.5  # t=25: t*=0.5
    v[1, 1, 2] = 1  # t=50: t*=1
    v[2, 2, 3] = 1  # t=100: t*=2
    return v


def hand_grid_two_windows() -> np.ndarray:
    """2 windows [0, 50) and [50, 100] µs, 3 bins each over its own 50 µs: t* = 2 (t - s) / 50."""
    v = np.zeros((2, 3, H, W), np.float32)
    v[0, 0, 0, 0] = 1  # t=0
    v[0, 1, 0, 1] = -1  # t=25: t*=1
    v[1, 0, 1, 2] = 1  # t=50: first of window 1
    v[1, 2, 2, 3] = 1  # t=100
    return v


def voxelize(*args) -> int:
    return main(["voxelize", "--quiet", *map(str, args)])


def summary(capsys) -> str:
    """The last line the command printed (its summary)."""
    return capsys.readouterr().out.splitlines()[-1]


def line(done: int, skipped: int, failed: int, total: int, out: Path, redone: str = "") -> str:
    return f"voxelized {done}{redone}, skipped {skipped} (already done), failed {failed} of {total} -> {out}"


def read_output(path: Path) -> tuple[np.ndarray, dict]:
    """The array and metadata of an output, read with numpy / h5py directly."""
    if path.suffix == ".npy":
        return np.load(path), json.loads(Path(f"{path}.json").read_text())
    if path.suffix == ".npz":
        with np.load(path) as z:
            return z["voxels"], {k: z[k].tolist() for k in z.files if k != "voxels"}
    with h5py.File(path, "r") as f:
        attrs = {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in f["voxels"].attrs.items()}
        return f["voxels"][()], {k: v.item() if isinstance(v, np.generic) else v for k, v in attrs.items()}


# ---------------------------------------------------------------- values, formats, metadata
@pytest.mark.parametrize("fmt", ["npy", "npz", "h5"])
def test_hand_computed_grid_and_metadata_in_each_format(tmp_path, capsys, fmt):
    src = events_file(tmp_path / "in" / "rec.h5")
    assert voxelize(src, "-o", tmp_path / "out", "--bins", "3", "--normalize", "none", "--format", fmt) == 0
    grid, meta = read_output(tmp_path / "out" / f"rec.{fmt}")
    assert grid.dtype == np.float32 and grid.shape == (3, H, W)  # T = 1: (C, H, W)
    np.testing.assert_array_equal(grid, hand_grid_one_window())
    assert meta == {
        "source": str(src), "representation": "voxel_grid", "bins": 3, "normalize": "none",
        "resize": "area", "channels": 3, "windows": 1, "layout": "C,H,W", "size": [W, H],
        "sensor_size": [W, H], "time_span_us": [0, 100], "event_count": 4,
        "fingerprint": meta["fingerprint"],
    }
    assert len(meta["fingerprint"]) == 16
    assert summary(capsys) == line(1, 0, 0, 1, tmp_path / "out")


@pytest.mark.parametrize("fmt", ["npy", "h5"])
def test_windows_give_t_c_h_w(tmp_path, fmt):
    src = events_file(tmp_path / "rec.npz")
    assert voxelize(src, "-o", tmp_path / "out", "--bins", "3", "--windows", "2", "--normalize", "none",
                    "--format", fmt) == 0
    grid, meta = read_output(tmp_path / "out" / f"rec.{fmt}")
    assert grid.shape == (2, 3, H, W) and meta["layout"] == "T,C,H,W" and meta["windows"] == 2
    np.testing.assert_array_equal(grid, hand_grid_two_windows())


def test_default_rms_normalisation_stored_span_window_and_histogram(tmp_path):
    # the stored clip span (as prepare writes it) wins over first..last event
    src = events_file(tmp_path / "rec.h5", span_us=[0, 200])
    assert voxelize(src, "-o", tmp_path / "a", "--bins", "3") == 0
    grid, meta = read_output(tmp_path / "a" / "rec.npy")
    raw = np.zeros((3, H, W), np.float32)  # t* = 2 t / 200: 0, 0.25, 0.5, 1
    raw[0, 0, 0] = 1
    raw[0, 0, 1], raw[1, 0, 1] = -0.75, -0.25
    raw[0, 1, 2] = raw[1, 1, 2] = 0.5
    raw[1, 2, 3] = 1
    rms = np.sqrt(np.mean(np.square(raw[raw != 0], dtype=np.float64)))
    np.testing.assert_allclose(grid, raw / rms, rtol=1e-6)
    assert meta["time_span_us"] == [0, 200] and meta["normalize"] == "rms" and meta["bins"] == 3
    # --window (both ends inclusive) and the ON/OFF histogram
    assert voxelize(src, "-o", tmp_path / "b", "--representation", "histogram", "--normalize", "none",
                    "--window", "25us:0.05ms") == 0
    hist, meta = read_output(tmp_path / "b" / "rec.npy")
    want = np.zeros((2, H, W), np.float32)
    want[1, 0, 1] = 1  # t=25, OFF
    want[0, 1, 2] = 1  # t=50, ON
    np.testing.assert_array_equal(hist, want)
    assert meta["time_span_us"] == [25, 50] and meta["event_count"] == 2 and "bins" not in meta
    assert meta["channels"] == 2 and meta["representation"] == "histogram"


def test_size_resizes_with_area_pooling(tmp_path):
    src = events_file(tmp_path / "rec.h5")
    assert voxelize(src, "-o", tmp_path / "out", "--bins", "3", "--normalize", "none", "--size", "2x1") == 0
    grid, meta = read_output(tmp_path / "out" / "rec.npy")
    # 4x3 -> 2x1: sum pooling over 2 columns and 3 rows, then the sums are kept
    hand = hand_grid_one_window()
    want = hand.reshape(3, 1, 3, 2, 2).sum(axis=(2, 4))
    np.testing.assert_allclose(grid, want, atol=1e-6)
    assert grid.shape == (3, 1, 2) and meta["size"] == [2, 1] and meta["sensor_size"] == [W, H]


def test_option_errors(tmp_path, capsys):
    src = events_file(tmp_path / "rec.h5")
    assert voxelize(src, "-o", tmp_path / "out", "--representation", "histogram", "--bins", "4") == 2
    assert "--bins: the histogram representation has no time bins" in capsys.readouterr().err
    assert voxelize(src, "-o", tmp_path / "out", "--normalize", "max") == 2
    assert "--normalize max: choose one of rms, e2vid, none" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        voxelize(src, "-o", tmp_path / "out", "--window", "2s:1s")
    assert "ends before it starts" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- folders
def test_folders_are_mirrored(tmp_path):
    root = tmp_path / "events"
    events_file(root / "S1" / "a.h5")
    events_file(root / "S2" / "deep" / "b.npz")
    events_file(root / "S2" / "deep" / "b.h5")  # same name but suffix: both keep their suffix
    events_file(root / "S2" / ".hidden.h5")
    (root / "notes.txt").write_text("not events")
    assert voxelize(root, "-o", tmp_path / "vox") == 0
    made = sorted(p.relative_to(tmp_path / "vox").as_posix() for p in (tmp_path / "vox").rglob("*.npy"))
    assert made == ["S1/a.npy", "S2/deep/b.h5.npy", "S2/deep/b.npz.npy"]
    # file arguments: relative to their common folder
    assert voxelize(root / "S1" / "a.h5", root / "S2" / "deep" / "b.npz", "-o", tmp_path / "files") == 0
    made = sorted(p.relative_to(tmp_path / "files").as_posix() for p in (tmp_path / "files").rglob("*.npy"))
    assert made == ["S1/a.npy", "S2/deep/b.npy"]


def test_outputs_inside_the_input_folder_are_not_inputs(tmp_path, capsys):
    root = tmp_path / "events"
    events_file(root / "a.h5")
    for fmt in ("npz", "h5"):
        assert voxelize(root, "-o", root / "vox", "--format", fmt) == 0
        assert voxelize(root, "-o", root / "vox", "--format", fmt) == 0
        assert summary(capsys) == line(0, 1, 0, 1, root / "vox")
    assert sorted(p.name for p in (root / "vox").iterdir()) == ["a.h5", "a.npz"]


# ---------------------------------------------------------------- resume
OLD = 1_000_000_000  # a modification time (s) no fresh write has


def age(*paths: Path) -> None:
    for p in paths:
        os.utime(p, (OLD, OLD))


def test_resume_skips_same_settings_and_redoes_the_others(tmp_path, capsys):
    src = tmp_path / "in"
    events_file(src / "a.h5")
    events_file(src / "b.h5", rows=EVENTS[:2])
    out = tmp_path / "out"
    a, b = out / "a.npy", out / "b.npy"
    assert voxelize(src, "-o", out, "--bins", "3") == 0
    age(a, b)
    assert voxelize(src, "-o", out, "--bins", "3") == 0  # same settings: nothing written
    assert summary(capsys) == line(0, 2, 0, 2, out)
    assert a.stat().st_mtime == b.stat().st_mtime == OLD
    assert voxelize(src, "-o", out, "--bins", "5") == 0  # other settings: recomputed
    assert summary(capsys) == line(2, 0, 0, 2, out, " (2 with new settings)")
    assert np.load(a).shape == (5, H, W) and a.stat().st_mtime != OLD
    age(a, b)
    events_file(src / "b.h5", rows=EVENTS[1:])  # a changed input is redone, the other one skipped
    assert voxelize(src, "-o", out, "--bins", "5") == 0
    assert a.stat().st_mtime == OLD and b.stat().st_mtime != OLD
    assert read_output(b)[1]["event_count"] == 3
    age(a, b)
    assert voxelize(src, "-o", out, "--bins", "5", "--overwrite") == 0
    assert a.stat().st_mtime != OLD and b.stat().st_mtime != OLD
    assert summary(capsys) == line(2, 0, 0, 2, out)


@pytest.mark.parametrize("fmt", ["npy", "npz", "h5"])
def test_unreadable_outputs_are_recomputed(tmp_path, capsys, fmt):
    src = events_file(tmp_path / "in" / "a.h5")
    out = tmp_path / "out"
    assert voxelize(src, "-o", out, "--format", fmt) == 0
    path = out / f"a.{fmt}"
    good = read_output(path)[0]
    damaged(path, path, cut=-40)
    assert voxelize(src, "-o", out, "--format", fmt) == 0
    assert summary(capsys) == line(1, 0, 0, 1, out, " (1 replacing unreadable outputs)")
    np.testing.assert_array_equal(read_output(path)[0], good)
    if fmt == "npy":  # an array without its metadata (a run killed between the two writes)
        Path(f"{path}.json").unlink()
        assert voxelize(src, "-o", out) == 0
        assert summary(capsys) == line(1, 0, 0, 1, out, " (1 replacing unreadable outputs)")
        assert read_output(path)[1]["source"] == str(src)


# ---------------------------------------------------------------- bad inputs and outputs
def test_bad_inputs_are_reported_and_the_rest_done(tmp_path, capsys):
    src = tmp_path / "in"
    good = events_file(src / "good.h5")
    damaged(good, src / "cut.h5", cut=600)
    (src / "empty.raw").write_bytes(b"")
    assert voxelize(src, "-o", tmp_path / "out") == 2
    captured = capsys.readouterr()
    errors = captured.err.strip().splitlines()
    assert len(errors) == 2, errors
    assert errors[0].startswith(f"evfer: error: {src / 'cut.h5'}: ")
    assert errors[1] == f"evfer: error: {src / 'empty.raw'}: empty file (0 bytes)"
    assert captured.out.strip() == line(1, 0, 2, 3, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good.npy", "good.npy.json"]


def test_bad_output_paths_name_the_output(tmp_path, capsys):
    src = tmp_path / "in"
    events_file(src / "S1" / "a.h5")
    events_file(src / "S2" / "b.h5")
    out = tmp_path / "out"
    out.mkdir()
    (out / "S1").write_text("a file where a folder is needed")
    assert voxelize(src, "-o", out) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"evfer: error: {out / 'S1' / 'a.npy'}: cannot write the output: {out / 'S1'} is a file, "
                   "not a folder"]
    assert (out / "S2" / "b.npy").is_file()
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    assert voxelize(src, "-o", not_a_folder) == 2
    assert capsys.readouterr().err.strip() == (f"evfer: error: {not_a_folder}: exists and is not a folder; "
                                               "give a folder for the outputs")


# ---------------------------------------------------------------- the dataset cache
def test_a_prepared_events_file_equals_its_cache_row(tmp_path):
    from evfer.configure import load_config
    from evfer.datasets.clips import read_clip
    from evfer.datasets.prepare import prepare
    from evfer.datasets.voxel_cache import FLOAT16_MAX, VoxelCache, clip_planes

    cfg = load_config(tiny_config_path(tmp_path, identities=2))
    result = prepare(cfg, progress=False)
    cache = VoxelCache(result.voxel_dir)
    events_dir = result.out / "events"
    vox = cfg.voxel  # voxel_grid, 4 bins, 2 windows, 32x32, rms, area (tests/conftest.py)
    assert voxelize(events_dir, "-o", tmp_path / "vox", "--bins", vox.bins, "--windows", vox.windows,
                    "--size", "x".join(map(str, vox.size))) == 0
    assert len(result.records) == 12
    for record in result.records:
        path = result.out / record.events_path
        out = tmp_path / "vox" / Path(record.events_path).relative_to("events").with_suffix(".npy")
        grid, meta = read_output(out)
        clip = read_clip(path)
        np.testing.assert_array_equal(grid, clip_planes(clip, vox))  # float32, exactly
        as_cached = np.clip(grid, -FLOAT16_MAX, FLOAT16_MAX).astype(np.float16)
        np.testing.assert_array_equal(as_cached, cache[record.id])
        assert meta["time_span_us"] == list(clip.span_us) and meta["event_count"] == record.event_count
    # the stored span matters: first..last event gives other grids
    first_last = clip_planes(type(clip)(clip.events, (clip.events.t_start, clip.events.t_end)), vox)
    assert clip.span_us != (clip.events.t_start, clip.events.t_end) and not np.array_equal(grid, first_last)


# ---------------------------------------------------------------- real recordings
def test_real_evt3_recording(tmp_path):
    path = shared_path("event-samples", "evt3_sample.raw")
    events = read_events(path)
    assert voxelize(path, "-o", tmp_path, "--size", "320x180", "--normalize", "none", "--format", "h5") == 0
    grid, meta = read_output(tmp_path / "evt3_sample.h5")
    assert grid.shape == (10, 180, 320) and meta["sensor_size"] == [1280, 720]
    assert meta["event_count"] == len(events) and meta["time_span_us"] == [events.t_start, events.t_end]
    # every event adds its polarity, split between bins, and area pooling keeps sums
    assert grid.sum(dtype=np.float64) == pytest.approx(float(events.p.sum()), abs=1e-2)
    # a window: only its events count
    t0, t1 = events.t_start + 2000, events.t_start + 5000
    assert voxelize(path, "-o", tmp_path / "w", "--window", f"{t0}:{t1}", "--representation", "histogram",
                    "--normalize", "none") == 0
    hist, meta = read_output(tmp_path / "w" / "evt3_sample.npy")
    inside = events.window(t0, t1 + 1)
    assert hist.shape == (2, 720, 1280) and meta["event_count"] == len(inside) > 0
    assert hist[0].sum() == np.count_nonzero(inside.p > 0) and hist[1].sum() == np.count_nonzero(inside.p < 0)
