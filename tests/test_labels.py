import pytest

from evfer.datasets.labels import CKPLUS_CODES, LabelMap
from evfer.errors import ConfigError


def test_default_six_class_mapping():
    m = LabelMap("six")
    expected = {
        "Happiness": "happy", "sadness": "sad", "ANGER": "angry", "surprise": "shocked", "fear": "shocked",
        "disgust": "confused", "contempt": "confused", "neutral": "neutral", "None": None, "happy": "happy",
    }
    for original, label in expected.items():
        assert m(original) == label, original
    assert m.classes == ("happy", "sad", "angry", "confused", "shocked", "neutral")


def test_ekman7_drops_contempt_and_covers_ck_codes():
    m = LabelMap("ekman7")
    assert m("contempt") is None
    assert sorted(m(CKPLUS_CODES[c]) for c in (0, 1, 3, 4, 5, 6, 7)) == sorted(m.classes)


def test_overrides_and_table():
    m = LabelMap("six", {"Fear": None, "contempt": "angry"})
    assert m("fear") is None and m("contempt") == "angry"
    table = m.format_table()
    assert "fear" in table and "(dropped)" in table and "contempt" in table
    with pytest.raises(ConfigError, match="'joy' is not a class"):
        LabelMap("six", {"happiness": "joy"})
    with pytest.raises(ConfigError, match="unknown label set"):
        LabelMap("eight")
