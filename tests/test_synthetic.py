"""Synthetic face generator: CK+ layout, determinism, expressions where expected, smooth motion, resume."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from evfer.cli import main as cli_main
from evfer.datasets.synthetic import (
    CLASSES,
    render_sequence,
    sample_identity,
    sample_sequence,
    synthesize,
)
from evfer.errors import ConfigError, InputError

# Written independently of the implementation: CK+ codes (0 neutral, 1 anger, 2 contempt, 3 disgust,
# 4 fear, 5 happy, 6 sadness, 7 surprise) for our six classes.
EXPECTED_CODE = {"happy": 5, "sad": 6, "angry": 1, "confused": 2, "shocked": 7, "neutral": 0}
SIZE = (96, 96)


from conftest import dead_pid


def _tiny(root: Path, **kw) -> object:
    args = dict(identities=2, seed=3, frames=(3, 5), size=(64, 48), workers=1, progress=False)
    args.update(kw)
    return synthesize(root, **args)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
            and p.name != "synth.json"}


# ------------------------------------------------------------------------------------ layout


def test_ckplus_layout_names_and_emotion_files(tmp_path):
    summary = _tiny(tmp_path)
    assert summary.written == 12 and summary.skipped == 0
    images, emotion = tmp_path / "cohn-kanade-images", tmp_path / "Emotion"
    assert sorted(p.name for p in images.iterdir()) == ["S001", "S002"]
    for subject in ("S001", "S002"):
        seqs = sorted(p.name for p in (images / subject).iterdir())
        assert seqs == ["001", "002", "003", "004", "005", "006"]
        codes = set()
        for seq in seqs:
            pngs = sorted((images / subject / seq).iterdir())
            assert 3 <= len(pngs) <= 5
            assert [p.name for p in pngs] == [f"{subject}_{seq}_{k:08d}.png" for k in range(1, len(pngs) + 1)]
            img = cv2.imread(str(pngs[0]), cv2.IMREAD_UNCHANGED)
            assert img.dtype == np.uint8 and img.shape == (48, 64)  # single-channel grey, H x W
            labels = list((emotion / subject / seq).iterdir())
            assert [p.name for p in labels] == [pngs[-1].stem + "_emotion.txt"]
            text = labels[0].read_text()
            assert re.fullmatch(r" {3}\d\.0{7}e\+00\n", text), repr(text)  # MATLAB %16.7e like CK+
            codes.add(int(float(text)))
        assert codes == set(EXPECTED_CODE.values())  # every class once per identity
    assert (tmp_path / "synth.json").is_file()


def test_written_sequences_are_the_rendered_class(tmp_path):
    _tiny(tmp_path, identities=1)
    by_code = {}
    for label in (tmp_path / "Emotion" / "S001").rglob("*_emotion.txt"):
        by_code[int(float(label.read_text()))] = label.parent.name
    for expression, code in EXPECTED_CODE.items():
        folder = tmp_path / "cohn-kanade-images" / "S001" / by_code[code]
        written = np.stack([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in sorted(folder.glob("*.png"))])
        expected = render_sequence(0, expression, (3, 5), (64, 48), seed=3)
        np.testing.assert_array_equal(written, expected)


def test_ckplus_reader_reads_the_set(tmp_path):
    from evfer.datasets.kinds import make_source, source_config

    _tiny(tmp_path)
    scan = make_source(source_config("ckplus", tmp_path, neutral_from_onset=False)).scan(progress=False)
    specs, skipped = scan.specs, scan.skipped
    names = {"happy": "happiness", "sad": "sadness", "angry": "anger", "confused": "contempt",
             "shocked": "surprise", "neutral": "neutral"}
    assert not skipped
    assert sorted(s.original_label for s in specs) == sorted(list(names.values()) * 2)
    assert {s.subject for s in specs} == {"S001", "S002"}


# ------------------------------------------------------------------------------------ determinism


def test_same_seed_same_bytes_regardless_of_order_and_workers(tmp_path):
    _tiny(tmp_path / "a")
    # other order: one class first, then everything (resume fills in the rest), with 2 processes
    _tiny(tmp_path / "b", classes=["shocked", "neutral"], workers=1)
    _tiny(tmp_path / "b", classes=list(reversed(CLASSES)), workers=2)
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert len(a) > 12 and a.keys() == b.keys()
    assert all(a[k] == b[k] for k in a)
    _tiny(tmp_path / "c", seed=4)
    c = _files(tmp_path / "c")
    common = [k for k in a if k in c and k.endswith(".png")]
    assert common and not any(a[k] == c[k] for k in common)


def test_identities_differ_and_first_frames_are_the_same_neutral_face():
    first = {c: render_sequence(0, c, 12, SIZE, seed=1) for c in CLASSES}
    base = first["neutral"][0].astype(float)
    for c in CLASSES:
        # only the sensor noise (std <= 1.6 grey levels) differs between the neutral first frames
        assert np.abs(first[c][0] - base).mean() < 2.5, c
        assert np.abs(first[c][-1] - base).mean() > np.abs(first[c][0] - base).mean(), c
    other = render_sequence(1, "neutral", 12, SIZE, seed=1)[0].astype(float)
    assert np.abs(other - base).mean() > 10
    frames = sample_sequence(1, 0, "happy").n_frames
    assert len(render_sequence(0, "happy", None, SIZE, seed=1)) == frames


# ------------------------------------------------------------------------------------ expressions


def _region(idn, u0, u1, v0, v1, size=SIZE):
    """Pixels whose face coordinates (documented meaning of IdentityParams) fall in the box."""
    w, h = size
    ys, xs = np.mgrid[0:h, 0:w] + 0.5
    s = idn.scale * min(w, h)
    c, sn = math.cos(math.radians(idn.roll_deg)), math.sin(math.radians(idn.roll_deg))
    dx, dy = xs - idn.center[0] * w, ys - idn.center[1] * h
    u, v = (dx * c + dy * sn) / s, (dy * c - dx * sn) / s
    return (u >= u0) & (u <= u1) & (v >= v0) & (v <= v1), u


@pytest.mark.parametrize("identity", [0, 1, 2])
def test_expressions_change_the_expected_regions(identity):
    idn = sample_identity(0, identity)
    vb = idn.eye_y - idn.brow_gap  # brow line
    brows, _ = _region(idn, -0.75, 0.75, vb - 0.2, vb + 0.12)
    mouth, _ = _region(idn, -0.5, 0.5, idn.mouth_y - 0.12, idn.mouth_y + 0.4)
    wide, u = _region(idn, -1.15, 1.15, -0.4, 0.6)
    outline = wide & (np.abs(u) > 0.85)  # the cheek contours
    above, u = _region(idn, -idn.eye_x, idn.eye_x, vb - 0.2, vb - 0.05)
    above_inner = above & (np.abs(u) < idn.eye_x) & (np.abs(u) > idn.eye_x - idn.brow_len - 0.05)
    diff, signed = {}, {}
    for c in CLASSES:
        v = render_sequence(identity, c, 12, SIZE, seed=0, distractors=False, noise=False).astype(float)
        d = np.abs(v[-1] - v[0])
        diff[c] = {"brows": d[brows].mean(), "mouth": d[mouth].mean(), "outline": d[outline].mean()}
        signed[c] = (v[-1] - v[0])[above_inner].mean()
    assert max(diff["neutral"].values()) == 0.0  # no distractors: neutral is static
    assert diff["shocked"]["mouth"] == max(diff[c]["mouth"] for c in CLASSES)  # jaw drop, open mouth
    assert diff["happy"]["mouth"] > 2 * diff["happy"]["brows"]
    for c in ("sad", "angry"):
        assert diff[c]["brows"] > 1.5 * diff[c]["mouth"], c
        assert diff[c]["brows"] > 3 * diff["happy"]["brows"], c
    assert signed["sad"] < -1.0  # inner brows rise into the band above them: darker
    assert signed["angry"] > -0.1  # brows go down: the band above them gets no darker
    # head tilt: only confused (and shocked's jaw drop) move the face contour
    assert diff["confused"]["outline"] > 1.0
    assert diff["confused"]["outline"] > 10 * max(diff[c]["outline"] for c in ("happy", "sad", "angry"))


def test_sequences_are_not_static_except_neutral_without_distractors():
    for c in CLASSES:
        v = render_sequence(3, c, 12, SIZE, seed=0, noise=False).astype(float)
        assert max(np.abs(f - v[0]).mean() for f in v[1:]) > 0.05, c  # head motion at least
    still = render_sequence(3, "neutral", 12, SIZE, seed=0, noise=False, distractors=False)
    assert (still == still[0]).all()
    noisy = render_sequence(3, "neutral", 12, SIZE, seed=0)
    assert all((noisy[k] != noisy[k + 1]).any() for k in range(len(noisy) - 1))


@pytest.mark.parametrize("expression", ["shocked", "happy", "neutral"])
def test_motion_is_smooth(expression):
    """Sampling the same motion twice as finely halves the frame-to-frame change: no jumps."""
    seq = sample_sequence(0, 4, expression)
    seq = dataclasses.replace(seq, blinks=((0.5, 0.25, 1.0),))  # a blink, too (smooth as well)
    n = 10
    coarse = render_sequence(4, expression, n, SIZE, seed=0, fps=30, sequence=seq, noise=False).astype(float)
    fine = render_sequence(4, expression, 2 * n - 1, SIZE, seed=0, fps=60, sequence=seq, noise=False)
    fine = fine.astype(float)
    np.testing.assert_array_equal(coarse, fine[::2])  # same continuous trajectory
    step = lambda v: np.abs(np.diff(v, axis=0)).mean(axis=(1, 2))  # noqa: E731
    assert step(fine).max() < 0.62 * step(coarse).max()
    # anti-aliasing: per-pixel changes shrink with the motion per frame (hard edges would flip whole
    # pixels by the full contrast however small the motion; that measured 0.78-0.97 here)
    top = lambda v: np.percentile(np.abs(np.diff(v, axis=0)), 99.99)  # noqa: E731
    assert top(fine) < 0.68 * top(coarse)


def _ideal_dvs_count(frames: np.ndarray, threshold: float = 0.2) -> int:
    """Events of an ideal DVS pixel array (no noise, one reference level per pixel) over the frames."""
    log = np.log(np.maximum(frames.astype(np.float64), 20.0))
    ref, count = log[0].copy(), 0
    for frame in log[1:]:
        steps = np.trunc((frame - ref) / threshold)
        count += int(np.abs(steps).sum())
        ref += steps * threshold
    return count


def test_class_event_counts_overlap_no_count_shortcut():
    """Event counts of an ideal DVS overlap across classes: the count alone does not give the class."""
    energy = {c: [] for c in CLASSES}
    for identity in range(8):
        for c in CLASSES:
            v = render_sequence(identity, c, None, SIZE, seed=0)
            v = np.stack([cv2.GaussianBlur(f, (0, 0), 1.0) for f in v])
            energy[c].append(_ideal_dvs_count(v) + 1)
    lo = {c: min(e) for c, e in energy.items()}
    hi = {c: max(e) for c, e in energy.items()}
    for a in CLASSES:
        for b in CLASSES:
            assert lo[a] < hi[b], (a, b, lo[a], hi[b])  # every pair of ranges overlaps
    x = np.log(np.concatenate([energy[c] for c in CLASSES]))
    y = np.repeat(np.arange(len(CLASSES)), 8)
    means = np.array([x[y == k].mean() for k in range(len(CLASSES))])
    accuracy = (np.abs(x[:, None] - means).argmin(1) == y).mean()
    assert accuracy < 0.5  # nearest class mean on the energy alone, fitted on the test data itself


# ------------------------------------------------------------------------------------ resume, errors, CLI


def test_resume_rewrites_only_the_missing_sequence(tmp_path):
    _tiny(tmp_path)
    files = sorted(p for p in tmp_path.rglob("*") if p.is_file() and p.name != "synth.json")
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in files}
    victim = tmp_path / "cohn-kanade-images" / "S002" / "004"
    removed = sorted(victim.glob("*.png"))
    for p in removed[1:]:
        p.unlink()
    (victim / f".tmp-S002_004_00000002~{dead_pid()}~junk.png").write_bytes(b"x")  # leftover of a killed run
    summary = _tiny(tmp_path)
    assert (summary.written, summary.skipped) == (1, 11)
    for p, (mtime, data) in before.items():
        assert p.read_bytes() == data
        in_victim = (p.parent.parent.name, p.parent.name) == ("S002", "004")  # its images and label
        if not in_victim:
            assert p.stat().st_mtime_ns == mtime, p
    assert removed[0].stat().st_mtime_ns != before[removed[0]][0]  # the whole sequence was redone
    assert not list(victim.glob(".tmp-*"))
    # a missing emotion file (written last) also marks the sequence incomplete
    next((tmp_path / "Emotion" / "S001").rglob("*_emotion.txt")).unlink()
    assert _tiny(tmp_path).written == 1


def test_bad_arguments_and_foreign_folders(tmp_path):
    with pytest.raises(ConfigError, match="identities"):
        _tiny(tmp_path / "x", identities=1000)
    with pytest.raises(ConfigError, match="frames"):
        _tiny(tmp_path / "x", frames=(5, 3))
    with pytest.raises(ConfigError, match="unknown class"):
        _tiny(tmp_path / "x", classes=["disgust"])
    _tiny(tmp_path / "y", identities=1, classes=["happy"])
    with pytest.raises(InputError, match="other settings.*seed 3 -> 4"):
        _tiny(tmp_path / "y", seed=4)
    (tmp_path / "real" / "cohn-kanade-images").mkdir(parents=True)
    with pytest.raises(InputError, match="not made by"):
        _tiny(tmp_path / "real")
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match="not a folder"):
        _tiny(tmp_path / "file")


def test_timecode_is_a_running_lower_left_overlay():
    plain = render_sequence(2, "happy", 6, (128, 96), seed=0, noise=False)
    coded = render_sequence(2, "happy", 6, (128, 96), seed=0, noise=False, timecode=True)
    changed = (plain != coded).any(axis=0)
    ys, xs = np.nonzero(changed)
    assert ys.min() >= 0.86 * 96 and xs.max() < 0.5 * 128  # CK+'s timecode corner
    assert (coded >= plain).all()  # white digits
    overlay = coded.astype(int) - plain
    assert all((overlay[k] != overlay[k + 1]).any() for k in range(5))  # changes every frame


def test_cli(tmp_path, capsys):
    out = tmp_path / "set"
    argv = ["synth", "-o", str(out), "--identities", "1", "--frames", "3", "--size", "48x40",
            "--classes", "happy,neutral", "--workers", "1", "--quiet", "--seed", "7"]
    assert cli_main(argv) == 0
    assert "2 sequences written (6 frames)" in capsys.readouterr().out
    assert len(list(out.rglob("*.png"))) == 6 and len(list(out.rglob("*_emotion.txt"))) == 2
    assert cli_main(argv) == 0 and "0 sequences written" in capsys.readouterr().out
    assert cli_main(argv[:3] + ["--identities", "0"]) == 2
    assert "identities must be 1..999" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli_main(["synth", "-o", str(out), "--size", "big"])


def test_ensure_synthetic_from_a_source_config(tmp_path):
    from evfer.datasets.kinds import source_config
    from evfer.datasets.synthetic import ensure_synthetic

    src = source_config("synthetic", tmp_path / "s", identities=1, seed=2, frames=[3, 4], synth_size=[40, 32])
    first = ensure_synthetic(src.root, src.options, progress=False)
    assert (first.written, first.frames_written > 0) == (6, True)
    assert ensure_synthetic(src.root, src.options, progress=False).skipped == 6
    png = next((tmp_path / "s").rglob("*.png"))
    assert cv2.imread(str(png), cv2.IMREAD_UNCHANGED).shape == (32, 40)


def test_write_failure_is_a_one_line_output_error(tmp_path, monkeypatch):
    from evfer.errors import OutputError

    monkeypatch.setattr(cv2, "imwrite", lambda *a, **k: False)
    with pytest.raises(OutputError, match=r"cannot write the synthetic set \(.*S001_001_00000001.png: could not write the "
                                          r"image \(a full disk, or no permission\?\)\)$"):
        _tiny(tmp_path, identities=1, classes=["happy"])


def test_prepare_never_grows_a_set_made_by_evfer_synth(tmp_path):
    """`evfer synth` made 2 identities; a source asking for 4 is refused (not silently grown), one
    asking for 1 uses only S001; a folder prepare made itself is completed."""
    from evfer.datasets.kinds import make_source, source_config

    _tiny(tmp_path / "mine", identities=2)
    opts = dict(seed=3, frames=[3, 5], synth_size=[64, 48])
    def source(root, identities):
        return make_source(source_config("synthetic", root, identities=identities, **opts))

    with pytest.raises(InputError, match=r"holds 2 synthetic identities made by `evfer synth`; the source asks for 4"):
        source(tmp_path / "mine", 4).materialize(progress=False)
    one = source(tmp_path / "mine", 1)
    one.materialize(progress=False)
    assert {s.subject for s in one.scan(progress=False).specs} == {"S001"}
    grown = source(tmp_path / "auto", 1)
    with pytest.raises(InputError, match="no synthetic faces here yet"):
        grown.scan(progress=False)  # listing is cheap: it writes nothing
    assert not (tmp_path / "auto").exists()
    grown.materialize(progress=False)
    more = source(tmp_path / "auto", 2)
    more.materialize(progress=False)
    assert {s.subject for s in more.scan(progress=False).specs} == {"S001", "S002"}


def test_one_set_of_synthetic_defaults():
    """`evfer synth` and a `kind: synthetic` source make the same faces by default."""
    from evfer.cli import build_parser
    from evfer.datasets.synthetic import DEFAULT_SIZE, FRAMES_DEFAULT
    from evfer.datasets.synthetic.kind import SyntheticOptions

    args = build_parser().parse_args(["synth", "-o", "x"])
    options = SyntheticOptions()
    assert tuple(args.frames) == FRAMES_DEFAULT == tuple(options.frames)
    assert tuple(args.size) == DEFAULT_SIZE == tuple(options.synth_size)
    assert args.identities == options.identities and args.seed == options.seed and args.fps == options.fps
