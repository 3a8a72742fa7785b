"""Which weights a run keeps (train.select, train.average_epochs, train.head_epochs), last.ckpt as the
true resume point, and atomic checkpoint files."""

from __future__ import annotations

import csv
import json
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from conftest import tiny_config_path
from evfer.cli import main
from evfer.training.selection import KeepModel


# ---------------------------------------------------------------- the rule, on a fake trainer
class FakeTrainer:
    """What KeepModel reads of a Lightning Trainer; records the checkpoints it is asked to write
    (the weights at that moment)."""

    def __init__(self, module):
        self.module, self.current_epoch, self.callback_metrics = module, 0, {}
        self.sanity_checking, self.saved = False, []

    def save_checkpoint(self, path, weights_only=None):
        self.saved.append((path.name, self.current_epoch, self.module.net.weight.detach().clone()))


def run_epochs(keep: KeepModel, weights: list[float], scores: list[float] | None = None, metric: str = "val_acc"):
    """Drive ``keep`` through len(weights) epochs of a 1-parameter 'network' whose weight at the end of
    epoch e is weights[e], validated with scores[e]."""
    module = SimpleNamespace(net=nn.Linear(1, 1, bias=False))
    trainer = FakeTrainer(module)
    for epoch, w in enumerate(weights):
        trainer.current_epoch = epoch
        module.net.weight.data.fill_(w)
        if scores is not None:
            trainer.callback_metrics = {metric: torch.tensor(scores[epoch])}
            keep.on_validation_end(trainer, module)
        keep.on_train_epoch_end(trainer, module)
    return trainer, module


def test_val_acc_keeps_the_later_of_tied_epochs(tmp_path):
    keep = KeepModel(tmp_path, "val_acc", epochs=6)
    trainer, _ = run_epochs(keep, [1, 2, 3, 4, 5, 6], [0.5, 0.75, 0.5, 0.75, 0.6, float("nan")])
    assert (keep.best_epoch, keep.best_score) == (3, 0.75)  # epochs 1 and 3 tie: the later one
    best = [(epoch, float(w)) for name, epoch, w in trainer.saved if name == "best.ckpt"]
    assert best == [(0, 1.0), (1, 2.0), (3, 4.0)]
    assert [epoch for name, epoch, _ in trainer.saved if name == "last.ckpt"] == [0, 1, 2, 3, 4, 5]


def test_val_loss_keeps_the_lowest_later_on_ties(tmp_path):
    keep = KeepModel(tmp_path, "val_loss", epochs=4)
    run_epochs(keep, [1, 2, 3, 4], [1.2, 0.9, 0.9, 1.0], metric="val_loss")
    assert keep.best_epoch == 2 and keep.best_score == pytest.approx(0.9)


def test_average_of_the_last_epochs_is_the_plain_mean(tmp_path):
    keep = KeepModel(tmp_path, "last", epochs=5, average_epochs=3)
    trainer, module = run_epochs(keep, [10.0, 20.0, 1.0, 2.0, 6.0])
    assert keep.averaged == [2, 3, 4] and [n for n, *_ in trainer.saved] == ["last.ckpt"] * 5
    keep.load_average(module)
    assert float(module.net.weight.detach()) == pytest.approx((1.0 + 2.0 + 6.0) / 3)


def test_a_resumed_average_continues_and_a_moved_window_restarts(tmp_path):
    keep = KeepModel(tmp_path, "last", epochs=4, average_epochs=2)
    run_epochs(keep, [1.0, 2.0, 3.0])  # stopped after epoch 2 (0-based): epoch 2 is in the average
    state = keep.state_dict()
    resumed = KeepModel(tmp_path, "last", epochs=4, average_epochs=2)
    resumed.load_state_dict(state)
    assert resumed.averaged == [2] and float(next(iter(resumed.average.values()))) == 3.0
    moved = KeepModel(tmp_path, "last", epochs=6, average_epochs=2)
    moved.load_state_dict(state)
    assert moved.averaged == [] and moved.average is None


def test_config_rules_for_selection_and_averaging(tiny_config):
    from evfer.errors import ConfigError

    with pytest.raises(ConfigError, match="train.average_epochs: must be 0 unless train.select is last"):
        tiny_config("train.average_epochs=1")
    with pytest.raises(ConfigError, match=r"train.average_epochs: must be in \[0, train.epochs\]"):
        tiny_config("train.select=last", "train.average_epochs=3")
    with pytest.raises(ConfigError, match="train.select: 'best' is not a valid choice"):
        tiny_config("train.select=best")
    with pytest.raises(ConfigError, match=r"train.head_epochs: must be in \[0, train.epochs\]"):
        tiny_config("train.head_epochs=3")


# ---------------------------------------------------------------- real runs
def _state(path):
    return torch.load(path, map_location="cpu", weights_only=False)["state_dict"]


def _epochs_logged(run):
    with (run / "logs" / "metrics.csv").open() as f:
        return [int(float(r["epoch"])) for r in csv.DictReader(f) if r.get("val_acc")]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A prepared tiny dataset shared by the runs below (prepare is cached by its fingerprint)."""
    folder = tmp_path_factory.mktemp("selection")
    cfg = tiny_config_path(folder, "train.deterministic=true", "train.precision=fp32")
    assert main(["prepare", str(cfg), "--quiet"]) == 0
    return folder, cfg


@pytest.mark.slow
@pytest.mark.xdist_group("training")
def test_a_resumed_run_ends_with_the_weights_of_an_unbroken_one(data):
    """Stopped after epoch 1 and resumed, a run trains epochs 2 and 3 once each and ends with the
    weights of a run that was never stopped (same batches, augmentations and dropout: the random
    generators are part of last.ckpt)."""
    folder, cfg = data
    common = [str(cfg), "--quiet", "train.select=last"]
    assert main(["train", *common, "train.epochs=3", "-o", str(folder / "unbroken")]) == 0
    assert main(["train", *common, "train.epochs=1", "-o", str(folder / "broken")]) == 0
    first = torch.load(folder / "broken" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert first["callbacks"]["KeepModel"]["last_epoch"] == 0  # 0-based: the first epoch is done
    assert main(["train", *common, "train.epochs=3", "-o", str(folder / "broken")]) == 0
    assert _epochs_logged(folder / "broken") == [0, 1, 2]  # no epoch repeated
    summary = json.loads((folder / "broken" / "train_summary.json").read_text())
    assert summary["resumed"] and summary["epochs"] == 3 and summary["best_epoch"] == 3
    # the run's time counts every session, not only the one after the resume
    assert summary["train_seconds"] > summary["train_seconds_this_session"] > 0
    a, b = _state(folder / "unbroken" / "checkpoints" / "last.ckpt"), _state(folder / "broken" / "checkpoints" / "last.ckpt")
    assert a.keys() == b.keys()
    worst = max(float((a[k].float() - b[k].float()).abs().max()) for k in a)
    assert worst < 1e-4  # the CPU's own non-determinism only; another batch order moves weights by > 1e-2
    # select: last keeps the last epoch
    kept = _state(folder / "broken" / "checkpoints" / "best.ckpt")
    assert all(torch.equal(kept[k], b[k]) for k in b)


@pytest.mark.slow
@pytest.mark.xdist_group("training")
def test_last_ckpt_is_the_last_epoch_not_the_best(data):
    folder, cfg = data
    run = folder / "val-loss"
    assert main(["train", str(cfg), "--quiet", "train.epochs=3", "train.select=val_loss", "train.patience=3",
                 "-o", str(run)]) == 0
    with (run / "logs" / "metrics.csv").open() as f:
        losses = [(int(float(r["epoch"])), float(r["val_loss"])) for r in csv.DictReader(f) if r.get("val_loss")]
    low = min(v for _, v in losses)
    expected = max(e for e, v in losses if v == low)  # the latest epoch with the lowest loss
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["best_epoch"] == expected + 1 and summary["select"] == "val_loss"
    last = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    best = torch.load(run / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=False)
    assert last["callbacks"]["KeepModel"]["last_epoch"] == 2 and best["epoch"] == expected
    # the kept model holds no resume state: Adam's moments (2x the weights) stay in last.ckpt only
    assert "optimizer_states" in last and not {"optimizer_states", "lr_schedulers", "callbacks"} & best.keys()
    assert best["state_dict"].keys() == last["state_dict"].keys()
    size = {p.name: p.stat().st_size for p in (run / "checkpoints").glob("*.ckpt")}
    assert size["best.ckpt"] < 0.5 * size["last.ckpt"]


@pytest.mark.slow
@pytest.mark.xdist_group("training")
def test_average_and_linear_probe_through_the_real_command(data):
    """average_epochs=2 keeps the mean of the last two epochs' weights (each taken from a run
    stopped there); head_epochs=1 leaves the backbone untouched in epoch 1."""
    folder, cfg = data
    common = [str(cfg), "--quiet", "train.select=last", "train.head_epochs=1"]
    run = folder / "avg"
    assert main(["train", *common, "train.epochs=2", "-o", str(folder / "e2")]) == 0  # the weights after 2 epochs
    assert main(["train", *common, "train.epochs=1", "-o", str(folder / "e1")]) == 0
    assert main(["train", *common, "train.epochs=2", "train.average_epochs=2", "-o", str(run)]) == 0
    e1, e2 = _state(folder / "e1" / "checkpoints" / "last.ckpt"), _state(folder / "e2" / "checkpoints" / "last.ckpt")
    kept = _state(run / "checkpoints" / "best.ckpt")
    for k, v in kept.items():
        if v.is_floating_point() and "running_" not in k:
            assert torch.allclose(v, (e1[k] + e2[k]) / 2, atol=1e-4), k
    # the linear probe: after the head epoch the backbone (weights and BatchNorm statistics) is the
    # seeded initial one, rebuilt here independently; the head has moved; epoch 2 moves the backbone
    import lightning as L

    from evfer.configure import load_config
    from evfer.models import build_model

    L.seed_everything(3, workers=True, verbose=False)  # the tiny config's seed
    init = build_model(load_config(cfg).model, 6, 4)
    for k, v in init.backbone.state_dict().items():
        assert torch.equal(v, e1["net.backbone." + k]), k
    assert not torch.equal(init.fc.weight, e1["net.fc.weight"])
    assert any(not torch.equal(e1[k], e2[k]) for k in e1 if k.startswith("net.backbone.") and k.endswith("weight"))
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["averaged_epochs"] == [1, 2]


def test_a_checkpoint_write_that_fails_leaves_nothing(tmp_path, monkeypatch):
    """A full disk in the middle of torch.save: no file under the final name, no temporary, and a
    one-line error naming the checkpoint."""
    from evfer.errors import OutputError
    from evfer.training import checkpoints

    target = tmp_path / "checkpoints" / "best.ckpt"
    target.parent.mkdir()
    target.write_bytes(b"the previous, complete checkpoint")

    def full_disk(obj, f, *a, **k):
        with open(f, "wb") as out:
            out.write(b"PK\x03\x04 half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OutputError, match=r"best.ckpt: cannot write here \(No space left on device\)$"):
        checkpoints.write_checkpoint({"state_dict": {}}, target)
    assert target.read_bytes() == b"the previous, complete checkpoint"
    assert [p.name for p in target.parent.iterdir()] == ["best.ckpt"]
