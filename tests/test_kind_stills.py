"""``kind: stills``: registration, the morph along the flow, head motion, listing and bad pairs —
on the real Yale faces (skipped without ../shared) and on images made in the test."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from evfer.datasets import morph
from evfer.datasets.clips import ClipSpec
from evfer.datasets.frame_clips import face_box
from evfer.datasets.kinds import make_source, source_config
from evfer.errors import InputError

from conftest import shared_path


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM (Wang et al. 2004: Gaussian window sigma 1.5, K1 0.01, K2 0.03, L 255)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    blur = lambda x: cv2.GaussianBlur(x, (11, 11), 1.5)  # noqa: E731
    ma, mb = blur(a), blur(b)
    va, vb, cov = blur(a * a) - ma**2, blur(b * b) - mb**2, blur(a * b) - ma * mb
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    return float(np.mean(((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2))))


def yale(subject: str, name: str) -> np.ndarray:
    return cv2.imread(str(shared_path("faces-yale", subject, f"{name}.png")), cv2.IMREAD_GRAYSCALE)


@pytest.mark.shared_data
def test_registration_recovers_a_known_affine_on_a_real_face():
    neutral = yale("01", "normal")
    box = face_box(neutral, 0.0).box
    rng = np.random.default_rng(3)
    pts = np.array([[x, y, 1.0] for x in range(110, 250, 20) for y in range(50, 210, 20)])
    for _ in range(3):
        truth = cv2.getRotationMatrix2D((160, 121), rng.uniform(-3, 3), rng.uniform(0.96, 1.04))
        truth[:, 2] += rng.uniform(-6, 6, 2)
        moved = cv2.warpAffine(neutral, truth, (320, 243), borderMode=cv2.BORDER_REPLICATE)
        moved = np.clip(moved * 0.85 + 15, 0, 255).astype(np.uint8)  # another exposure
        aligned, al = morph.register(neutral, moved, box)
        found = np.array(al.warp)
        assert np.abs(pts @ found.T - pts @ truth.T).max() < 0.6  # pixels, over the face
        assert al.correlation > 0.99 and al.gain == pytest.approx(1 / 0.85, rel=0.05)


@pytest.mark.shared_data
def test_morph_ends_on_the_images_with_eased_steps():
    neutral, expression = yale("05", "normal"), yale("05", "happy")
    aligned, al = morph.register(neutral, expression, face_box(neutral, 0.0).box)
    frames = morph.morph_frames(neutral, aligned, 12, "ease")
    assert frames.shape == (12, *neutral.shape) and frames.dtype == np.uint8
    first, last = psnr(frames[0], neutral), psnr(frames[-1], aligned)
    assert first == math.inf and last == math.inf  # the sequence starts and ends on the two images
    # ease in and out: small steps at both ends, large in the middle
    steps = [np.abs(frames[k + 1].astype(int) - frames[k]).mean() for k in range(11)]
    assert steps[0] < steps[5] / 3 and steps[-1] < steps[5] / 3


def test_edges_travel_instead_of_cross_fading():
    """A dark bar that moves 12 px between the two images: half way, the morph shows one bar half
    way (a cross-fade would show two half-dark bars where it starts and ends)."""
    def bar(x0):
        img = np.full((60, 100), 200, np.uint8)
        img[15:45, x0 : x0 + 6] = 40
        return cv2.GaussianBlur(img, (0, 0), 1.0)

    frames = morph.morph_frames(bar(40), bar(52), 5, "linear")
    profile = frames[2, 30].astype(int)  # a row of the middle frame (a = 0.5)
    assert abs(int(np.argmin(profile)) - 48.5) <= 1.5  # the bar's centre: 42.5 -> 54.5, half way 48.5
    assert profile.min() < 90  # one dark bar, not two half-dark ones (a cross-fade's minimum is ~120)
    assert profile[40:43].mean() > 150 and profile[54:57].mean() > 150  # nothing left at the two ends


@pytest.mark.shared_data
def test_stills_clip_quality_and_where_the_events_are(tmp_path):
    """The generated sequence ends close to the expression shot (PSNR/SSIM reported), starts on the
    neutral one, and the events fall where the two (aligned) shots differ — registration cuts the
    events that only the head's shift between the shots would make."""
    root = shared_path("faces-yale")
    report = {}
    outside = {}
    for register in ("affine", "none"):
        source = make_source(source_config("stills", root, frame_size=[96, 96], head_motion_px=0,
                                           head_motion_deg=0, register=register, min_correlation=0))
        for subject in ("02", "07"):
            spec = ClipSpec(f"stills-{subject}-happy", "stills", subject, "happiness",
                            [str(root / subject / "normal.png"), str(root / subject / "happy.png")])
            frames = source.frames(spec).frames
            neutral, expression = yale(subject, "normal"), yale(subject, "happy")
            aligned, _ = morph.register(neutral, expression, face_box(neutral, 0.0).box)
            clip = source.clip(spec)
            x, y, w, h = clip.crop.box
            diff = np.abs(aligned.astype(int) - neutral.astype(int))[y : y + h, x : x + w].astype(np.float32)
            changed = cv2.dilate((cv2.resize(diff, (96, 96), interpolation=cv2.INTER_AREA) > 25).astype(np.uint8),
                                 np.ones((5, 5), np.uint8)) > 0
            ev = clip.events
            outside[register, subject] = int((~changed[ev.y, ev.x]).sum())
            if register == "affine":
                report[subject] = (psnr(frames[-1], aligned), ssim(frames[-1], aligned), psnr(frames[0], neutral))
                assert report[subject][0] == math.inf and report[subject][2] == math.inf
                assert changed[ev.y, ev.x].mean() > 0.6 and changed.mean() < 0.6
    # with the default head motion (about 1 px, 0.5 deg) the last frame is the expression slightly moved
    moving = make_source(source_config("stills", root))
    for subject in ("02", "07"):
        spec = ClipSpec(f"stills-{subject}-happy", "stills", subject, "happiness",
                        [str(root / subject / "normal.png"), str(root / subject / "happy.png")])
        frames = moving.frames(spec).frames
        neutral = yale(subject, "normal")
        aligned, _ = morph.register(neutral, yale(subject, "happy"), face_box(neutral, 0.0).box)
        report[f"{subject} moving"] = (psnr(frames[-1], aligned), ssim(frames[-1], aligned), psnr(frames[0], neutral))
        assert report[f"{subject} moving"][0] > 22 and report[f"{subject} moving"][1] > 0.85
        assert report[f"{subject} moving"][2] == math.inf  # the motion starts at rest
    print("last frame vs aligned expression (PSNR dB, SSIM), first vs neutral (PSNR):", report)
    for subject in ("02", "07"):
        assert outside["affine", subject] < 0.8 * outside["none", subject]


def test_head_motion_starts_at_rest_is_small_and_seeded():
    rng = lambda: np.random.default_rng(5)  # noqa: E731
    warps = morph.head_motion(16, (100, 120), rng(), shift_px=1.0, rotate_deg=0.5)
    assert np.allclose(warps[0], [[1, 0, 0], [0, 1, 0]], atol=1e-9)
    assert np.abs(warps[:, :, 2]).max() < 2.0 + 120 * math.radians(1.0)  # shift + rotation about the centre
    assert np.array_equal(warps, morph.head_motion(16, (100, 120), rng()))
    assert not np.array_equal(warps, morph.head_motion(16, (100, 120), np.random.default_rng(6)))


def face_image(shift=(0, 0), mouth=0, size=(120, 100)):
    """A drawn face (ellipse, eyes, mouth) on a textured background; ``mouth`` opens it (pixels)."""
    w, h = size
    rng = np.random.default_rng(0)
    img = (120 + 20 * rng.standard_normal((h, w))).clip(0, 255).astype(np.uint8)
    cx, cy = w // 2 + shift[0], h // 2 + shift[1]
    cv2.ellipse(img, (cx, cy), (30, 40), 0, 0, 360, 200, -1)
    for ex in (-12, 12):
        cv2.circle(img, (cx + ex, cy - 10), 4, 40, -1)
    cv2.ellipse(img, (cx, cy + 18), (12, 2 + mouth), 0, 0, 360, 60, -1)
    return img


def write_stills(root, subjects=("a", "b"), extra=()):
    for s in subjects:
        (root / s).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / s / "neutral.png"), face_image())
        cv2.imwrite(str(root / s / "happy.png"), face_image((2, 1), mouth=6))
        cv2.imwrite(str(root / s / "Surprised.png"), face_image((-1, 2), mouth=10))
    for path, image in extra:
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), image)


def test_folder_layout_listing_and_what_is_skipped(tmp_path):
    write_stills(tmp_path, extra=[(tmp_path / "c" / "happy.png", face_image()),  # no neutral image
                                   (tmp_path / "a" / "wink.png", face_image())])
    scan = make_source(source_config("stills", tmp_path)).scan(progress=False)
    got = {(s.id, s.original_label, len(s.paths)) for s in scan.specs}
    assert ("stills-a-happy", "happiness", 2) in got and ("stills-b-Surprised", "surprise", 2) in got
    assert ("stills-a-onset", "neutral", 1) in got and ("stills-a-wink", "wink", 2) in got  # prepare drops wink
    assert len(got) == 7 and [k.reason for k in scan.skipped] == ["no neutral image (neutral or normal.png)"]
    off = make_source(source_config("stills", tmp_path, neutral_clips=False)).scan(progress=False)
    assert not [s for s in off.specs if s.original_label == "neutral"]


def test_prepare_on_stills_reports_alignment_and_skips_bad_pairs(tmp_path):
    from evfer.configure import load_config
    from evfer.datasets.prepare import prepare

    write_stills(tmp_path / "faces", subjects=("a", "b", "c", "d"),
                 extra=[(tmp_path / "faces" / "a" / "sad.png", np.full((100, 120), 90, np.uint8)),  # no face
                        (tmp_path / "faces" / "b" / "angry.png", face_image(size=(100, 100)))])  # other size
    cfg = tmp_path / "s.yaml"
    cfg.write_text(f"""
data:
  sources: [{{kind: stills, root: {tmp_path / 'faces'}, frame_size: [48, 48], frames: 8, blur_sigma: 0}}]
  out: {tmp_path / 'out'}
  workers: 1
  split: {{fractions: [0.5, 0.25, 0.25]}}
emulator: {{params: {{pos_thres: 0.1, neg_thres: 0.1}}}}
voxel: {{bins: 2, windows: 2, size: [16, 16]}}
""")
    result = prepare(load_config(cfg), build_voxels=False, progress=False)
    reasons = {s.item: s.reason for s in result.skipped}
    assert "cannot be aligned" in reasons["stills-a-sad"] or "cannot align" in reasons["stills-a-sad"]
    assert "differs from the neutral image's 120x100" in reasons["stills-b-angry"]
    assert {r.label for r in result.records} == {"happy", "shocked", "neutral"} and len(result.records) == 12
    notes = result.summary["clip_notes"]["stills"]
    assert notes["alignment_correlation"]["n"] == 8 and notes["alignment_correlation"]["min"] > 0.8
    assert set(result.summary["skipped_per_source"]["stills"]) >= {"image size 100x100 differs from the neutral image's 120x100"}


def test_csv_layout(tmp_path):
    write_stills(tmp_path / "img", subjects=("a",))
    (tmp_path / "pairs.csv").write_text(
        "subject,image,label,neutral_image\n"
        "p1,img/a/happy.png,happy,img/a/neutral.png\n"
        "p1,img/a/missing.png,sad,img/a/neutral.png\n"
        "p2,img/a/Surprised.png,,img/a/neutral.png\n"
    )
    scan = make_source(source_config("stills", tmp_path, csv="pairs.csv")).scan(progress=False)
    assert sorted(s.id for s in scan.specs) == ["stills-p1-happy", "stills-p1-onset"]
    reasons = sorted(k.reason for k in scan.skipped)
    assert reasons[0] == "empty label" and "no such image" in reasons[1]


def test_a_pair_that_cannot_be_aligned_is_an_input_error(tmp_path):
    write_stills(tmp_path, subjects=("a",))
    noise = np.random.default_rng(1).integers(0, 255, (100, 120), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "a" / "fear.png"), noise)
    source = make_source(source_config("stills", tmp_path))
    spec = next(s for s in source.scan(progress=False).specs if s.id.endswith("fear"))
    with pytest.raises(InputError, match=r"fear\.png: .*align"):
        source.frames(spec)
