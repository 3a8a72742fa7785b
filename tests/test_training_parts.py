import numpy as np
import pytest
import torch

from evfer.config import AugmentConfig
from evfer.training.augment import ClipAugment
from evfer.metrics import classification_metrics, confusion_matrix, format_confusion


def test_metrics_against_hand_computed_values():
    classes = ["a", "b", "c"]
    y_true = [0, 0, 0, 1, 1, 2]
    y_pred = [0, 0, 1, 1, 2, 2]
    m = classification_metrics(y_true, y_pred, classes)
    assert m["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert m["accuracy"] == pytest.approx(4 / 6)
    # a: P 2/2 R 2/3 F1 0.8; b: P 1/2 R 1/2 F1 0.5; c: P 1/2 R 1 F1 2/3
    assert m["per_class"]["a"] == pytest.approx({"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3})
    assert m["per_class"]["c"]["f1"] == pytest.approx(2 / 3)
    assert m["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert m["macro_recall"] == pytest.approx((2 / 3 + 0.5 + 1) / 3)


def test_absent_classes_do_not_dilute_macro_scores():
    m = classification_metrics([0, 1], [0, 1], ["a", "b", "c", "d"])
    assert m["macro_f1"] == 1.0 and m["per_class"]["d"]["support"] == 0
    assert classification_metrics([], [], ["a"])["accuracy"] == 0.0


def test_confusion_matrix_and_format():
    cm = confusion_matrix([1, 1, 0], [1, 0, 0], 2)
    assert cm.tolist() == [[1, 0], [1, 1]]
    text = format_confusion(cm.tolist(), ["happy", "sad"])
    assert "happy" in text and text.splitlines()[-1].split()[-2:] == ["1", "1"]


def test_augment_flip_is_a_mirror_and_off_means_identity():
    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).reshape(2, 3, 4, 5)
    off = ClipAugment(AugmentConfig(flip=False, translate=0, scale=0, jitter=0))
    assert torch.equal(off(x), x)
    flip = ClipAugment(AugmentConfig(flip=True, translate=0, scale=0, jitter=0))
    torch.manual_seed(0)
    outs = [flip(x) for _ in range(20)]
    assert any(torch.equal(o, x.flip(-1)) for o in outs) and any(torch.equal(o, x) for o in outs)
    assert all(torch.equal(o, x) or torch.equal(o, x.flip(-1)) for o in outs)


def centroid(img):
    ys, xs = torch.meshgrid(torch.arange(img.shape[0]), torch.arange(img.shape[1]), indexing="ij")
    m = img.sum()
    return float((ys * img).sum() / m), float((xs * img).sum() / m)


def test_augment_translation_moves_mass_consistently_across_windows():
    x = torch.zeros(3, 2, 32, 32)
    x[:, :, 14:18, 14:18] = 1.0
    aug = ClipAugment(AugmentConfig(flip=False, translate=0.2, scale=0.0, jitter=0))
    torch.manual_seed(1)
    shifts = []
    for _ in range(10):
        y = aug(x)
        assert y.shape == x.shape
        c = [centroid(y[t, 0]) for t in range(3)]
        assert all(abs(c[t][0] - c[0][0]) < 1e-4 and abs(c[t][1] - c[0][1]) < 1e-4 for t in range(3))  # same for all windows
        assert abs(y.sum() - x.sum()) / x.sum() < 0.05  # a shift, not a rescale
        shifts.append((c[0][0] - 15.5, c[0][1] - 15.5))
    moved = [max(abs(dy), abs(dx)) for dy, dx in shifts]
    assert max(moved) > 1.0  # it really translates (up to 0.2 x 32 = 6.4 px)
    assert all(m <= 0.2 * 32 + 0.5 for m in moved)


def test_scale_zooms_about_the_centre():
    x = torch.zeros(1, 1, 33, 33)
    x[0, 0, 16, 8] = 1.0  # 8 px left of the centre
    aug = ClipAugment(AugmentConfig(flip=False, translate=0.0, scale=0.3, jitter=0))
    torch.manual_seed(0)
    dists = [16 - centroid(aug(x)[0, 0])[1] for _ in range(20)]
    assert min(dists) < 7.5 and max(dists) > 8.5  # zoomed in and out
    assert all(8 / 1.3 - 0.6 <= d <= 8 * 1.3 + 0.6 for d in dists)


def test_jitter_drops_events_without_rescaling():
    torch.manual_seed(0)
    x = torch.ones(4, 2, 16, 16) * 3.0
    aug = ClipAugment(AugmentConfig(flip=False, translate=0, scale=0, jitter=0.3))
    fractions = []
    for _ in range(30):
        y = aug(x)
        assert set(torch.unique(y).tolist()) <= {0.0, 3.0}  # kept voxels untouched, others dropped
        fractions.append(float((y != 0).float().mean()))
    assert min(fractions) > 0.65 and max(fractions) <= 1.0 and np.std(fractions) > 0.02


def test_resume_rules(tmp_path):
    from evfer.configure import load_config
    from evfer.errors import EvferError
    from evfer.training.train import absolute_paths, check_resumable

    base = load_config(None, ["data.out=d", "train.epochs=5"])
    saved = absolute_paths(base)  # what the run's checkpoints store
    check_resumable(saved, base, tmp_path)  # same config
    check_resumable(saved, load_config(None, ["data.out=d", "train.epochs=9", "train.num_workers=2"]), tmp_path)
    with pytest.raises(EvferError, match=r"data\.split\.seed: 0 -> 1"):
        check_resumable(saved, load_config(None, ["data.out=d", "train.epochs=5", "data.split.seed=1"]), tmp_path)
    with pytest.raises(EvferError, match=r"train\.lr"):
        check_resumable(saved, load_config(None, ["data.out=d", "train.epochs=5", "train.lr=0.01"]), tmp_path)
    cosine = load_config(None, ["data.out=d", "train.epochs=5", "train.scheduler=cosine"])
    with pytest.raises(EvferError, match=r"train\.epochs: 5 -> 9 \(with train\.scheduler=cosine\)"):
        check_resumable(absolute_paths(cosine), load_config(None, ["data.out=d", "train.epochs=9", "train.scheduler=cosine"]),
                        tmp_path)


def test_wilson_interval_against_published_values():
    from evfer.metrics import accuracy_summary, wilson_interval

    # Wilson 95 % intervals (Newcombe 1998, Table I): 8/10 -> 0.4902-0.9433, 0/10 -> 0-0.2775
    assert wilson_interval(8, 10) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    lo, hi = wilson_interval(10, 10)
    assert hi == 1.0 and lo == pytest.approx(0.7225, abs=1e-4)
    assert accuracy_summary(8, 10) == {"n": 10, "correct": 8, "accuracy": 0.8, "accuracy_ci95": [0.4902, 0.9433]}


def test_expression_accuracy_leaves_out_onset_neutral_clips():
    from evfer.metrics import clip_accuracy

    ids = ["ck-S1_001", "ck-S1_001-onset", "ck-S2_004", "ck-S2_004-onset", "ck-S3_002"]
    y_true = [0, 5, 1, 5, 2]
    y_pred = [0, 5, 2, 5, 2]  # the onset-neutral clips are easy: both right
    m = clip_accuracy(ids, y_true, y_pred)
    assert m["correct"] == 4 and m["expressions_only"]["n"] == 3 and m["expressions_only"]["correct"] == 2
    assert m["expressions_only"]["accuracy"] == pytest.approx(2 / 3)
    assert "expressions_only" not in clip_accuracy(["a", "b"], [0, 1], [0, 0])


def test_cv_pools_counts_over_folds():
    from evfer.training.cv import pooled_accuracy
    from evfer.metrics import wilson_interval

    folds = [{"n": 6, "confusion_matrix": [[3, 1], [0, 2]], "expressions_only": {"n": 4, "correct": 3}},
             {"n": 4, "confusion_matrix": [[1, 1], [0, 2]], "expressions_only": {"n": 3, "correct": 1}}]
    p = pooled_accuracy(folds)
    assert (p["n"], p["correct"]) == (10, 8) and p["accuracy_ci95"] == pytest.approx(wilson_interval(8, 10), abs=1e-4)
    assert p["expressions_only"]["n"] == 7 and p["expressions_only"]["correct"] == 4
    del folds[1]["expressions_only"]  # e.g. a fold evaluated by an older evfer
    assert "expressions_only" not in pooled_accuracy(folds)
