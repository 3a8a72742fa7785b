"""evfer.models: torchvision-compatible ResNets, pretrained loading, the ResNet+LSTM recognizer."""

from __future__ import annotations

import urllib.error

import pytest
import torch

from evfer.config import ModelConfig
from evfer.errors import ConfigError, InputError
from evfer.models import (
    BACKBONES,
    Recognizer,
    build_model,
    check_model_config,
    feature_dim,
    identify,
    load_pretrained,
    resnet,
)


def recognizer(num_classes: int, in_channels: int = 10, **model) -> Recognizer:
    """A randomly initialised Recognizer with ``model:`` settings ``model``."""
    return Recognizer(ModelConfig(**model), num_classes, in_channels)


def built(num_classes: int, in_channels: int = 10, **model) -> Recognizer:
    """build_model: like :func:`recognizer`, then ``pretrained`` loaded."""
    return build_model(ModelConfig(**model), num_classes, in_channels)


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# --- ResNet family vs torchvision facts ------------------------------------------------------------

# Published by torchvision (ResNet*_Weights.meta["num_params"]) for 3 input channels, 1000 classes.
TORCHVISION_PARAMS = {"resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
                      "resnet101": 44_549_160, "resnet152": 60_192_808}


@pytest.mark.parametrize("name", ["resnet18", "resnet34", "resnet50"])
def test_parameter_counts_match_torchvision(name):
    assert n_params(resnet(name)) == TORCHVISION_PARAMS[name]


def test_deep_parameter_counts_match_torchvision():
    for name in ("resnet101", "resnet152"):
        with torch.device("meta"):  # shapes only, no memory or init time
            model = resnet(name)
        assert n_params(model) == TORCHVISION_PARAMS[name]


def test_resnet50_state_dict_entries_and_key_shapes():
    sd = resnet("resnet50").state_dict()
    # 53 convs (1 stem + 16 blocks x 3 + 4 downsample) + 53 BNs x 5 entries + fc weight/bias.
    assert len(sd) == 53 + 53 * 5 + 2 == 320
    expected = {
        "conv1.weight": (64, 3, 7, 7),
        "bn1.weight": (64,),
        "bn1.running_var": (64,),
        "bn1.num_batches_tracked": (),
        "layer1.0.conv1.weight": (64, 64, 1, 1),
        "layer1.0.conv2.weight": (64, 64, 3, 3),
        "layer1.0.conv3.weight": (256, 64, 1, 1),
        "layer1.0.downsample.0.weight": (256, 64, 1, 1),
        "layer1.0.downsample.1.running_mean": (256,),
        "layer1.2.bn3.weight": (256,),
        "layer2.0.conv1.weight": (128, 256, 1, 1),
        "layer2.0.downsample.0.weight": (512, 256, 1, 1),
        "layer3.5.conv2.weight": (256, 256, 3, 3),
        "layer4.0.downsample.0.weight": (2048, 1024, 1, 1),
        "layer4.2.bn3.bias": (2048,),
        "fc.weight": (1000, 2048),
        "fc.bias": (1000,),
    }
    for key, shape in expected.items():
        assert tuple(sd[key].shape) == shape, key
    assert "layer1.3.conv1.weight" not in sd and "layer3.6.conv1.weight" not in sd
    assert list(sd)[:7] == ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
                            "bn1.num_batches_tracked", "layer1.0.conv1.weight"]


def test_resnet18_keys():
    sd = resnet("resnet18").state_dict()
    assert len(sd) == 20 + 20 * 5 + 2  # 20 convs (1 + 8 blocks x 2 + 3 downsample), 20 BNs, fc
    assert "layer1.0.downsample.0.weight" not in sd  # 64 → 64: identity shortcut
    assert tuple(sd["layer2.0.downsample.0.weight"].shape) == (128, 64, 1, 1)
    assert tuple(sd["layer4.1.conv2.weight"].shape) == (512, 512, 3, 3)
    assert tuple(sd["fc.weight"].shape) == (1000, 512)
    assert "layer1.0.conv3.weight" not in sd


def test_v15_stride_on_3x3_conv():
    model = resnet("resnet50")
    block = model.layer2[0]
    assert block.conv1.stride == (1, 1) and block.conv2.stride == (2, 2)
    assert block.downsample[0].stride == (2, 2)
    assert model.layer1[0].conv2.stride == (1, 1)


def test_in_channels_and_feature_mode_counts():
    model = resnet("resnet50", num_classes=0, in_channels=10)
    # torchvision count − fc (2048·1000 + 1000) − RGB stem (64·3·49) + 10-bin stem (64·10·49)
    assert n_params(model) == 25_557_032 - 2_049_000 - 64 * 3 * 49 + 64 * 10 * 49
    assert not any(k.startswith("fc.") for k in model.state_dict())
    out = model(torch.randn(2, 10, 32, 32))
    assert out.shape == (2, 2048)


def test_init_matches_torchvision_scheme():
    torch.manual_seed(0)
    model = resnet("resnet18")
    assert torch.all(model.bn1.weight == 1) and torch.all(model.bn1.bias == 0)
    # kaiming normal, fan_out, relu: std = sqrt(2 / (out_channels · k · k))
    w = model.layer3[0].conv1.weight  # (256, 128, 3, 3)
    assert abs(w.std().item() - (2 / (256 * 9)) ** 0.5) < 0.03 * (2 / (256 * 9)) ** 0.5
    zero = resnet("resnet50", zero_init_residual=True)
    assert torch.all(zero.layer1[0].bn3.weight == 0) and torch.all(zero.layer1[0].bn1.weight == 1)


def test_identify_architecture():
    for name in ("resnet18", "resnet34", "resnet50"):
        assert identify(resnet(name).state_dict().keys()) == name
    assert identify(["foo.weight"]) is None


# --- recognizer --------------------------------------------------------------------------------------

@pytest.mark.parametrize("backbone", ["resnet18", "resnet34", "resnet50"])
def test_recognizer_shapes(backbone):
    torch.manual_seed(0)
    model = recognizer(7, backbone=backbone, hidden=32).eval()
    x = torch.randn(2, 3, 10, 32, 32)
    feats = model.features(x)
    assert feats.shape == (2, 3, feature_dim(backbone))
    logits = model(x)
    assert logits.shape == (2, 7) and logits.dtype == torch.float32
    timeline = model.forward_timeline(x)
    assert timeline.shape == (2, 3, 7)
    torch.testing.assert_close(timeline[:, -1], logits)
    proba = model.predict_proba(x)
    torch.testing.assert_close(proba.sum(-1), torch.ones(2))
    torch.testing.assert_close(proba, torch.softmax(logits, -1))


def test_recognizer_matches_plain_reference():
    """forward == backbone on each window separately → nn.LSTM step by step → fc (written out plainly)."""
    torch.manual_seed(1)
    model = recognizer(4, 3, backbone="resnet18", hidden=16).eval()
    x = torch.randn(2, 3, 3, 32, 32)
    with torch.no_grad():
        feats = torch.stack([model.backbone(x[:, t]) for t in range(3)], dim=1)
        h = torch.zeros(1, 2, 16)
        c = torch.zeros(1, 2, 16)
        for t in range(3):
            _, (h, c) = model.lstm(feats[:, t : t + 1], (h, c))
        expected = model.fc(h[0])
        torch.testing.assert_close(model(x), expected, rtol=1e-4, atol=1e-5)


def test_rejects_wrong_rank():
    model = recognizer(3, backbone="resnet18", hidden=8)
    with pytest.raises(ValueError, match="B, T, C, H, W"):
        model(torch.randn(2, 10, 32, 32))


def test_training_steps_lower_the_loss():
    torch.manual_seed(0)
    model = recognizer(3, 4, backbone="resnet18", hidden=32, dropout=0.0)
    x = torch.randn(4, 2, 4, 32, 32)
    y = torch.tensor([0, 1, 2, 1])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    losses = []
    for _ in range(6):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    for name in ("backbone.conv1.weight", "backbone.layer4.1.conv2.weight", "lstm.weight_ih_l0", "fc.bias"):
        assert not torch.equal(before[name], dict(model.named_parameters())[name]), name
    assert losses[-1] < 0.5 * losses[0], losses


@pytest.mark.slow
def test_gradient_step_resnet50():
    torch.manual_seed(0)
    model = recognizer(5, hidden=16)
    x = torch.randn(2, 2, 10, 32, 32)
    loss = torch.nn.functional.cross_entropy(model(x), torch.tensor([0, 4]))
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert model.backbone.conv1.weight.grad.abs().sum() > 0


def test_bf16_autocast_channels_last_matches_fp32():
    torch.manual_seed(0)
    model = recognizer(6, backbone="resnet50", hidden=32).eval()
    x = torch.rand(2, 2, 10, 32, 32)
    with torch.no_grad():
        ref = model(x)
    model = model.to(memory_format=torch.channels_last)
    assert model.backbone.layer1[0].conv2.weight.is_contiguous(memory_format=torch.channels_last)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        feats = model.features(x)
        out = model(x)
    assert feats.dtype == torch.bfloat16  # the backbone really ran in bf16
    assert out.dtype == torch.float32  # the LSTM head ran in fp32
    scale = ref.abs().max().item()
    assert (out - ref).abs().max().item() < 0.1 * scale + 1e-3
    # backward through the mixed graph, in training mode
    model.train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = torch.nn.functional.cross_entropy(model(x), torch.tensor([1, 5]))
    loss.backward()
    assert model.lstm.weight_hh_l0.grad.dtype == torch.float32
    assert torch.isfinite(model.backbone.conv1.weight.grad).all()


# --- config / build_model ---------------------------------------------------------------------------

def test_build_model_and_config_errors():
    model = build_model(ModelConfig(backbone="resnet18", hidden=64), num_classes=7, in_channels=5)
    assert isinstance(model, Recognizer)
    assert model.backbone.conv1.in_channels == 5 and model.lstm.hidden_size == 64
    assert model.architecture() == {"num_classes": 7, "in_channels": 5, "backbone": "resnet18", "hidden": 64,
                                    "dropout": 0.5, "pretrained": None}
    with pytest.raises(ConfigError, match=r"model\.backbone: 'resnet51' is not a valid choice; did you mean 'resnet50'\? \(valid: resnet18, "
                                          r"resnet34, resnet50, resnet101, resnet152"):
        check_model_config(ModelConfig(backbone="resnet51"))
    with pytest.raises(ConfigError, match=r"model\.backbone: 'resnet51'"):
        recognizer(7, backbone="resnet51")
    with pytest.raises(InputError, match=r"x\.ckpt: stored model architecture is invalid: model\.hiden: unknown "
                                         r"config key; did you mean 'hidden'"):
        Recognizer.from_architecture({"num_classes": 7, "in_channels": 5, "hiden": 3}, "x.ckpt")
    with pytest.raises(ConfigError, match=r"model\.dropout"):
        recognizer(7, dropout=1.5)
    with pytest.raises(ConfigError, match=r"model\.pretrained: imagenet1k_v2 does not exist for resnet18"):
        check_model_config(ModelConfig(backbone="resnet18", pretrained="imagenet1k_v2"))
    with pytest.raises(ValueError, match=r"num_classes >= 2"):
        recognizer(1)
    assert sorted(BACKBONES) == sorted(["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "mobilenet_v2"])


# --- pretrained adaptation --------------------------------------------------------------------------

def imagenet_like_state(name: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """A torchvision-layout state dict (3-channel stem, 1000 classes) with random, non-default values."""
    torch.manual_seed(seed)
    state = resnet(name).state_dict()
    return {k: (torch.randn_like(v) if v.is_floating_point() else v + 7) for k, v in state.items()}


def test_pretrained_path_adapts_conv1_and_reports(tmp_path, caplog):
    ckpt = imagenet_like_state("resnet18")
    path = tmp_path / "r18.ckpt"
    torch.save({"state_dict": {"module." + k: v for k, v in ckpt.items()}, "epoch": 3}, path)
    with caplog.at_level("INFO", logger="evfer.models"):
        model = built(7, 10, backbone="resnet18", hidden=16, pretrained=str(path))
    sd = model.backbone.state_dict()

    rgb = ckpt["conv1.weight"]  # (64, 3, 7, 7)
    expected = torch.empty(64, 10, 7, 7)
    for o in range(64):
        for c in range(10):
            expected[o, c] = (rgb[o, 0] + rgb[o, 1] + rgb[o, 2]) / 3 * (3 / 10)
    torch.testing.assert_close(sd["conv1.weight"], expected)
    # kernel sum over input channels preserved: a channel-constant input gives the same response
    torch.testing.assert_close(sd["conv1.weight"].sum(1), rgb.sum(1), rtol=1e-5, atol=1e-5)

    for key, value in ckpt.items():
        if key != "conv1.weight" and not key.startswith("fc."):
            assert torch.equal(sd[key], value), key
    report = model.pretrained_report
    assert set(report.skipped) == {"fc.weight", "fc.bias"}
    assert "conv1.weight" in report.adapted and "conv1.weight" not in report.loaded
    assert len(report.loaded) == len(ckpt) - 3 and report.missing == []
    assert str(path) in caplog.text and "adapted conv1.weight" in caplog.text
    assert model.architecture()["pretrained"] == str(path)


def test_pretrained_classifier_kept_or_dropped_by_class_count(tmp_path):
    ckpt = imagenet_like_state("resnet18", seed=2)
    path = tmp_path / "plain.pth"
    torch.save(ckpt, path)
    same = resnet("resnet18", num_classes=1000, in_channels=3)
    report = load_pretrained(same, path, "resnet18")
    assert torch.equal(same.fc.weight, ckpt["fc.weight"])
    assert torch.equal(same.conv1.weight, ckpt["conv1.weight"])
    assert report.adapted == {} and report.skipped == {} and len(report.loaded) == len(ckpt)

    other = resnet("resnet18", num_classes=7, in_channels=3)
    init_fc = other.fc.weight.detach().clone()
    report = load_pretrained(other, path, "resnet18")
    assert torch.equal(other.fc.weight, init_fc)
    assert "1000 classes" in report.skipped["fc.weight"]
    assert report.missing == ["fc.weight", "fc.bias"]


def test_pretrained_timm_style_without_batch_counters(tmp_path):
    ckpt = {k: v for k, v in imagenet_like_state("resnet50").items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "timm.pth"
    torch.save({"model": {"model." + k: v for k, v in ckpt.items()}}, path)
    model = resnet("resnet50", num_classes=0, in_channels=2)
    report = load_pretrained(model, path, "resnet50")
    assert len(report.missing) == 53 and all(k.endswith("num_batches_tracked") for k in report.missing)
    assert torch.equal(model.layer4[2].bn3.running_var, ckpt["layer4.2.bn3.running_var"])


def test_pretrained_from_an_evfer_checkpoint_takes_its_backbone(tmp_path):
    """A Lightning checkpoint of a trained Recognizer ("model.backbone." keys) seeds a new backbone."""
    old = recognizer(3, 5, backbone="resnet18", hidden=8)
    path = tmp_path / "last.ckpt"
    torch.save({"state_dict": {"model." + k: v for k, v in old.state_dict().items()}}, path)
    new = built(6, 5, backbone="resnet18", hidden=8, pretrained=str(path))
    for key, value in old.backbone.state_dict().items():
        assert torch.equal(new.backbone.state_dict()[key], value), key
    assert new.pretrained_report.adapted == {} and new.pretrained_report.missing == []
    assert not torch.equal(new.lstm.weight_ih_l0, old.lstm.weight_ih_l0)  # only the backbone is taken


def test_pretrained_wrong_architecture_is_one_line_error(tmp_path):
    path = tmp_path / "r18.pth"
    torch.save(imagenet_like_state("resnet18"), path)
    with pytest.raises(InputError) as err:
        built(7, backbone="resnet50", hidden=8, pretrained=str(path))
    msg = str(err.value)
    assert str(path) in msg and "resnet18" in msg and "resnet50" in msg and "\n" not in msg

    bad = imagenet_like_state("resnet18")
    bad["layer3.0.conv1.weight"] = torch.randn(256, 128, 1, 1)
    torch.save(bad, path)
    with pytest.raises(InputError, match=r"layer3\.0\.conv1\.weight has shape \(256, 128, 1, 1\)"):
        built(7, backbone="resnet18", hidden=8, pretrained=str(path))


def test_pretrained_unreadable_files(tmp_path):
    with pytest.raises(InputError, match="not found"):
        built(3, backbone="resnet18", pretrained=str(tmp_path / "nope.pth"))
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="junk.pth: not a readable PyTorch checkpoint"):
        built(3, backbone="resnet18", pretrained=str(junk))
    empty = tmp_path / "empty.pth"
    torch.save({"epoch": 1}, empty)
    with pytest.raises(InputError, match="holds no tensors"):
        built(3, backbone="resnet18", pretrained=str(empty))


def test_pretrained_imagenet_without_network(monkeypatch):
    calls = []

    def offline(url, **kwargs):
        calls.append(url)
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(InputError) as err:
        built(7, backbone="resnet50", pretrained="imagenet")
    msg = str(err.value)
    assert calls == [BACKBONES["resnet50"].imagenet["imagenet1k_v2"]]
    assert msg.startswith("https://download.pytorch.org/models/resnet50-11ad3fa6.pth: cannot download")
    assert "pretrained: PATH" in msg and "\n" not in msg


def test_pretrained_imagenet_download_goes_through_adaptation(monkeypatch):
    ckpt = imagenet_like_state("resnet18", seed=3)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", lambda url, **kw: dict(ckpt))
    model = built(2, 1, backbone="resnet18", hidden=8, pretrained="imagenet")
    torch.testing.assert_close(model.backbone.conv1.weight, ckpt["conv1.weight"].sum(1, keepdim=True))
    assert model.pretrained_report.source == "imagenet"
