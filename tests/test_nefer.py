from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from evfer.datasets import event_clips
from evfer.datasets.clips import ClipSpec
from evfer.datasets.kinds import make_source, source_config
from evfer.datasets.labels import LabelMap
from evfer.datasets.nefer import find_recording, normalize_user, read_annotation_csv
from evfer.errors import ConfigError, InputError
from evfer.testing import blob_events

from conftest import shared_path

SEVEN = {"anger", "contempt", "disgust", "fear", "happiness", "sadness", "surprise"}
VALIDATION_USERS = {"user_03", "user_07", "user_17", "user_19", "user_27", "user_28"}


# ----------------------------------------------------------------------------- tree builders
def rows(user: str, seq: str, emotion: str, n: int = 51) -> list[list[str]]:
    return [[user, seq, f"../event_frame_NEW/{user}/{seq}/frame_{i:02d}.png", emotion] for i in range(n)]


def write_csv(path: Path, table: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(table)
    return path


Table = list[list[str]]


def write_annotations(base: Path, train: Table, validation: Table,
                      train_rep: Table | None = None, validation_rep: Table | None = None):
    write_csv(base / "expected_emotions" / "train_event.csv", train)
    write_csv(base / "expected_emotions" / "validation_event.csv", validation)
    if train_rep is not None:
        write_csv(base / "reported_emotions" / "train_event_subjective.csv", train_rep)
        write_csv(base / "reported_emotions" / "validation_event_subjective.csv", validation_rep)


def touch(path: Path) -> Path:
    """A placeholder recording (scanning only looks at names)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


S1 = "user01_2022-06-08_12-20-03_cd"  # recording without _cd, in the user's folder
S2 = "user01_2022-06-08_12-25-00_cd"  # recording with _cd, in the user's folder
S3 = "user02_2022-06-09_10-00-00_cd"  # recording in another folder under event_raw
S4 = "user02_2022-06-09_10-05-00_cd"  # no recording
S5 = "user03_2022-06-10_09-00-00_cd"  # validation user


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A NEFER root in the official layout, with placeholder recordings."""
    ann = tmp_path / "annotations"
    exp = {S1: "Happiness", S2: "Anger", S3: "Sadness", S4: "Fear", S5: "Surprise"}
    rep = {S1: "Happiness", S2: "None", S3: "Surprise", S4: "Fear", S5: "None"}
    users = {S1: "user_01", S2: "user_01", S3: "user_02", S4: "user_02", S5: "user_03"}
    train, val = [S1, S2, S3, S4], [S5]
    write_annotations(
        ann,
        [r for s in train for r in rows(users[s], s, exp[s])],
        [r for s in val for r in rows(users[s], s, exp[s])],
        [r for s in train for r in rows(users[s], s, rep[s])],
        [r for s in val for r in rows(users[s], s, rep[s])],
    )
    # RGB-camera files in another format: must be ignored
    write_csv(ann / "expected_emotions" / "train_gopro.csv", [["user_01", "GOPR0762", "x.png", "Joy", "x"]])
    touch(tmp_path / "event_raw" / "user_01" / "user01_2022-06-08_12-20-03.raw")
    touch(tmp_path / "event_raw" / "user_01" / f"{S2}.raw")
    touch(tmp_path / "event_raw" / "elsewhere" / "user02_2022-06-09_10-00-00.raw")
    touch(tmp_path / "event_raw" / "user_03" / "user03_2022-06-10_09-00-00.raw")
    return tmp_path


def nefer_source(root: Path, **kw):
    """A nefer source at ``root`` with options ``kw`` (``limit`` included)."""
    return make_source(source_config("nefer", root, **kw))


def nefer_scan(source):
    scan = source.scan(progress=False)
    return scan.specs, scan.skipped, scan.official


def nefer_clip(spec: ClipSpec, source):
    """The spec's clip as prepare makes it; events with the crop as (box, method) in meta for brevity."""
    clip = source.clip(spec)
    return clip.events.with_meta(box=list(clip.crop.box), box_method=clip.crop.method)


# ----------------------------------------------------------------------------- the real CSVs
REAL = {
    ("expected", "train"): ("expected_emotions", "train_event.csv"),
    ("expected", "validation"): ("expected_emotions", "validation_event.csv"),
    ("reported", "train"): ("reported_emotions", "train_event_subjective.csv"),
    ("reported", "validation"): ("reported_emotions", "validation_event_subjective.csv"),
}


def real_csv(labels: str, split: str) -> Path:
    return shared_path("nefer-annotations", *REAL[labels, split])


@pytest.mark.shared_data
@pytest.mark.parametrize("labels", ["expected", "reported"])
def test_real_csvs_counts_users_and_consistency(labels):
    train, bad_t = read_annotation_csv(real_csv(labels, "train"))
    val, bad_v = read_annotation_csv(real_csv(labels, "validation"))
    assert bad_t == [] and bad_v == []
    assert len(train) == 420 and len(val) == 125
    for seqs in (train, val):
        assert all(s.rows == 51 for s in seqs.values())
        # all 51 rows of a sequence agree on user and label
        assert all(len(s.users) == 1 and len(s.labels) == 1 for s in seqs.values())
        assert all(k.endswith("_cd") for k in seqs)
    train_users = {u for s in train.values() for u in s.users}
    val_users = {u for s in val.values() for u in s.users}
    assert len(train_users) == 20 and val_users == VALIDATION_USERS
    assert not train_users & val_users and not set(train) & set(val)
    classes = {lab for seqs in (train, val) for s in seqs.values() for lab in s.labels}
    assert classes == (SEVEN if labels == "expected" else SEVEN | {"none"})


@pytest.mark.shared_data
def test_real_csv_label_counts():
    # counted independently with the csv module when the files were first examined
    def counts(labels, split):
        seqs, _ = read_annotation_csv(real_csv(labels, split))
        return Counter(next(iter(s.labels)) for s in seqs.values())

    assert counts("expected", "train") == {c: 60 for c in SEVEN}
    assert counts("expected", "validation") == {**{c: 18 for c in SEVEN}, "surprise": 17}
    assert counts("reported", "train") == {"surprise": 87, "sadness": 73, "happiness": 66, "disgust": 56,
                                           "contempt": 45, "anger": 38, "fear": 28, "none": 27}
    assert counts("reported", "validation")["none"] == 8


@pytest.fixture
def real_tree(tmp_path: Path) -> tuple[Path, list[str]]:
    """Placeholder recordings for every sequence of the real CSVs, named like NEFER's."""
    ann = shared_path("nefer-annotations")
    seq_ids = []
    for split in ("train", "validation"):
        seqs, _ = read_annotation_csv(ann / "expected_emotions" / f"{split}_event.csv")
        for seq_id, s in seqs.items():
            touch(tmp_path / "event_raw" / next(iter(s.users)) / (seq_id.removesuffix("_cd") + ".raw"))
            seq_ids.append(seq_id)
    return tmp_path, seq_ids


@pytest.mark.shared_data
def test_scan_real_annotations(real_tree):
    root, seq_ids = real_tree
    ann = str(shared_path("nefer-annotations"))
    specs, skipped, official = nefer_scan(nefer_source(root, annotations=ann))
    assert skipped == []  # the *_gopro.csv files are ignored
    assert len(specs) == 545 and {s.sequence for s in specs} == set(seq_ids)
    assert len(official) == 26
    assert {u for u, s in official.items() if s == "test"} == VALIDATION_USERS
    assert {s.subject for s in specs} <= set(official)
    assert {s.original_label for s in specs} == SEVEN
    assert all(Path(s.paths[0]).parent.name == s.subject for s in specs)

    rep, _, _ = nefer_scan(nefer_source(root, annotations=ann, labels="reported"))
    assert Counter(s.original_label for s in rep)["none"] == 35
    dropped = [s for s in rep if LabelMap("six")(s.original_label) is None]
    assert len(dropped) == 35

    limited, _, _ = nefer_scan(nefer_source(root, annotations=ann, limit=40))
    assert len(limited) == 40
    assert len({s.subject for s in limited}) >= 12 and len({s.original_label for s in limited}) == 7


@pytest.mark.shared_data
def test_real_annotations_missing_recordings_are_reported_by_id(real_tree):
    root, seq_ids = real_tree
    gone = sorted(seq_ids)[:3]
    for seq_id in gone:
        (root / "event_raw" / ("user_" + seq_id[4:6]) / (seq_id.removesuffix("_cd") + ".raw")).unlink()
    specs, skipped, _ = nefer_scan(nefer_source(root, annotations=str(shared_path("nefer-annotations"))))
    assert len(specs) == 542
    assert sorted(s.item.split(" ")[0] for s in skipped) == gone
    stem = gone[0].removesuffix("_cd")
    assert skipped[0].reason == f"no recording found (looked for {stem}.raw and {stem}_cd.raw)"


# ----------------------------------------------------------------------------- scanning fixture trees
def test_scan_fixture_tree(tree):
    specs, skipped, official = nefer_scan(nefer_source(tree))
    by_seq = {s.sequence: s for s in specs}
    assert set(by_seq) == {S1, S2, S3, S5}
    assert by_seq[S1].paths == [str(tree / "event_raw" / "user_01" / "user01_2022-06-08_12-20-03.raw")]
    assert by_seq[S2].paths == [str(tree / "event_raw" / "user_01" / f"{S2}.raw")]
    assert by_seq[S3].paths == [str(tree / "event_raw" / "elsewhere" / "user02_2022-06-09_10-00-00.raw")]
    s1 = by_seq[S1]
    assert (s1.id, s1.source, s1.subject) == (f"nefer-{S1}", "nefer", "user_01")
    assert s1.original_label == "happiness"
    assert (s1.sequence, s1.box, s1.start_us, s1.end_us) == (S1, None, None, None)
    assert official == {"user_01": "train", "user_02": "train", "user_03": "test"}
    assert [(s.item, s.reason) for s in skipped] == [
        (f"{S4} (train_event.csv:154)",
         "no recording found (looked for user02_2022-06-09_10-05-00.raw and "
         "user02_2022-06-09_10-05-00_cd.raw)")
    ]
    assert [s.id for s in specs] == sorted(s.id for s in specs)


def test_expected_vs_reported_labels(tree):
    exp, _, _ = nefer_scan(nefer_source(tree))
    rep, _, _ = nefer_scan(nefer_source(tree, labels="reported"))
    assert {s.sequence: s.original_label for s in exp} == {
        S1: "happiness", S2: "anger", S3: "sadness", S5: "surprise"}
    assert {s.sequence: s.original_label for s in rep} == {
        S1: "happiness", S2: "none", S3: "surprise", S5: "none"}


def test_cd_stem_matching_both_ways_and_users_folder_first():
    a = Path("event_raw/user_01/x_cd.raw")
    b = Path("event_raw/user_02/x.raw")
    c = Path("event_raw/user_01/x.raw")
    assert find_recording("x_cd", "user_01", {"x_cd": [a]}) == a
    assert find_recording("x_cd", "user_01", {"x": [c]}) == c  # id with _cd, file without
    assert find_recording("x", "user_01", {"x_cd": [a]}) == a  # id without _cd, file with
    assert find_recording("x_cd", "user_01", {"x": [b, c]}) == c  # the user's folder wins
    assert find_recording("x_cd", "user_01", {"x": [b]}) == b  # else anywhere
    assert find_recording("x_cd", "user_01", {"y": [b]}) is None


def test_normalize_user():
    assert normalize_user("user_01") == normalize_user("user01") == normalize_user("User_1") == "user_01"
    assert normalize_user("user_28") == "user_28"
    assert normalize_user("GOPR0762") is None and normalize_user("user") is None


def test_malformed_rows_are_reported_with_file_and_line(tmp_path):
    good = rows("user_01", S1, "Happiness", 3)
    table = [good[0], ["user_01", S1, "only three"], good[1], ["user_01", S1, "f.png", "Joy"],
             ["someone", S1, "f.png", "Happiness"], [], good[2]]
    path = write_csv(tmp_path / "annotations" / "expected_emotions" / "train_event.csv", table)
    write_csv(path.parent / "validation_event.csv", rows("user_03", S5, "Fear"))
    touch(tmp_path / "event_raw" / "user_01" / f"{S1}.raw")
    touch(tmp_path / "event_raw" / "user_03" / f"{S5}.raw")
    specs, skipped, _ = nefer_scan(nefer_source(tmp_path))
    assert [(s.item, s.reason) for s in skipped] == [
        (f"{path}:2", "malformed annotation row: expected 4 columns (user, sequence, frame, emotion), got 3"),
        (f"{path}:4", "malformed annotation row: unknown emotion 'Joy'"),
        (f"{path}:5", "malformed annotation row: user 'someone' is not a NEFER user id (user_XX)"),
    ]
    assert sorted(s.sequence for s in specs) == [S1, S5]


def test_header_row_and_bom_are_tolerated(tmp_path):
    path = tmp_path / "t.csv"
    lines = ["user,sequence,frame,emotion"] + [",".join(r) for r in rows("user_01", S1, "Fear", 4)]
    body = "\r\n".join(lines)
    path.write_bytes(b"\xef\xbb\xbf" + body.encode())
    seqs, bad = read_annotation_csv(path)
    assert bad == [] and seqs[S1].rows == 4 and dict(seqs[S1].labels) == {"fear": 4}


def test_unreadable_annotation_file_is_reported(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"user_01,x_cd,f.png,Fear\n\xff\xfe\x00binary")
    seqs, bad = read_annotation_csv(path)
    assert len(bad) == 1 and bad[0].item == str(path) and "unreadable annotation file" in bad[0].reason


def test_conflicting_sequences_are_dropped_and_explained(tmp_path):
    mixed = rows("user_01", S1, "Happiness", 50) + rows("user_01", S1, "Sadness", 1)
    two_users = rows("user_01", S2, "Anger", 2) + rows("user_04", S2, "Anger", 1)
    shared = rows("user_02", S3, "Fear", 2)
    user3_train = rows("user_03", "user03_a_cd", "Fear", 2)  # user_03 is a validation user too
    write_annotations(tmp_path / "annotations", mixed + two_users + shared + user3_train,
                      shared + rows("user_03", S5, "Surprise", 2))
    for s in (S1, S2, S3, S5, "user03_a_cd"):
        touch(tmp_path / "event_raw" / f"{s}.raw")
    specs, skipped, official = nefer_scan(nefer_source(tmp_path))
    assert [s.sequence for s in specs] == [S5]
    assert {(s.item, s.reason) for s in skipped} == {
        (f"{S1} (train_event.csv:1)", "rows disagree on the label: happiness x50, sadness x1"),
        (f"{S2} (train_event.csv:52)", "rows name different users: user_01 x2, user_04 x1"),
        (f"{S3} (train_event.csv:55)", "listed in both the train and the validation annotation file"),
        (f"{S3} (validation_event.csv:1)", "listed in both the train and the validation annotation file"),
        ("user03_a_cd (train_event.csv:57)",
         "user_03 is also a validation user in the official split; dropped to keep it subject-disjoint"),
    }
    assert official["user_03"] == "test" and official["user_01"] == "train"


# ----------------------------------------------------------------------------- annotation folder
def test_annotations_directly_in_root_or_elsewhere(tmp_path):
    write_annotations(tmp_path / "root", rows("user_01", S1, "Fear"), rows("user_03", S5, "Anger"))
    touch(tmp_path / "root" / "event_raw" / "user_01" / f"{S1}.raw")
    specs, _, _ = nefer_scan(nefer_source(tmp_path / "root"))
    assert len(specs) == 1  # S5 has no recording
    write_annotations(tmp_path / "ann", rows("user_01", S1, "Disgust"), [])
    specs, _, _ = nefer_scan(nefer_source(tmp_path / "root", annotations=str(tmp_path / "ann")))
    assert [s.original_label for s in specs] == ["disgust"]


def test_missing_annotations_is_a_clear_error(tmp_path):
    touch(tmp_path / "event_raw" / "user_01" / "a.raw")
    with pytest.raises(InputError) as exc:
        nefer_scan(nefer_source(tmp_path))
    msg = str(exc.value)
    assert "expected_emotions/" in msg and str(tmp_path / "annotations") in msg and f"or {tmp_path} " in msg
    with pytest.raises(InputError, match="nowhere"):
        nefer_scan(nefer_source(tmp_path, annotations=str(tmp_path / "nowhere")))
    write_annotations(tmp_path / "annotations", rows("user_01", S1, "Fear"), [])
    with pytest.raises(InputError, match="reported_emotions/"):  # only expected labels present
        nefer_scan(nefer_source(tmp_path, labels="reported"))
    with pytest.raises(InputError, match="root folder not found"):
        nefer_scan(nefer_source(tmp_path / "absent"))


def test_missing_annotation_file_is_reported_and_the_other_read(tree):
    (tree / "annotations" / "expected_emotions" / "validation_event.csv").unlink()
    specs, skipped, official = nefer_scan(nefer_source(tree))
    assert len(specs) == 3 and "user_03" not in official
    assert (str(tree / "annotations" / "expected_emotions" / "validation_event.csv"),
            "annotation file not found") in [(s.item, s.reason) for s in skipped]
    (tree / "annotations" / "expected_emotions" / "train_event.csv").unlink()
    with pytest.raises(InputError, match="no NEFER annotation file"):
        nefer_scan(nefer_source(tree))


def test_no_recordings_at_all_is_a_clear_error(tree):
    for p in (tree / "event_raw").rglob("*.raw"):
        p.unlink()
    with pytest.raises(InputError, match="no .raw recordings found"):
        nefer_scan(nefer_source(tree))


def test_bad_box_options_are_config_errors(tree):
    with pytest.raises(ConfigError, match="face_box"):
        nefer_source(tree, face_box=[1, 2, 3])
    with pytest.raises(ConfigError, match="box_size"):
        nefer_source(tree, box_size=[0, 10])


# ----------------------------------------------------------------------------- reading recordings
TRUTH = (611, 97, 324, 324)


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:
    """A 1280x720 EVT 3.0 recording: a dense 'face' in TRUTH plus background noise, 1 s."""
    from evfer.io import write_events

    path = tmp_path_factory.mktemp("nefer") / "event_raw" / "user_01" / "user01_2022-06-08_12-20-03.raw"
    path.parent.mkdir(parents=True)
    write_events(path, blob_events(TRUTH, n_blob=150_000, n_noise=150_000, duration=1_000_000, seed=7))
    return path


def spec_for(path: Path) -> ClipSpec:
    return ClipSpec(f"nefer-{S1}", "nefer", "user_01", "happiness", [str(path)], sequence=S1)


def reference_crop(path: Path, box: list[int]) -> np.ndarray:
    """Events of the file inside ``box``, shifted, by a plain mask on the decoded recording."""
    from evfer.io import read_events

    ev = read_events(path)
    x, y, w, h = box
    xs, ys = ev.x.astype(int), ev.y.astype(int)
    keep = (xs >= x) & (xs < x + w) & (ys >= y) & (ys < y + h)
    out = ev.array[keep].copy()
    out["x"] -= x
    out["y"] -= y
    return out


def test_nefer_events_density_box(recording):
    ev = nefer_clip(spec_for(recording), nefer_source(recording.parents[2]))
    x, y, w, h = ev.meta["box"]
    assert (w, h) == (324, 324) == ev.sensor_size
    assert abs(x - TRUTH[0]) <= 3 and abs(y - TRUTH[1]) <= 3
    assert ev.meta["box_method"] == "density" and ev.meta["sensor_size"] == [1280, 720]
    assert ev.meta["sequence"] == S1 and ev.meta["path"] == str(recording)
    assert np.array_equal(ev.array, reference_crop(recording, ev.meta["box"]))


def test_nefer_events_two_pass_equals_one_pass(recording, monkeypatch):
    one = nefer_clip(spec_for(recording), nefer_source(recording.parents[2]))
    monkeypatch.setattr(event_clips, "KEEP_EVENTS", 1000)  # force decoding twice
    two = nefer_clip(spec_for(recording), nefer_source(recording.parents[2]))
    assert two == one and two.meta["box"] == one.meta["box"]


def test_nefer_events_given_box(recording):
    box = [100, 50, 700, 400]
    ev = nefer_clip(spec_for(recording), nefer_source(recording.parents[2], face_box=box))
    assert ev.meta["box"] == box and ev.meta["box_method"] == "given" and ev.sensor_size == (700, 400)
    assert np.array_equal(ev.array, reference_crop(recording, box))
    with pytest.raises(InputError, match="outside the 1280x720 sensor"):
        nefer_clip(spec_for(recording), nefer_source(recording.parents[2], face_box=[1300, 0, 10, 10]))


def test_corrupt_recordings_raise_input_error_naming_the_file(recording, tmp_path):
    data = recording.read_bytes()
    header = data[: data.index(b"\n", data.index(b"% geometry")) + 1]
    noise = np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes()
    bad = {
        "truncated.raw": data[:-1],  # cut mid-word
        "garbage_body.raw": header + noise,
        "garbage_tail.raw": data + noise,  # fails after the density pass has started
        "no_header.raw": noise,
    }
    for name, content in bad.items():
        (tmp_path / name).write_bytes(content)
    for name in [*bad, "missing.raw"]:
        with pytest.raises(InputError) as exc:
            nefer_clip(spec_for(tmp_path / name), nefer_source(tmp_path))
        assert str(tmp_path / name) in str(exc.value)


def test_empty_recording_is_an_input_error(tmp_path):
    from evfer.events import Events
    from evfer.io import write_events

    path = tmp_path / "empty.raw"
    write_events(path, Events.empty(1280, 720))
    with pytest.raises(InputError, match="no events") as exc:
        nefer_clip(spec_for(path), nefer_source(tmp_path))
    assert str(path) in str(exc.value)
