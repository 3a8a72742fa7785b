"""Class balancing of the training split (only): undersampling, oversampling or class weights.

Balancing sets :attr:`ClipRecord.repeats` on training clips — how often each is drawn per epoch —
so the manifest records exactly what the model saw. Validation and test clips are never touched.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from .manifest import ClipRecord


def balance(records: list[ClipRecord], method: str, seed: int) -> None:
    """Set ``repeats`` of the training clips in place.

    - ``none`` / ``class_weights``: every clip once (weights come from :func:`class_weights`).
    - ``undersample``: every class keeps as many clips as the rarest class (seeded choice).
    - ``oversample``: every class is drawn as often as the most common class; each clip of a class
      gets ⌊n_max / n⌋ or one more repeat (seeded choice of which clips get the extra one).
    """
    for r in records:
        r.repeats = 1
    train = [r for r in records if r.split == "train"]
    by_class: dict[str, list[ClipRecord]] = defaultdict(list)
    for r in sorted(train, key=lambda r: r.id):
        by_class[r.label].append(r)
    if method in ("none", "class_weights") or not by_class:
        return
    rng = np.random.default_rng(seed)
    sizes = {c: len(v) for c, v in by_class.items()}
    if method == "undersample":
        keep = min(sizes.values())
        for c in sorted(by_class):
            clips = by_class[c]
            chosen = set(rng.choice(len(clips), size=keep, replace=False).tolist())
            for i, r in enumerate(clips):
                r.repeats = 1 if i in chosen else 0
    elif method == "oversample":
        target = max(sizes.values())
        for c in sorted(by_class):
            clips = by_class[c]
            base, extra = divmod(target, len(clips))
            bonus = set(rng.choice(len(clips), size=extra, replace=False).tolist())
            for i, r in enumerate(clips):
                r.repeats = base + (1 if i in bonus else 0)
    else:
        raise ValueError(f"unknown balancing method {method!r}")


def class_weights(records: list[ClipRecord], classes: tuple[str, ...]) -> list[float]:
    """Inverse-frequency weights over the training clips (mean 1 over present classes; 0 if absent)."""
    counts = Counter(r.label for r in records if r.split == "train" and r.repeats > 0)
    present = [c for c in classes if counts[c]]
    if not present:
        return [1.0] * len(classes)
    inv = {c: 1.0 / counts[c] for c in present}
    scale = len(present) / sum(inv.values())
    return [inv[c] * scale if c in inv else 0.0 for c in classes]


def class_counts(records: list[ClipRecord], split: str = "train", weighted: bool = False) -> Counter:
    """Clips per class in a split (``weighted``: counting repeats, i.e. draws per epoch)."""
    out: Counter = Counter()
    for r in records:
        if r.split == split:
            out[r.label] += r.repeats if weighted else 1
    return out
