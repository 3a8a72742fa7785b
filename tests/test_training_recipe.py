"""Fine-tuning options: backbone lr, warm-up, label smoothing, mixup, frozen BatchNorm, flip TTA."""

from __future__ import annotations

import math
from functools import partial

import pytest
import torch
import torch.nn.functional as F

from evfer.config import ModelConfig
from evfer.configure import load_config
from evfer.models import Recognizer
from evfer.training.inference import predict_proba
from evfer.training.module import RecognizerModule
from evfer.training.optim import optimizer_factory, param_groups, scheduler_factory

CLASSES = ["a", "b", "c"]
pytestmark = pytest.mark.filterwarnings(r"ignore:You are trying to `self.log\(\)`")


def tiny_net(seed: int = 0, dropout: float = 0.0) -> Recognizer:
    torch.manual_seed(seed)
    return Recognizer(ModelConfig(backbone="resnet18", hidden=8, dropout=dropout), 3, 2)


def lrs(overrides: list[str], epochs: int) -> list[float]:
    """The lr of every epoch under the schedule of ``train:`` ``overrides`` (stepped once per epoch)."""
    t = load_config(None, overrides).train
    opt = optimizer_factory(t)([torch.nn.Parameter(torch.zeros(1))])
    make = scheduler_factory(t)
    sched = make(opt) if make else None
    out = []
    for _ in range(epochs):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        if sched:
            sched.step()
    return out


def test_schedules_against_hand_computed_lrs():
    assert lrs(["train.lr=0.5"], 3) == [0.5, 0.5, 0.5]
    cos = [0.5 * 0.5 * (1 + math.cos(math.pi * e / 6)) for e in range(6)]
    assert lrs(["train.lr=0.5", "train.epochs=6", "train.scheduler=cosine"], 6) == pytest.approx(cos)
    # 2 warm-up epochs at lr·1/3 and lr·2/3, then cosine from lr to 0 over the 8 remaining epochs
    expected = [0.5 / 3, 1.0 / 3] + [0.5 * 0.5 * (1 + math.cos(math.pi * e / 8)) for e in range(8)]
    got = lrs(["train.lr=0.5", "train.epochs=10", "train.scheduler=cosine", "train.warmup_epochs=2"], 10)
    assert got == pytest.approx(expected)
    assert lrs(["train.lr=0.5", "train.epochs=10", "train.warmup_epochs=3"], 5) == pytest.approx(
        [0.125, 0.25, 0.375, 0.5, 0.5])


def test_backbone_gets_its_own_learning_rate():
    net = tiny_net()
    assert [id(p) for p in param_groups(net, None)] == [id(p) for p in net.parameters()]
    opt = partial(torch.optim.Adam, lr=1e-3)(param_groups(net, 1e-5))
    backbone, head = opt.param_groups
    assert backbone["lr"] == 1e-5 and head["lr"] == 1e-3
    assert {id(p) for p in backbone["params"]} == {id(p) for p in net.backbone.parameters()}
    assert {id(p) for p in head["params"]} == {id(p) for p in [*net.lstm.parameters(), *net.fc.parameters()]}


def module(net: Recognizer, **options) -> RecognizerModule:
    return RecognizerModule(net, partial(torch.optim.SGD, lr=0.1), classes=CLASSES, config={}, **options)


def batch(seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(4, 2, 2, 32, 32, generator=g), torch.tensor([0, 1, 2, 1])


def test_label_smoothing_loss_matches_its_definition():
    x, y = batch()
    m = module(tiny_net(), label_smoothing=0.2).eval()  # eval: BatchNorm as a fixed function
    loss = m.training_step((x, y), 0)
    logp = F.log_softmax(m(x), -1)
    expected = (0.8 * -logp[torch.arange(4), y] + 0.2 * -logp.mean(-1)).mean()
    torch.testing.assert_close(loss, expected)


def test_mixup_mixes_inputs_and_labels_with_a_seeded_draw():
    x, y = batch()
    m = module(tiny_net(), mixup=0.4).eval()
    torch.manual_seed(2)
    loss = m.training_step((x, y), 0)
    torch.manual_seed(2)  # the same draws, made by hand
    lam = float(torch.distributions.Beta(0.4, 0.4).sample())
    perm = torch.randperm(4)
    logits = m(lam * x + (1 - lam) * x[perm])
    expected = lam * F.cross_entropy(logits, y) + (1 - lam) * F.cross_entropy(logits, y[perm])
    torch.testing.assert_close(loss, expected)
    assert 0.1 < lam < 0.9 and not torch.equal(perm, torch.arange(4))  # a real mix for this seed


def test_frozen_batchnorm_keeps_statistics_and_affine_weights():
    net = tiny_net()
    m = module(net, bn="frozen")
    m.train()
    bn = net.backbone.bn1
    assert not bn.training and net.backbone.layer1[0].bn2.training is False and net.lstm.training
    before = {k: v.clone() for k, v in net.state_dict().items()}
    opt = m.configure_optimizers()
    for _ in range(2):
        loss = m.training_step(batch(), 0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = net.state_dict()
    for key in ("backbone.bn1.running_mean", "backbone.bn1.weight", "backbone.layer4.1.bn2.bias"):
        assert torch.equal(after[key], before[key]), key
    assert not torch.equal(after["backbone.conv1.weight"], before["backbone.conv1.weight"])
    usual = tiny_net()
    module(usual).train()
    assert usual.backbone.bn1.training


def test_flip_tta_averages_the_clip_and_its_mirror():
    net = tiny_net().eval()
    x, _ = batch()
    cfg = load_config(None, ["train.precision=fp32"])
    plain = predict_proba(net, x, cfg)
    torch.testing.assert_close(plain, net.predict_proba(x))
    both = predict_proba(net, x, cfg, tta_flip=True)
    torch.testing.assert_close(both, (net.predict_proba(x) + net.predict_proba(torch.flip(x, dims=[4]))) / 2)
    assert not torch.allclose(both, plain)  # the mirror image really was classified
    on = load_config(None, ["train.precision=fp32", "train.tta_flip=true"])
    torch.testing.assert_close(predict_proba(net, x, on, timeline=True)[:, -1], both)
