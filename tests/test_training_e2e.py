"""Smoke tests of the real entry points on the shared tiny config (tests/conftest.py): train,
evaluate, predict, export, cv, DDP."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import tiny_config_path
from evfer.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("training")]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("train")
    cfg = tiny_config_path(tmp)
    assert main(["train", str(cfg), "-o", str(tmp / "run"), "--quiet"]) == 0
    return tmp, cfg, tmp / "run"


def test_run_directory_is_complete(trained):
    tmp, cfg, run = trained
    for name in ("config.yaml", "manifest.csv", "checkpoints/best.ckpt", "checkpoints/last.ckpt",
                 "logs/metrics.csv", "curves.png", "train_summary.json"):
        assert (run / name).is_file(), name
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["epochs"] == 2 and summary["val_clips"] > 0
    # precision auto: bf16 exactly where this CPU computes it natively, and the summary says why
    from evfer.training.precision import cpu_capability, native_bf16

    assert summary["precision"] == ("bf16-mixed" if native_bf16("cpu")[0] else "32-true")
    assert summary["precision_reason"].startswith("auto: CPU capability " + cpu_capability())
    assert 0.0 <= summary["best_val_acc"] <= 1.0
    ckpt = torch.load(run / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=False)
    hp = ckpt["hyper_parameters"]
    assert hp["classes"] == ["happy", "sad", "angry", "confused", "shocked", "neutral"]
    assert hp["architecture"]["backbone"] == "resnet18" and hp["architecture"]["in_channels"] == 4
    assert hp["config"]["voxel"]["bins"] == 4  # what `predict` needs to rebuild the input


def test_evaluate_writes_metrics_consistent_with_predictions(trained, capsys):
    tmp, cfg, run = trained
    assert main(["evaluate", str(run)]) == 0
    m = json.loads((run / "metrics.json").read_text())
    assert m["split"] == "test" and (run / "confusion.png").is_file()
    cm = np.array(m["confusion_matrix"])
    assert cm.sum() == m["n"] and m["accuracy"] == pytest.approx(np.trace(cm) / cm.sum())
    assert m["correct"] == np.trace(cm) and m["accuracy_ci95"][0] <= m["accuracy"] <= m["accuracy_ci95"][1]
    assert m["tta_flip"] is False and "expressions_only" not in m  # no onset-neutral clips in this data
    assert "95% CI" in capsys.readouterr().out
    rows = (run / "predictions-test.csv").read_text().splitlines()[1:]
    assert len(rows) == m["n"]
    correct = sum(r.split(",")[2] == r.split(",")[3] for r in rows)
    assert correct / len(rows) == pytest.approx(m["accuracy"])
    from evfer.datasets.manifest import read_manifest

    test_ids = {r.id for r in read_manifest(run / "manifest.csv") if r.split == "test"}
    assert {r.split(",")[0] for r in rows} == test_ids


def test_predict_video_folder_and_event_file(trained, capsys):
    tmp, cfg, run = trained
    seq = next((tmp / "synth" / "cohn-kanade-images").glob("S*/*"))
    from evfer.io import read_events

    h5 = next((tmp / "data" / "events").rglob("*.h5"))
    capsys.readouterr()
    assert main(["predict", str(run / "checkpoints" / "best.ckpt"), str(seq), str(h5), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out) == 2
    for r in out:
        assert r["label"] in r["probabilities"] and sum(r["probabilities"].values()) == pytest.approx(1, abs=1e-3)
        assert len(r["timeline"]) == 2 and r["timeline"][-1]["label"] == r["label"]
    # the event file is the prepared clip: same input as evaluation
    assert out[1]["events"] == len(read_events(h5))


def test_predict_converts_a_sequence_exactly_like_prepare(trained):
    """A CK+-layout image folder given to predict becomes the very events prepare made for it."""
    tmp, cfg, run = trained
    from evfer.datasets.manifest import read_manifest
    from evfer.io import read_events
    from evfer.training.checkpoints import load_checkpoint
    from evfer.training.predict import file_clip

    rec = read_manifest(run / "manifest.csv")[0]
    subject, seq = rec.id.split("-", 1)[1].split("_")
    folder = tmp / "synth" / "cohn-kanade-images" / subject / seq
    _, _, c = load_checkpoint(run / "checkpoints" / "best.ckpt")
    made = file_clip(folder, c, clip_id=rec.id).events
    stored = read_events(tmp / "data" / rec.events_path)
    assert made == stored and len(made) == rec.event_count


def test_predict_bad_inputs(trained, tmp_path, capsys):
    tmp, cfg, run = trained
    odd = tmp_path / "notes.txt"
    odd.write_text("hello")
    assert main(["predict", str(run), str(odd)]) == 2
    captured = capsys.readouterr()
    assert "neither an event recording" in captured.err and captured.out == ""  # errors go to stderr
    assert captured.err.count(str(odd)) == 1  # the path named once
    # one bad input among good ones: the others are predicted, and the exit code says something failed
    h5 = next((tmp / "data" / "events").rglob("*.h5"))
    assert main(["predict", str(run), str(h5), str(tmp_path / "missing.mp4"), "--json"]) == 2
    captured = capsys.readouterr()
    assert len(json.loads(captured.out)) == 1 and "missing.mp4: no such file or folder" in captured.err
    assert main(["predict", str(tmp_path), str(odd)]) == 2  # a run dir without a model
    assert "no model in this run directory" in capsys.readouterr().err


def test_export_onnx_and_torchscript_match_torch(trained, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    tmp, cfg, run = trained
    from evfer.training.checkpoints import load_checkpoint

    assert main(["export", str(run), "-o", str(tmp_path / "m.onnx")]) == 0
    assert main(["export", str(run), "-o", str(tmp_path / "m.pt")]) == 0
    model, classes, c = load_checkpoint(run / "checkpoints" / "best.ckpt")
    x = torch.randn(3, 5, 4, 32, 32)  # other batch size and window count than at export
    with torch.no_grad():
        ref = model.float()(x).numpy()
    got = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"voxels": x.numpy()})[0]
    assert np.allclose(got, ref, atol=1e-4)
    ts = torch.jit.load(str(tmp_path / "m.pt"))
    assert np.allclose(ts(x).detach().numpy(), ref, atol=1e-4)
    info = json.loads((tmp_path / "m.onnx.json").read_text())
    assert info["classes"] == classes and info["voxel"]["bins"] == 4


def test_resume_continues_from_last_checkpoint(trained, capsys):
    tmp, cfg, run = trained
    assert main(["train", str(cfg), "train.epochs=3", "-o", str(run), "--quiet"]) == 0
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["resumed"] and summary["epochs"] == 3
    lines = (run / "logs" / "metrics.csv").read_text().splitlines()
    epochs = sorted({int(float(line.split(",")[0])) for line in lines[1:]})
    assert epochs == [0, 1, 2]  # epoch 2 added, 0 and 1 not re-run


def test_seeded_runs_are_identical(trained, tmp_path):
    tmp, cfg, run = trained
    a = main(["train", str(cfg), "-o", str(tmp_path / "a"), "--quiet", "train.epochs=1", "train.deterministic=true"])
    b = main(["train", str(cfg), "-o", str(tmp_path / "b"), "--quiet", "train.epochs=1", "train.deterministic=true"])
    assert a == b == 0
    sa = torch.load(tmp_path / "a" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)["state_dict"]
    sb = torch.load(tmp_path / "b" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)["state_dict"]
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_bad_config_key_is_one_line(trained, capsys):
    tmp, cfg, run = trained
    assert main(["train", str(cfg), "train.epoch=3"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "train.epoch: unknown config key; did you mean 'epochs'?" in err


def test_checkpoint_of_another_architecture(trained, tmp_path):
    tmp, cfg, run = trained
    from evfer.config import ModelConfig
    from evfer.errors import InputError
    from evfer.models import Recognizer
    from evfer.training.checkpoints import restore_model

    ckpt = torch.load(run / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=False)
    other = Recognizer(ModelConfig(backbone="resnet34", hidden=32), num_classes=6, in_channels=4)
    ckpt["state_dict"] = {f"net.{k}": v for k, v in other.state_dict().items()}
    with pytest.raises(InputError, match="another architecture"):
        restore_model(ckpt, source="x.ckpt")


def test_fine_tuning_options_train_and_evaluate(trained, tmp_path, capsys):
    """Every recipe option at once through the real commands; evaluate follows the run's tta_flip."""
    tmp, cfg, run = trained
    options = ["train.epochs=2", "train.warmup_epochs=1", "train.scheduler=cosine", "train.backbone_lr=0.0001",
               "train.label_smoothing=0.1", "train.mixup=0.2", "train.bn=frozen", "train.ema_decay=0.9",
               "train.tta_flip=true", "train.precision=fp32"]
    assert main(["train", str(cfg), "-o", str(tmp_path / "r"), "--quiet", *options]) == 0
    assert "precision: 32-true (train.precision=fp32)" in capsys.readouterr().out
    from evfer.training.checkpoints import read_config

    saved = read_config(tmp_path / "r" / "checkpoints" / "best.ckpt").train
    assert (saved.ema_decay, saved.bn, saved.backbone_lr, saved.tta_flip) == (0.9, "frozen", 0.0001, True)
    assert main(["evaluate", str(tmp_path / "r"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tta_flip"] is True
    assert main(["evaluate", str(tmp_path / "r"), "--no-tta-flip", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tta_flip"] is False


def test_cross_validation(tmp_path):
    cfg = tiny_config_path(tmp_path)
    assert main(["cv", str(cfg), "--folds", "2", "-o", str(tmp_path / "cv"), "--quiet", "train.epochs=1"]) == 0
    r = json.loads((tmp_path / "cv" / "cv.json").read_text())
    assert r["folds"] == 2 and len(r["per_fold"]) == 2
    accs = [f["accuracy"] for f in r["per_fold"]]
    assert r["accuracy_mean"] == pytest.approx(np.mean(accs)) and r["accuracy_std"] == pytest.approx(np.std(accs))
    lo, hi = r["pooled"]["accuracy_ci95"]
    assert r["pooled"]["n"] == sum(f["n"] for f in r["per_fold"]) and lo <= r["pooled"]["accuracy"] <= hi
    from evfer.datasets.manifest import read_manifest

    pooled = np.array(r["pooled"]["confusion_matrix"])
    clips = read_manifest(tmp_path / "cv" / "fold-0" / "manifest.csv")
    assert pooled.sum() == len(clips)  # every clip tested exactly once over the folds

    tested = [{x.subject for x in read_manifest(tmp_path / "cv" / f"fold-{k}" / "manifest.csv") if x.split == "test"}
              for k in range(2)]
    assert not tested[0] & tested[1] and len(tested[0] | tested[1]) == 6
    # a finished fold keeps its model, not its resume point
    assert sorted(p.relative_to(tmp_path / "cv").as_posix() for p in (tmp_path / "cv").rglob("*.ckpt")) == [
        "fold-0/checkpoints/best.ckpt", "fold-1/checkpoints/best.ckpt"]


@pytest.mark.skipif(sys.platform != "linux", reason="gloo DDP test written for linux")
def test_ddp_two_cpu_processes(trained, tmp_path):
    """Lightning's DDP launcher re-runs the real `evfer train` command as 2 processes on gloo."""
    tmp, cfg, run = trained
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, "-m", "evfer", "train", str(cfg), "-o", str(tmp_path / "ddp"), "--quiet",
           "train.epochs=1", "train.strategy=ddp", "train.devices=2", "train.accelerator=cpu"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((tmp_path / "ddp" / "train_summary.json").read_text())
    assert summary["world_size"] == 2


def test_the_demo_command_runs_end_to_end_when_shrunk(tmp_path, capsys):
    """`evfer demo`, the README's first command, on 8 identities and two epochs (the model: the mean
    of both, as the demo averages its last epochs): it loads its packaged config through the one
    loader, trains, evaluates and writes its report."""
    assert main(["demo", "-o", str(tmp_path / "demo"), "data.sources.0.identities=8", "train.epochs=2",
                 "train.average_epochs=2", "data.split.fractions=[0.5, 0.25, 0.25]", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "test accuracy" in out and (tmp_path / "demo" / "report.html").is_file()
    report = json.loads((tmp_path / "demo" / "demo_report.json").read_text())
    assert report["test_clips"] > 0 and report["epochs"] == 2
    summary = json.loads((tmp_path / "demo" / "train_summary.json").read_text())
    assert summary["averaged_epochs"] == [1, 2]
