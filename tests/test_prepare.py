"""The whole `prepare` on a small synthetic set, plus resume, cache reuse and bad input."""

import json
import shutil

import numpy as np
import pytest

from evfer.cli import main
from evfer.configure import load_config
from evfer.datasets.manifest import read_manifest
from evfer.datasets.prepare import prepare
from evfer.datasets.voxel_cache import VoxelCache, VoxelClipDataset, cache_name, expand_repeats
from evfer.errors import EvferError

from conftest import tiny_config_path

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("prepare")]


def tiny(folder, *overrides):
    """The tiny config (conftest) with its data under ``folder``."""
    return load_config(tiny_config_path(folder, *overrides))


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("prep")
    cfg = tiny(tmp)
    return cfg, prepare(cfg, progress=False)


def test_outputs_and_manifest(prepared):
    cfg, result = prepared
    out = result.out
    for name in ("manifest.csv", "summary.txt", "summary.json", "prepare.yaml"):
        assert (out / name).is_file(), name
    recs = read_manifest(out / "manifest.csv")
    assert len(recs) == 36  # 6 identities x 6 classes, synthetic has no onset clips
    assert {r.label for r in recs} == {"happy", "sad", "angry", "confused", "shocked", "neutral"}
    for r in recs:
        assert (out / r.events_path).is_file() and r.event_count > 0 and r.duration_us > 0
    # subject-disjoint and every split populated
    splits = {}
    for r in recs:
        assert splits.setdefault(r.subject, r.split) == r.split
    assert set(splits.values()) == {"train", "val", "test"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["clips"] == 36 and summary["label_table"]["contempt"] == "confused"
    assert "synthetic" in summary["neutral_to_expression_event_rate"]
    text = (out / "summary.txt").read_text()
    assert "contempt  -> confused" in text and "neutral-to-expression event-rate ratio" in text


def test_voxel_cache_and_dataset(prepared):
    cfg, result = prepared
    assert result.voxel_dir.name == cache_name(cfg.voxel) == "voxel_grid-bins4-rms-area_T2_32x32"
    cache = VoxelCache(result.voxel_dir)
    assert cache.array.shape == (36, 2, 4, 32, 32) and cache.array.dtype == np.float16
    # the cache row equals voxelizing the stored events directly over the clip's frame span, then
    # dividing by the RMS of the non-zero voxels
    from evfer.io import read_events
    from evfer.voxel import clip_voxels

    r = result.records[0]
    ev = read_events(result.out / r.events_path)
    t0, t1 = ev.meta["span_us"]
    assert t0 == 0 and t1 > ev.t_end - 40_000  # first to last frame (30 fps)
    raw = clip_voxels(ev, 4, 2, size=(32, 32), t_start=t0, t_end=t1, resize="area")
    direct = raw / np.sqrt(np.mean(raw[raw != 0].astype(np.float64) ** 2))
    assert np.allclose(cache[r.id].astype(np.float32), direct, atol=2e-3 * max(1, np.abs(direct).max()))
    train = [x for x in result.records if x.split == "train"]
    ds = VoxelClipDataset(cache, expand_repeats(train), ["happy", "sad", "angry", "confused", "shocked", "neutral"])
    x, y = ds[0]
    assert tuple(x.shape) == (2, 4, 32, 32) and x.dtype.is_floating_point and 0 <= y < 6


def test_rerun_resumes_and_reuses(prepared, tmp_path):
    cfg, result = prepared
    out = result.out
    events = sorted((out / "events").rglob("*.h5"))
    mtimes = {p: p.stat().st_mtime_ns for p in events}
    voxel_mtime = (result.voxel_dir / "voxels.npy").stat().st_mtime_ns
    # simulate a killed run: one clip's events missing
    events[0].unlink()
    again = prepare(cfg, progress=False)
    assert events[0].is_file()
    assert all(p.stat().st_mtime_ns == mtimes[p] for p in events[1:])  # not recomputed
    assert [r.id for r in again.records] == [r.id for r in result.records]
    assert (again.voxel_dir / "voxels.npy").stat().st_mtime_ns == voxel_mtime  # same clips, same params: reused
    # new voxel parameters: a new cache folder beside the old one
    cfg2 = tiny(out.parent, "voxel.bins=2")
    third = prepare(cfg2, progress=False)
    assert third.voxel_dir != result.voxel_dir and result.voxel_dir.is_dir()


def test_a_cache_rebuilt_for_fewer_clips_keeps_the_others_rows(prepared, tmp_path):
    """A dataset that lost clips (a source shrank, a rule now leaves clips out): the cache is rebuilt
    for the clips left, each row the one the full cache held (reused, not recomputed)."""
    from evfer.datasets.voxel_cache import build_voxel_cache

    cfg, result = prepared
    out = tmp_path / "data"
    shutil.copytree(result.out, out)
    full = VoxelCache(out / "voxels" / result.voxel_dir.name)
    expected = {cid: np.array(full[cid]) for cid in full.ids}
    kept = result.records[2:]
    folder = build_voxel_cache(out, kept, cfg.voxel, workers=1, progress=False)
    cache = VoxelCache(folder)
    assert sorted(cache.ids) == sorted(r.id for r in kept)
    for r in kept:
        assert np.array_equal(cache[r.id], expected[r.id]), r.id


def test_same_seed_same_events(prepared, tmp_path):
    cfg, result = prepared
    shutil.copytree(result.out.parent / "synth", tmp_path / "synth")
    again = prepare(tiny(tmp_path), build_voxels=False, progress=False)
    from evfer.io import read_events

    for r in result.records[:5]:
        assert read_events(result.out / r.events_path) == read_events(again.out / r.events_path)
    assert [(r.id, r.split) for r in again.records] == [(r.id, r.split) for r in result.records]


def test_broken_items_are_reported_and_the_rest_prepared(tmp_path):
    import cv2

    root = tmp_path / "ck"
    for seq, code in (("001", 5), ("002", 6), ("003", 1)):
        folder = root / "cohn-kanade-images" / "S010" / seq
        folder.mkdir(parents=True)
        for i in range(1, 5):
            img = np.full((40, 40), 60 + 30 * i, np.uint8)
            cv2.imwrite(str(folder / f"S010_{seq}_{i:08d}.png"), img)
        lab = root / "Emotion" / "S010" / seq
        lab.mkdir(parents=True)
        (lab / f"S010_{seq}_00000004_emotion.txt").write_text(f"{code:.7e}\n")
    # a sequence with mixed image sizes and one with a corrupt image
    bad = root / "cohn-kanade-images" / "S010" / "002" / "S010_002_00000003.png"
    cv2.imwrite(str(bad), np.zeros((30, 30), np.uint8))
    (root / "cohn-kanade-images" / "S010" / "003" / "S010_003_00000002.png").write_bytes(b"garbage")
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(f"""
data:
  sources: [{{kind: ckplus, root: {root}, face_crop: none, frame_size: [32, 32], neutral_from_onset: false}}]
  out: {tmp_path / 'out'}
  workers: 1
  split: {{method: subject, fractions: [1.0, 0.0, 0.0]}}
voxel: {{bins: 2, windows: 1, size: [8, 8]}}
""")
    result = prepare(load_config(cfg_path), build_voxels=False, progress=False)
    assert [r.id for r in result.records] == ["ckplus-S010_001"]
    reasons = {s.item: s.reason for s in result.skipped}
    assert "differs from the sequence's 40x40" in reasons["ckplus-S010_002"]
    assert "S010_002_00000003.png" in reasons["ckplus-S010_002"]
    assert "S010_003_00000002.png: cannot read image" in reasons["ckplus-S010_003"]
    text = (tmp_path / "out" / "summary.txt").read_text()
    assert "skipped 2 item(s)" in text and "S010_003_00000002.png: cannot read image" in text


def test_no_usable_clip_is_a_clear_error(tmp_path):
    root = tmp_path / "ck" / "cohn-kanade-images" / "S001" / "001"
    root.mkdir(parents=True)
    (root / "S001_001_00000001.png").write_bytes(b"x")
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(f"data: {{sources: [{{kind: ckplus, root: {tmp_path / 'ck'}}}], out: {tmp_path / 'o'}}}\n")
    with pytest.raises(EvferError, match=r"no usable clip in .*1 unlabelled sequence"):
        prepare(load_config(cfg_path), progress=False)
    assert main(["prepare", str(cfg_path), "--quiet"]) == 2


def test_label_set_ekman7_drops_contempt(prepared, tmp_path):
    cfg, result = prepared
    shutil.copytree(result.out.parent / "synth", tmp_path / "synth")
    r = prepare(tiny(tmp_path, "data.label_set=ekman7"), build_voxels=False, progress=False)
    assert {x.label for x in r.records} == {"happiness", "sadness", "anger", "surprise", "neutral"}
    assert sum("dropped by the label table" in s.reason for s in r.skipped) == 6  # the contempt clips


def test_rms_normalisation_keeps_signs_and_zeros():
    from evfer.voxel import rms_normalize

    g = np.array([[0.0, 2.0, -1.0], [0.0, 0.5, 0.0]], np.float32)
    out = rms_normalize(g.copy())
    rms = np.sqrt((4 + 1 + 0.25) / 3)
    assert np.allclose(out, g / rms) and (np.sign(out) == np.sign(g)).all()
    assert not rms_normalize(np.zeros((2, 2), np.float32)).any()


def test_changed_emulator_settings_recompute_events_and_voxels(prepared, tmp_path):
    cfg, result = prepared
    shutil.copytree(result.out.parent / "synth", tmp_path / "synth")
    base = prepare(tiny(tmp_path), progress=False)
    path = base.out / base.records[0].events_path
    before = path.stat().st_mtime_ns
    cache_before = (base.voxel_dir / "voxels.npy").read_bytes()
    changed = prepare(tiny(tmp_path, "emulator.params.pos_thres=0.15"), progress=False)
    assert path.stat().st_mtime_ns != before  # recomputed, not silently reused
    assert changed.voxel_dir == base.voxel_dir  # same voxel parameters ...
    assert (changed.voxel_dir / "voxels.npy").read_bytes() != cache_before  # ... but rebuilt from the new events
    assert {r.events_key for r in changed.records}.isdisjoint({r.events_key for r in base.records})
    # a label-only change does not touch the events
    mtimes = {r.id: (changed.out / r.events_path).stat().st_mtime_ns for r in changed.records}
    prepare(tiny(tmp_path, "emulator.params.pos_thres=0.15", "data.balance.method=undersample"),
            build_voxels=False, progress=False)
    assert all((changed.out / r.events_path).stat().st_mtime_ns == mtimes[r.id] for r in changed.records)


def test_two_workers_give_the_same_dataset(prepared, tmp_path):
    cfg, result = prepared
    shutil.copytree(result.out.parent / "synth", tmp_path / "synth")
    two = prepare(tiny(tmp_path, "data.workers=2"), progress=False)
    from evfer.io import read_events

    assert [(r.id, r.split, r.event_count) for r in two.records] == \
        [(r.id, r.split, r.event_count) for r in result.records]
    for r in result.records[:6]:
        assert read_events(result.out / r.events_path) == read_events(two.out / r.events_path)
    a = np.load(result.voxel_dir / "voxels.npy")
    b = np.load(two.voxel_dir / "voxels.npy")
    assert np.array_equal(a, b)


def test_subjects_are_qualified_by_source(prepared):
    cfg, result = prepared
    assert all(r.subject.startswith("synthetic:S") for r in result.records)


def test_prepare_nefer_tree_with_official_split(tmp_path):
    """NEFER layout -> events cropped to the face -> official user split (validation users = test)."""
    import csv

    from evfer.io import write_events
    from evfer.testing import blob_events

    root = tmp_path / "NEFER"
    users = {"user_01": "train", "user_02": "train", "user_04": "train", "user_05": "train", "user_03": "validation"}
    emotions = ["Happiness", "Sadness", "Anger", "Surprise"]
    tables = {"train": [], "validation": []}
    for u, (user, part) in enumerate(users.items()):
        for k, emo in enumerate(emotions):
            seq = f"{user.replace('_', '')}_2022-06-08_12-0{k}-00_cd"
            tables[part] += [[user, seq, f"../event_frame_NEW/{user}/{seq}/frame_{i:02d}.png", emo] for i in range(51)]
            ev = blob_events((500, 200, 300, 300), 3000, 300, 1280, 720, duration=400_000, seed=10 * u + k)
            write_events(root / "event_raw" / user / f"{seq[:-3]}.raw", ev)  # recordings drop the _cd suffix
    for part, table in tables.items():
        path = root / "annotations" / "expected_emotions" / f"{part}_event.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="") as f:
            csv.writer(f).writerows(table)
    cfg_path = tmp_path / "n.yaml"
    cfg_path.write_text(f"""
data:
  sources: [{{kind: nefer, root: {root}, box_size: [300, 300]}}]
  out: {tmp_path / 'out'}
  workers: 1
  split: {{method: official, fractions: [0.7, 0.2, 0.1]}}
voxel: {{bins: 2, windows: 2, size: [16, 16]}}
""")
    result = prepare(load_config(cfg_path), progress=False)
    recs = result.records
    assert len(recs) == 20 and {r.label for r in recs} == {"happy", "sad", "angry", "shocked"}
    assert {r.subject for r in recs if r.split == "test"} == {"nefer:user_03"}
    assert {r.split for r in recs if r.subject != "nefer:user_03"} == {"train", "val"}
    from evfer.io import read_events

    ev = read_events(result.out / recs[0].events_path)
    assert (ev.width, ev.height) == (300, 300)  # cropped to the estimated face box
    x, y, w, h = ev.meta["crop"]["box"]
    assert abs(x - 500) <= 8 and abs(y - 200) <= 8 and ev.meta["crop"]["method"] == "density"
    assert result.summary["face_crop"]["methods"]


def test_timecode_makes_no_events_after_preprocessing(tmp_path):
    """CK+'s burnt-in running timecode changes every frame; after masking it fires nothing."""
    from evfer.datasets.ckplus import CKPlusOptions
    from evfer.datasets.frame_clips import preprocess_frames
    from evfer.datasets.synthetic import render_sequence
    from evfer.emulator import emulate

    frames = render_sequence(3, "neutral", 12, (160, 160), seed=0, distractors=False, noise=False, timecode=True)
    times = np.arange(len(frames)) * 33_333
    region = (slice(int(0.86 * 160), 160), slice(0, 80))  # the timecode corner
    raw = emulate(frames, times, preset="clean", pos_thres=0.1, neg_thres=0.1)
    in_corner = (raw.y >= region[0].start) & (raw.x < region[1].stop)
    assert in_corner.sum() > 50  # the running digits do fire without the mask
    options = CKPlusOptions(face_crop="none", frame_size=[160, 160], blur_sigma=0)
    masked, _ = preprocess_frames(frames, options)
    ev = emulate(masked, times, preset="clean", pos_thres=0.1, neg_thres=0.1)
    assert ((ev.y >= region[0].start) & (ev.x < region[1].stop)).sum() == 0
