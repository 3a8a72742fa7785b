from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evfer.datasets.balance import balance, class_counts, class_weights
from evfer.datasets.manifest import ClipRecord, read_manifest, write_manifest
from evfer.datasets.splits import apply_split, check_disjoint, kfold_split, official_split, subject_split
from evfer.errors import EvferError

LABELS = ["happy", "sad", "angry", "neutral"]


def make_records(spec):
    """spec: list of (subject, label) pairs."""
    return [ClipRecord(f"c{i}", "t", s, lab, lab) for i, (s, lab) in enumerate(spec)]


records_strategy = st.lists(
    st.tuples(st.integers(0, 15).map(lambda i: f"S{i:03d}"), st.sampled_from(LABELS)), min_size=3, max_size=80
)


@settings(max_examples=60, deadline=None)
@given(records_strategy, st.integers(0, 1000))
def test_subject_split_is_disjoint_and_complete(spec, seed):
    recs = make_records(spec)
    mapping = subject_split(recs, [0.7, 0.2, 0.1], seed)
    assert set(mapping) == {r.subject for r in recs}
    apply_split(recs, mapping)
    by_subject = {}
    for r in recs:
        assert by_subject.setdefault(r.subject, r.split) == r.split
    n_subjects = len(mapping)
    if n_subjects >= 3:  # every split with a positive fraction gets a subject
        assert set(mapping.values()) == {"train", "val", "test"}


@settings(max_examples=30, deadline=None)
@given(records_strategy, st.integers(2, 5), st.integers(0, 100))
def test_kfold_folds_partition_subjects(spec, folds, seed):
    recs = make_records(spec)
    subjects = {r.subject for r in recs}
    if len(subjects) < folds:
        with pytest.raises(EvferError, match="needs at least"):
            kfold_split(recs, folds, 0, [0.7, 0.2, 0.1], seed)
        return
    tests = [frozenset(s for s, v in kfold_split(recs, folds, k, [0.7, 0.2, 0.1], seed).items() if v == "test")
             for k in range(folds)]
    assert set().union(*tests) == subjects  # every subject is tested exactly once
    assert sum(len(t) for t in tests) == len(subjects)
    for k in range(folds):
        m = kfold_split(recs, folds, k, [0.7, 0.2, 0.1], seed)
        assert {s for s, v in m.items() if v == "test"} == tests[k]


def test_split_is_seeded_and_roughly_follows_fractions():
    spec = [(f"S{s:03d}", LABELS[(s + j) % 4]) for s in range(100) for j in range(4)]
    recs = make_records(spec)
    a, b = subject_split(recs, [0.7, 0.2, 0.1], 1), subject_split(recs, [0.7, 0.2, 0.1], 1)
    assert a == b and a != subject_split(recs, [0.7, 0.2, 0.1], 2)
    sizes = Counter(a.values())
    assert abs(sizes["train"] - 70) <= 3 and abs(sizes["val"] - 20) <= 3 and abs(sizes["test"] - 10) <= 3
    apply_split(recs, a)
    for split in ("train", "val", "test"):  # stratified: every label ~25 % in every split
        c = Counter(r.label for r in recs if r.split == split)
        total = sum(c.values())
        assert all(abs(c[lab] / total - 0.25) < 0.06 for lab in LABELS), (split, c)


def test_official_split_keeps_published_test_users():
    spec = [(f"user_{i:02d}", LABELS[j % 4]) for i in range(1, 11) for j in range(4)]
    recs = make_records(spec)
    official = {f"user_{i:02d}": ("test" if i in (3, 7) else "train") for i in range(1, 11)}
    m = official_split(recs, official, [0.7, 0.2, 0.1], 0)
    assert {s for s, v in m.items() if v == "test"} == {"user_03", "user_07"}
    assert Counter(m.values())["val"] >= 1
    with pytest.raises(EvferError, match="not in the published split"):
        official_split(recs + make_records([("user_99", "sad")]), official, [0.7, 0.2, 0.1], 0)


def test_leak_is_detected():
    recs = make_records([("S1", "sad"), ("S1", "happy")])
    recs[0].split, recs[1].split = "train", "test"
    with pytest.raises(EvferError, match="S1 appears in splits train and test"):
        check_disjoint(recs)


def unbalanced():
    spec = [("S1", "happy")] * 10 + [("S2", "sad")] * 4 + [("S3", "angry")] * 3 + [("S4", "sad")] * 5
    recs = make_records(spec)
    for r in recs:
        r.split = "train" if r.subject != "S4" else "test"
    return recs


def test_oversampling_touches_training_only():
    recs = unbalanced()
    balance(recs, "oversample", seed=0)
    assert class_counts(recs, "train", weighted=True) == Counter(happy=10, sad=10, angry=9 + 1)
    assert all(r.repeats == 1 for r in recs if r.split == "test")
    sad = sorted(r.repeats for r in recs if r.split == "train" and r.label == "sad")
    assert sad == [2, 2, 3, 3]  # 10 draws from 4 clips: 2 each + 2 extra


def test_undersampling_and_weights():
    recs = unbalanced()
    balance(recs, "undersample", seed=3)
    assert class_counts(recs, "train", weighted=True) == Counter(happy=3, sad=3, angry=3)
    assert all(r.repeats == 1 for r in recs if r.split == "test")
    recs = unbalanced()
    balance(recs, "class_weights", seed=0)
    w = class_weights(recs, ("happy", "sad", "angry", "neutral"))
    # inverse frequency 1/10, 1/4, 1/3, scaled to mean 1 over present classes
    inv = [1 / 10, 1 / 4, 1 / 3]
    scale = 3 / sum(inv)
    assert w == pytest.approx([inv[0] * scale, inv[1] * scale, inv[2] * scale, 0.0])


def test_manifest_round_trip(tmp_path):
    recs = unbalanced()
    recs[0].event_count, recs[0].duration_us, recs[0].events_path = 123, 456, "events/a.h5"
    write_manifest(tmp_path / "m.csv", recs)
    assert read_manifest(tmp_path / "m.csv") == recs
