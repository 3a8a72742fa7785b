"""Subject-disjoint splits: a subject's clips always land in exactly one split.

Three methods, all seeded:
- ``subject``: train/val/test by fractions (default 70/20/10), stratified by label as far as whole
  subjects allow (greedy assignment minimising the deviation from the target label counts, in the
  spirit of scikit-learn's StratifiedGroupKFold).
- ``official``: NEFER's published user split. Its "validation" users are our test set (the test set
  is never used for model selection); our validation users are carved out of its training users.
- ``kfold``: K subject folds, stratified the same way; fold k is the test set, an inner validation
  set is carved out of the remaining subjects, the rest trains.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from ..errors import EvferError
from .manifest import SPLITS, ClipRecord


def assign_groups(
    subjects: dict[str, dict[str, int]],
    fractions: list[float],
    seed: int,
) -> dict[str, int]:
    """Assign subjects to ``len(fractions)`` groups, approximating ``fractions`` per label.

    ``subjects`` maps subject -> {label: clip count}. Returns subject -> group index. Deterministic
    for a given seed; every group with a positive fraction gets at least one subject when there are
    enough subjects.
    """
    names = sorted(subjects)
    labels = sorted({lab for c in subjects.values() for lab in c})
    k = len(fractions)
    frac = np.asarray(fractions, float)
    counts = np.array([[subjects[s].get(lab, 0) for lab in labels] for s in names], float)
    total = counts.sum(0)
    target = frac[:, None] * total[None, :]  # (k, labels)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(names))
    # big subjects first (hardest to place); ties broken by the seeded permutation
    order = order[np.argsort(-counts[order].sum(1), kind="stable")]
    got = np.zeros_like(target)
    n_subjects = np.zeros(k, int)
    wanted = np.round(frac * len(names)).astype(int)
    out: dict[str, int] = {}
    remaining = len(names)
    for idx in order:
        c = counts[idx]
        empty_needed = [g for g in range(k) if frac[g] > 0 and n_subjects[g] == 0]
        if empty_needed and remaining <= len(empty_needed):
            candidates = empty_needed  # make sure no non-empty fraction ends with zero subjects
        else:
            candidates = [g for g in range(k) if frac[g] > 0]
        costs = []
        for g in candidates:
            trial = got.copy()
            trial[g] += c
            # relative squared deviation from the per-label targets, plus subject-count balance
            dev = ((trial - target) ** 2 / np.maximum(total, 1)[None, :]).sum()
            subj = ((n_subjects + (np.arange(k) == g) - wanted) ** 2).sum() * 1e-3
            costs.append(dev + subj)
        g = candidates[int(np.argmin(costs))]
        got[g] += c
        n_subjects[g] += 1
        out[names[idx]] = g
        remaining -= 1
    return out


def _label_counts(records: list[ClipRecord]) -> dict[str, dict[str, int]]:
    subjects: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in records:
        subjects[r.subject][r.label] += 1
    return {s: dict(c) for s, c in subjects.items()}


def subject_split(records: list[ClipRecord], fractions: list[float], seed: int) -> dict[str, str]:
    """subject -> split name ("train" | "val" | "test")."""
    if len(fractions) != 3:
        raise EvferError("a subject split needs three fractions (train, val, test)")
    groups = assign_groups(_label_counts(records), fractions, seed)
    return {s: SPLITS[g] for s, g in groups.items()}


def official_split(
    records: list[ClipRecord], official: dict[str, str], fractions: list[float], seed: int
) -> dict[str, str]:
    """Use a published split: ``official`` maps subject -> "train" | "test".

    Validation subjects are drawn from the official training subjects with the share
    val / (train + val) of ``fractions``.
    """
    subjects = _label_counts(records)
    missing = sorted(set(subjects) - set(official))
    if missing:
        raise EvferError(f"official split: subjects not in the published split: {', '.join(missing[:5])}")
    train_pool = {s: c for s, c in subjects.items() if official[s] == "train"}
    out = {s: "test" for s in subjects if official[s] == "test"}
    tr, va = fractions[0], fractions[1]
    inner = assign_groups(train_pool, [tr / (tr + va), va / (tr + va)], seed)
    out.update({s: ("train", "val")[g] for s, g in inner.items()})
    return out


def kfold_split(
    records: list[ClipRecord], folds: int, fold: int, fractions: list[float], seed: int
) -> dict[str, str]:
    """Subject fold ``fold`` of ``folds`` is the test set; the inner validation subjects are drawn from
    the rest with share val / (train + val) of ``fractions``."""
    if not 0 <= fold < folds:
        raise EvferError(f"fold {fold} is not in 0..{folds - 1}")
    subjects = _label_counts(records)
    if len(subjects) < folds:
        raise EvferError(f"{folds}-fold cross-validation needs at least {folds} subjects, found {len(subjects)}")
    groups = assign_groups(subjects, [1.0 / folds] * folds, seed)
    out = {s: "test" for s, g in groups.items() if g == fold}
    rest = {s: c for s, c in subjects.items() if groups[s] != fold}
    tr, va = fractions[0], fractions[1]
    inner = assign_groups(rest, [tr / (tr + va), va / (tr + va)], seed + 1)
    out.update({s: ("train", "val")[g] for s, g in inner.items()})
    return out


def apply_split(records: list[ClipRecord], subject_to_split: dict[str, str]) -> None:
    """Write the split into every record, enforcing subject-disjointness."""
    for r in records:
        r.split = subject_to_split[r.subject]
    check_disjoint(records)


def check_disjoint(records: list[ClipRecord]) -> None:
    """Raise if any subject appears in more than one split."""
    seen: dict[str, str] = {}
    for r in records:
        if not r.split:
            continue
        if seen.setdefault(r.subject, r.split) != r.split:
            raise EvferError(f"subject {r.subject} appears in splits {seen[r.subject]} and {r.split}: leak")
