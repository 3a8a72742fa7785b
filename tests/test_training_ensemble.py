"""Ensembles (train.ensemble) as one model through train, evaluate, predict and export, and repeated
cross-validation (cv --repeats)."""

from __future__ import annotations

import csv
import json
import statistics

import numpy as np
import pytest
import torch

from conftest import tiny_config_path
from evfer.cli import main
from evfer.config import ModelConfig
from evfer.models import Ensemble, Recognizer


def test_an_ensemble_gives_the_mean_of_its_members_probabilities():
    torch.manual_seed(0)
    members = [Recognizer(ModelConfig(backbone="resnet18", hidden=8), 3, 2).eval() for _ in range(3)]
    ens = Ensemble(members).eval()
    x = torch.randn(4, 2, 2, 32, 32)
    with torch.no_grad():
        expected = torch.stack([torch.softmax(m(x), -1) for m in members]).mean(0)
        timeline = torch.stack([torch.softmax(m.forward_timeline(x), -1) for m in members]).mean(0)
        assert torch.allclose(ens.predict_proba(x), expected, atol=1e-6)
        assert torch.allclose(torch.softmax(ens(x), -1), expected, atol=1e-6)  # "logits" of the mean
        assert torch.allclose(ens.predict_proba(x, timeline=True), timeline, atol=1e-6)
    assert ens.architecture()["ensemble"] == 3 and ens.in_channels == 2
    with pytest.raises(ValueError, match="one architecture"):
        Ensemble([members[0], Recognizer(ModelConfig(backbone="resnet18", hidden=16), 3, 2)])


@pytest.fixture(scope="module")
def ensemble_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ensemble")
    cfg = tiny_config_path(folder, "train.precision=fp32")
    run = folder / "run"
    assert main(["train", str(cfg), "-o", str(run), "--quiet", "train.ensemble=2"]) == 0
    return folder, cfg, run


def _member_probabilities(run, records, folder):
    """Each member's probabilities of the test clips, from its own checkpoint and the cache rows
    (plain torch: no evfer inference code)."""
    from evfer.datasets.voxel_cache import VoxelCache, cache_name
    from evfer.training.checkpoints import load_checkpoint

    out = []
    for m in sorted((run / "members").iterdir()):
        model, classes, cfg = load_checkpoint(m / "checkpoints" / "best.ckpt")
        cache = VoxelCache(folder / "data" / "voxels" / cache_name(cfg.voxel))
        x = torch.stack([torch.from_numpy(np.asarray(cache[r.id], np.float32)) for r in records])
        with torch.no_grad():
            out.append(torch.softmax(model.float().eval()(x), -1).numpy())
    return out


@pytest.mark.slow
@pytest.mark.xdist_group("training")
def test_ensemble_members_train_with_their_own_seeds_and_load_as_one_model(ensemble_run):
    folder, cfg, run = ensemble_run
    from evfer.training.checkpoints import load_checkpoint

    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["ensemble"] == 2 and [m["seed"] for m in summary["members"]] == [3, 4]
    model, classes, saved = load_checkpoint(run / "checkpoints" / "best.ckpt")
    assert isinstance(model, Ensemble) and len(model) == 2 and saved.train.ensemble == 2
    for i, member in enumerate(model.members):
        own = torch.load(run / "members" / f"m{i}" / "checkpoints" / "best.ckpt", map_location="cpu",
                         weights_only=False)["state_dict"]
        assert all(torch.equal(v, own["net." + k]) for k, v in member.state_dict().items())
    a, b = (torch.cat([p.flatten() for p in m.parameters()]) for m in model.members)
    assert not torch.equal(a, b)  # two seeds, two networks
    for i in range(2):
        assert (run / "members" / f"m{i}" / "logs" / "metrics.csv").is_file()


@pytest.mark.slow
@pytest.mark.xdist_group("training")
def test_evaluate_predict_and_export_use_the_ensemble(ensemble_run, tmp_path, capsys):
    folder, cfg, run = ensemble_run
    from evfer.datasets.manifest import read_manifest

    assert main(["evaluate", str(run), "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    test = [r for r in read_manifest(run / "manifest.csv") if r.split == "test"]
    members = _member_probabilities(run, test, folder)
    mean = np.mean(members, axis=0)
    with (run / "predictions-test.csv").open() as f:
        rows = list(csv.DictReader(f))
    got = np.array([[float(r[f"p_{c}"]) for c in m["classes"]] for r in rows])
    assert [r["id"] for r in rows] == [r.id for r in test]
    np.testing.assert_allclose(got, mean, atol=2e-4)  # 4 decimals in the file
    labels = np.array([m["classes"].index(r.label) for r in test])
    assert [x["accuracy"] for x in m["members"]] == pytest.approx([float(np.mean(p.argmax(1) == labels))
                                                                   for p in members])
    assert [x["seed"] for x in m["members"]] == [3, 4]
    report = (run / "report.html").read_text()
    assert "ensemble members alone" in report and "member 1" in report

    # predict on a prepared events file gives the members' mean
    h5 = folder / "data" / test[0].events_path
    capsys.readouterr()
    assert main(["predict", str(run), str(h5), "--json", "--quiet"]) == 0
    probs = json.loads(capsys.readouterr().out)[0]["probabilities"]
    assert [probs[c] for c in m["classes"]] == pytest.approx(mean[0].tolist(), abs=2e-4)

    # ONNX: one graph whose softmax is the members' mean
    ort = pytest.importorskip("onnxruntime")
    assert main(["export", str(run), "-o", str(tmp_path / "e.onnx")]) == 0
    from evfer.training.checkpoints import load_checkpoint

    model = load_checkpoint(run / "checkpoints" / "best.ckpt").model
    x = torch.randn(2, 2, 4, 32, 32)
    with torch.no_grad():
        expected = np.mean([torch.softmax(mm(x), -1).numpy() for mm in model.members], axis=0)
    logits = ort.InferenceSession(str(tmp_path / "e.onnx")).run(None, {"voxels": x.numpy()})[0]
    np.testing.assert_allclose(torch.softmax(torch.from_numpy(logits), -1).numpy(), expected, atol=1e-5)
    assert json.loads((tmp_path / "e.onnx.json").read_text())["ensemble"] == 2


@pytest.mark.slow
@pytest.mark.xdist_group("training")
def test_repeated_cross_validation_reports_the_spread(tmp_path, capsys):
    cfg = tiny_config_path(tmp_path, "train.epochs=1", "train.precision=fp32")
    out = tmp_path / "cv"
    assert main(["cv", str(cfg), "--folds", "2", "--repeats", "2", "-o", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    r = json.loads((out / "cv.json").read_text())
    assert r["repeats"] == 2 and r["seeds"] == [3, 4] and r["folds"] == 2
    own = [json.loads((out / f"repeat-{k}" / "cv.json").read_text()) for k in range(2)]
    accs = [o["pooled"]["accuracy"] for o in own]
    s = r["spread"]["accuracy"]
    assert (s["mean"], s["std"], s["min"], s["max"]) == pytest.approx(
        (statistics.mean(accs), statistics.stdev(accs), min(accs), max(accs)))
    # the same folds in both repeats (the folds follow data.split.seed, not seed)
    from evfer.datasets.manifest import read_manifest

    for k in range(2):
        a, b = (sorted((x.id, x.split) for x in read_manifest(out / f"repeat-{j}" / f"fold-{k}" / "manifest.csv"))
                for j in range(2))
        assert a == b
    # averaged probabilities, by hand from the prediction files
    p, label = {}, {}
    for j in range(2):
        for k in range(2):
            with (out / f"repeat-{j}" / f"fold-{k}" / "predictions-test.csv").open() as f:
                for row in csv.DictReader(f):
                    p.setdefault(row["id"], []).append([float(row[f"p_{c}"]) for c in r["classes"]])
                    label[row["id"]] = row["label"]
    hits = [r["classes"][int(np.argmax(np.mean(v, axis=0)))] == label[i] for i, v in p.items()]
    assert r["averaged"]["n"] == len(hits) == 36 and r["averaged"]["accuracy"] == pytest.approx(np.mean(hits))
    assert "all test clips: " in printed and f"{s['mean']:.3f} ± {s['std']:.3f}" in printed
    page = (out / "report.html").read_text()
    assert "repeat-1/report.html" in page and "sample std" in page
    assert (out / "repeat-0" / "report.html").is_file()
