"""`evfer convert` and the frame readers: naming, resume, shards, workers, metadata, bad input."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from evfer.cli import main
from evfer.emulator import EmulatorSettings, emulate, read_frames
from evfer.emulator.convert import convert_file, convert_sources, plan_jobs, select_shard
from evfer.emulator.frames import natural_key
from evfer.errors import InputError
from evfer.io import read_events

from conftest import damaged


def scene(k: int, h: int = 40, w: int = 48) -> np.ndarray:
    """Frame k of a bright disc moving right over a gradient (uint8 grey)."""
    yy, xx = np.mgrid[0:h, 0:w]
    img = 40 + 2 * xx + 60 * ((xx - 8 - 3 * k) ** 2 + (yy - h / 2) ** 2 < 40)
    return np.clip(img, 0, 255).astype(np.uint8)


def write_folder(path, n=6, h=40, w=48, names="frame{}.png", colour=False):
    path.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        img = scene(k, h, w)
        cv2.imwrite(str(path / names.format(k + 1)), np.dstack([img] * 3) if colour else img)
    return path


def write_video(path, n=8, h=40, w=48, fps=25.0):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    if not writer.isOpened():
        pytest.skip("OpenCV cannot write MJPG video here")
    for k in range(n):
        writer.write(np.dstack([scene(k, h, w)] * 3))
    writer.release()
    return path


def files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


# ------------------------------------------------------------------------------------------ reading
def test_folder_frames_in_natural_order_with_default_fps(tmp_path):
    folder = write_folder(tmp_path / "seq", n=12)  # frame1 .. frame12: lexicographic order would be wrong
    frames, t = read_frames(folder)
    assert frames.shape == (12, 40, 48) and frames.dtype == np.uint8
    assert all(np.array_equal(frames[k], scene(k)) for k in range(12))
    assert np.array_equal(t, np.round(np.arange(12) * 1e6 / 30).astype(np.int64))  # 30 fps default
    _, t25 = read_frames(folder, fps=25)
    assert t25[1] == 40_000
    names = ["a10.png", "a2.png", "a1.png", "b.png"]
    assert sorted(names, key=natural_key) == ["a1.png", "a2.png", "a10.png", "b.png"]


def test_colour_folder_is_converted_like_opencv(tmp_path):
    folder = write_folder(tmp_path / "c", n=3, colour=True)
    frames, _ = read_frames(folder)
    assert np.array_equal(frames[1], scene(1))  # grey BGR -> the same grey


def test_crop_then_resize(tmp_path):
    folder = write_folder(tmp_path / "seq", n=3)
    frames, _ = read_frames(folder, crop=(4, 6, 30, 20), size=(15, 10))
    expected = cv2.resize(scene(2)[6:26, 4:34], (15, 10), interpolation=cv2.INTER_AREA)
    assert frames.shape == (3, 10, 15) and np.array_equal(frames[2], expected)


def test_video_reading(tmp_path):
    video = write_video(tmp_path / "clip.avi", n=8, fps=25.0)
    frames, t = read_frames(video)
    assert frames.shape == (8, 40, 48)
    assert np.array_equal(t, np.arange(8) * 40_000)
    assert np.abs(frames[3].astype(int) - scene(3)).mean() < 6  # MJPG is lossy
    _, t10 = read_frames(video, fps=10)  # --fps overrides the container's rate
    assert t10[1] == 100_000


# ------------------------------------------------------------------------------------------ naming, shards
def test_output_names_mirror_relative_paths_and_never_collide(tmp_path, monkeypatch):
    src = tmp_path / "data"
    a = write_folder(src / "S1" / "001", n=2)
    b = write_folder(src / "S2" / "001", n=2)
    c = write_folder(src / "clip", n=2)
    v = write_video(src / "clip.avi", n=2)
    # inputs from elsewhere: OUT/<name>.h5, never their absolute folders; same names get -2, -3
    monkeypatch.chdir(src / "S1")
    flat = plan_jobs([b, a, v], tmp_path / "out")
    assert sorted(j.dst.relative_to(tmp_path / "out").as_posix() for j in flat) == ["001-2.h5", "001.h5", "clip.h5"]
    # inputs below the working directory: their layout below the common folder is kept
    monkeypatch.chdir(tmp_path)
    jobs = plan_jobs([b, a, c, v, a], tmp_path / "out")
    assert [j.name for j in jobs] == ["S1/001", "S2/001", "clip", "clip.avi"]
    assert [j.dst.relative_to(tmp_path / "out").as_posix() for j in jobs] == [
        "S1/001.h5", "S2/001.h5", "clip.h5", "clip.avi.h5"]
    single = plan_jobs([v], tmp_path / "out")
    assert single[0].dst == tmp_path / "out" / "clip.h5"
    assert plan_jobs([v], tmp_path / "one.h5")[0].dst == tmp_path / "one.h5"
    shards = [select_shard(jobs, (i, 3)) for i in range(3)]
    assert sorted(j.name for s in shards for j in s) == [j.name for j in jobs]
    assert sum(len(s) for s in shards) == len(jobs)
    with pytest.raises(InputError, match="shard"):
        select_shard(jobs, (3, 3))


# ------------------------------------------------------------------------------------------ converting
def test_convert_file_equals_emulate_and_stores_metadata(tmp_path):
    folder = write_folder(tmp_path / "seq", n=7)
    settings = EmulatorSettings.resolve("noisy", {"cutoff_hz": 50.0}, seed=3)
    out = convert_file(folder, tmp_path / "seq.h5", settings, fps=20, crop=(0, 0, 40, 40), size=(20, 20),
                       chunk_frames=3)
    ev = read_events(out)
    frames, t = read_frames(folder, fps=20, crop=(0, 0, 40, 40), size=(20, 20))
    expected = emulate(frames, t, preset="noisy", seed=3, clip_id="seq", cutoff_hz=50.0)
    assert len(expected) > 50 and np.array_equal(ev.array, expected.array)
    assert (ev.width, ev.height) == (20, 20)
    m = ev.meta
    assert m["source"] == str(folder) and m["fps"] == 20.0 and m["n_frames"] == 7
    assert m["crop"] == [0, 0, 40, 40] and m["size"] == [20, 20] and m["span_us"] == [0, 300_000]
    assert m["emulator"]["preset"] == "noisy" and m["emulator"]["cutoff_hz"] == 50.0
    assert m["emulator"]["sigma_thres"] == 0.05 and m["emulator"]["clip_id"] == "seq"


def test_resume_skips_finished_outputs_and_refuses_other_settings(tmp_path):
    src = tmp_path / "data"
    write_folder(src / "a", n=3)
    write_folder(src / "b", n=3)
    out = tmp_path / "out"
    first = convert_sources([src / "a", src / "b"], out, progress=False)
    assert len(first.done) == 2 and not first.failed
    stamp = (out / "a.h5").stat().st_mtime_ns
    again = convert_sources([src / "a", src / "b"], out, progress=False)
    assert len(again.skipped) == 2 and not again.done and (out / "a.h5").stat().st_mtime_ns == stamp
    v2e = EmulatorSettings.resolve("v2e")
    other = convert_sources([src / "a"], out, v2e, progress=False)
    assert len(other.failed) == 1 and "other settings" in other.failed[0][1]
    redo = convert_sources([src / "a"], out, v2e, overwrite=True, progress=False)
    assert len(redo.done) == 1 and read_events(out / "a.h5").meta["emulator"]["preset"] == "v2e"


def test_worker_count_does_not_change_outputs(tmp_path):
    src = tmp_path / "data"
    sources = [write_folder(src / f"s{i}", n=4 + i) for i in range(3)]
    noisy = EmulatorSettings.resolve("noisy", seed=5)
    one = convert_sources(sources, tmp_path / "w1", noisy, workers=1, progress=False)
    two = convert_sources(sources, tmp_path / "w2", noisy, workers=2, progress=False)
    assert len(one.done) == len(two.done) == 3
    for name in ("s0.h5", "s1.h5", "s2.h5"):
        a, b = read_events(tmp_path / "w1" / name), read_events(tmp_path / "w2" / name)
        assert a == b and len(a) > 0
        assert {k: v for k, v in a.meta.items() if k != "file"} == {
            k: v for k, v in b.meta.items() if k != "file"}
        assert (tmp_path / "w1" / name).read_bytes() == (tmp_path / "w2" / name).read_bytes()
    # and the clips differ from each other (seeded by name, not all alike)
    assert read_events(tmp_path / "w1" / "s0.h5").meta["emulator"]["clip_id"] == "s0"


def test_cli_convert_end_to_end(tmp_path, capsys):
    src = tmp_path / "data"
    write_folder(src / "x", n=4)
    write_video(src / "y.avi", n=5)
    code = main(["convert", str(src / "x"), str(src / "y.avi"), "-o", str(tmp_path / "out"),
                 "--preset", "v2e", "--param", "timestamps=v2e", "--param", "upsample=2", "--fps", "12.5",
                 "--quiet", "--shard", "0/1"])
    assert code == 0
    assert "converted 2, skipped 0" in capsys.readouterr().out
    ev = read_events(tmp_path / "out" / "x.h5")
    assert ev.meta["fps"] == 12.5
    assert ev.meta["emulator"]["timestamps"] == "v2e" and ev.meta["emulator"]["upsample"] == 2
    assert read_events(tmp_path / "out" / "y.h5").meta["fps"] == 12.5


# ------------------------------------------------------------------------------------------ bad input
def bad_sources(tmp_path):
    garbage = tmp_path / "broken.mp4"
    garbage.write_bytes(b"this is not a video" * 100)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no frames here")
    mixed = write_folder(tmp_path / "mixed", n=3)
    cv2.imwrite(str(mixed / "frame4.png"), np.zeros((20, 20), np.uint8))
    single = write_folder(tmp_path / "single", n=1)
    corrupt = write_folder(tmp_path / "corrupt", n=3)
    (corrupt / "frame2.png").write_bytes(b"\x89PNG broken")
    cut = write_folder(tmp_path / "cut", n=3)  # a real PNG cut short: libpng prints its own error
    (cut / "frame1.png").write_bytes((cut / "frame1.png").read_bytes()[:-40])
    small = tmp_path / "small.mp4"
    writer = cv2.VideoWriter(str(small), cv2.VideoWriter_fourcc(*"mp4v"), 25, (32, 24))
    for i in range(5):
        writer.write(np.full((24, 32, 3), 40 * i, np.uint8))
    writer.release()
    flipped = damaged(small, tmp_path / "flipped.mp4", flip=0)  # OpenCV logs "[ERROR:0@...] loadsave.cpp ..."
    holed = write_folder(tmp_path / "holed", n=3)
    (holed / "frame1.png").unlink()
    (holed / "frame1.png").mkdir()  # a folder where a frame should be
    return {
        "broken.mp4": (garbage, "cannot open as a video|no frames could be decoded"),
        "empty": (empty, "no images"),
        "mixed": (mixed, "differs from the first frame"),
        "single": (single, "at least 2 frames"),
        "corrupt": (corrupt, "cannot read image"),
        "cut": (cut, "frame1.png: cannot read image"),
        "holed": (holed, "frame1.png: named like a frame but is a folder"),
        "flipped.mp4": (flipped, "cannot open as a video"),
    }


def test_bad_sources_give_one_line_and_no_output(tmp_path, capfd):
    cases = bad_sources(tmp_path)
    for name, (path, pattern) in cases.items():
        out = tmp_path / f"out-{name}"
        code = main(["convert", str(path), "-o", str(out), "--quiet"])
        err = capfd.readouterr().err.strip()  # file descriptor 2: what OpenCV, libpng, FFmpeg print too
        assert code == 2, name
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("evfer: error:") and str(path) in lines[0], (name, err)
        import re

        assert re.search(pattern, lines[0]), (name, lines[0])
        assert not out.exists() or files(out) == [], (name, files(out))


def test_batch_keeps_going_past_a_bad_source(tmp_path):
    good = write_folder(tmp_path / "good", n=3)
    empty = tmp_path / "empty"
    empty.mkdir()
    summary = convert_sources([good, empty], tmp_path / "out", progress=False)
    assert [p.name for p in summary.done] == ["good.h5"]
    assert len(summary.failed) == 1 and "no images" in summary.failed[0][1]
    assert files(tmp_path / "out") == ["good.h5"]


@pytest.mark.parametrize("argv, message", [
    (["--param", "cutof_hz=3"], "did you mean 'cutoff_hz'"),
    (["--param", "sigma_thres=-1"], "sigma_thres"),
    (["--preset", "fast"], "unknown emulator preset"),
    (["--crop", "1,2,3"], "--crop"),
    (["--size", "20by10"], "--size"),
    (["--shard", "2/2"], "--shard"),
])
def test_bad_options_are_one_line_errors(tmp_path, capsys, argv, message):
    folder = write_folder(tmp_path / "seq", n=2)
    code = main(["convert", str(folder), "-o", str(tmp_path / "out"), "--quiet", *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0], err
    assert not (tmp_path / "out").exists()


def test_crop_outside_the_frame_is_an_input_error(tmp_path):
    folder = write_folder(tmp_path / "seq", n=2)
    with pytest.raises(InputError, match="does not fit"):
        read_frames(folder, crop=(40, 0, 20, 20))
