"""The shipped example configs: every one loads with its sources typed, and the CPU recipe
(configs/ckplus-cpu.yaml) runs `evfer cv` end to end on a tiny CK+-layout tree."""

from __future__ import annotations

import json

import pytest

from conftest import ROOT, WEIGHTS
from evfer.cli import main
from evfer.configure import load_config

CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))


def test_the_configs_folder_holds_the_documented_examples():
    names = {p.stem for p in CONFIGS}
    assert {"ckplus", "ckplus-cpu", "nefer", "synthetic", "videos", "recordings", "stills"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_every_shipped_config_loads_and_types_its_sources(path):
    from evfer.datasets.kinds import KINDS

    cfg = load_config(path)  # every source's options typed and checked against its kind's schema
    assert cfg.data.sources and all(isinstance(s.options, KINDS[s.kind].Options) for s in cfg.data.sources)


def test_the_cpu_recipe_is_the_one_the_docs_describe():
    cfg = load_config(ROOT / "configs" / "ckplus-cpu.yaml")
    assert (cfg.model.backbone, cfg.model.pretrained) == ("mobilenet_v2", "imagenet")
    assert (cfg.voxel.representation, cfg.voxel.windows) == ("event_image", 1)
    assert cfg.train.precision == "auto"  # fp32 on a CPU without native bf16
    # the selection docs/recipe.md measured over 3 seeds: 5 head-only epochs, then the last epoch kept
    assert (cfg.train.head_epochs, cfg.train.select, cfg.train.average_epochs, cfg.train.ensemble) == (5, "last", 0, 1)
    stills = load_config(ROOT / "configs" / "stills.yaml")
    assert (stills.model, stills.voxel, stills.train) == (cfg.model, cfg.voxel, cfg.train)


@pytest.mark.slow
def test_cpu_recipe_cross_validates_a_tiny_ckplus_tree(tmp_path, monkeypatch, capsys):
    """`evfer cv configs/ckplus-cpu.yaml data.sources.0.root=TREE`, as users run it, on 4 subjects x
    (2 expressions + their onset-neutral clips); the real ImageNet weights when the shared hub cache
    is there, random ones otherwise. Then `evfer predict` on a test sequence's image folder gives the
    probabilities evaluation gave that clip (the same event image, made on the fly)."""
    tree = tmp_path / "ck"
    assert main(["synth", "-o", str(tree), "--identities", "4", "--classes", "happy,shocked",
                 "--size", "160x120", "--frames", "8-10", "--timecode", "--workers", "1", "--quiet"]) == 0
    pretrained = "imagenet" if (WEIGHTS / "hub" / "checkpoints").is_dir() else "null"
    monkeypatch.setenv("TORCH_HOME", str(WEIGHTS))
    out = tmp_path / "cv"
    assert main(["cv", str(ROOT / "configs" / "ckplus-cpu.yaml"), f"data.sources.0.root={tree}",
                 f"data.out={tmp_path / 'data'}", "data.workers=1", "train.epochs=2", "train.head_epochs=1",
                 "train.num_workers=0",
                 f"model.pretrained={pretrained}", "--folds", "2", "-o", str(out), "--quiet"]) == 0
    r = json.loads((out / "cv.json").read_text())
    from evfer.datasets.manifest import read_manifest

    clips = read_manifest(out / "fold-0" / "manifest.csv")
    neutral = sum(c.label == "neutral" for c in clips)
    assert 0 < neutral <= 8  # onset clips; one whose first frames hold no change gives no events
    assert r["pooled"]["n"] == len(clips) == 8 + neutral  # every clip tested once over the folds
    expr = r["pooled"]["expressions_only"]
    assert expr["n"] == 4 * 2 and len(expr["accuracy_ci95"]) == 2
    saved = load_config(out / "fold-0" / "config.yaml")
    assert (saved.voxel.representation, saved.model.backbone) == ("event_image", "mobilenet_v2")

    import csv

    row = next(csv.DictReader((out / "fold-0" / "predictions-test.csv").open()))
    subject, seq = row["id"].split("-", 1)[1].split("_")
    capsys.readouterr()
    assert main(["predict", str(out / "fold-0" / "checkpoints" / "best.ckpt"),
                 str(tree / "cohn-kanade-images" / subject / seq), "--json", "--quiet"]) == 0
    probs = json.loads(capsys.readouterr().out)[0]["probabilities"]
    # by construction the same numbers: predict feeds the cache's float16 planes and both infer in
    # fp32 on every CPU; the only difference left is the 4-decimal rounding of the two outputs
    for label, p in probs.items():
        assert p == pytest.approx(float(row[f"p_{label}"]), abs=1.1e-4), label
