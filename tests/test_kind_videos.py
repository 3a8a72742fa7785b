"""``kind: videos``: labelled videos by folder or CSV, segments, given boxes, damaged files, and
predict making exactly the events prepare made for a video."""

from __future__ import annotations

import cv2
import pytest

from evfer.configure import load_config
from evfer.datasets.clips import Box
from evfer.datasets.kinds import make_source, source_config
from evfer.datasets.prepare import prepare
from evfer.datasets.synthetic import render_sequence
from evfer.errors import InputError
from evfer.io import read_events

from conftest import damaged, shared_path


def write_video(path, identity=0, expression="happy", n=10, fps=25.0, size=(96, 96)):
    """A synthetic face video (mp4v), colour, ``n`` frames at ``fps``."""
    frames = render_sequence(identity, expression, n, size, seed=4)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    assert writer.isOpened()
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_GRAY2BGR))
    writer.release()
    return path


def scan(root, **options):
    s = make_source(source_config("videos", root, **options)).scan(progress=False)
    return s.specs, s.skipped


def test_folder_layout_labels_subjects_and_reports_odd_files(tmp_path):
    write_video(tmp_path / "happy" / "s01_take1.mp4", 0, "happy")
    write_video(tmp_path / "sad" / "s02_take1.mp4", 1, "sad")
    (tmp_path / "sad" / "notes.txt").write_text("x")
    write_video(tmp_path / "sad" / "nounderscore.mp4", 2, "sad")
    specs, skipped = scan(tmp_path)
    assert [(s.subject, s.original_label) for s in specs] == [("s01", "happiness"), ("s02", "sadness")]
    assert {s.source for s in specs} == {"videos"} and all(len(s.paths) == 1 for s in specs)
    reasons = {k.item.rsplit("/", 1)[-1]: k.reason for k in skipped}
    assert "not a video" in reasons["notes.txt"] and "<subject>_<anything>" in reasons["nounderscore.mp4"]


def test_csv_layout_with_segment_and_box(tmp_path):
    write_video(tmp_path / "clips" / "a.mp4", 0, "shocked", n=20, fps=20)
    (tmp_path / "labels.csv").write_text(
        "path,subject,label,start_s,end_s,box\n"
        "clips/a.mp4,p1,surprise,0.25,0.6,10 10 70 70\n"
        "clips/a.mp4,p1,surprise,,,\n"
        "clips/missing.mp4,p2,happy,,,\n"
        "clips/a.mp4,p3,happy,0.5,0.2,\n"
        "clips/a.mp4,p4,happy,,,1 2 3\n"
    )
    specs, skipped = scan(tmp_path, csv="labels.csv")
    assert len(specs) == 2
    seg = next(s for s in specs if s.start_us is not None)
    assert (seg.start_us, seg.end_us, seg.box) == (250_000, 600_000, Box(10, 10, 70, 70))
    assert seg.id.endswith("_0.25s")
    why = sorted(k.reason for k in skipped)
    assert any("no such video" in r for r in why) and any("not after start_s" in r for r in why)
    assert any("is not x, y, w, h" in r for r in why)
    source = make_source(source_config("videos", tmp_path, csv="labels.csv", blur_sigma=0, frame_size=[32, 32]))
    clip = source.clip(seg)
    # frames at 0.25, 0.30, ..., 0.60 s (20 fps): the span covers them and nothing else
    assert clip.span_us == (250_000, 600_000) and clip.events.t.min() > 250_000 and clip.events.t.max() <= 600_000
    assert clip.crop.method == "given" and clip.crop.box == (10, 10, 70, 70)
    assert clip.events.meta["fps"] == 20.0 and clip.events.meta["n_frames"] == 8


def test_predict_on_an_mp4_makes_the_events_prepare_made(tmp_path):
    """Issue 9's check: predict's clip path on a video is prepare's, event for event."""
    from evfer.training.predict import file_clip

    video = write_video(tmp_path / "videos" / "happy" / "s01_a.mp4", 3, "happy", n=12, fps=30)
    config = tmp_path / "v.yaml"
    config.write_text(f"""
data:
  sources: [{{kind: videos, root: {tmp_path / 'videos'}, frame_size: [48, 48], blur_sigma: 0.5}}]
  out: {tmp_path / 'data'}
  workers: 1
  split: {{fractions: [1.0, 0.0, 0.0]}}
emulator: {{params: {{pos_thres: 0.1, neg_thres: 0.1}}, seed: 7}}
voxel: {{bins: 2, windows: 2, size: [16, 16]}}
""")
    cfg = load_config(config)
    result = prepare(cfg, build_voxels=False, progress=False)
    (rec,) = result.records
    stored = read_events(result.out / rec.events_path)
    made = file_clip(video, load_config(config), clip_id=rec.id)
    assert len(stored) > 100 and made.events == stored
    assert list(made.span_us) == stored.meta["span_us"] and list(made.crop.box) == stored.meta["crop"]["box"]


def test_damaged_video_is_refused_not_shortened(tmp_path):
    """A flipped byte in the shared face video makes OpenCV stop after 40 of its 72 frames, silently."""
    good = shared_path("videos", "single_face.mp4")
    bad = damaged(good, tmp_path / "happy" / "s01_bad.mp4", flip=126439)
    from evfer.emulator import read_frames

    with pytest.raises(InputError, match=r"only 40 of the 72 frames its container states could be decoded"):
        read_frames(bad)
    source = make_source(source_config("videos", tmp_path, frame_size=[32, 32]))
    (spec,) = source.scan(progress=False).specs
    with pytest.raises(InputError, match=str(bad)):
        source.clip(spec)


def test_unreadable_video_says_permission_denied(tmp_path, monkeypatch):
    import os

    video = write_video(tmp_path / "happy" / "s01_a.mp4")
    video.chmod(0)
    if os.access(video, os.R_OK):  # root reads every file: make the check see what a user would
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, *a, **k: False if str(p) == str(video) else real(p, mode))
    specs, skipped = scan(tmp_path)
    assert not specs and skipped[0].reason == f"{video}: permission denied"


def test_clip_with_frames_decodes_once_and_equals_clip(tmp_path, monkeypatch):
    """The prediction video needs the clip and its source frames: one decode gives both, and the clip
    is the one `clip` makes (the event filter included)."""
    from evfer.config import DenoiseConfig
    from evfer.datasets.frame_clips import FrameSource
    from evfer.datasets.source import ClipContext

    write_video(tmp_path / "happy" / "s01_a.mp4", 2, "happy", n=10, fps=25)
    context = ClipContext(denoise=DenoiseConfig(window_us=20_000, radius=1))
    source = make_source(source_config("videos", tmp_path, frame_size=[48, 48], blur_sigma=0), context)
    (spec,) = source.scan(progress=False).specs
    expected, expected_frames = source.clip(spec), source.frames(spec)
    decodes = []
    original = FrameSource.frames
    monkeypatch.setattr(FrameSource, "frames", lambda self, s: decodes.append(s) or original(self, s))
    clip, frame_set = source.clip_with_frames(spec)
    assert len(decodes) == 1
    assert clip.events == expected.events and 0 < clip.events.meta["denoise_kept"] < clip.events.meta["denoise_input"]
    assert (frame_set.frames == expected_frames.frames).all() and (frame_set.times == expected_frames.times).all()
