"""The "see it work" views, on one tiny trained run (tiny config, train.logger=tensorboard):
``evfer report`` (the HTML page read by a parser and rendered by headless Chromium),
``evfer predict --render`` (videos) and the TensorBoard logger."""

from __future__ import annotations

import base64
import contextlib
import csv
import io
import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from conftest import tiny_config_path
from evfer.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("report")]

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """(folder, config, run directory, stdout of `evfer evaluate`): the tiny run, trained and evaluated."""
    tmp = tmp_path_factory.mktemp("report")
    cfg = tiny_config_path(tmp, "train.logger=tensorboard")
    assert main(["train", str(cfg), "-o", str(tmp / "run"), "--quiet"]) == 0
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["evaluate", str(tmp / "run")]) == 0
    return tmp, cfg, tmp / "run", out.getvalue()


# ----------------------------------------------------------------------------------- the page
class Page(HTMLParser):
    """What a browser would load and show: tags, attributes, images, tables, text, style."""

    def __init__(self, text: str):
        super().__init__()
        self.tags, self.attrs, self.images, self.ids = [], [], [], set()
        self.tables, self.text, self.style = [], [], []
        self._in, self._cell = [], None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        self.attrs += [(tag, k, v or "") for k, v in attrs.items()]
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "img":
            self.images.append(attrs)
        if tag == "table":
            self.tables.append([])
        if tag == "tr":
            self.tables[-1].append([])
        if tag in ("td", "th"):
            self._cell = []
        self._in.append(tag)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data):
        if self._in and self._in[-1] == "style":
            self.style.append(data)
            return
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)

    @property
    def all_text(self) -> str:
        return " ".join(" ".join(self.text).split())

    def table_starting(self, first_cell: str) -> list[list[str]]:
        return next(t for t in self.tables if t and t[0] and t[0][0] == first_cell)


def check_self_contained(page: Page) -> None:
    """Every image embedded as a PNG data URL, no script, no external resource or link."""
    assert not {"script", "link", "iframe", "object", "embed"} & set(page.tags)
    for image in page.images:
        prefix = "data:image/png;base64,"
        assert image["src"].startswith(prefix)
        assert base64.b64decode(image["src"][len(prefix):]).startswith(b"\x89PNG\r\n\x1a\n")
    for tag, key, value in page.attrs:
        if key in ("src", "href", "srcset", "poster", "action", "data", "background"):
            assert value.startswith(("data:", "#")), (tag, key, value[:80])
    style = "".join(page.style)
    assert "url(" not in style and "@import" not in style


def read_page(path: Path) -> Page:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    page = Page(text)
    check_self_contained(page)
    return page


def misclassified(run_dir: Path) -> list[dict]:
    with (run_dir / "predictions-test.csv").open(newline="") as f:
        return [r for r in csv.DictReader(f) if r["label"] != r["predicted"]]


def test_evaluate_writes_the_report_and_prints_its_path(run):
    tmp, cfg, run_dir, stdout = run
    assert f"report: {run_dir / 'report.html'}" in stdout.splitlines()
    assert (run_dir / "report.html").stat().st_size > 10_000


def test_report_shows_config_data_curves_metrics_mistakes_and_machine(run):
    import torch

    tmp, cfg, run_dir, _ = run
    page = read_page(run_dir / "report.html")
    text = page.all_text
    assert {"summary", "config", "data", "training", "metrics", "mistakes", "timings"} <= page.ids
    m = json.loads((run_dir / "metrics.json").read_text())
    lo, hi = m["accuracy_ci95"]
    assert f"{m['accuracy']:.3f} (95% CI {lo:.3f}-{hi:.3f}, {m['n']} clips)" in text
    assert f"macro-F1 {m['macro_f1']:.3f}" in text
    # the confusion matrix and the per-class scores, cell by cell
    cm = page.table_starting("true \\ predicted")
    assert cm[0][1:] == m["classes"]
    assert [[int(v) for v in row[1:]] for row in cm[1:]] == m["confusion_matrix"]
    per_class = {row[0]: row[1:] for row in page.table_starting("class")[1:]}
    for c, v in m["per_class"].items():
        assert per_class[c] == [f"{v['precision']:.3f}", f"{v['recall']:.3f}", f"{v['f1']:.3f}", str(v["support"])]
    # data: clips per split as the run's manifest has them, the dataset's label table
    from evfer.datasets.manifest import read_manifest

    records = read_manifest(run_dir / "manifest.csv")
    splits = {row[0]: row for row in page.table_starting("split")[1:]}
    for s in ("train", "val", "test"):
        assert int(splits[s][-2]) == sum(r.split == s for r in records)
    summary = json.loads((tmp / "data" / "summary.json").read_text())
    labels = {row[0]: row[1] for row in page.table_starting("dataset label")[1:]}
    assert labels == {k: v or "(dropped)" for k, v in summary["label_table"].items()}
    # the resolved config, curves, every misclassified test clip with a picture of its events
    assert "logger: tensorboard" in text and "bins: 4" in text
    assert any(i["alt"] == "training curves" for i in page.images)
    wrong = misclassified(run_dir)
    assert f"{len(wrong)} of {m['n']} test clips misclassified" in text
    assert {i["alt"] for i in page.images if i["alt"].startswith("events of ")} == {f"events of {r['id']}" for r in wrong}
    # timings and the machine
    train_summary = json.loads((run_dir / "train_summary.json").read_text())
    assert f"{train_summary['precision']} ({train_summary['precision_reason']})" in text
    assert torch.backends.cpu.get_cpu_capability() in text


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_report_in_headless_chromium(run, tmp_path):
    """A person's view: the page rendered by a browser is not blank, and the numbers are on it."""
    from PIL import Image

    tmp, cfg, run_dir, _ = run
    url = (run_dir / "report.html").resolve().as_uri()
    common = ["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars"]
    shot = tmp_path / "report.png"
    subprocess.run([*common, f"--screenshot={shot}", "--window-size=1200,1600", url],
                   capture_output=True, timeout=120, check=True)
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.int32)
    assert pixels.shape == (1600, 1200)
    background = np.bincount(pixels.ravel()).argmax()
    assert (np.abs(pixels - background) > 40).mean() > 0.02  # text, tables, pictures: not a blank page
    headline = pixels[80:400]  # the title and the cards with the test accuracy and macro-F1
    assert (headline < 100).mean() > 0.005
    dom = subprocess.run([*common, "--dump-dom", url], capture_output=True, timeout=120, check=True,
                         text=True).stdout
    m = json.loads((run_dir / "metrics.json").read_text())
    lo, hi = m["accuracy_ci95"]
    shown = " ".join(Page(dom).all_text.split())
    assert f"{m['accuracy']:.3f} (95% CI {lo:.3f}-{hi:.3f}, {m['n']} clips)" in shown
    assert f"{m['macro_f1']:.3f}" in shown


def copy_run(run_dir: Path, to: Path, keep: tuple[str, ...]) -> Path:
    to.mkdir(parents=True)
    for name in keep:
        src = run_dir / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, to / name)
    return to


def test_report_of_a_run_not_evaluated_yet_says_what_is_missing(run, tmp_path, capsys):
    tmp, cfg, run_dir, _ = run
    part = copy_run(run_dir, tmp_path / "part", ("config.yaml", "manifest.csv", "train_summary.json", "logs"))
    config = part / "config.yaml"
    config.write_text(config.read_text().replace(str(tmp / "data"), str(tmp_path / "gone")))
    assert main(["report", str(part)]) == 0
    assert f"report: {part / 'report.html'}" in capsys.readouterr().out
    page = read_page(part / "report.html")
    text = page.all_text
    assert "no metrics.json; run `evfer evaluate" in text
    assert f"dataset summary not found ({tmp_path / 'gone'}/summary.json" in text
    assert "no per-clip predictions yet" in text
    assert any(i["alt"] == "training curves" for i in page.images)  # drawn from logs/metrics.csv


def test_report_of_a_run_evaluated_before_intervals_were_recorded(run, tmp_path):
    from evfer.metrics import wilson_interval

    tmp, cfg, run_dir, _ = run
    old = copy_run(run_dir, tmp_path / "old", ("config.yaml", "manifest.csv", "metrics.json"))
    m = json.loads((old / "metrics.json").read_text())
    for key in ("accuracy_ci95", "correct"):
        del m[key]
    (old / "metrics.json").write_text(json.dumps(m))
    from evfer.presentation.report import write_report

    text = read_page(write_report(old)).all_text
    lo, hi = wilson_interval(int(np.trace(m["confusion_matrix"])), m["n"])
    assert f"{m['accuracy']:.3f} (95% CI {lo:.3f}-{hi:.3f}, {m['n']} clips)" in text
    assert "machine not recorded" in text and "not trained (no train_summary.json)" in text


def test_report_bad_inputs_are_one_line(tmp_path, run, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"evfer: error: {tmp_path / 'nope'}: run directory not found"
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "neither a training run nor a cross-validation folder" in err
    out = tmp_path / "missing" / "r.html"
    assert main(["report", str(run[2]), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(out) in err and not out.parent.exists()


def test_cv_writes_a_report_of_all_folds(run, tmp_path, capsys):
    """`evfer cv` over folds already evaluated (copies of the tiny run) only pools them and reports."""
    tmp, cfg, run_dir, _ = run
    cv = tmp_path / "cv"
    for k in range(2):
        shutil.copytree(run_dir, cv / f"fold-{k}")
    assert main(["cv", str(cfg), "--folds", "2", "-o", str(cv), "--quiet"]) == 0
    assert f"report: {cv / 'report.html'}" in capsys.readouterr().out.splitlines()
    page = read_page(cv / "report.html")
    text = page.all_text
    result = json.loads((cv / "cv.json").read_text())
    pooled = result["pooled"]
    lo, hi = pooled["accuracy_ci95"]
    assert f"{pooled['accuracy']:.3f} (95% CI {lo:.3f}-{hi:.3f}, {pooled['n']} clips)" in text
    assert f"{result['accuracy_mean']:.3f} ± {result['accuracy_std']:.3f}" in text
    clips_per_fold, metrics_per_fold = [t for t in page.tables if t[0][0] == "fold"]
    assert [(row[0], row[3]) for row in clips_per_fold[1:]] == [("fold 0", "6"), ("fold 1", "6")]
    assert [row[1] for row in metrics_per_fold[1:]] == [f"{f['accuracy']:.3f}" for f in result["per_fold"]]
    cm = page.table_starting("true \\ predicted")
    assert [[int(v) for v in row[1:]] for row in cm[1:]] == pooled["confusion_matrix"]
    wrong = len(misclassified(run_dir))
    assert f"{2 * wrong} of {pooled['n']} test clips misclassified" in text
    assert "fold 0, true" in text and "fold 1, true" in text


# ------------------------------------------------------------------------------------ TensorBoard
def test_tensorboard_logger_logs_what_the_csv_log_holds(run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from evfer.presentation.plots import read_metrics_csv

    tmp, cfg, run_dir, _ = run
    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    assert {"train_loss", "train_acc", "val_loss", "val_acc"} <= set(events.Tags()["scalars"])
    csv_log = read_metrics_csv(run_dir / "logs" / "metrics.csv")
    for tag in ("val_acc", "train_loss"):
        assert [e.value for e in events.Scalars(tag)] == pytest.approx([v for _, v in csv_log[tag]], rel=1e-5)


def test_tensorboard_logger_without_the_package_is_one_line(tmp_path, monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("tensorboard", "tensorboardX") else real(name, *a))
    cfg = tiny_config_path(tmp_path, "train.logger=tensorboard")
    assert main(["train", str(cfg), "-o", str(tmp_path / "run"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("evfer: error: train.logger=tensorboard needs the tensorboard package") and "\n" not in err
    assert not (tmp_path / "data").exists()  # refused before preparing anything


# ----------------------------------------------------------------------------- predict --render
def video_frames(path: Path) -> list[np.ndarray]:
    """Every frame of a video as RGB arrays (H, W, 3): GIFs with Pillow, MP4 with OpenCV."""
    if path.suffix == ".gif":
        from PIL import Image, ImageSequence

        return [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(Image.open(path))]
    import cv2

    cap, frames = cv2.VideoCapture(str(path)), []
    while True:
        ok, frame = cap.read()
        if not ok:
            return frames
        frames.append(frame[..., ::-1])


def box_of(frame: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x, y, w, h = box
    return frame[y : y + h, x : x + w]


def test_predict_render_one_video_per_input(run, tmp_path, capsys):
    """A video and an image folder: the video shows the source frames; a recording, events alone."""
    from evfer.presentation.prediction_video import FRAMES_PER_WINDOW, layout, video_size

    tmp, cfg, run_dir, _ = run
    folder = next((tmp / "synth" / "cohn-kanade-images").glob("S*/*"))
    h5 = next((tmp / "data" / "events").rglob("*.h5"))
    capsys.readouterr()
    assert main(["predict", str(run_dir), str(folder), str(h5), "--render", str(tmp_path / "out.mp4"), "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    expected = [tmp_path / f"out-{folder.name}.mp4", tmp_path / f"out-{h5.stem}.mp4"]
    assert [r["render"] for r in results] == [str(p) for p in expected]
    windows = 2  # voxel.windows of the tiny config
    for path, has_frames in zip(expected, (True, False)):
        frames = video_frames(path)
        w, h = video_size(has_frames)
        assert len(frames) == windows * FRAMES_PER_WINDOW
        assert {f.shape for f in frames} == {(h, w, 3)}
    assert video_size(False)[0] < video_size(True)[0] and "frames" not in layout(False)
    # the source panel holds the grey face frame: mid-grey pixels, not the white page
    source = box_of(video_frames(expected[0])[0], layout(True)["frames"]).astype(int)
    grey = (np.ptp(source, axis=2) < 20) & (source[..., 0] > 40) & (source[..., 0] < 215)
    assert grey.mean() > 0.3


def test_predict_render_gif_of_a_recording_colours_on_and_off_events(run, tmp_path, capsys):
    from evfer.presentation.drawing import OFF_COLOR, ON_COLOR
    from evfer.presentation.prediction_video import FRAMES_PER_WINDOW, layout, video_size

    tmp, cfg, run_dir, _ = run
    h5 = next((tmp / "data" / "events").rglob("*.h5"))
    out = tmp_path / "clip.gif"
    assert main(["predict", str(run_dir), str(h5), "--box", "8,8,30,30", "--render", str(out)]) == 0
    assert f"video: {out} ({2 * FRAMES_PER_WINDOW} frames)" in capsys.readouterr().out
    frames = video_frames(out)
    assert len(frames) == 2 * FRAMES_PER_WINDOW and frames[0].shape == (video_size(False)[1], video_size(False)[0], 3)
    panel = box_of(frames[FRAMES_PER_WINDOW - 1], layout(False)["events"]).astype(int)  # all of window 0
    for colour in (ON_COLOR, OFF_COLOR):
        assert (np.abs(panel - np.array(colour)).max(axis=2) < 30).sum() > 20
    # the face box (--box) drawn on the whole sensor's events: 30 of its 48 pixels, a green square
    green = np.abs(panel - np.array([44, 160, 44])).max(axis=2) < 40
    rows, cols = np.nonzero(green)
    side = panel.shape[1] * 30 / 48
    assert np.ptp(rows) == pytest.approx(side, abs=6) and np.ptp(cols) == pytest.approx(side, abs=6)


def test_rendered_label_and_bars_change_where_the_prediction_changes(run):
    """A timeline of three windows: A (0.6), A (0.8), B (0.7). Label and bars stay put inside a
    window; the bars change with the probabilities, the label only where the label changes."""
    from evfer.training.predict import file_clip
    from evfer.presentation.prediction_video import PredictionView, iter_frames, layout, video_size

    tmp, cfg, run_dir, _ = run
    h5 = next((tmp / "data" / "events").rglob("*.h5"))
    from evfer.training.checkpoints import read_config

    clip = file_clip(h5, read_config(run_dir / "checkpoints" / "best.ckpt"))
    classes = ["happy", "sad", "angry"]
    t0, t1 = clip.span_us
    edges = np.linspace(t0, t1, 4).astype(int)

    def probs(label, p):
        rest = (1 - p) / 2
        return {c: (p if c == label else rest) for c in classes}

    steps = [("happy", 0.6), ("happy", 0.8), ("sad", 0.7)]
    prediction = {"label": "sad", "probabilities": probs("sad", 0.7), "events": len(clip.events),
                  "timeline": [{"window": k, "t_start_us": int(edges[k]), "t_end_us": int(edges[k + 1]),
                                "label": lab, "probabilities": probs(lab, p)} for k, (lab, p) in enumerate(steps)]}
    frames = list(iter_frames(PredictionView(h5.name, prediction, clip.events), frames_per_window=3))
    w, h = video_size(False)
    assert len(frames) == 9 and {f.shape for f in frames} == {(h, w, 3)}
    boxes = layout(False)
    label = [box_of(f, boxes["label"]) for f in frames]
    bars = [box_of(f, boxes["bars"]) for f in frames]
    for k in range(3):
        for j in (1, 2):
            assert np.array_equal(label[3 * k], label[3 * k + j]) and np.array_equal(bars[3 * k], bars[3 * k + j])
    assert np.array_equal(label[0], label[3]) and not np.array_equal(bars[0], bars[3])  # same label, new bars
    assert not np.array_equal(label[3], label[6]) and not np.array_equal(bars[3], bars[6])  # the label changes
    cursor = [box_of(f, boxes["timeline"]) for f in frames]
    assert all(not np.array_equal(a, b) for a, b in zip(cursor, cursor[1:]))  # time moves on every frame


def test_render_output_names_and_bad_outputs(run, tmp_path, capsys):
    from evfer.errors import OutputError
    from evfer.presentation.prediction_video import video_paths

    out = tmp_path / "v.gif"
    assert video_paths(out, ["a/face.mp4"]) == [out]
    assert video_paths(out, ["a/001", "b/001", "c.raw"]) == [tmp_path / "v-001.gif", tmp_path / "v-001-2.gif",
                                                              tmp_path / "v-c.gif"]
    with pytest.raises(OutputError, match="use .mp4 or .gif"):
        video_paths(tmp_path / "v.avi", ["x"])
    tmp, cfg, run_dir, _ = run
    h5 = next((tmp / "data" / "events").rglob("*.h5"))
    for bad in (tmp_path / "v.avi", tmp_path / "no" / "v.mp4"):
        assert main(["predict", str(run_dir), str(h5), "--render", str(bad)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"evfer: error: {bad}: ") and "\n" not in err
    assert not list(tmp_path.iterdir())
