import numpy as np
import pytest
import torch

from evfer.config import AugmentConfig
from evfer.training.augment import ClipAugment
from evfer.training.metrics import classification_metrics, confusion_matrix, format_confusion


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


def test_augment_translation_moves_mass_consistently_across_windows():
    x = torch.zeros(3, 2, 32, 32)
    x[:, :, 14:18, 14:18] = 1.0
    aug = ClipAugment(AugmentConfig(flip=False, translate=0.2, scale=0.0, jitter=0))
    torch.manual_seed(1)
    y = aug(x)
    assert y.shape == x.shape
    centres = [np.unravel_index(int(y[t, 0].argmax()), (32, 32)) for t in range(3)]
    assert len(set(centres)) == 1  # same transform for every window
    assert abs(y.sum() - x.sum()) / x.sum() < 0.05  # a shift, not a rescale


def test_jitter_scales_windows_within_bounds():
    x = torch.ones(50, 1, 2, 2)
    y = ClipAugment(AugmentConfig(flip=False, translate=0, scale=0, jitter=0.1))(x)
    f = y[:, 0, 0, 0]
    assert (f >= 0.9).all() and (f <= 1.1).all() and f.std() > 0
