"""Recognition over time: windows of long inputs (frames emulated once, the face tracked, recordings
read chunk by chunk), the timeline rows, `evfer predict --window`, `evfer live --replay`, the Python
API and the ONNX sidecar."""

from __future__ import annotations

import csv
import json
import time

import cv2
import numpy as np
import pytest
import torch

from conftest import ROOT, tiny_config_path
from evfer.cli import main
from evfer.datasets.clips import Box
from evfer.datasets.streams import BoxTrack, EventWindows, FrameWindows, event_windows, window_starts
from evfer.events import Events
from evfer.testing import blob_events, random_events


# ---------------------------------------------------------------- windows
def test_window_starts_cover_the_input_and_a_short_input_is_one_window():
    assert window_starts(0, 2_999_999, 1_000_000, 500_000) == [0, 500_000, 1_000_000, 1_500_000, 2_000_000]
    assert window_starts(100, 600, 1_000_000, 500_000) == [100]  # shorter than a window: all of it


def test_event_windows_hold_exactly_their_events_and_are_fed_chunk_by_chunk():
    ev = random_events(60_000, 64, 48, t_start=1_000, duration=3_000_000, seed=2)
    cuts = [0, 1, 7_777, 20_000, 20_001, 45_000, len(ev)]
    windows = list(event_windows((ev[a:b] for a, b in zip(cuts[:-1], cuts[1:])),
                                 EventWindows(1_000_000, 400_000, box="none")))
    t = ev.t
    assert [w.start_us for w in windows] == [t[0] + k * 400_000 for k in range(len(windows))]
    assert windows[-1].end_us <= t[-1] + 1 < windows[-1].end_us + 400_000  # ends within one stride of the input
    for w in windows:
        inside = (t >= w.start_us) & (t < w.end_us)
        assert len(w.events) == int(inside.sum()) and np.array_equal(w.events.t, t[inside])


def test_the_event_box_follows_a_face_that_moves_and_ignores_jitter():
    a = blob_events((200, 100, 300, 300), 60_000, 10_000, t_start=0, duration=2_000_000, seed=1)
    b = blob_events((700, 300, 300, 300), 60_000, 10_000, t_start=2_000_000, duration=2_000_000, seed=2)
    both = Events(np.concatenate([a.array, b.array]), 1280, 720)
    windows = list(event_windows([both[i:i + 5000] for i in range(0, len(both), 5000)],
                                 EventWindows(500_000, 500_000, box_size=[300, 300])))
    first = [w.box for w in windows if w.end_us <= 2_000_000]
    last = [w.box for w in windows if w.start_us >= 2_000_000]
    assert len(set(first)) == 1 and len(set(last)) == 1  # held still: no jitter from window to window
    assert abs(first[0].x - 200) <= 12 and abs(last[0].x - 700) <= 12 and abs(last[0].y - 300) <= 12
    # each window's events are its crop, in box coordinates
    w = windows[-1]
    in_b = (b.t >= w.start_us) & (b.t < w.end_us)
    blob = int((in_b & (b.x >= 700) & (b.x < 1000) & (b.y >= 300) & (b.y < 600)).sum())
    assert (w.events.width, w.events.height) == (300, 300) and len(w.events) >= blob > 10_000


def test_box_track_moves_only_beyond_a_fifth_of_the_box():
    track = BoxTrack(640, 480)
    assert track.update((100, 100, 200, 200)) == (Box(100, 100, 200, 200), True)
    assert track.update((120, 110, 205, 205)) == (Box(100, 100, 200, 200), False)  # jitter: 22 px, 2 % size
    assert track.update((160, 100, 200, 200))[1]  # 60 px > 0.2 x 200
    assert track.update(None) == (Box(160, 100, 200, 200), False)  # lost: kept
    assert track.update((600, 400, 200, 200))[0] == Box(440, 280, 200, 200)  # kept inside the frame


def _moving_then_still(n_moving=30, n_still=30, size=(96, 72)):
    """A disc moving for n_moving frames, still for n_still, moving again (30 fps)."""
    w, h = size
    frames, times = [], []
    for k in range(2 * n_moving + n_still):
        img = np.full((h, w), 60, np.uint8)
        phase = k if k < n_moving else (n_moving if k < n_moving + n_still else k - n_still)
        cx = int(15 + phase * (w - 30) / (2 * n_moving))
        cv2.circle(img, (cx, h // 2), 12, 220, -1)
        frames.append(img)
        times.append(round(k * 1e6 / 30))
    return np.stack(frames), np.array(times, np.int64)


def test_frames_are_emulated_once_continuously():
    """Non-overlapping windows of a frame stream hold the events of one emulation of the whole
    (cropped, resized, blurred) clip — the same as emulate() of the preprocessed frames."""
    from evfer.datasets.frame_clips import FrameOptions, preprocess_frames
    from evfer.emulator import EmulatorSettings, emulate

    frames, times = _moving_then_still()
    options = FrameOptions(face_crop="none", blur_sigma=1.0, frame_size=[48, 36], mask_timecode=False)
    settings = EmulatorSettings.resolve("clean", {"pos_thres": 0.15, "neg_thres": 0.15}, seed=4)
    fw = FrameWindows(options, settings, 500_000, 500_000, clip_id="x")
    windows = [w for i in range(0, len(frames), 7) for w in fw.feed(frames[i:i + 7], times[i:i + 7])] + fw.finish()
    pre, _ = preprocess_frames(frames, options)
    whole = emulate(pre, times, settings, clip_id="x")
    got = np.concatenate([w.events.array for w in windows])
    span = (whole.t >= windows[0].start_us) & (whole.t < windows[-1].end_us)
    assert len(got) == int(span.sum()) > 100 and np.array_equal(got, whole.array[span])
    assert [w.face for w in windows] == [True] * len(windows)  # face_crop none: the frame is the face


class StubModel(torch.nn.Module):
    """Class 0 when the clip has many events, 1 when few: a model whose answer is known."""

    in_channels = 4

    def __init__(self, classes=2):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.k = classes

    def predict_proba(self, x, timeline=False):
        busy = (x.abs().flatten(1).gt(0).float().mean(1) > 0.02).float()
        p = torch.stack([busy, 1 - busy] + [torch.zeros_like(busy)] * (self.k - 2), 1) * 0.9 + 0.1 / self.k
        return p


def test_timeline_rows_follow_segments_to_one_stride(tmp_path):
    """Moving / still / moving: the windows fully inside a segment get its answer (busy, or
    no-events for the still part: nothing is guessed), and the label changes within one stride of
    the segment boundaries."""
    from evfer.configure import load_config
    from evfer.training.timeline import Predictor, windows_of_file

    frames, times = _moving_then_still(30, 45)
    video = tmp_path / "seg.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (96, 72), False)
    for f in frames:
        writer.write(f)
    writer.release()
    cfg = load_config(tiny_config_path(tmp_path, "data.sources.0.face_crop=none", "data.sources.0.blur_sigma=0",
                                       "emulator.params.pos_thres=0.3", "emulator.params.neg_thres=0.3"))
    window, stride = 300_000, 100_000
    rows = list(Predictor(StubModel(6), ["busy", "still", "a", "b", "c", "d"], cfg)
                .rows(str(video), windows_of_file(cfg, video, window, stride)))
    moving = [(0.0, 1.0), (2.5, 3.5)]  # seconds
    still = (1.0, 2.5)
    for r in rows:
        if any(a <= r.start_s and r.end_s <= b for a, b in moving):
            assert r.label == "busy", r
        elif still[0] + 0.1 <= r.start_s and r.end_s <= still[1]:  # + a frame for the last motion
            assert r.label == "no-events" and r.probabilities is None and "no-events" in r.flags, r
    changes = [rows[i].end_s for i in range(1, len(rows)) if rows[i].label != rows[i - 1].label]
    for boundary in (1.0 + window / 1e6, 2.5):  # a window turns still when it ends after the motion stops
        assert min(abs(c - boundary) for c in changes) <= stride / 1e6 + 1 / 30, (changes, boundary)


def test_smoothing_is_the_causal_mean_of_the_last_windows():
    from evfer.configure import load_config
    from evfer.datasets.streams import Window
    from evfer.training.timeline import Predictor

    class Fixed(torch.nn.Module):
        def __init__(self, seq):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))
            self.seq = list(seq)

        def predict_proba(self, x, timeline=False):
            return torch.tensor([self.seq.pop(0) for _ in range(len(x))])

    cfg = load_config(None, ["voxel.windows=1", "voxel.size=[16, 16]"])
    seq = [[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]]
    ev = random_events(500, 16, 16, duration=10_000, seed=1)
    windows = [Window(k, k * 10_000, (k + 1) * 10_000, ev) for k in range(4)]
    rows = list(Predictor(Fixed(seq), ["a", "b"], cfg, smooth=2, batch_size=1).rows("x", windows))
    expected = [[1.0, 0.0], [0.5, 0.5], [0.0, 1.0], [0.5, 0.5]]
    assert [[r.probabilities["a"], r.probabilities["b"]] for r in rows] == expected


# ---------------------------------------------------------------- through the commands
@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("timeline")
    cfg = tiny_config_path(folder, "train.epochs=1", "train.precision=fp32")
    assert main(["train", str(cfg), "-o", str(folder / "run"), "--quiet"]) == 0
    return folder, folder / "run"


@pytest.mark.slow
@pytest.mark.xdist_group("training")
def test_predict_window_on_a_long_video_writes_the_timeline(run, tmp_path, capsys, shared):
    folder, run_dir = run
    video = shared("videos", "WolfgangLanger_Pexels.mp4")
    out = tmp_path / "t.csv"
    assert main(["predict", str(run_dir), str(video), "--window", "2s", "--stride", "1s", "--timeline", str(out),
                 "--json", "--quiet"]) == 0
    result = json.loads(capsys.readouterr().out)[0]
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[:6] == ["file", "start_s", "end_s", "box", "label", "confidence"]
    assert list(rows[0])[-1] == "flags" and "p_happy" in rows[0]
    # 472 frames at 23.98 fps = 19.68 s at the video's own rate (not the training source's 30 fps)
    starts = [float(r["start_s"]) for r in rows]
    assert starts == [float(k) for k in range(18)] and float(rows[-1]["end_s"]) == 19.0
    assert result["mode"] == "windows" and len(result["windows"]) == 18
    assert any("synthetic faces only" in w for w in result["warnings"])
    for r in rows:
        x, y, w, h = map(int, r["box"].split())
        assert x >= 0 and y >= 0 and x + w <= 640 and y + h <= 360  # inside the frame
        assert abs(sum(float(r[f"p_{c}"]) for c in ("happy", "sad", "angry", "confused", "shocked", "neutral")) - 1) < 1e-3


@pytest.mark.slow
@pytest.mark.xdist_group("training")
def test_an_input_no_longer_than_a_window_is_one_clip_as_before(run, capsys):
    """The exact clip `prepare` makes (the same probabilities as evaluation), whatever --window."""
    folder, run_dir = run
    from evfer.datasets.manifest import read_manifest

    rec = next(r for r in read_manifest(run_dir / "manifest.csv") if r.split == "test")
    h5 = folder / "data" / rec.events_path
    assert main(["predict", str(run_dir), str(h5), "--json", "--quiet"]) == 0
    default = json.loads(capsys.readouterr().out)[0]
    assert main(["predict", str(run_dir), str(h5), "--window", "10s", "--json", "--quiet"]) == 0
    long_window = json.loads(capsys.readouterr().out)[0]
    assert default["mode"] == long_window["mode"] == "clip" and default["probabilities"] == long_window["probabilities"]
    with (run_dir / "predictions-test.csv").open() if (run_dir / "predictions-test.csv").exists() else \
            open(_evaluate(run_dir)) as f:
        row = next(r for r in csv.DictReader(f) if r["id"] == rec.id)
    for c, p in default["probabilities"].items():
        assert p == pytest.approx(float(row[f"p_{c}"]), abs=1.1e-4)


def _evaluate(run_dir):
    assert main(["evaluate", str(run_dir), "--json"]) == 0
    return run_dir / "predictions-test.csv"


@pytest.mark.slow
@pytest.mark.xdist_group("training")
def test_live_replay_classifies_windows_as_they_arrive(run, tmp_path, capsys, shared):
    folder, run_dir = run
    video = shared("videos", "single_face.mp4")  # 72 frames at 30 fps: 2.4 s
    started = time.monotonic()
    assert main(["live", str(run_dir), "--replay", str(video), "--window", "1s", "--stride", "500ms",
                 "--timeline", str(tmp_path / "live.csv"), "--render", str(tmp_path / "live.mp4")]) == 0
    took = time.monotonic() - started
    out = capsys.readouterr().out
    assert took >= 2.0  # replayed at its real pace, not as fast as possible
    assert out.count("latency") >= 3 and "windows in" in out and "latency median" in out
    with (tmp_path / "live.csv").open() as f:
        assert [float(r["start_s"]) for r in csv.DictReader(f)] == [0.0, 0.5, 1.0]
    cap = cv2.VideoCapture(str(tmp_path / "live.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 3


def test_live_drops_input_instead_of_queueing_without_bound(tmp_path):
    """A classifier slower than the stream: the backlog stays bounded, input is dropped and said so."""
    from evfer.configure import load_config
    from evfer.training.live import Chunk, run_live
    from evfer.training.timeline import Predictor

    class Slow(StubModel):
        def predict_proba(self, x, timeline=False):
            time.sleep(0.25)
            return super().predict_proba(x, timeline)

    def chunks():  # 4 s of events at real pace, 10 ms per chunk
        start = time.monotonic()
        for k in range(400):
            ev = random_events(200, 32, 32, t_start=k * 10_000, duration=9_999, seed=k)
            delay = start + k * 0.01 - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            yield Chunk(events=ev)

    cfg = load_config(None, ["voxel.windows=1", "voxel.size=[16, 16]", "voxel.bins=4"])
    predictor = Predictor(Slow(2), ["a", "b"], cfg, batch_size=1)
    summary = run_live(predictor, cfg, "events", chunks(), window_us=200_000, stride_us=100_000, box="none",
                       max_backlog_s=0.3)
    assert summary.dropped_chunks > 0 and "fell behind" in summary.text()
    assert max(summary.latencies) < 0.3 + 0.25 * 3 + 0.5  # bounded by the backlog, not growing with the input
    assert summary.seconds < 4.0 + 2.0  # it does not run on long after the stream ended


def test_event_cameras_without_their_library_say_what_to_install():
    from evfer.errors import InputError
    from evfer.training.live import event_camera_chunks

    with pytest.raises(InputError, match="pip install dv-processing"):
        event_camera_chunks("dv")
    with pytest.raises(InputError, match="Metavision SDK"):
        event_camera_chunks("metavision")


@pytest.mark.slow
@pytest.mark.xdist_group("training")
def test_python_api_and_readme_onnx_example_match_evfer_predict(run, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    import evfer
    from evfer.datasets.manifest import read_manifest
    from evfer.io import read_events

    folder, run_dir = run
    rec = next(r for r in read_manifest(run_dir / "manifest.csv") if r.split == "test")
    h5 = folder / "data" / rec.events_path
    assert main(["predict", str(run_dir), str(h5), "--json", "--quiet"]) == 0
    expected = json.loads(capsys.readouterr().out)[0]["probabilities"]

    model = evfer.Recognizer.load(run_dir)
    got = model.predict(read_events(h5))  # an evfer clip file's events carry their span
    assert got["probabilities"] == pytest.approx(expected, abs=1e-4) and model.window_us > 0
    assert model.predict(str(h5))["probabilities"] == expected

    # the README's onnxruntime example, run as written on an exported model and this events file
    assert main(["export", str(run_dir), "-o", str(tmp_path / "model.onnx")]) == 0
    code = readme_block("onnxruntime")
    scope = {}
    exec(compile(code.replace("model.onnx", str(tmp_path / "model.onnx")).replace("clip.h5", str(h5)), "README", "exec"),
         scope)
    classes = json.loads((tmp_path / "model.onnx.json").read_text())["classes"]
    assert dict(zip(classes, scope["probabilities"].tolist())) == pytest.approx(expected, abs=1e-4)


def readme_block(marker: str) -> str:
    """The README's Python code block that mentions ``marker``."""
    text = (ROOT / "README.md").read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```python\n")[1:]]
    return next(b for b in blocks if marker in b)
