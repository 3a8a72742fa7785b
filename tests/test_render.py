"""Event frames, the summary PNG, the GIF and `evfer render`: actual pixels, sizes and errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from evfer.cli import main
from evfer.cli._args import parse_time, parse_window
from evfer.events import Events
from evfer.presentation.drawing import (
    BACKGROUND,
    MIXED_COLOR,
    OFF_COLOR,
    ON_COLOR,
    colorize,
    drawn_size,
    event_frame,
    event_frames,
    panel_size,
    render_gif,
    render_summary,
    summary_size,
)
from evfer.testing import random_events


def colours(image: np.ndarray) -> set[tuple[int, ...]]:
    return {tuple(int(v) for v in c) for c in np.unique(image.reshape(-1, image.shape[-1]), axis=0)}


def test_on_only_events_give_only_on_pixels_where_the_events_are():
    ev = random_events(300, 20, 10, seed=1, on_fraction=1.0)
    frame = event_frame(ev)
    assert frame.shape == (10, 20, 3) and frame.dtype == np.uint8
    assert colours(frame) == {BACKGROUND, ON_COLOR}
    expected = np.zeros((10, 20), bool)
    expected[ev.y, ev.x] = True
    np.testing.assert_array_equal((frame == ON_COLOR).all(axis=2), expected)


def test_off_only_and_majority_colours():
    off = random_events(300, 20, 10, seed=2, on_fraction=0.0)
    assert colours(event_frame(off)) == {BACKGROUND, OFF_COLOR}
    # pixel (0,0): 2 ON 1 OFF -> ON; (1,0): 1 ON 2 OFF -> OFF; (2,0): 1 and 1 -> mixed; (3,0): none
    ev = Events.from_arrays(np.arange(7), [0, 0, 0, 1, 1, 1, 2], [0] * 7, [1, 1, -1, 1, -1, -1, 1], 4, 1)
    ev = Events.concatenate([ev, Events.from_arrays([7], [2], [0], [-1], 4, 1)])
    frame = event_frame(ev)[0]
    assert [tuple(c) for c in frame] == [ON_COLOR, OFF_COLOR, MIXED_COLOR, BACKGROUND]
    np.testing.assert_array_equal(colorize(np.zeros((2, 3, 2))), np.full((3, 2, 3), BACKGROUND))


def test_event_frames_split_the_window():
    ev = Events.from_arrays([0, 10, 20, 30], [0, 1, 2, 3], [0, 0, 0, 0], [1, 1, -1, 1], 4, 1)
    frames = event_frames(ev, 2)  # [0, 15) and [15, 30]
    assert frames.shape == (2, 1, 4, 3)
    assert [tuple(c) for c in frames[0, 0]] == [ON_COLOR, ON_COLOR, BACKGROUND, BACKGROUND]
    assert [tuple(c) for c in frames[1, 0]] == [BACKGROUND, BACKGROUND, OFF_COLOR, ON_COLOR]


def test_summary_png_size_and_frame_panel_pixels(tmp_path):
    ev = random_events(2000, 32, 24, seed=3)
    out = tmp_path / "s.png"
    size = render_summary(ev, out, bins=3)
    image = np.asarray(Image.open(out).convert("RGB"))
    assert size == summary_size(32, 24, 3) == (image.shape[1], image.shape[0])
    pw, ph = panel_size(32, 24)
    assert (pw, ph) == (160, 120)  # small sensors are zoomed by an integer factor (5)
    assert image.shape[1] >= 4 * pw and image.shape[0] >= ph  # 4 panels side by side
    # the event-frame panel shows the event frame pixel for pixel (top-left panel, below the header)
    zoomed = event_frame(ev).repeat(5, axis=0).repeat(5, axis=1)
    panels = [image[y : y + ph, x : x + pw] for y in range(80) for x in range(20)]
    assert any(np.array_equal(p, zoomed) for p in panels if p.shape == zoomed.shape)


def test_large_sensor_is_drawn_scaled_with_every_event(tmp_path):
    ev = random_events(5000, 1280, 720, seed=4, on_fraction=1.0)
    assert drawn_size(1280, 720) == panel_size(1280, 720) == (480, 270)
    small = event_frame(ev, size=(480, 270))
    expected = np.zeros((270, 480), bool)
    expected[ev.y.astype(int) * 270 // 720, ev.x.astype(int) * 480 // 1280] = True
    np.testing.assert_array_equal((small == ON_COLOR).all(axis=2), expected)
    size = render_summary(ev, tmp_path / "big.png", bins=2)
    assert Image.open(tmp_path / "big.png").size == size == summary_size(1280, 720, 2)


def test_gif_frames_and_timing(tmp_path):
    ev = random_events(3000, 40, 30, seed=5)
    n = render_gif(ev, tmp_path / "a.gif", frames=6, fps=5)
    with Image.open(tmp_path / "a.gif") as gif:
        assert gif.format == "GIF" and n == gif.n_frames == 6
        assert gif.info["duration"] == 200
        assert gif.size[0] >= panel_size(40, 30)[0]


def test_summary_as_pdf_and_bad_suffix(tmp_path):
    ev = random_events(200, 16, 12, seed=7)
    render_summary(ev, tmp_path / "s.pdf", bins=1)
    assert (tmp_path / "s.pdf").read_bytes().startswith(b"%PDF")
    with pytest.raises(ValueError, match="unsupported image type"):
        render_summary(ev, tmp_path / "s.bmp", bins=1)


def test_empty_window_is_an_error(tmp_path):
    ev = random_events(100, 8, 8, duration=1000)
    with pytest.raises(ValueError, match="no events"):
        render_summary(ev, tmp_path / "x.png", t_start=5000, t_end=6000)
    with pytest.raises(ValueError, match="no events"):
        render_gif(Events.empty(8, 8), tmp_path / "x.gif")
    assert not list(tmp_path.iterdir())  # nothing half-written


# ---------------------------------------------------------------- the command
def test_parse_time_and_window():
    assert parse_time("1500") == 1500
    assert parse_time("1500us") == parse_time("1500µs") == 1500
    assert parse_time("200ms") == 200_000
    assert parse_time("1.5s") == 1_500_000
    assert parse_time("2e3") == 2000
    assert parse_window("1.5s:2s") == (1_500_000, 2_000_000, False)
    assert parse_window(":200ms") == (None, 200_000, False)
    assert parse_window("10:") == (10, None, False)
    assert parse_window("+0:50ms") == (0, 50_000, True)  # from the file's first event
    for bad in ("1.5us", "abc", "-5", "3h"):
        with pytest.raises(ValueError):
            parse_time(bad)
    for bad in ("5s-6s", "1:2:3", "2s:1s"):
        with pytest.raises(ValueError):
            parse_window(bad)


@pytest.fixture
def npz_file(tmp_path):
    pytest.importorskip("evfer.io")
    ev = random_events(5000, 48, 32, t_start=1_000_000, duration=500_000, seed=6)
    path = tmp_path / "rec.npz"
    np.savez(path, t=ev.t, x=ev.x, y=ev.y, p=ev.p, width=48, height=32)
    return path, ev


def test_cli_render_png_and_gif(npz_file, tmp_path, capsys):
    path, ev = npz_file
    out = tmp_path / "out" / "r.png"
    out.parent.mkdir()  # render writes into an existing folder (it never makes folders anywhere)
    assert main(["render", str(path), "-o", str(out), "--bins", "4", "--window", "1.1s:1200ms", "--gif",
                 "--frames", "5"]) == 0
    n = int(((ev.t >= 1_100_000) & (ev.t <= 1_200_000)).sum())  # both ends inclusive
    printed = capsys.readouterr().out
    assert f"{n:,} events" in printed
    assert Image.open(out).size == summary_size(48, 32, 4)
    with Image.open(out.with_suffix(".gif")) as gif:
        assert gif.n_frames == 5


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--window", "5s-6s"], "must look like T0:T1"),
        (["--window", "9s:10s"], "no events in window 9s:10s"),
        (["--window", "0.5us:1s"], "whole number of microseconds"),
        (["-o", "x.bmp"], "unsupported image type"),
    ],
)
def test_cli_render_bad_input_is_one_line(npz_file, tmp_path, capsys, monkeypatch, extra, message):
    path, _ = npz_file
    monkeypatch.chdir(tmp_path)
    assert main(["render", str(path), "-o", "x.png", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("evfer: error:") and message in err and "\n" not in err
    assert not list(tmp_path.glob("x.*"))
