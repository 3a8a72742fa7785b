from __future__ import annotations

import numpy as np
import pytest

from evfer.datasets.facebox import (
    best_box,
    cap_hot_pixels,
    default_box_size,
    estimate_face_box,
    weighted_median,
)
from evfer.events import EVENT_DTYPE, Events
from evfer.testing import blob_events, random_events


def brute_best_box(hist: np.ndarray, w: int, h: int) -> tuple[int, int, int]:
    """Plain loops: the first (row-major) top-left corner with the largest box sum."""
    H, W = hist.shape
    best = (-1, 0, 0)
    for y in range(H - h + 1):
        for x in range(W - w + 1):
            s = int(hist[y : y + h, x : x + w].sum())
            if s > best[0]:
                best = (s, x, y)
    return best[1], best[2], best[0]


@pytest.mark.parametrize("seed", range(6))
def test_best_box_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    H, W = rng.integers(5, 14, 2)
    hist = rng.integers(0, 4, (H, W)) * (rng.random((H, W)) < 0.5)
    w, h = int(rng.integers(1, W + 1)), int(rng.integers(1, H + 1))
    assert best_box(hist, w, h) == brute_best_box(hist, w, h)


def test_best_box_hand_case():
    hist = np.zeros((4, 6), int)
    hist[2, 4] = 5
    hist[3, 5] = 1
    hist[0, 0] = 4
    # a 2x2 box at (4, 2) holds 5 + 1 = 6 > 4
    assert best_box(hist, 2, 2) == (4, 2, 6)


def test_weighted_median_hand_values():
    assert weighted_median(np.array([3.0, 1.0, 2.0]), np.ones(3)) == 2.0
    assert weighted_median(np.array([0.0, 10.0]), np.array([1.0, 3.0])) == 10.0
    assert weighted_median(np.array([5.0, 7.0, 100.0]), np.array([2.0, 2.0, 1.0])) == 7.0


def test_cap_hot_pixels_clips_only_the_outlier():
    rng = np.random.default_rng(0)
    hist = rng.integers(1, 10, (50, 50))
    hist[7, 9] = 100_000
    capped = cap_hot_pixels(hist)
    assert capped[7, 9] <= 9
    mask = np.ones_like(hist, bool)
    mask[7, 9] = False
    assert np.array_equal(capped[mask], hist[mask])


def test_default_box_size():
    assert default_box_size(1280, 720) == (324, 324)  # 0.45 x 720
    assert default_box_size(1280, 720, [200, 260]) == (200, 260)
    assert default_box_size(100, 80, [300, 300]) == (100, 80)  # never larger than the sensor
    with pytest.raises(ValueError):
        default_box_size(100, 80, [0, 10])


def test_finds_a_known_face_box_on_a_1280x720_sensor():
    truth = (503, 141, 324, 324)
    face = blob_events(truth, n_blob=120_000, n_noise=200_000, duration=2_000_000, seed=1)
    hot = np.zeros(100_000, EVENT_DTYPE)  # a hot pixel far from the face, 10x the face's event count
    hot["t"] = np.linspace(0, 1_999_999, len(hot)).astype(np.int64)
    hot["x"], hot["y"], hot["p"] = 1200, 700, 1
    both = np.concatenate([face.array, hot, hot])
    ev = Events(both[np.argsort(both["t"], kind="stable")], 1280, 720)
    box = estimate_face_box(ev, 1280, 720)
    assert box.method == "density" and box.slices == 10
    assert (box.w, box.h) == (324, 324)
    assert abs(box.x - truth[0]) <= 3 and abs(box.y - truth[1]) <= 3
    fine = estimate_face_box(ev, 1280, 720, cell=1)  # pixel grid instead of 4-pixel cells
    assert abs(fine.x - truth[0]) <= 2 and abs(fine.y - truth[1]) <= 2


def test_chunked_input_gives_the_same_box_as_whole():
    ev = blob_events((40, 30, 60, 50), n_blob=30_000, n_noise=30_000, width=320, height=240,
                     duration=1_000_000, seed=2)
    whole = estimate_face_box(ev, 320, 240, [60, 50], slice_us=100_000)
    cuts = [0, 1, 7_777, 20_000, 20_001, 45_000, len(ev)]  # not aligned with the time slices
    chunks = [ev[a:b] for a, b in zip(cuts[:-1], cuts[1:])]
    assert estimate_face_box(iter(chunks), 320, 240, [60, 50], slice_us=100_000) == whole
    assert abs(whole.x - 40) <= 2 and abs(whole.y - 30) <= 2


def test_a_dense_distractor_in_a_minority_of_slices_does_not_move_the_box():
    face = blob_events((100, 60, 80, 80), n_blob=40_000, n_noise=20_000, width=400, height=300,
                       duration=1_000_000, seed=3)
    # a hand waving far from the face, 10x denser than the face, during 3 of the 10 slices
    hand = blob_events((300, 200, 80, 80), n_blob=150_000, n_noise=0, width=400, height=300,
                       duration=300_000, seed=4)
    both = np.concatenate([face.array, hand.array])
    ev = Events(both[np.argsort(both["t"], kind="stable")], 400, 300)
    box = estimate_face_box(ev, 400, 300, [80, 80], slice_us=100_000)
    assert abs(box.x - 100) <= 2 and abs(box.y - 60) <= 2


def test_a_hot_pixel_does_not_attract_the_box():
    face = blob_events((20, 20, 50, 50), n_blob=20_000, n_noise=5_000, width=300, height=200,
                       duration=1_000_000, seed=5)
    hot = np.zeros(60_000, EVENT_DTYPE)
    hot["t"] = np.linspace(0, 999_999, len(hot)).astype(np.int64)
    hot["x"], hot["y"], hot["p"] = 250, 150, 1
    both = np.concatenate([face.array, hot])
    ev = Events(both[np.argsort(both["t"], kind="stable")], 300, 200)
    box = estimate_face_box(ev, 300, 200, [50, 50])
    assert abs(box.x - 20) <= 2 and abs(box.y - 20) <= 2


def test_box_is_clamped_inside_the_sensor():
    ev = blob_events((0, 0, 30, 30), n_blob=20_000, n_noise=1_000, width=200, height=100, seed=6)
    box = estimate_face_box(ev, 200, 100, [60, 60])
    assert box.x == 0 and box.y == 0  # the best 60x60 box touches the corner, never negative
    assert estimate_face_box(ev, 200, 100, [500, 500]).as_list() == [0, 0, 200, 100]


def test_no_events_falls_back_to_the_centre():
    box = estimate_face_box(Events.empty(200, 100), 200, 100, [40, 20])
    assert box.method == "center" and box.as_list() == [80, 40, 40, 20]
    few = random_events(10, 200, 100, seed=0)  # below the per-slice minimum
    assert estimate_face_box(few, 200, 100, [40, 20]).method == "center"


def test_the_estimated_box_keeps_the_known_face_events():
    """evfer.testing gives the recording with its answer: the box and how many events lie in it."""
    from evfer.testing import face_recording

    events, truth, inside = face_recording((500, 200, 240, 280), n_blob=40_000, n_noise=10_000, seed=5)
    found = estimate_face_box(events, 1280, 720, [240, 280])
    kept = len(events.crop(found.x, found.y, found.w, found.h))
    assert found.method == "density" and kept >= 0.97 * inside  # the estimate loses < 3 % of the face's events
