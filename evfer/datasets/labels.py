"""Label sets and the one table that maps every dataset's original labels onto them.

Original labels are normalised to lower-case emotion nouns first (CK+ codes and NEFER names both end
up as e.g. ``"happiness"``). The default table is :data:`DEFAULT_MAP`; a config may override entries
(``data.label_map``), and every report prints the table actually used.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import ConfigError

SIX = ("happy", "sad", "angry", "confused", "shocked", "neutral")
EKMAN7 = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")
LABEL_SETS = {"six": SIX, "ekman7": EKMAN7}

#: CK+ emotion codes (Emotion/*_emotion.txt).
CKPLUS_CODES = {
    0: "neutral",
    1: "anger",
    2: "contempt",
    3: "disgust",
    4: "fear",
    5: "happiness",
    6: "sadness",
    7: "surprise",
}

#: original label -> class, per label set; None drops the clip.
DEFAULT_MAP: dict[str, dict[str, str | None]] = {
    "six": {
        "happiness": "happy",
        "sadness": "sad",
        "anger": "angry",
        "surprise": "shocked",
        "fear": "shocked",
        "disgust": "confused",
        "contempt": "confused",
        "neutral": "neutral",
        "none": None,  # NEFER's self-reported "None"
    },
    "ekman7": {
        "happiness": "happiness",
        "sadness": "sadness",
        "anger": "anger",
        "surprise": "surprise",
        "fear": "fear",
        "disgust": "disgust",
        "contempt": None,  # not one of the seven basic emotions
        "neutral": "neutral",
        "none": None,
    },
}

_ALIASES = {
    "happy": "happiness",
    "sad": "sadness",
    "angry": "anger",
    "surprised": "surprise",
    "fearful": "fear",
    "afraid": "fear",
    "disgusted": "disgust",
    "contemptuous": "contempt",
    "normal": "neutral",
}


def normalize_original(label: str) -> str:
    """Canonical lower-case noun for an original label (``"Happiness"``, ``"happy"`` -> ``"happiness"``)."""
    key = label.strip().lower()
    return _ALIASES.get(key, key)


class LabelMap:
    """The mapping in force for one run: label set + default table + overrides."""

    def __init__(self, label_set: str = "six", overrides: Mapping[str, str | None] | None = None):
        if label_set not in LABEL_SETS:
            raise ConfigError(f"data.label_set: unknown label set '{label_set}' (valid: {', '.join(LABEL_SETS)})")
        self.label_set = label_set
        self.classes: tuple[str, ...] = LABEL_SETS[label_set]
        self.table = dict(DEFAULT_MAP[label_set])
        for original, target in (overrides or {}).items():
            if target is not None and target not in self.classes:
                raise ConfigError(
                    f"data.label_map.{original}: '{target}' is not a class of label set '{label_set}' "
                    f"(valid: {', '.join(self.classes)}, or null to drop)"
                )
            self.table[normalize_original(original)] = target

    def __call__(self, original: str) -> str | None:
        """Class for an original label, or None when the clip is dropped (or the label is unknown)."""
        return self.table.get(normalize_original(original))

    def index(self, label: str) -> int:
        return self.classes.index(label)

    def format_table(self) -> str:
        """The table as printed in reports: one ``original -> class`` line each."""
        width = max(len(k) for k in self.table)
        lines = [f"label set: {self.label_set} ({', '.join(self.classes)})"]
        for original, target in self.table.items():
            lines.append(f"  {original:<{width}} -> {target if target is not None else '(dropped)'}")
        return "\n".join(lines)
