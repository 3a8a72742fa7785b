"""Reliability, round 3: outputs never replace inputs, honest evaluation of other checkpoints,
Ctrl-C, hostile configs, damaged run folders, degenerate clips, duplicate rows, plain progress off a
terminal, the litter of killed runs (full disks: tests/test_full_disk.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import dead_pid, shared_path, tiny_config_path
from evfer.cli import main
from evfer.io import write_events
from evfer.testing import random_events


def _evfer(*args, **kw) -> subprocess.Popen:
    """evfer in a process group of its own, with Ctrl-C's default disposition: a test suite started in
    the background of a non-interactive shell (`make test &`) inherits SIGINT ignored, and Python would
    keep ignoring it."""
    return subprocess.Popen([sys.executable, "-m", "evfer", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL), **kw)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("round3")
    cfg = tiny_config_path(folder, "train.epochs=1", "train.precision=fp32")
    assert main(["train", str(cfg), "-o", str(folder / "run"), "--quiet"]) == 0
    return folder, cfg, folder / "run"


# ---------------------------------------------------------------- outputs and inputs
@pytest.mark.slow
@pytest.mark.xdist_group("training")
def test_a_rendering_never_replaces_its_input(run, tmp_path, capsys):
    folder, cfg, run_dir = run
    video = tmp_path / "s.mp4"
    video.write_bytes(shared_path("videos", "single_face.mp4").read_bytes())
    before = video.read_bytes()
    assert main(["predict", str(run_dir), str(video), "--render", str(video), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "s.mp4: is the input" in err and err.count("\n") == 1
    assert video.read_bytes() == before
    assert main(["predict", str(run_dir), str(video), "--timeline", str(video)]) == 2
    assert video.read_bytes() == before


@pytest.mark.slow
@pytest.mark.xdist_group("training")
def test_evaluating_another_runs_checkpoint_on_its_training_subjects_is_refused(run, tmp_path, capsys):
    folder, cfg, run_dir = run
    other = tmp_path / "other"
    assert main(["train", str(cfg), "data.split.seed=5", "-o", str(other), "--quiet"]) == 0
    metrics_before = (run_dir / "metrics.json").read_bytes() if (run_dir / "metrics.json").exists() else None
    assert main(["evaluate", str(run_dir), "--checkpoint", str(other / "checkpoints" / "best.ckpt")]) == 2
    err = capsys.readouterr().err
    assert "was trained or selected on" in err and "would not be honest" in err
    assert ((run_dir / "metrics.json").read_bytes() if metrics_before is not None else None) == metrics_before
    # a checkpoint that never saw the test subjects (the run's own last epoch) is evaluated, beside the run's files
    assert main(["evaluate", str(run_dir), "--checkpoint", str(run_dir / "checkpoints" / "last.ckpt"), "--json"]) == 0
    capsys.readouterr()
    assert not (run_dir / "metrics-checkpoints-last.json").exists()  # the run's own checkpoints are its own
    copy = tmp_path / "copy" / "checkpoints" / "best.ckpt"
    copy.parent.mkdir(parents=True)
    copy.write_bytes((run_dir / "checkpoints" / "best.ckpt").read_bytes())
    assert main(["evaluate", str(run_dir), "--checkpoint", str(copy), "--json"]) == 0
    assert (run_dir / "metrics-copy-best.json").is_file()


def test_a_relative_csv_is_read_from_the_root_in_every_command(tmp_path, monkeypatch):
    from evfer.configure import load_config
    from evfer.datasets.kinds import absolute_paths

    root = tmp_path / "data"
    root.mkdir()
    (root / "labels.csv").write_text("path,subject,label\n")
    decoy = tmp_path / "elsewhere"
    decoy.mkdir()
    (decoy / "labels.csv").write_text("decoy\n")
    monkeypatch.chdir(decoy)
    cfg = load_config(None, [f"data.sources=[{{kind: videos, root: {root}, csv: labels.csv}}]"])
    assert absolute_paths(cfg).data.sources[0].options.csv == str(root / "labels.csv")


# ---------------------------------------------------------------- Ctrl-C
def _wait_for(predicate, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


@pytest.mark.slow
@pytest.mark.xdist_group("prepare")
def test_ctrl_c_during_a_parallel_prepare_is_one_line(tmp_path):
    cfg = tiny_config_path(tmp_path, "data.workers=2", identities=12)
    proc = _evfer("prepare", cfg, "--quiet")
    _wait_for(lambda: any((tmp_path / "data").rglob("*.h5")), 120)
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal does: the whole process group
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err.strip().splitlines()[-1] == "evfer: interrupted"
    assert "Traceback" not in err and "KeyboardInterrupt" not in err


@pytest.mark.slow
@pytest.mark.xdist_group("training")
def test_ctrl_c_during_train_is_130_and_one_line_and_the_run_resumes(tmp_path):
    cfg = tiny_config_path(tmp_path, "train.epochs=40")
    assert main(["prepare", str(cfg), "--quiet"]) == 0
    proc = _evfer("train", cfg, "-o", tmp_path / "run", "--quiet")
    _wait_for(lambda: (tmp_path / "run" / "checkpoints" / "last.ckpt").exists(), 180)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "evfer: interrupted" and "Traceback" not in err
    done = subprocess.run([sys.executable, "-m", "evfer", "train", str(cfg), "train.epochs=2", "-o", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "resuming" in done.stderr and "Previous log files" not in done.stderr + done.stdout
    assert "Checkpoint directory" not in done.stderr + done.stdout


# ---------------------------------------------------------------- hostile or damaged inputs
def test_yaml_alias_bombs_and_long_values_give_a_short_error(tmp_path, capsys):
    bomb = tmp_path / "bomb.yaml"
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"] + [
        f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]" for p, c in zip("abcdefgh", "bcdefghi")]
    bomb.write_text("\n".join(levels) + "\ntrain: {lr: *i}\n")  # 10^9 values in 522 bytes
    started = time.monotonic()
    assert main(["prepare", str(bomb)]) == 2
    err = capsys.readouterr().err
    assert time.monotonic() - started < 10 and "more than 100,000 values once its YAML aliases are expanded" in err
    long = tmp_path / "long.yaml"
    long.write_text("train: {lr: [" + ", ".join(["x" * 50] * 2000) + "]}\n")
    assert main(["prepare", str(long)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and len(err) < 300


@pytest.mark.slow
@pytest.mark.xdist_group("training")
def test_a_report_of_a_damaged_run_names_what_is_damaged(run, tmp_path, capsys):
    folder, cfg, run_dir = run
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for name in ("config.yaml", "manifest.csv", "train_summary.json"):
        (damaged / name).write_bytes((run_dir / name).read_bytes())
    assert main(["evaluate", str(run_dir)]) == 0
    capsys.readouterr()
    csv_text = (run_dir / "predictions-test.csv").read_text()
    (damaged / "predictions-test.csv").write_text(csv_text[: len(csv_text) // 2])  # cut inside a row
    (damaged / "metrics.json").write_text((run_dir / "metrics.json").read_text()[:40])
    assert main(["report", str(damaged)]) == 0
    page = (damaged / "report.html").read_text()
    assert "metrics.json is unreadable" in page and "predictions-test.csv is cut or damaged" in page


@pytest.mark.slow
@pytest.mark.xdist_group("training")
def test_a_last_batch_of_one_trains(tmp_path):
    """18 training clips and batch 17 with trainable BatchNorms: the last batch would hold one clip."""
    cfg = tiny_config_path(tmp_path, "train.batch_size=17", "data.balance.method=none")
    assert main(["train", str(cfg), "-o", str(tmp_path / "run"), "--quiet"]) == 0
    summary = json.loads((tmp_path / "run" / "train_summary.json").read_text())
    assert summary["train_draws_per_epoch"] % 17 == 1


def test_train_into_a_file_and_voxelize_an_empty_window_are_one_line(tmp_path, capsys):
    cfg = tiny_config_path(tmp_path)
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main(["train", str(cfg), "-o", str(afile)]) == 2
    assert capsys.readouterr().err.strip() == f"evfer: error: {afile}: is a file; give a folder for the run"
    ev = write_events(tmp_path / "e.h5", random_events(1000, 32, 32, t_start=1000, duration=10_000, seed=1))
    assert main(["voxelize", str(ev), "-o", str(tmp_path / "vox"), "--window", "0:0", "--quiet"]) == 2
    assert "no events in the window 0..0 µs" in capsys.readouterr().err
    assert main(["voxelize", str(ev), "-o", str(tmp_path / "vox2"), "--window", "+0:2ms", "--quiet"]) == 0
    capsys.readouterr()


def test_info_into_a_closed_pipe_stops_quietly():
    sample = shared_path("event-samples", "evt3_sample.raw")
    proc = subprocess.Popen([sys.executable, "-m", "evfer", "info", "--json", str(sample)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 141 and err == b""


def test_degenerate_clips_are_left_out_with_the_reason(tmp_path):
    import cv2

    from evfer.configure import load_config
    from evfer.datasets.prepare import prepare

    yale = shared_path("faces-yale")
    stills = tmp_path / "stills"
    for subject in ("01", "02"):
        (stills / subject).mkdir(parents=True)
        for name in ("normal", "happy"):
            (stills / subject / f"{name}.png").write_bytes((yale / subject / f"{name}.png").read_bytes())
    (stills / "02" / "sad.png").write_bytes((yale / "02" / "normal.png").read_bytes())  # identical to neutral
    (stills / "03").mkdir()
    for name in ("normal", "happy"):
        cv2.imwrite(str(stills / "03" / f"{name}.png"), np.random.default_rng(1).integers(0, 255, (4, 4), np.uint8))
    rec = tmp_path / "rec"
    rec.mkdir()
    raw = shared_path("event-samples", "evt3_sample.raw").read_bytes()
    header_end = max(i for i in range(len(raw[:2000])) if raw[i:i + 1] == b"%" and (i == 0 or raw[i - 1:i] == b"\n"))
    header_end = raw.index(b"\n", header_end) + 1  # after the last '%' line
    (rec / "tiny.raw").write_bytes(raw[:header_end + 24])  # 12 words: a couple of events
    good = write_events(rec / "good.h5", random_events(20_000, 64, 64, duration=500_000, seed=2))
    (rec / "labels.csv").write_text(f"path,subject,label,box\ntiny.raw,p1,happy,0 0 1280 720\n{good.name},p2,sad,\n"
                                    f"{good.name},p2,sad,\n")
    cfg = load_config(None, [f"data.sources=[{{kind: stills, root: {stills}}}, {{kind: recordings, root: {rec}, "
                             "csv: labels.csv, box_size: [32, 32]}]", f"data.out={tmp_path / 'out'}", "data.workers=1"])
    result = prepare(cfg, build_voxels=False, progress=False)
    why = {s.item: s.reason for s in result.skipped}
    assert "sad.png: is identical to the neutral image" in why["stills-02-sad"]
    assert any("too small for a face" in v for v in why.values())
    assert any(k.endswith("tiny") and v.startswith("only ") and "events" in v for k, v in why.items())
    assert any(k.endswith(":4") and "the same clip as" in v for k, v in why.items())  # the duplicate row, skipped
    assert {r.source for r in result.records} == {"stills", "recordings"}


def test_a_checkpoint_with_python_objects_says_so_in_our_words(tmp_path):
    import torch

    from evfer.errors import InputError
    from evfer.models import read_checkpoint

    bad = tmp_path / "bad.ckpt"
    torch.save({"state_dict": {}, "obj": Thing()}, bad)
    with pytest.raises(InputError) as info:
        read_checkpoint(bad)
    assert "never runs code from a checkpoint" in str(info.value) and "weights_only" not in str(info.value)


class Thing:
    """Not a tensor or a plain value: a checkpoint holding it is refused by weights_only loading."""


# ---------------------------------------------------------------- what a log file gets, what killed runs leave
@pytest.mark.slow
@pytest.mark.xdist_group("training")
def test_off_a_terminal_progress_is_plain_lines(tmp_path):
    cfg = tiny_config_path(tmp_path, "train.epochs=2")
    done = subprocess.run([sys.executable, "-m", "evfer", "train", str(cfg), "-o", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr and "\x1b[" not in done.stderr
    lines = done.stderr.splitlines()
    assert "events: 36/36 clips" in lines and any(line.startswith("epoch 2/2: ") for line in lines)


def test_voxelize_and_export_remove_what_killed_runs_left(tmp_path):
    ev = write_events(tmp_path / "e.h5", random_events(5000, 32, 32, duration=100_000, seed=3))
    out = tmp_path / "vox"
    out.mkdir()
    stale = out / f".tmp-e~{dead_pid()}~abc.npy"
    stale.write_bytes(b"half")
    assert main(["voxelize", str(ev), "-o", str(out), "--quiet"]) == 0
    assert not stale.exists() and (out / "e.npy").is_file()


def test_voxelize_refuses_planes_too_big_for_memory(tmp_path, capsys):
    """A file may state a sensor of 65536 x 65536 pixels (x/y are uint16): its full-size planes would
    take 160 GiB; voxelize says so instead of running out of memory."""
    ev = random_events(1000, 32, 32, duration=10_000, seed=1)
    big = write_events(tmp_path / "big.h5", type(ev)(ev.array, 65535, 65535))
    assert main(["voxelize", str(big), "-o", str(tmp_path / "vox"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "would take 160.0 GiB" in err and "give a smaller --size" in err


def test_no_resource_tracker_warning_after_a_killed_parallel_run(tmp_path):
    """SIGKILL to a prepare with 2 workers: the workers die with it and nothing complains about
    leaked semaphores afterwards."""
    cfg = tiny_config_path(tmp_path, "data.workers=2", identities=12)
    proc = _evfer("prepare", cfg, "--quiet")
    _wait_for(lambda: any((tmp_path / "data").rglob("*.h5")), 120)
    proc.kill()  # the parent alone, as the OOM killer or `kill -9` would
    _, err = proc.communicate(timeout=60)
    time.sleep(1.0)  # the tracker notices its parent's death and exits
    assert "leaked semaphore" not in err
