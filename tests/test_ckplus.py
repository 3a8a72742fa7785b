import numpy as np
import pytest

from evfer.datasets.ckplus import parse_emotion_file
from evfer.datasets.frame_clips import face_box, load_frames, mask_timecode
from evfer.datasets.kinds import make_source, source_config
from evfer.errors import ConfigError, InputError


def png(path, value=100, size=(32, 24)):
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((size[1], size[0]), value, np.uint8))


def make_sequence(root, subject, seq, n, code=None, emotion_text=None, size=(32, 24)):
    folder = root / "cohn-kanade-images" / subject / seq
    for i in range(1, n + 1):
        png(folder / f"{subject}_{seq}_{i:08d}.png", 10 * i, size)
    if code is not None or emotion_text is not None:
        lab = root / "Emotion" / subject / seq / f"{subject}_{seq}_{n:08d}_emotion.txt"
        lab.parent.mkdir(parents=True, exist_ok=True)
        lab.write_text(emotion_text if emotion_text is not None else f"   {code:.7e}\n")


def ckplus_scan(root, **kw):
    """(specs, skipped) of a ckplus source at ``root`` with options ``kw``."""
    scan = make_source(source_config("ckplus", root, **kw)).scan(progress=False)
    return scan.specs, scan.skipped


def test_official_layout(tmp_path):
    make_sequence(tmp_path, "S005", "001", 5, code=3)  # disgust
    make_sequence(tmp_path, "S005", "002", 3)  # unlabelled
    make_sequence(tmp_path, "S010", "004", 12, code=5)  # happiness
    make_sequence(tmp_path, "S011", "001", 4, code=0)  # neutral: no onset copy
    specs, skipped = ckplus_scan(tmp_path, onset_frames=3)
    got = {s.id: (s.subject, s.original_label, len(s.paths)) for s in specs}
    assert got == {
        "ckplus-S005_001": ("S005", "disgust", 5),
        "ckplus-S005_001-onset": ("S005", "neutral", 3),
        "ckplus-S010_004": ("S010", "happiness", 12),
        "ckplus-S010_004-onset": ("S010", "neutral", 3),
        "ckplus-S011_001": ("S011", "neutral", 4),
    }
    # frames in natural order, the onset clip is the sequence's first frames
    seq = next(s for s in specs if s.id == "ckplus-S010_004")
    assert [p.rsplit("_", 1)[1] for p in seq.paths][:3] == ["00000001.png", "00000002.png", "00000003.png"]
    onset = next(s for s in specs if s.id == "ckplus-S010_004-onset")
    assert onset.paths == seq.paths[:3]
    assert [s.reason for s in skipped] == ["1 unlabelled sequence(s) (no emotion file)"]
    specs, _ = ckplus_scan(tmp_path, neutral_from_onset=False)
    assert len(specs) == 3


def test_bad_label_files_are_skipped_and_named(tmp_path):
    make_sequence(tmp_path, "S001", "001", 3, emotion_text="happy\n")
    make_sequence(tmp_path, "S001", "002", 3, code=9)
    make_sequence(tmp_path, "S001", "003", 3, emotion_text="   2.5000000e+00\n")
    make_sequence(tmp_path, "S001", "004", 3, code=7)
    (tmp_path / "cohn-kanade-images" / "S002" / "001").mkdir(parents=True)  # empty sequence
    make_sequence(tmp_path, "S003", "001", 1, code=6)  # a single frame
    specs, skipped = ckplus_scan(tmp_path, neutral_from_onset=False)
    assert [s.id for s in specs] == ["ckplus-S001_004"]
    reasons = {s.item.split("/")[-1] if "emotion" in s.item else s.item.split("cohn-kanade-images/")[-1]: s.reason
               for s in skipped}
    assert reasons["S001_001_00000003_emotion.txt"].startswith("malformed emotion file")
    assert reasons["S001_002_00000003_emotion.txt"] == "emotion code 9.0000000e+00 is outside 0-7"
    assert "outside 0-7" in reasons["S001_003_00000003_emotion.txt"]
    assert reasons["S002/001"] == "empty sequence (no images)"
    assert reasons["S003/001"] == "only 1 frame(s); need >= 2"


def test_per_emotion_layouts(tmp_path):
    for i in range(3):  # <emotion>/S###_###/*.png
        png(tmp_path / "happy" / "S005_001" / f"S005_001_{i + 1:08d}.png")
    for i in range(4):  # <emotion>/S###_###_*.png
        png(tmp_path / "surprise" / f"S010_002_{i + 1:08d}.png")
    png(tmp_path / "surprise" / "README.png")
    (tmp_path / "notes").mkdir()
    specs, skipped = ckplus_scan(tmp_path, neutral_from_onset=False)
    assert {(s.id, s.original_label, len(s.paths)) for s in specs} == {
        ("ckplus-S005_001", "happiness", 3),
        ("ckplus-S010_002", "surprise", 4),
    }
    assert [s.reason for s in skipped] == ["not a CK+ sequence name (S###_###)"]


def test_no_layout_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="no CK\\+ layout found"):
        ckplus_scan(tmp_path)
    with pytest.raises(InputError, match="CK\\+ folder not found"):
        ckplus_scan(tmp_path / "missing")


def test_mixed_sizes_and_unreadable_images(tmp_path):
    png(tmp_path / "a.png", size=(32, 24))
    png(tmp_path / "b.png", size=(30, 24))
    with pytest.raises(InputError, match=r"b\.png: image size 30x24 differs from the sequence's 32x24"):
        load_frames([str(tmp_path / "a.png"), str(tmp_path / "b.png")])
    (tmp_path / "c.png").write_bytes(b"not an image")
    with pytest.raises(InputError, match=r"c\.png: cannot read image \(unsupported or corrupt file\)"):
        load_frames([str(tmp_path / "c.png")])


def test_emotion_file_parsing(tmp_path):
    p = tmp_path / "e.txt"
    p.write_text("   7.0000000e+00\n")
    assert parse_emotion_file(p) == "surprise"


def test_timecode_mask_freezes_the_corner_only():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (5, 100, 200), dtype=np.uint8)
    out = mask_timecode(frames)
    corner = out[:, 90:, :90]
    assert (corner == corner[0]).all()  # no change over time there -> no events
    assert (out[:, :80] == frames[:, :80]).all() and (out[:, :, 110:] == frames[:, :, 110:]).all()


def test_face_box_on_a_real_face_and_fallback(shared):
    import cv2

    cap = cv2.VideoCapture(str(shared("videos", "single_face.mp4")))
    ok, frame = cap.read()
    assert ok
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    crop = face_box(grey, 0.2)
    (x, y, w, h), how = crop.box, crop.method
    assert how == "haar" and w == h and 0 <= x and x + w <= grey.shape[1] and y + h <= grey.shape[0]
    # landmarks measured by hand on this frame: eyes, nose tip, chin; the box holds them with margin
    for px, py in [(260, 170), (330, 168), (295, 215), (295, 300)]:
        assert x + 20 < px < x + w - 20 and y + 20 < py < y + h - 10, (px, py, (x, y, w, h))
    assert 200 < w < 360  # a face with margin, not the whole frame
    crop = face_box(np.full((100, 200), 128, np.uint8), 0.2)
    (x, y, w, h), how = crop.box, crop.method
    assert how == "center" and (w, h) == (80, 80) and (x, y) == (60, 10)


def test_leftover_temp_files_are_ignored(tmp_path):
    make_sequence(tmp_path, "S005", "001", 3, code=5)
    png(tmp_path / "cohn-kanade-images" / "S005" / "001" / ".tmp-S005_001_00000004-abc.png")
    specs, _ = ckplus_scan(tmp_path, neutral_from_onset=False)
    assert len(specs[0].paths) == 3


def test_onset_neutral_default_depends_on_kind():
    from evfer.configure import config_from_dict

    c = config_from_dict({"data": {"sources": [{"kind": "ckplus", "root": "a"}, {"kind": "synthetic", "root": "b"}]}})
    assert [s.options.neutral_from_onset for s in c.data.sources] == [True, False]


def test_kind_options_are_checked_with_the_key_named():
    from evfer.configure import config_from_dict

    def check(source):
        config_from_dict({"data": {"sources": [source]}})

    with pytest.raises(ConfigError, match=r"data\.sources\.0\.fsp: not an option of sources of kind 'ckplus'; did you mean 'fps'"):
        check({"kind": "ckplus", "root": "a", "fsp": 3})
    with pytest.raises(ConfigError, match=r"data\.sources\.0\.labels: not an option of sources of kind 'ckplus'"):
        check({"kind": "ckplus", "root": "a", "labels": "expected"})  # a NEFER option
    with pytest.raises(ConfigError, match=r"data\.sources\.0\.onset_frames: must be at least 2"):
        check({"kind": "ckplus", "root": "a", "onset_frames": 1})
    with pytest.raises(ConfigError, match=r"data\.sources\.0\.kind: unknown source kind 'ckplu'; did you mean 'ckplus'"):
        check({"kind": "ckplu", "root": "a"})


def test_input_error_survives_pickling():
    import pickle

    err = pickle.loads(pickle.dumps(InputError("f.png", "bad")))
    assert str(err) == "f.png: bad" and err.problem == "bad"


def test_limit_keeps_a_fixed_subset_chosen_by_id_hash(tmp_path):
    """The one contract of every kind: N clips chosen by a hash of their ids (not the first subject's),
    in id order, whatever the folder order."""
    import zlib

    for subject, seq, code in [("S010", "004", 5), ("S005", "002", 3), ("S005", "001", 6)]:
        make_sequence(tmp_path, subject, seq, 6, code=code)
    everything, _ = ckplus_scan(tmp_path)
    ids = [s.id for s in everything]
    assert ids == sorted(ids) and len(everything) == 6
    limited, _ = ckplus_scan(tmp_path, limit=2)
    # clip_seed(0, id) = crc32(id) mod (2^31 - 1): the two smallest, listed in id order
    expected = sorted(sorted(ids, key=lambda i: zlib.crc32(i.encode()) % (2**31 - 1))[:2])
    assert [s.id for s in limited] == expected
